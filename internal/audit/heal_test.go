package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// faultyFile wraps the trail file and fails the calls the test chooses, as
// a full or failing disk would. A failing Write first writes half of its
// bytes, as a short write on a full disk does, so that a partial line
// reaches the file.
type faultyFile struct {
	trailFile
	mu                          sync.Mutex
	writeErr, syncErr, truncErr error
}

func (f *faultyFile) set(write, sync, trunc error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeErr, f.syncErr, f.truncErr = write, sync, trunc
}

func (f *faultyFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	err := f.writeErr
	f.mu.Unlock()
	if err == nil {
		return f.trailFile.Write(p)
	}
	n, werr := f.trailFile.Write(p[:len(p)/2])
	if werr != nil {
		return n, werr
	}
	return n, err
}

func (f *faultyFile) Sync() error {
	f.mu.Lock()
	err := f.syncErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.trailFile.Sync()
}

func (f *faultyFile) Truncate(size int64) error {
	f.mu.Lock()
	err := f.truncErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.trailFile.Truncate(size)
}

// openFaulty opens a sink whose file fails on demand.
func openFaulty(t *testing.T, path string, cfg Config, opts Options) (*FileSink, *faultyFile) {
	t.Helper()
	ff := &faultyFile{}
	opts.file = func(f trailFile) trailFile { ff.trailFile = f; return ff }
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.Clock == nil {
		opts.Clock = newFakeClock()
	}
	cfg.Path = path
	s, err := Open(cfg, Options{HMACKey: testKey, Logger: opts.Logger, Clock: opts.Clock, file: opts.file, afterSync: opts.afterSync})
	if err != nil {
		t.Fatal(err)
	}
	return s, ff
}

// requestIDs returns the requestIDs of the file's records, in order, and
// fails the test unless its chain verifies.
func requestIDs(t *testing.T, path string) []string {
	t.Helper()
	if rep, err := VerifyFile(path); err != nil {
		t.Fatalf("VerifyFile: %v (%+v)\n%s", err, rep, readFile(t, path))
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSuffix(readFile(t, path), "\n"), "\n") {
		if line == "" {
			continue
		}
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.RequestID)
	}
	return ids
}

// TestSinkHealsAfterFailures makes the trail's writes, fsyncs and
// truncations fail as a full or failing disk does, and checks that a
// Durable Log reports the failure, that no partial line stays in the file,
// that records logged meanwhile wait in memory, and that the first attempt
// after the disk recovers writes all of them, in order, in a valid chain,
// without a restart.
func TestSinkHealsAfterFailures(t *testing.T) {
	enospc := fmt.Errorf("write: %w", syscall.ENOSPC)
	eio := fmt.Errorf("fsync: %w", syscall.EIO)
	tests := []struct {
		name                        string
		writeErr, syncErr, truncErr error
	}{
		{"short write then ENOSPC", enospc, nil, nil},
		{"fsync fails", nil, eio, nil},
		{"write fails and the cut too", enospc, nil, fmt.Errorf("truncate: %w", syscall.EIO)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			s, ff := openFaulty(t, path, DefaultConfig(), Options{})
			defer s.Close()
			ctx := context.Background()
			if err := s.Log(ctx, testRecord("PutParameter", "r1"), Durable); err != nil {
				t.Fatal(err)
			}

			ff.set(tt.writeErr, tt.syncErr, tt.truncErr)
			err := s.Log(ctx, testRecord("PutParameter", "r2"), Durable)
			var nd *NotDurableError
			want := tt.writeErr
			if want == nil {
				want = tt.syncErr
			}
			if !errors.As(err, &nd) || !errors.Is(err, want) {
				t.Fatalf("Durable Log on a failing disk = %v, want a *NotDurableError wrapping %v", err, want)
			}
			if s.Failing() == nil {
				t.Error("Failing() = nil while the disk fails")
			}
			if tt.truncErr == nil {
				// The partial line was cut at once: the file holds r1 only.
				if got := requestIDs(t, path); strings.Join(got, ",") != "r1" {
					t.Errorf("file while failing holds %v, want [r1]", got)
				}
			}
			// Reads and results of changes wait in memory meanwhile.
			if err := s.Log(ctx, testRecord("GetParameter", "r3"), Buffered); err != nil {
				t.Errorf("Buffered Log while failing = %v, want nil (the backlog is not full)", err)
			}
			if err := s.Log(ctx, testRecord("PutParameter", "r4"), Applied); err != nil {
				t.Errorf("Applied Log while failing = %v, want nil", err)
			}
			// Still failing: the next Durable Log tries again and fails.
			if err := s.Log(ctx, testRecord("PutParameter", "r5"), Durable); !errors.As(err, &nd) {
				t.Errorf("second Durable Log while failing = %v, want a *NotDurableError", err)
			}

			ff.set(nil, nil, nil)
			if err := s.Log(ctx, testRecord("PutParameter", "r6"), Durable); err != nil {
				t.Fatalf("Durable Log after the disk recovered = %v, want nil", err)
			}
			if err := s.Failing(); err != nil {
				t.Errorf("Failing() = %v after the trail healed, want nil", err)
			}
			if got := requestIDs(t, path); strings.Join(got, ",") != "r1,r2,r3,r4,r5,r6" {
				t.Errorf("healed trail holds %v, want [r1 r2 r3 r4 r5 r6]", got)
			}
			if n := s.backlog.Load(); n != 0 {
				t.Errorf("backlog = %d bytes after healing, want 0", n)
			}
		})
	}
}

