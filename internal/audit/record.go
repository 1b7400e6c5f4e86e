package audit

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/paramstore/paramstore/internal/jsonenc"
	"github.com/paramstore/paramstore/internal/zeropad"
)

// Constant field values of every record.
const (
	EventVersion = "1.08"
	EventSource  = "ssm.amazonaws.com"
	// EventType is the eventType of the record of a call, with its
	// outcome: one per call, as in CloudTrail.
	EventType = "AwsApiCall"
	// EventTypeIntent is the eventType of the record a call that may
	// change state leaves before it runs (the write-ahead record of its
	// request). Its AwsApiCall record, with the same requestID, follows
	// with the outcome.
	EventTypeIntent = "AwsApiCallIntent"
	// EventTypeService is the eventType of records of the trail itself
	// (see TornRecordEvent).
	EventTypeService = "AwsServiceEvent"
)

// Identity types for UserIdentity.Type.
const (
	IdentityIAMUser     = "IAMUser"
	IdentityAssumedRole = "AssumedRole"
	IdentityRoot        = "Root"
	IdentityAnonymous   = "Anonymous"
)

// ZeroHash is the previousHash of the first record of a file.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// timeLayout is RFC 3339 with milliseconds, always in UTC, as CloudTrail
// writes eventTime.
const timeLayout = "2006-01-02T15:04:05.000Z"

// UserIdentity says who made a call.
type UserIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
}

// Record is one audit event. It is what callers pass to Sink.Log, and it
// decodes one line of a trail.
//
// Log fills in EventVersion, EventSource and ManagementEvent, sets
// EventType to AwsApiCall, EventTime from the sink's clock and EventID to a
// random UUID when they are empty, and sets UserIdentity.Type to Anonymous
// when it is empty. It ignores Sequence, PreviousHash and Hash, which the
// sink assigns. RequestParameters and ResponseElements may hold any value
// that encoding/json can encode (maps, slices, structs, json.RawMessage);
// they are redacted before they are written: with Redact, or, when Keep is
// set, by keeping only the members Keep names (default deny). An
// ErrorMessage that contains the text of a value the redaction hid is
// written as Hidden.
type Record struct {
	EventVersion       string       `json:"eventVersion"`
	EventTime          time.Time    `json:"eventTime"`
	EventSource        string       `json:"eventSource"`
	EventName          string       `json:"eventName"`
	AWSRegion          string       `json:"awsRegion"`
	SourceIPAddress    string       `json:"sourceIPAddress"`
	UserAgent          string       `json:"userAgent"`
	UserIdentity       UserIdentity `json:"userIdentity"`
	RequestParameters  any          `json:"requestParameters"`
	ResponseElements   any          `json:"responseElements"`
	ErrorCode          string       `json:"errorCode,omitempty"`
	ErrorMessage       string       `json:"errorMessage,omitempty"`
	RequestID          string       `json:"requestID"`
	EventID            string       `json:"eventID"`
	ReadOnly           bool         `json:"readOnly"`
	EventType          string       `json:"eventType"`
	ManagementEvent    bool         `json:"managementEvent"`
	RecipientAccountID string       `json:"recipientAccountId"`
	// ServiceEventDetails describes an AwsServiceEvent record. It is
	// written as is: it never holds request data.
	ServiceEventDetails any `json:"serviceEventDetails,omitempty"`
	// RaftIndex is, on an intent record that travelled in the raft log
	// with its change (see "Durability" in doc.go), the index of the log
	// entry that carried it: what a restart that applies the entry again
	// looks for, to append the record only once.
	RaftIndex uint64 `json:"raftIndex,omitempty"`

	// Keep, when not nil, makes the redaction of RequestParameters and
	// ResponseElements default-deny: see KeepOnly. It is not written.
	Keep *Allowlist `json:"-"`
	// Memo, when not nil, keeps the redacted requestParameters of the
	// first record logged with it (and the members before them) for the
	// next ones, which must have the same RequestParameters and Keep (a
	// write's intent and result records); a record with an error message
	// redacts its own. It is not written.
	Memo *Memo `json:"-"`

	Sequence     uint64 `json:"sequence"`
	PreviousHash string `json:"previousHash"`
	Hash         string `json:"hash"`
}

