package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// The intent records that travel in the raft log (see "Durability" in
// doc.go): EncodeIntent encodes one for the command that carries out the
// call, LogIntent appends it once the command is applied, Flush makes it
// durable before the state machine commits, and IntentIndexes tells a
// restart which of the entries it applies again already have theirs.

// EncodeIntent returns the trail's encoding of the intent record rec
// (eventType AwsApiCallIntent): redacted, canonical, without the chain
// members. It is what the raft log carries: no secret in plaintext.
func (s *FileSink) EncodeIntent(rec Record) ([]byte, error) {
	rec.EventType = EventTypeIntent
	rec.RaftIndex = 0
	s.fillDefaults(&rec)
	return appendBody(make([]byte, 0, intentSize(&rec)), s.key, &rec)
}

// intentSize is a guess at the length of rec's encoding, for its buffer
// (appended from nothing, it grew through seven allocations): the text of
// its members, its request's twice over (a redacted value is a MAC of 76
// characters, longer than a short value), and room for the names of the
// members.
func intentSize(rec *Record) int {
	n := 640 + len(rec.EventName) + len(rec.AWSRegion) + len(rec.SourceIPAddress) + len(rec.UserAgent) +
		len(rec.UserIdentity.PrincipalID) + len(rec.UserIdentity.ARN) + len(rec.UserIdentity.AccountID) +
		len(rec.UserIdentity.AccessKeyID) + len(rec.UserIdentity.UserName) + len(rec.RequestID) + len(rec.EventID) +
		len(rec.RecipientAccountID)
	switch r := rec.RequestParameters.(type) {
	case json.RawMessage:
		n += 2 * len(r)
	case Compact:
		n += 2 * len(r)
	}
	return n
}

// LogIntent queues an intent record EncodeIntent encoded, with the raft
// index of the log entry that carried it, as Applied: it is never
// refused for a full backlog (the change it announces is already in the
// log), and is durable after the next Flush or commit of the writer.
func (s *FileSink) LogIntent(body []byte, index uint64) error {
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' || index == 0 {
		return fmt.Errorf("audit: not an intent record body (%d bytes, index %d)", len(body), index)
	}
	bp := bodyPool.Get().(*[]byte)
	b := append((*bp)[:0], body[:len(body)-1]...)
	b = appendRaftIndex(b, index)
	b = append(b, '}')
	*bp = b
	return s.enqueue(context.Background(), entry{body: b, pooled: bp}, Applied)
}

// intentMarker and raftIndexMember find the intent records that carry a
// raft index in a line of the trail.
var (
	intentMarker    = []byte(`,"eventType":"` + EventTypeIntent + `"`)
	raftIndexMember = []byte(`,"raftIndex":`)
)

// IntentIndexes returns the raft indexes above after of the intent records
// of the trail whose active file is path: it reads the active file from
// its end, then the rotated files from the newest, and stops at the first
// intent record whose index is after or below (records are appended in
// the order of their entries). Call it before any intent above after is
// logged. It only reads: it may run before Open (a torn last line is not a
// record and is skipped). A missing file holds none.
//
// The intents above after were written since the state machine last
// committed, so a rotated file can hold them only if it was rotated after
// that (the trail rotated between an intent and the crash that makes the
// state machine apply its entry again). Rotated files are read while they
// were rotated at most rotatedWindow before the newest one: a file older
// than that is left unread, and an intent it held (after a state machine
// that could not commit for that long) is appended again, a duplicate with
// the same eventID and raftIndex, never a lost intent.
func IntentIndexes(path string, after uint64) (map[uint64]bool, error) {
	seen := map[uint64]bool{}
	done, err := activeIntents(path, after, seen)
	if err != nil || done {
		return seen, err
	}
	files, err := ListFiles(path)
	if errors.Is(err, os.ErrNotExist) {
		return seen, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: intents: %w", err)
	}
	var newest time.Time
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if f.Active {
			continue
		}
		if newest.IsZero() {
			newest = f.Rotated
		} else if f.Rotated.Before(newest.Add(-rotatedWindow)) {
			break
		}
		if rotatedIntents(f, after, seen) {
			break
		}
	}
	return seen, nil
}

// rotatedWindow bounds how far back, from the newest rotated file,
// IntentIndexes reads rotated files.
const rotatedWindow = time.Minute

// rotatedIntents adds to seen the indexes above after of the intent
// records of the rotated file f, and says whether the files before it need
// not be read: f holds one at or below after, or f cannot be read (removed
// by retention meanwhile, or damaged: VerifyTrail reports that; here it
// can only cost a duplicate intent, and must not keep the server from
// starting).
func rotatedIntents(f TrailFile, after uint64, seen map[uint64]bool) bool {
	r, err := f.Open()
	if err != nil {
		return true
	}
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	done := false // read forward: the indexes above after come later
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: read it whole.
			rest, err2 := br.ReadBytes('\n')
			line, err = append(append([]byte(nil), line...), rest...), err2
		}
		if idx, ok := lineRaftIndex(bytes.TrimSuffix(line, []byte("\n"))); ok {
			if idx <= after {
				done = true
			} else {
				seen[idx] = true
			}
		}
		if err == io.EOF {
			return done
		}
		if err != nil {
			return true // a damaged file
		}
	}
}

// activeIntents adds to seen the indexes above after of the intent
// records of the active file at path, read from its end, and says whether
// it met one at or below after.
func activeIntents(path string, after uint64, seen map[uint64]bool) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("audit: intents: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("audit: intents: %w", err)
	}
	const chunk = 1 << 20
	off := fi.Size()
	var carry []byte // the start of a line cut by the chunk after it
	for off > 0 {
		n := min(int64(chunk), off)
		off -= n
		buf := make([]byte, n, int(n)+len(carry))
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("audit: intents: %w", err)
		}
		buf = append(buf, carry...)
		// Lines from the end; the first (maybe partial) one waits for the
		// chunk before it, unless this chunk starts the file.
		end := len(buf)
		for {
			i := bytes.LastIndexByte(buf[:max(end-1, 0)], '\n')
			if i < 0 && off > 0 {
				break
			}
			line := buf[i+1 : end]
			end = i + 1
			if idx, ok := lineRaftIndex(line); ok {
				if idx <= after {
					return true, nil
				}
				seen[idx] = true
			}
			if i < 0 {
				break
			}
		}
		carry = append([]byte(nil), buf[:end]...)
	}
	return false, nil
}

// lineRaftIndex returns the raftIndex of a line that is an intent record
// carrying one. The members are read from the record's top level: the
// same text inside its requestParameters does not count.
func lineRaftIndex(line []byte) (uint64, bool) {
	if !bytes.Contains(line, intentMarker) || !bytes.Contains(line, raftIndexMember) {
		return 0, false
	}
	var top struct {
		EventType string `json:"eventType"`
		RaftIndex uint64 `json:"raftIndex"`
	}
	if err := json.Unmarshal(line, &top); err != nil || top.EventType != EventTypeIntent || top.RaftIndex == 0 {
		return 0, false
	}
	return top.RaftIndex, true
}
