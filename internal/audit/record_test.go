package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// wireRecord is the reference encoding of a record body: encodeBody
// appends the same members by hand, and must decode to the same values.
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

func referenceBody(t *testing.T, rec *Record) []byte {
	t.Helper()
	w := wireRecord{
		EventVersion: rec.EventVersion, EventTime: rec.EventTime.UTC().Format(timeLayout),
		EventSource: rec.EventSource, EventName: rec.EventName, AWSRegion: rec.AWSRegion,
		SourceIPAddress: rec.SourceIPAddress, UserAgent: rec.UserAgent, UserIdentity: rec.UserIdentity,
		RequestParameters: Redact(testKey, rec.RequestParameters), ResponseElements: Redact(testKey, rec.ResponseElements),
		ErrorCode: rec.ErrorCode, ErrorMessage: rec.ErrorMessage, RequestID: rec.RequestID, EventID: rec.EventID,
		ReadOnly: rec.ReadOnly, EventType: rec.EventType, ManagementEvent: rec.ManagementEvent,
		RecipientAccountID: rec.RecipientAccountID,
	}
	b, err := json.Marshal(&w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeBodyMatchesReference(t *testing.T) {
	base := Record{
		EventVersion: EventVersion, EventTime: time.Date(2026, 11, 21, 7, 8, 9, 123456789, time.FixedZone("x", -3600)),
		EventSource: EventSource, EventName: "GetParameter", AWSRegion: "eu-west-1",
		SourceIPAddress: "127.0.0.1", UserAgent: "aws-sdk-go-v2/1.0 os/linux",
		UserIdentity: UserIdentity{Type: IdentityIAMUser, PrincipalID: "AIDA1", ARN: "arn:aws:iam::1:user/a",
			AccountID: "123456789012", AccessKeyID: "AKIA1", UserName: "a"},
		RequestID: "r-1", EventID: "e-1", ReadOnly: true, EventType: EventType, ManagementEvent: true,
		RecipientAccountID: "123456789012",
	}
	tests := map[string]func(r *Record){
		"plain read": func(r *Record) {
			r.RequestParameters = json.RawMessage(`{"Name": "/a/b",` + "\n" + ` "WithDecryption": true}`)
		},
		"put with value and tags": func(r *Record) {
			r.RequestParameters = json.RawMessage(`{"Name":"/a","Value":"s3cret","Tags":[{"Key":"k","Value":"v"}]}`)
			r.ResponseElements = map[string]any{"Version": 1, "Tier": "Standard"}
		},
		"escapes everywhere": func(r *Record) {
			r.UserAgent = "odd \"agent\" <&> \u2028 \x01 ünï"
			r.UserIdentity = UserIdentity{Type: IdentityAnonymous}
			r.ErrorCode, r.ErrorMessage = "ValidationException", "bad\tvalue \\ \"x\""
			r.RequestParameters = json.RawMessage(`{"Name":"/\u00e9\\n"}`)
		},
		"invalid utf-8": func(r *Record) {
			r.UserAgent = "a\xffb"
		},
		"nothing": func(r *Record) {},
		"struct response": func(r *Record) {
			r.ResponseElements = struct{ Value, Other string }{"hide", "keep"}
		},
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			rec := base
			mod(&rec)
			got, err := encodeBody(testKey, &rec)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(referenceBody(t, &rec), &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("encodeBody:\n%s\nreference:\n%s", got, referenceBody(t, &rec))
			}
		})
	}
}

