package audit

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"
)

// putRecord is the result record of a PutParameter call as the API logs
// it: the request body as received (a SecureString value to redact) and
// the operation's output.
func putRecord() Record {
	return Record{EventVersion: EventVersion, EventTime: time.Now(), EventSource: EventSource, EventName: "PutParameter",
		AWSRegion: "us-east-1", SourceIPAddress: "127.0.0.1", UserAgent: "aws-sdk-go-v2/1.0",
		UserIdentity:      UserIdentity{Type: IdentityRoot, ARN: "arn:aws:iam::123456789012:root", AccountID: "123456789012"},
		RequestParameters: json.RawMessage(`{"Name":"/bench/w","Type":"SecureString","Value":"0123456789abcdef0123456789abcdef","Overwrite":true}`),
		ResponseElements: &struct {
			Version int64
			Tier    string
		}{3, "Standard"},
		RequestID: "r", EventID: "e", EventType: EventType, ManagementEvent: true, RecipientAccountID: "1"}
}

// BenchmarkEncodeBodyWrite is the encoding of a write's record: its
// request's Value redacted, its response canonicalized.
func BenchmarkEncodeBodyWrite(b *testing.B) {
	rec := putRecord()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeBody(testKey, &rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogWrite is the audit cost of a write's result record as the
// API pays it (its intent record costs the same encoding).
func BenchmarkLogWrite(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(b.TempDir(), "trail.jsonl")
	s, err := Open(cfg, Options{HMACKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	rec := putRecord()
	rec.EventTime, rec.EventID = time.Time{}, ""
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

// BenchmarkPutRecords is the audit encoding a PutParameter pays on the
// request path with its intent in the raft log: EncodeIntent, then the
// result record's body, sharing a Memo as the API's call does.
func BenchmarkPutRecords(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(b.TempDir(), "trail.jsonl")
	s, err := Open(cfg, Options{HMACKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var memo Memo
	rec := putRecord()
	rec.EventID, rec.Memo = "", &memo
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		memo = memo.Reset()
		if _, err := s.EncodeIntent(rec); err != nil {
			b.Fatal(err)
		}
		result := rec
		s.fillDefaults(&result)
		if buf, err = appendBody(buf[:0], s.key, &result); err != nil {
			b.Fatal(err)
		}
	}
}