// Memo carries a call's encoded record head from one of its records to
// the next (Record.Memo): a write's request is redacted once, not for its
// intent and again for its result, and the members before it (time,
// names, addresses, identity), which both records share, are encoded
// once. The zero value is ready.
type Memo struct {
	// head is the encoding of the first record logged with the memo from
	// its opening brace through its requestParameters; its redacted
	// request starts at head[request:]. fields are the members it was
	// encoded from: a record whose members differ encodes its own head,
	// and takes only the request.
	head    []byte
	request int
	fields  headFields
	done    bool
}

// headFields are the members of a record that appendBody writes before
// its requestParameters.
type headFields struct {
	eventVersion, eventSource, eventName string
	eventTime                            time.Time
	region, sourceIP, userAgent          string
	identity                             UserIdentity
}

func headOf(rec *Record) headFields {
	return headFields{eventVersion: rec.EventVersion, eventSource: rec.EventSource, eventName: rec.EventName,
		eventTime: rec.EventTime, region: rec.AWSRegion, sourceIP: rec.SourceIPAddress, userAgent: rec.UserAgent,
		identity: rec.UserIdentity}
}

// Reset returns an empty Memo that reuses m's memory (a pooled call's):
// m must not be used after.
func (m Memo) Reset() Memo {
	if cap(m.head) > maxMemo {
		return Memo{}
	}
	return Memo{head: m.head[:0]}
}

// maxMemo bounds the memory a Memo keeps through Reset.
const maxMemo = 16 << 10

// encodeBody returns the JSON object of rec without the chain members,
// after redacting its request and response with key. rec must already have
// its defaults filled in. The members are in a fixed order (the format); the object
// is appended by hand because this runs on every API call (json.Marshal of
// the record through a map was a tenth of a GetParameter's CPU).
func encodeBody(key []byte, rec *Record) ([]byte, error) {
	return appendBody(make([]byte, 0, 1024), key, rec)
}

// appendBody is encodeBody appending to b (FileSink.Log passes a pooled
// buffer). The request and response are redacted straight into b.
func appendBody(b []byte, key []byte, rec *Record) ([]byte, error) {
	// The text of every value the redaction hides, to keep it out of the
	// error message; collected only when there is a message.
	var hidden *[]string
	if rec.ErrorMessage != "" {
		hidden = new([]string)
	}
	var details []byte
	if rec.ServiceEventDetails != nil {
		var err error
		if details, err = json.Marshal(rec.ServiceEventDetails); err != nil {
			return nil, fmt.Errorf("audit: encode %s serviceEventDetails: %w", rec.EventName, err)
		}
	}
	var err error
	m := rec.Memo
	if m != nil && !m.done {
		m = nil // nothing to take yet: fill it below
	}
	switch {
	case m != nil && hidden == nil && m.fields == headOf(rec):
		b = append(b, m.head...)
	case m != nil && hidden == nil:
		b = appendHead(b, rec)
		b = append(b, m.head[m.request:]...)
	default:
		start := len(b)
		b = appendHead(b, rec)
		request := len(b)
		if b, err = appendRedacted(b, key, rec.RequestParameters, rec.Keep, hidden); err != nil {
			return nil, fmt.Errorf("audit: encode %s requestParameters: %w", rec.EventName, err)
		}
		if m := rec.Memo; m != nil && !m.done && hidden == nil {
			m.head, m.request = append(m.head[:0], b[start:]...), request-start
			m.fields, m.done = headOf(rec), true
		}
	}
	b = append(b, `,"responseElements":`...)
	if b, err = appendRedacted(b, key, rec.ResponseElements, rec.Keep, hidden); err != nil {
		return nil, fmt.Errorf("audit: encode %s responseElements: %w", rec.EventName, err)
	}
	errMsg := rec.ErrorMessage
	if hidden != nil && containsAny(errMsg, *hidden) {
		errMsg = Hidden
	}
	b = jsonenc.AppendOptional(b, `,"errorCode":`, rec.ErrorCode)
	b = jsonenc.AppendOptional(b, `,"errorMessage":`, errMsg)
	b = jsonenc.AppendMember(b, `,"requestID":`, rec.RequestID)
	b = jsonenc.AppendMember(b, `,"eventID":`, rec.EventID)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, rec.ReadOnly)
	b = jsonenc.AppendMember(b, `,"eventType":`, rec.EventType)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, rec.ManagementEvent)
	b = jsonenc.AppendMember(b, `,"recipientAccountId":`, rec.RecipientAccountID)
	if details != nil {
		b = append(b, `,"serviceEventDetails":`...)
		b = append(b, details...)
	}
	if rec.RaftIndex != 0 {
		b = appendRaftIndex(b, rec.RaftIndex)
	}
	return append(b, '}'), nil
}