// TestSinkBacklogLimit checks that, while the trail cannot write, Buffered
// and Durable records are refused with ErrUnavailable once the backlog is
// full, and Applied records never are.
func TestSinkBacklogLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg := DefaultConfig()
	cfg.MaxBacklog = 1 // one waiting record fills it
	s, ff := openFaulty(t, path, cfg, Options{})
	defer s.Close()
	ctx := context.Background()
	ff.set(syscall.ENOSPC, nil, nil)
	var nd *NotDurableError
	if err := s.Log(ctx, testRecord("PutParameter", "queued"), Durable); !errors.As(err, &nd) {
		t.Fatalf("first Durable Log = %v, want *NotDurableError", err)
	}
	for _, d := range []Durability{Buffered, Durable} {
		if err := s.Log(ctx, testRecord("GetParameter", "refused"), d); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Log(%v) with a full backlog = %v, want ErrUnavailable", d, err)
		} else if !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
			t.Errorf("ErrUnavailable %q does not name the cause", err)
		}
	}
	if err := s.Log(ctx, testRecord("PutParameter", "applied"), Applied); err != nil {
		t.Errorf("Applied Log with a full backlog = %v, want nil", err)
	}
	// A refused Durable Log has the writer try again at once: once the
	// disk recovers, the next call finds the trail healed.
	ff.set(nil, nil, nil)
	if err := s.Log(ctx, testRecord("PutParameter", "poke"), Durable); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Durable Log with a full backlog = %v, want ErrUnavailable", err)
	}
	if err := s.Flush(ctx); err != nil { // a barrier adds nothing to the backlog: never refused
		t.Fatal(err)
	}
	if err := s.Log(ctx, testRecord("PutParameter", "after"), Durable); err != nil {
		t.Fatalf("Durable Log after the disk recovered = %v, want nil", err)
	}
	if got := requestIDs(t, path); strings.Join(got, ",") != "queued,applied,after" {
		t.Errorf("trail holds %v, want [queued applied after]", got)
	}
}

// TestSinkRetriesOnTimer checks that a failing trail heals by itself, on
// its retry timer, when no Durable record arrives.
func TestSinkRetriesOnTimer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	clock := newFakeClock()
	synced := make(chan struct{}, 10)
	s, ff := openFaulty(t, path, DefaultConfig(), Options{Clock: clock, afterSync: func() { synced <- struct{}{} }})
	defer s.Close()
	ff.set(syscall.ENOSPC, nil, nil)
	if err := s.Log(context.Background(), testRecord("GetParameter", "read"), Buffered); err != nil {
		t.Fatal(err)
	}
	waitArmed(t, clock) // the flush timer
	clock.fire()        // the flush fails: the retry timer is armed
	waitArmed(t, clock)
	if s.Failing() == nil {
		t.Fatal("Failing() = nil after the flush failed")
	}
	ff.set(nil, nil, nil)
	clock.fire()
	select {
	case <-synced:
	case <-time.After(10 * time.Second):
		t.Fatal("no fsync after the retry timer fired")
	}
	if err := s.Failing(); err != nil {
		t.Errorf("Failing() = %v after the retry, want nil", err)
	}
	if got := requestIDs(t, path); strings.Join(got, ",") != "read" {
		t.Errorf("trail holds %v, want [read]", got)
	}
}

// TestSinkCloseWhileFailing checks that Close on a trail that still cannot
// write reports the records it could not write and leaves no partial line.
func TestSinkCloseWhileFailing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, ff := openFaulty(t, path, DefaultConfig(), Options{})
	if err := s.Log(context.Background(), testRecord("PutParameter", "ok"), Durable); err != nil {
		t.Fatal(err)
	}
	ff.set(syscall.ENOSPC, nil, nil)
	if err := s.Log(context.Background(), testRecord("PutParameter", "lost"), Applied); err != nil {
		t.Fatal(err)
	}
	err := s.Close()
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "never written") {
		t.Errorf("Close = %v, want an error saying records were never written, wrapping ENOSPC", err)
	}
	if got := requestIDs(t, path); strings.Join(got, ",") != "ok" {
		t.Errorf("trail holds %v, want [ok]", got)
	}
}

// waitArmed waits until the writer arms a timer of clock.
func waitArmed(t *testing.T, clock *fakeClock) {
	t.Helper()
	select {
	case <-clock.armed:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer armed no timer")
	}
}
