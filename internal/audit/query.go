package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Reading the trail back, newest first, for people (the console's audit
// screen, through the admin operation LookupAuditEvents). An Event carries
// who did what to which names, never a request or response value: the
// records hold values only as HMACs, and an Event does not even carry
// those.

// Files returns the files of the trail whose current file is path, oldest
// first. It is the one place that knows which files make a trail: rotated
// files are added here (a compressed one also needs eachLineBackward to
// read it through a decompressor).
func Files(path string) ([]string, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("audit: trail %s: %w", path, err)
	}
	return []string{path}, nil
}

// Query selects events. Empty fields select everything.
type Query struct {
	// Name selects calls naming a parameter (Name, Names or Path of the
	// request) that contains it.
	Name string
	// User selects calls whose caller's user name, ARN or access key ID
	// contains it.
	User string
	// EventName selects calls of one operation (GetParameter).
	EventName string
	// Max bounds the page; 0 or more than MaxQueryResults means
	// MaxQueryResults.
	Max int
	// After is the NextToken of the previous page.
	After string
}

// MaxQueryResults is the largest page of Lookup.
const MaxQueryResults = 200

// Event is one call of the trail as people read it.
type Event struct {
	Time           time.Time `json:"EventTime"`
	EventID        string    `json:"EventId"`
	EventName      string    `json:"EventName"`
	Region         string    `json:"Region"`
	SourceIP       string    `json:"SourceIPAddress"`
	UserAgent      string    `json:"UserAgent"`
	UserName       string    `json:"UserName,omitempty"`
	ARN            string    `json:"Arn,omitempty"`
	AccessKeyID    string    `json:"AccessKeyId,omitempty"`
	Names          []string  `json:"Names,omitempty"`
	WithDecryption bool      `json:"WithDecryption,omitempty"`
	ReadOnly       bool      `json:"ReadOnly"`
	ErrorCode      string    `json:"ErrorCode,omitempty"`
}

// queryLine is what Lookup decodes of a line.
type queryLine struct {
	EventTime    time.Time    `json:"eventTime"`
	EventName    string       `json:"eventName"`
	AWSRegion    string       `json:"awsRegion"`
	SourceIP     string       `json:"sourceIPAddress"`
	UserAgent    string       `json:"userAgent"`
	UserIdentity UserIdentity `json:"userIdentity"`
	Request      struct {
		Name           any  `json:"Name"`
		Names          any  `json:"Names"`
		Path           any  `json:"Path"`
		WithDecryption bool `json:"WithDecryption"`
	} `json:"requestParameters"`
	ErrorCode string `json:"errorCode"`
	EventID   string `json:"eventID"`
	ReadOnly  bool   `json:"readOnly"`
	EventType string `json:"eventType"`
}

// names are the parameter names a request names.
func (l *queryLine) names() []string {
	var out []string
	for _, v := range []any{l.Request.Name, l.Request.Path, l.Request.Names} {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, n := range v {
				if s, ok := n.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

func (q *Query) match(l *queryLine) bool {
	if q.EventName != "" && l.EventName != q.EventName {
		return false
	}
	if q.User != "" {
		id := l.UserIdentity
		if !strings.Contains(id.UserName, q.User) && !strings.Contains(id.ARN, q.User) && !strings.Contains(id.AccessKeyID, q.User) {
			return false
		}
	}
	if q.Name != "" {
		found := false
		for _, n := range l.names() {
			found = found || strings.Contains(n, q.Name)
		}
		if !found {
			return false
		}
	}
	return true
}

// Lookup returns the calls of files (oldest first, as Files returns them)
// that q selects, newest first, and the NextToken of the next page ("" at
// the end). Intent records (the request of a change, written before it
// runs) and service events are left out: each call appears once, as its
// result. A line that does not parse (a torn tail being repaired) is
// skipped.
func Lookup(files []string, q Query) ([]Event, string, error) {
	if q.Max <= 0 || q.Max > MaxQueryResults {
		q.Max = MaxQueryResults
	}
	var afterTime time.Time
	var afterID string
	if q.After != "" {
		t, id, ok := strings.Cut(q.After, "/")
		ms, err := parseMillis(t)
		if !ok || err != nil || id == "" {
			return nil, "", fmt.Errorf("audit: NextToken %q is not one Lookup returned", q.After)
		}
		afterTime, afterID = ms, id
	}
	skipping := q.After != ""
	var out []Event
	next := ""
	for i := len(files) - 1; i >= 0 && next == ""; i-- {
		err := eachLineBackward(files[i], func(line []byte) bool {
			var l queryLine
			if json.Unmarshal(line, &l) != nil {
				return true
			}
			if skipping {
				t := l.EventTime.Truncate(time.Millisecond)
				switch {
				case l.EventID == afterID:
					skipping = false
					return true
				case t.Before(afterTime):
					skipping = false
				default:
					return true
				}
			}
			if l.EventType == EventTypeIntent || l.EventType == EventTypeService || !q.match(&l) {
				return true
			}
			if len(out) == q.Max {
				last := out[len(out)-1]
				next = fmt.Sprintf("%d/%s", last.Time.UnixMilli(), last.EventID)
				return false
			}
			out = append(out, Event{Time: l.EventTime, EventID: l.EventID, EventName: l.EventName, Region: l.AWSRegion,
				SourceIP: l.SourceIP, UserAgent: l.UserAgent, UserName: l.UserIdentity.UserName, ARN: l.UserIdentity.ARN,
				AccessKeyID: l.UserIdentity.AccessKeyID, Names: l.names(), WithDecryption: l.Request.WithDecryption,
				ReadOnly: l.ReadOnly, ErrorCode: l.ErrorCode})
			return true
		})
		if err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

func parseMillis(s string) (time.Time, error) {
	var ms int64
	if _, err := fmt.Sscan(s, &ms); err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms).UTC(), nil
}

// backwardChunk is how much of a file eachLineBackward reads at a time.
const backwardChunk = 64 << 10

// eachLineBackward calls fn with each non-empty line of path, last first,
// until fn returns false. Memory is bounded by the chunk and the longest
// line, whatever the file's size.
func eachLineBackward(path string, fn func(line []byte) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit: read trail: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit: read trail: %w", err)
	}
	pos := st.Size()
	var tail []byte // the start of a line whose beginning is not read yet
	buf := make([]byte, backwardChunk)
	for pos > 0 {
		n := int64(len(buf))
		if pos < n {
			n = pos
		}
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("audit: read trail %s: %w", path, err)
		}
		chunk := append(append([]byte(nil), buf[:n]...), tail...)
		for {
			i := bytes.LastIndexByte(chunk, '\n')
			if i < 0 {
				break
			}
			if line := chunk[i+1:]; len(line) > 0 && !fn(line) {
				return nil
			}
			chunk = chunk[:i]
		}
		tail = chunk
	}
	if len(tail) > 0 {
		fn(tail)
	}
	return nil
}
