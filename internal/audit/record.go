package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Constant field values of every record.
const (
	EventVersion = "1.08"
	EventSource  = "ssm.amazonaws.com"
	EventType    = "AwsApiCall"
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
// Log fills in EventVersion, EventSource, EventType and ManagementEvent, sets
// EventTime from the sink's clock and EventID to a random UUID when they are
// empty, and sets UserIdentity.Type to Anonymous when it is empty. It ignores
// Sequence, PreviousHash and Hash, which the sink assigns. RequestParameters
// and ResponseElements may hold any value that encoding/json can encode
// (maps, slices, structs, json.RawMessage); they are redacted with Redact
// before they are written.
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

	Sequence     uint64 `json:"sequence"`
	PreviousHash string `json:"previousHash"`
	Hash         string `json:"hash"`
}

// wireRecord is the canonical encoding of a record without its chain
// members. Its field order is the order of the members on a line; changing
// it changes the format.
type wireRecord struct {
	EventVersion       string       `json:"eventVersion"`
	EventTime          string       `json:"eventTime"`
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
}

// encodeBody returns the canonical JSON object of rec without the chain
// members, after redacting its request and response with key. rec must
// already have its defaults filled in.
func encodeBody(key []byte, rec *Record) ([]byte, error) {
	req, err := redact(key, rec.RequestParameters)
	if err != nil {
		return nil, fmt.Errorf("audit: encode %s requestParameters: %w", rec.EventName, err)
	}
	resp, err := redact(key, rec.ResponseElements)
	if err != nil {
		return nil, fmt.Errorf("audit: encode %s responseElements: %w", rec.EventName, err)
	}
	w := wireRecord{
		EventVersion:       rec.EventVersion,
		EventTime:          rec.EventTime.UTC().Format(timeLayout),
		EventSource:        rec.EventSource,
		EventName:          rec.EventName,
		AWSRegion:          rec.AWSRegion,
		SourceIPAddress:    rec.SourceIPAddress,
		UserAgent:          rec.UserAgent,
		UserIdentity:       rec.UserIdentity,
		RequestParameters:  req,
		ResponseElements:   resp,
		ErrorCode:          rec.ErrorCode,
		ErrorMessage:       rec.ErrorMessage,
		RequestID:          rec.RequestID,
		EventID:            rec.EventID,
		ReadOnly:           rec.ReadOnly,
		EventType:          rec.EventType,
		ManagementEvent:    rec.ManagementEvent,
		RecipientAccountID: rec.RecipientAccountID,
	}
	b, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("audit: encode %s: %w", rec.EventName, err)
	}
	return b, nil
}

// hashSuffixLen is the length of `,"hash":"<64 hex>"}` that ends every line.
const hashSuffixLen = len(`,"hash":"`) + sha256.Size*2 + len(`"}`)

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

// chainHash returns hex(SHA-256(prev || "\n" || canonical)).
func chainHash(prev string, canonical []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil))
}

// chainFields are the members of a line that the chain checks.
type chainFields struct {
	Sequence     uint64 `json:"sequence"`
	PreviousHash string `json:"previousHash"`
	Hash         string `json:"hash"`
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
