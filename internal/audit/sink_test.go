package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := DefaultConfig()
	valid.Path = "/tmp/x"
	tests := []struct {
		name   string
		edit   func(*Config)
		wantIn string // substring of the error; empty for valid
	}{
		{"default with path", func(*Config) {}, ""},
		{"no path", func(c *Config) { c.Path = "" }, "Config.Path"},
		{"zero interval", func(c *Config) { c.FlushInterval = 0 }, "Config.FlushInterval"},
		{"zero queue", func(c *Config) { c.QueueSize = 0 }, "Config.QueueSize"},
		{"zero batch", func(c *Config) { c.MaxBatch = 0 }, "Config.MaxBatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.wantIn == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantIn != "" && (err == nil || !strings.Contains(err.Error(), tt.wantIn)):
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.wantIn)
			}
		})
	}
}

func TestOpenRequiresKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "a")
	if s, err := Open(cfg, Options{}); err == nil {
		s.Close()
		t.Fatal("Open without HMACKey succeeded, want error")
	}
}

// TestRecordFormat checks the encoding of one record, field by field.
func TestRecordFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := openTest(t, path, Options{})
	rec := testRecord("PutParameter", "req-1")
	rec.ReadOnly = false
	rec.ErrorCode = "ParameterAlreadyExists"
	rec.ErrorMessage = "The parameter already exists."
	rec.Sequence, rec.PreviousHash, rec.Hash = 99, "ignored", "ignored"
	if err := s.Log(context.Background(), rec, Durable); err != nil {
		t.Fatal(err)
	}
	rec2 := testRecord("GetParameter", "req-2")
	rec2.UserIdentity = UserIdentity{}
	rec2.EventTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	rec2.EventID = "fixed-id"
	if err := s.Log(context.Background(), rec2, Durable); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %v, want 0600", got)
	}
	lines := strings.Split(strings.TrimSuffix(readFile(t, path), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2", len(lines))
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &raw); err != nil {
		t.Fatal(err)
	}
	for member, want := range map[string]any{
		"eventVersion":       "1.08",
		"eventTime":          "2024-05-06T07:08:09.123Z",
		"eventSource":        "ssm.amazonaws.com",
		"eventName":          "PutParameter",
		"awsRegion":          "us-east-1",
		"sourceIPAddress":    "127.0.0.1",
		"userAgent":          "aws-cli/2.15.0",
		"errorCode":          "ParameterAlreadyExists",
		"errorMessage":       "The parameter already exists.",
		"requestID":          "req-1",
		"readOnly":           false,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": "123456789012",
		"sequence":           1.0,
		"previousHash":       ZeroHash,
		"responseElements":   nil,
	} {
		if got := raw[member]; got != want {
			t.Errorf("%s = %#v, want %#v", member, got, want)
		}
	}
	if id, _ := raw["eventID"].(string); len(id) != 36 {
		t.Errorf("eventID = %q, want a UUID", id)
	}
	ui, _ := raw["userIdentity"].(map[string]any)
	if ui["type"] != "IAMUser" || ui["arn"] != "arn:aws:iam::123456789012:user/alice" || ui["accessKeyId"] != "AKIAEXAMPLE" {
		t.Errorf("userIdentity = %v", ui)
	}
	if !strings.HasPrefix(lines[0], `{"eventVersion":"1.08","eventTime":`) {
		t.Errorf("line does not start with eventVersion, eventTime: %s", lines[0])
	}
	if !strings.Contains(lines[0], `"sequence":1,"previousHash":"`+ZeroHash+`","hash":"`) {
		t.Errorf("line does not end with the chain members: %s", lines[0])
	}

	var second Record
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	var first Record
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if second.Sequence != 2 || second.PreviousHash != first.Hash {
		t.Errorf("second record: sequence %d previousHash %s, want 2 and %s", second.Sequence, second.PreviousHash, first.Hash)
	}
	if !strings.Contains(lines[1], `"eventTime":"2025-01-02T02:04:05.000Z"`) {
		t.Errorf("eventTime not converted to UTC with milliseconds: %s", lines[1])
	}
	if second.EventID != "fixed-id" || second.UserIdentity.Type != IdentityAnonymous {
		t.Errorf("second record: eventID %q identity %q, want fixed-id and Anonymous", second.EventID, second.UserIdentity.Type)
	}
	if strings.Contains(lines[1], "errorCode") || strings.Contains(lines[1], "errorMessage") {
		t.Errorf("empty error members not omitted: %s", lines[1])
	}
}