// appendHead appends the members of rec before its requestParameters,
// from the record's opening brace through `"requestParameters":`.
func appendHead(b []byte, rec *Record) []byte {
	b = jsonenc.AppendMember(b, `{"eventVersion":`, rec.EventVersion)
	b = append(b, `,"eventTime":"`...)
	b = appendEventTime(b, rec.EventTime)
	b = append(b, '"')
	b = jsonenc.AppendMember(b, `,"eventSource":`, rec.EventSource)
	b = jsonenc.AppendMember(b, `,"eventName":`, rec.EventName)
	b = jsonenc.AppendMember(b, `,"awsRegion":`, rec.AWSRegion)
	b = jsonenc.AppendMember(b, `,"sourceIPAddress":`, rec.SourceIPAddress)
	b = jsonenc.AppendMember(b, `,"userAgent":`, rec.UserAgent)
	id := &rec.UserIdentity
	b = jsonenc.AppendMember(b, `,"userIdentity":{"type":`, id.Type)
	b = jsonenc.AppendOptional(b, `,"principalId":`, id.PrincipalID)
	b = jsonenc.AppendOptional(b, `,"arn":`, id.ARN)
	b = jsonenc.AppendOptional(b, `,"accountId":`, id.AccountID)
	b = jsonenc.AppendOptional(b, `,"accessKeyId":`, id.AccessKeyID)
	b = jsonenc.AppendOptional(b, `,"userName":`, id.UserName)
	return append(b, `},"requestParameters":`...)
}

// appendRaftIndex appends the raftIndex member.
func appendRaftIndex(b []byte, index uint64) []byte {
	b = append(b, `,"raftIndex":`...)
	return strconv.AppendUint(b, index, 10)
}

