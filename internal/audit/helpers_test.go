package audit

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var testKey = []byte("test-hmac-key-0123456789abcdef")

// testWriter sends log output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

// fakeClock is a Clock whose timers fire only when the test says so.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []chan time.Time
	armed  chan struct{} // receives per After call, while not full
}

func newFakeClock() *fakeClock {
	return &fakeClock{
		now:   time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		armed: make(chan struct{}, 100),
	}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, ch)
	select {
	case c.armed <- struct{}{}:
	default: // nobody is watching
	}
	return ch
}

// fire fires every pending timer.
func (c *fakeClock) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.timers {
		ch <- c.now
	}
	c.timers = nil
}

// openTest opens a sink on path with a fake clock and the test key.
func openTest(t *testing.T, path string, opts Options) *FileSink {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = path
	if opts.HMACKey == nil {
		opts.HMACKey = testKey
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.Clock == nil {
		opts.Clock = newFakeClock()
	}
	s, err := Open(cfg, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	return s
}

func testRecord(name, reqID string) Record {
	return Record{
		EventName:       name,
		AWSRegion:       "us-east-1",
		SourceIPAddress: "127.0.0.1",
		UserAgent:       "aws-cli/2.15.0",
		UserIdentity: UserIdentity{
			Type:        IdentityIAMUser,
			PrincipalID: "AIDAEXAMPLE",
			ARN:         "arn:aws:iam::123456789012:user/alice",
			AccountID:   "123456789012",
			AccessKeyID: "AKIAEXAMPLE",
			UserName:    "alice",
		},
		RequestParameters:  map[string]any{"Name": "/app/" + reqID},
		RequestID:          reqID,
		ReadOnly:           true,
		RecipientAccountID: "123456789012",
	}
}

// writeTrail writes n records to a new file and returns its path.
func writeTrail(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := openTest(t, path, Options{})
	for i := range n {
		if err := s.Log(context.Background(), testRecord("GetParameter", "req-"+string(rune('a'+i))), Durable); err != nil {
			t.Fatalf("Log: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