// TestConcurrentLog logs from many goroutines with and without durability
// and checks that every record is in the file, in a valid chain.
func TestConcurrentLog(t *testing.T) {
	const workers, perWorker = 16, 150
	tests := []struct {
		name     string
		maxBatch int
		queue    int
	}{
		{"defaults", 0, 0},
		{"small batches and queue", 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			cfg := DefaultConfig()
			cfg.Path = path
			if tt.maxBatch > 0 {
				cfg.MaxBatch, cfg.QueueSize = tt.maxBatch, tt.queue
			}
			s, err := Open(cfg, Options{HMACKey: testKey, Logger: testLogger(t), Clock: newFakeClock()})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range perWorker {
						d := Buffered
						if i%3 == 0 {
							d = Durable
						}
						rec := testRecord("GetParameter", fmt.Sprintf("w%d-%d", w, i))
						if err := s.Log(context.Background(), rec, d); err != nil {
							t.Errorf("Log: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			rep, err := VerifyFile(path)
			if err != nil {
				t.Fatalf("VerifyFile: %v", err)
			}
			if rep.Records != workers*perWorker {
				t.Errorf("Records = %d, want %d", rep.Records, workers*perWorker)
			}
			seen := map[string]int{}
			for _, line := range strings.Split(strings.TrimSpace(readFile(t, path)), "\n") {
				var r Record
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatal(err)
				}
				seen[r.RequestID]++
			}
			for w := range workers {
				for i := range perWorker {
					if id := fmt.Sprintf("w%d-%d", w, i); seen[id] != 1 {
						t.Errorf("request %s appears %d times, want 1", id, seen[id])
					}
				}
			}
		})
	}
}

// TestCloseWhileLogging checks that Close loses no record that Log
// accepted: every Log returns nil (record written) or ErrClosed.
func TestCloseWhileLogging(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := openTest(t, path, Options{})
	var accepted atomic.Int64
	started := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				d := Buffered
				if i%2 == 0 {
					d = Durable
				}
				err := s.Log(context.Background(), testRecord("GetParameter", fmt.Sprintf("w%d-%d", w, i)), d)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Log: %v", err)
					return
				}
				if accepted.Add(1) == 100 {
					once.Do(func() { close(started) })
				}
			}
		})
	}
	workersDone := make(chan struct{})
	go func() { wg.Wait(); close(workersDone) }()
	select {
	case <-started:
	case <-workersDone:
		t.Fatal("workers stopped before Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-workersDone
	rep, err := VerifyFile(path)
	if err != nil {
		t.Fatalf("VerifyFile: %v", err)
	}
	if int64(rep.Records) != accepted.Load() {
		t.Errorf("Records = %d, want %d accepted", rep.Records, accepted.Load())
	}
	if err := s.Log(context.Background(), testRecord("GetParameter", "late"), Buffered); !errors.Is(err, ErrClosed) {
		t.Errorf("Log after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// TestBufferedFlushedByTimer checks that a Buffered record is written
// when the flush timer fires, not at once, and fsynced only once
// SyncInterval's worth of flushes went by (a read-only load fsyncs a few
// times a second, not on every flush), and that a Durable record is
// fsynced before Log returns.
func TestBufferedFlushedByTimer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	clock := newFakeClock()
	synced := make(chan struct{}, 10)
	s := openTest(t, path, Options{Clock: clock, afterSync: func() { synced <- struct{}{} }})
	defer s.Close()
	cfg := DefaultConfig()
	flushesPerSync := int((cfg.SyncInterval + cfg.FlushInterval - 1) / cfg.FlushInterval)
	if flushesPerSync < 2 {
		t.Fatalf("DefaultConfig: SyncInterval %v is not longer than FlushInterval %v", cfg.SyncInterval, cfg.FlushInterval)
	}

	if err := s.Log(context.Background(), testRecord("GetParameter", "buffered"), Buffered); err != nil {
		t.Fatal(err)
	}
	select {
	case <-clock.armed: // the writer has buffered the record and armed the timer
	case <-synced:
		t.Fatal("fsync before the flush timer fired")
	case <-time.After(10 * time.Second):
		t.Fatal("flush timer not armed after a Buffered Log")
	}
	if strings.Contains(readFile(t, path), `"requestID":"buffered"`) {
		t.Error("buffered record written before the timer fired: one write per record")
	}
	for i := 1; i < flushesPerSync; i++ {
		clock.fire()
		waitArmed(t, clock) // written, and the timer armed again
		if !strings.Contains(readFile(t, path), `"requestID":"buffered"`) {
			t.Fatalf("buffered record not in the file after flush %d", i)
		}
		select {
		case <-synced:
			t.Fatalf("fsync at flush %d, before SyncInterval (%d flushes)", i, flushesPerSync)
		default:
		}
	}
	clock.fire()
	select {
	case <-synced:
	case <-time.After(10 * time.Second):
		t.Fatalf("no fsync after %d flushes (SyncInterval)", flushesPerSync)
	}
	if n := strings.Count(readFile(t, path), `"requestID":"buffered"`); n != 1 {
		t.Errorf("buffered record %d times in the file after its fsync, want once", n)
	}

	if err := s.Log(context.Background(), testRecord("PutParameter", "durable"), Durable); err != nil {
		t.Fatal(err)
	}
	select {
	case <-synced:
	default:
		t.Error("Durable Log returned before fsync")
	}
}

func TestLogContextCanceled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := openTest(t, path, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The record may or may not be queued; either way Log must not hang
	// and must report nil or the context error.
	if err := s.Log(ctx, testRecord("GetParameter", "x"), Durable); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Log = %v, want nil or context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyFile(path); err != nil {
		t.Errorf("VerifyFile: %v", err)
	}
}

func TestMirror(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	var mirror bytes.Buffer
	s := openTest(t, path, Options{Mirror: &mirror})
	for i := range 5 {
		if err := s.Log(context.Background(), testRecord("GetParameter", fmt.Sprint(i)), Buffered); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := mirror.String(), readFile(t, path); got != want || strings.Count(got, "\n") != 5 {
		t.Errorf("mirror:\n%s\nwant the file:\n%s", got, want)
	}
}

// TestReopenContinues reopens a trail, in several states, and checks that
// the chain stays valid, that a torn last line is moved to a file of its
// own and recorded in the chain rather than dropped silently, and that a
// whole last record that only lost its newline is kept.
func TestReopenContinues(t *testing.T) {
	const tornLine, tornOnly = `{"eventVersion":"1.08","eventTi`, `{"eventVersion"`
	tests := []struct {
		name     string
		before   int                             // records written by the first sink
		damage   func(t *testing.T, path string) // applied between the sinks
		wantKept int                             // records of the first sink that survive
		wantTorn string                          // the bytes saved aside; "" for none
	}{
		{"empty file", 0, nil, 0, ""},
		{"clean file", 3, nil, 3, ""},
		{"torn last line", 3, func(t *testing.T, path string) { appendFile(t, path, tornLine) }, 3, tornLine},
		{"torn only line", 0, func(t *testing.T, path string) { appendFile(t, path, tornOnly) }, 0, tornOnly},
		{"last line missing its newline", 3, func(t *testing.T, path string) {
			b := readFile(t, path)
			if err := os.WriteFile(path, []byte(strings.TrimSuffix(b, "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			s := openTest(t, path, Options{})
			for i := range tt.before {
				if err := s.Log(context.Background(), testRecord("GetParameter", fmt.Sprint("a", i)), Durable); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.damage != nil {
				tt.damage(t, path)
			}
			s = openTest(t, path, Options{})
			for i := range 2 {
				if err := s.Log(context.Background(), testRecord("PutParameter", fmt.Sprint("b", i)), Buffered); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err := VerifyFile(path)
			if err != nil {
				t.Fatalf("VerifyFile: %v\n%s", err, readFile(t, path))
			}
			want := tt.wantKept + 2
			if tt.wantTorn != "" {
				want++ // the AuditTrailTornRecord record
			}
			if rep.Records != want || rep.LastSequence != uint64(want) {
				t.Errorf("Records = %d, LastSequence = %d, want %d", rep.Records, rep.LastSequence, want)
			}
			torn, _ := filepath.Glob(path + ".torn-*")
			if tt.wantTorn == "" {
				if len(rep.Torn) != 0 || len(torn) != 0 {
					t.Errorf("torn records %+v, files %v; want none", rep.Torn, torn)
				}
				return
			}
			if len(rep.Torn) != 1 || len(torn) != 1 {
				t.Fatalf("torn records %+v, files %v; want one of each", rep.Torn, torn)
			}
			tr := rep.Torn[0]
			if got := readFile(t, torn[0]); got != tt.wantTorn {
				t.Errorf("torn file holds %q, want %q", got, tt.wantTorn)
			}
			if tr.Line != tt.wantKept+1 || tr.File != filepath.Base(torn[0]) || tr.Bytes != int64(len(tt.wantTorn)) ||
				tr.SHA256 != sha256Hex([]byte(tt.wantTorn)) || tr.Sequence != uint64(tt.wantKept+1) {
				t.Errorf("torn record %+v, want line and sequence %d, file %s, %d bytes, their SHA-256",
					tr, tt.wantKept+1, filepath.Base(torn[0]), len(tt.wantTorn))
			}
		})
	}
}

// TestReopenLongLine checks that the tail is found when the last line is
// longer than one read chunk.
func TestReopenLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := openTest(t, path, Options{})
	for i := range 3 {
		rec := testRecord("GetParameter", fmt.Sprint(i))
		rec.RequestParameters = map[string]any{"Name": strings.Repeat("n", 100<<10)}
		if err := s.Log(context.Background(), rec, Durable); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, strings.Repeat("x", 150<<10)) // torn, longer than a chunk
	s = openTest(t, path, Options{})
	if err := s.Log(context.Background(), testRecord("GetParameter", "after"), Durable); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyFile(path)
	if err != nil || rep.Records != 5 || len(rep.Torn) != 1 || rep.Torn[0].Bytes != 150<<10 {
		t.Errorf("VerifyFile = %+v, %v; want 5 records (3, the torn-record event, 1) and one torn record of 150 KiB", rep, err)
	}
}

func TestReopenRejectsBadLastRecord(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
	}{
		{"edited", func(s string) string { return strings.Replace(s, `"requestID":"a2"`, `"requestID":"zz"`, 1) }},
		{"not JSON", func(s string) string { return s + "garbage\n" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			s := openTest(t, path, Options{})
			for i := range 3 {
				if err := s.Log(context.Background(), testRecord("GetParameter", fmt.Sprint("a", i)), Durable); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(tt.edit(readFile(t, path))), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Path = path
			if s, err := Open(cfg, Options{HMACKey: testKey}); err == nil {
				s.Close()
				t.Error("Open succeeded on a trail whose last record is bad, want error")
			}
		})
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