// appendEventTime appends t in UTC as AppendFormat(timeLayout) does, by
// hand: the time package walks the layout on every record.
func appendEventTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	h, mi, sec := t.Clock()
	b = zeropad.Append(b, y, 4)
	b = append(b, '-')
	b = zeropad.Append(b, int(mo), 2)
	b = append(b, '-')
	b = zeropad.Append(b, d, 2)
	b = append(b, 'T')
	b = zeropad.Append(b, h, 2)
	b = append(b, ':')
	b = zeropad.Append(b, mi, 2)
	b = append(b, ':')
	b = zeropad.Append(b, sec, 2)
	b = append(b, '.')
	b = zeropad.Append(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

// containsAny reports whether s contains one of the non-empty strings of
// subs.
func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// hashSuffixLen is the length of `,"hash":"<64 hex>"}` that ends every line.
const hashSuffixLen = len(`,"hash":"`) + sha256.Size*2 + len(`"}`)

// chainOverhead is the most appendChained adds to a record body: the
// sequence, the previous hash, the hash and the newline.
const chainOverhead = len(`,"sequence":`) + 20 + len(`,"previousHash":"`) + sha256.Size*2 + len(`"}`) + hashSuffixLen + 1

// appendChained appends to dst the full line (with its newline) for the
// record body, chained after prev with sequence seq, and returns the line's
// hash.
func appendChained(dst, body []byte, seq uint64, prev string) ([]byte, string) {
	start := len(dst)
	dst = append(dst, body[:len(body)-1]...)
	dst = append(dst, `,"sequence":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"previousHash":"`...)
	dst = append(dst, prev...)
	dst = append(dst, `"}`...)
	sum := chainHash(prev, dst[start:])
	dst = dst[:len(dst)-1] // drop the closing brace
	dst = append(dst, `,"hash":"`...)
	dst = append(dst, sum...)
	dst = append(dst, "\"}\n"...)
	return dst, sum
}

// sha256Hex returns the lower-case hex SHA-256 of b.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// chainHash returns hex(SHA-256(prev || "\n" || canonical)), with a pooled
// digest: the writer hashes every record.
func chainHash(prev string, canonical []byte) string {
	h := chainDigests.Get().(*chainDigest)
	defer chainDigests.Put(h)
	h.h.Reset()
	h.h.Write([]byte(prev))
	h.h.Write([]byte{'\n'})
	h.h.Write(canonical)
	hex.Encode(h.hex[:], h.h.Sum(h.sum[:0]))
	return string(h.hex[:])
}

// chainDigest is a SHA-256 and the buffers of its sum.
type chainDigest struct {
	h   hash.Hash
	sum [sha256.Size]byte
	hex [sha256.Size * 2]byte
}

var chainDigests = sync.Pool{New: func() any { return &chainDigest{h: sha256.New()} }}

// NewID returns a random (version 4) UUID, as uuid.NewString does, with one
// allocation (the string) rather than two: the request ID and the event
// ID of every call.
func NewID() string {
	u := idBufs.Get().(*uuid.UUID)
	defer idBufs.Put(u)
	if _, err := rand.Read(u[:]); err != nil {
		return uuid.NewString() // crypto/rand.Read does not fail (Go 1.24)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant RFC 4122
	return u.String()
}

var idBufs = sync.Pool{New: func() any { return new(uuid.UUID) }}

// chainFields are the members of a line that the chain checks.
type chainFields struct {
	Sequence     uint64 `json:"sequence"`
	PreviousHash string `json:"previousHash"`
	Hash         string `json:"hash"`
	// EventName and Details let VerifyFile find TornRecordEvent records.
	EventName string          `json:"eventName"`
	Details   json.RawMessage `json:"serviceEventDetails"`
}

// errHashMismatch is returned by parseLine when a line's hash is not the
// hash of its contents.
var errHashMismatch = errors.New("hash does not match the record")

// parseLine parses one line (without its newline) and checks that its hash
// is the hash of its own contents. It does not check the links to other
// lines. On errHashMismatch the returned fields are still filled in.
func parseLine(line []byte) (chainFields, error) {
	var f chainFields
	if !json.Valid(line) {
		return f, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(line, &f); err != nil {
		return f, fmt.Errorf("not a record: %v", err)
	}
	if len(line) < hashSuffixLen+1 || !bytes.HasPrefix(line[len(line)-hashSuffixLen:], []byte(`,"hash":"`)) {
		return f, errors.New(`record does not end with its "hash" member`)
	}
	sum := line[len(line)-hashSuffixLen+len(`,"hash":"`) : len(line)-2]
	if !isHex(sum) || string(sum) != f.Hash {
		return f, errors.New(`malformed "hash" member`)
	}
	if !isHex([]byte(f.PreviousHash)) {
		return f, errors.New(`malformed "previousHash" member`)
	}
	canonical := make([]byte, 0, len(line)-hashSuffixLen+1)
	canonical = append(canonical, line[:len(line)-hashSuffixLen]...)
	canonical = append(canonical, '}')
	if chainHash(f.PreviousHash, canonical) != f.Hash {
		return f, errHashMismatch
	}
	return f, nil
}

// isHex reports whether b is a lower-case hex SHA-256 sum.
func isHex(b []byte) bool {
	if len(b) != sha256.Size*2 {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Events selects the calls the trail records (--audit-events), as
// CloudTrail selects read and write management events.
type Events string

const (
	// EventsAll records every call.
	EventsAll Events = "all"
	// EventsWrite records the calls that may change state (their intent
	// and their outcome) and the calls refused before their operation was
	// known (a bad signature, an unknown target); not the read-only
	// operations (Get*, Describe*, List*: those the operation table marks
	// read-only).
	EventsWrite Events = "write"
	// EventsNone records nothing: the server opens no trail.
	EventsNone Events = "none"
)

// ParseEvents parses an --audit-events value.
func ParseEvents(s string) (Events, error) {
	switch e := Events(s); e {
	case EventsAll, EventsWrite, EventsNone:
		return e, nil
	}
	return "", fmt.Errorf("audit: --audit-events %q: want all, write or none", s)
}