// BenchmarkEncodeBodyRead encodes a read's record, its request as a
// json.RawMessage (compacted) and as an audit.Compact (the API's parsed
// bodies: written as is).
func BenchmarkEncodeBodyRead(b *testing.B) {
	body := []byte(`{"Name":"/bench/p1","WithDecryption":true}`)
	for _, bc := range []struct {
		name   string
		params any
	}{{"RawMessage", json.RawMessage(body)}, {"Compact", Compact(body)}} {
		b.Run(bc.name, func(b *testing.B) {
			rec := Record{EventVersion: EventVersion, EventTime: time.Now(), EventSource: EventSource, EventName: "GetParameter",
				AWSRegion: "us-east-1", SourceIPAddress: "127.0.0.1", UserAgent: "aws-sdk-go-v2/1.0",
				UserIdentity:      UserIdentity{Type: IdentityRoot, ARN: "arn:aws:iam::123456789012:root", AccountID: "123456789012"},
				RequestParameters: bc.params,
				RequestID:         "r", EventID: "e", ReadOnly: true, EventType: EventType, ManagementEvent: true, RecipientAccountID: "1"}
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = appendBody(buf[:0], testKey, &rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLogRead is the audit cost of a read as the API pays it: a
// Buffered record logged (encoded into a pooled buffer), chained and
// written by the writer goroutine, whose allocations count too.
func BenchmarkLogRead(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(b.TempDir(), "trail.jsonl")
	s, err := Open(cfg, Options{HMACKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	rec := Record{EventName: "GetParameter", AWSRegion: "us-east-1", SourceIPAddress: "127.0.0.1", UserAgent: "aws-sdk-go-v2/1.0",
		UserIdentity:      UserIdentity{Type: IdentityRoot, ARN: "arn:aws:iam::123456789012:root", AccountID: "123456789012"},
		RequestParameters: json.RawMessage(`{"Name":"/bench/p1","WithDecryption":true}`),
		RequestID:         "5f0c3a52-3b4e-4c3e-9d7c-2f1f6f9e8a11", ReadOnly: true, RecipientAccountID: "123456789012"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Log(ctx, rec, Buffered); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// FuzzEncodeBody feeds request bodies (untrusted input) through the record
// encoder: the line must be valid JSON, and no string value of a member
// that encoding/json would decode as Value may appear in it.
func FuzzEncodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"Name":"/a","Value":"s3cret-value","Type":"SecureString"}`,
		`{"name":"/a","value":"s3cret-value"}`,
		`{"Name":"/a","\u0056alue":"s3cret-value"}`,
		`{"Names":["/a","/b"],"WithDecryption":true}`,
		`{"Parameter":{"VALUE":"s3cret-value","Version":1}}`,
		`[1,2,{"vAlUe":"s3cret-value"}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) || bytes.Contains(bytes.ToLower(body), []byte("tag")) {
			return // the API only audits valid JSON; tag values are not secret
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return
		}
		var secrets []string
		var walkSecrets func(any)
		walkSecrets = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, m := range v {
					if s, ok := m.(string); ok && strings.EqualFold(k, "Value") && len(s) >= 6 {
						secrets = append(secrets, s)
					}
					walkSecrets(m)
				}
			case []any:
				for _, e := range v {
					walkSecrets(e)
				}
			}
		}
		walkSecrets(v)
		rec := Record{EventVersion: EventVersion, EventTime: time.Unix(0, 0), EventSource: EventSource, EventName: "PutParameter",
			UserIdentity: UserIdentity{Type: IdentityRoot}, RequestParameters: json.RawMessage(body)}
		line, err := encodeBody(testKey, &rec)
		if err != nil {
			t.Fatalf("encodeBody(%q): %v", body, err)
		}
		if !json.Valid(line) {
			t.Fatalf("invalid line for %q: %s", body, line)
		}
		var back struct {
			RequestParameters any `json:"requestParameters"`
		}
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(back.RequestParameters)
		for _, s := range secrets {
			q, _ := json.Marshal(s)
			if bytes.Contains(out, q) && !strings.Contains(string(out), HMAC(testKey, s)) {
				t.Fatalf("secret %q of %q in the record: %s", s, body, out)
			}
		}
	})
}

// FuzzKeepOnly feeds request bodies through the encoder with an empty
// allowlist (default deny with nothing listed): the line must be valid
// JSON and hold no string or number of the body, in requestParameters or
// in an errorMessage that echoes one of them.
func FuzzKeepOnly(f *testing.F) {
	for _, seed := range []string{
		`{"UserName":"bob","SecretAccessKey":"s3cret-key"}`,
		`{"AccessKey":{"AccessKeyId":"AKIA1","SessionToken":"t0ken-123"}}`,
		`[{"a":["s3cret-1",{"b":"s3cret-2"}]},12345678]`,
		`"s3cret-top"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return
		}
		var values []string
		collectStrings(v, &values)
		var long []string // long enough not to occur in the record by chance
		for _, s := range values {
			if len(s) >= 8 && !strings.Contains(Hidden, s) {
				long = append(long, s)
			}
		}
		rec := Record{EventVersion: EventVersion, EventTime: time.Unix(0, 0), EventSource: EventSource, EventName: "CreateAccessKey",
			UserIdentity: UserIdentity{Type: IdentityRoot}, RequestParameters: json.RawMessage(body), Keep: NewAllowlist(),
			ErrorCode: "ValidationException", ErrorMessage: "bad: " + strings.Join(long, ", ")}
		line, err := encodeBody(testKey, &rec)
		if err != nil {
			t.Fatalf("encodeBody(%q): %v", body, err)
		}
		if !json.Valid(line) {
			t.Fatalf("invalid line for %q: %s", body, line)
		}
		var back struct {
			RequestParameters any    `json:"requestParameters"`
			ErrorMessage      string `json:"errorMessage"`
		}
		dec = json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber() // numbers come back as json.Number, which collectStrings sees
		if err := dec.Decode(&back); err != nil {
			t.Fatal(err)
		}
		var kept []string
		collectStrings(back.RequestParameters, &kept)
		for _, s := range kept {
			if s != Hidden {
				t.Fatalf("value %q of %q kept with nothing listed: %s", s, body, line)
			}
		}
		if len(long) > 0 && back.ErrorMessage != Hidden {
			t.Fatalf("errorMessage %q echoes hidden values of %q", back.ErrorMessage, body)
		}
	})
}

// TestAppendEventTime: the hand-written eventTime is AppendFormat's.
func TestAppendEventTime(t *testing.T) {
	for _, tm := range []time.Time{time.Unix(0, 0), time.Date(2026, 11, 30, 16, 13, 43, 999999999, time.UTC),
		time.Date(2026, 3, 29, 2, 30, 0, 1e6, time.FixedZone("x", 3600+1800)), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()} {
		if got, want := string(appendEventTime(nil, tm)), tm.UTC().Format(timeLayout); got != want {
			t.Errorf("appendEventTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

// TestNewID: random version 4 UUIDs, as uuid.NewString writes them.
func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("NewID() = %q: %v, version %d, variant %v", id, err, u.Version(), u.Variant())
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
	// Concurrent callers share the pool of random buffers: no byte is
	// handed out twice.
	ids := make(chan string, 8*2000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 2000 {
				ids <- NewID()
			}
		})
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		if seen[id] {
			t.Fatalf("NewID() repeated %q across goroutines", id)
		}
		seen[id] = true
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewID()
	}
}

// FuzzCompact checks that a record whose request is an audit.Compact (the
// API's fast path for bodies it parsed: valid, no JSON whitespace) is the
// same line, byte for byte, as with the same request as a json.RawMessage,
// whatever the redaction: the SSM rules, an allowlist, or an error message
// whose hidden values are collected.
func FuzzCompact(f *testing.F) {
	for _, seed := range []string{
		`{"Name":"/a/b"}`,
		`{"Name":"/a","WithDecryption":true}`,
		`{"Names":["/a","/b"],"WithDecryption":true}`,
		`{"Name":"/a","Value":"s3cret-value","Type":"SecureString"}`,
		`{"Name":"/a","\u0056alue":"s3cret-value"}`,
		`{"Tags":[{"Key":"k","Value":"v"}],"value":1}`,
		`[1,"x",{"a":null}]`,
		`"str"`,
	} {
		f.Add([]byte(seed), false, false)
	}
	keep := NewAllowlist("Name", "Names")
	f.Fuzz(func(t *testing.T, body []byte, withKeep, withMessage bool) {
		if !json.Valid(body) || bytes.ContainsAny(body, " \t\r\n") {
			return // not what the API passes as Compact
		}
		rec := Record{EventVersion: EventVersion, EventTime: time.Unix(0, 0), EventSource: EventSource, EventName: "GetParameter",
			UserIdentity: UserIdentity{Type: IdentityRoot}}
		if withKeep {
			rec.Keep = keep
		}
		if withMessage {
			rec.ErrorCode, rec.ErrorMessage = "ValidationException", "bad "+string(body)
		}
		rec.RequestParameters = json.RawMessage(body)
		want, werr := encodeBody(testKey, &rec)
		rec.RequestParameters = Compact(body)
		got, gerr := encodeBody(testKey, &rec)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("encodeBody(%q): RawMessage error %v, Compact error %v", body, werr, gerr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("encodeBody(%q):\nCompact    %s\nRawMessage %s", body, got, want)
		}
	})
}
