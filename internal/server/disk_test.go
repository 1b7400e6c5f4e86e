package server

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDiskGuardFloor(t *testing.T) {
	var logs bytes.Buffer
	g := newDiskGuard(t.TempDir(), "", 16<<20, slog.New(slog.NewTextHandler(&logs, nil)))
	var free uint64
	g.statfs = func(_ string, st *syscall.Statfs_t) error {
		st.Bsize, st.Bavail, st.Blocks = 4096, free/4096, 1<<20
		return nil
	}
	clock := time.Unix(1e9, 0)
	g.now = func() time.Time { return clock }
	tests := []struct {
		name    string
		free    uint64
		refused bool
	}{
		{"plenty", 1 << 30, false},
		{"at the floor", 16 << 20, false},
		{"a page below", 16<<20 - 4096, true},
		{"still below", 1 << 20, true},
		{"back", 64 << 20, false},
	}
	for _, tt := range tests {
		free = tt.free
		clock = clock.Add(time.Second)
		err := g.check()
		if got := err != nil; got != tt.refused || (err != nil && !errors.Is(err, ErrLowDisk)) {
			t.Errorf("%s: check() = %v, want refused %v", tt.name, err, tt.refused)
		}
		if d := g.degraded(); (d != "") != tt.refused {
			t.Errorf("%s: degraded() = %q", tt.name, d)
		}
	}
	// One line per transition, however many writes were refused.
	if n := strings.Count(logs.String(), "disk space below --min-free-space"); n != 1 {
		t.Errorf("%d refusal log lines, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "writes resume"); n != 1 {
		t.Errorf("%d resume log lines, want 1:\n%s", n, logs.String())
	}
	g.floor = 0
	free = 0
	if err := g.check(); err != nil {
		t.Errorf("floor 0: check() = %v, want no floor", err)
	}
}

// TestDiskGuardStatfsHeld: with plenty of space (twice the floor) one
// statfs answers the writes of the next 100 ms; closer to the floor every
// write asks again, so a filling disk is refused at once and freed space
// is seen at once.
func TestDiskGuardStatfsHeld(t *testing.T) {
	g := newDiskGuard(t.TempDir(), "", 16<<20, slog.New(slog.DiscardHandler))
	var free uint64
	calls := 0
	g.statfs = func(_ string, st *syscall.Statfs_t) error {
		calls++
		st.Bsize, st.Bavail, st.Blocks = 4096, free/4096, 1<<20
		return nil
	}
	clock := time.Unix(1e9, 0)
	g.now = func() time.Time { return clock }

	free = 1 << 30
	for range 100 {
		if err := g.check(); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("plenty free: %d statfs for 100 writes within the hold, want 1", calls)
	}
	// Past the hold the next write asks again.
	clock = clock.Add(freeHold)
	free = 20 << 20 // above the floor, below twice it
	if err := g.check(); err != nil || calls != 2 {
		t.Fatalf("after the hold: check() = %v with %d statfs, want nil and 2", err, calls)
	}
	for range 10 {
		g.check()
	}
	if calls != 12 {
		t.Errorf("near the floor: %d statfs after 10 more writes, want 12 (one each)", calls)
	}
	free = 1 << 20
	if err := g.check(); !errors.Is(err, ErrLowDisk) {
		t.Errorf("below the floor, same instant: check() = %v, want ErrLowDisk", err)
	}
}

// TestDiskPartsRaftLog: the raft_log part of paramstore_data_dir_bytes
// counts the log in either format, raft/raft.db or raft/wal/ (its meta file
// and segments), and nothing else of raft/.
func TestDiskPartsRaftLog(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"raft/raft.db":         partRaftLog,
		"raft/wal/wal-meta.db": partRaftLog,
		"raft/wal/00000000000000000001-0000000000000000.wal": partRaftLog,
		"raft/state.db":                  partState,
		"raft/snapshots/1-2-3/state.bin": partSnapshots,
		"raft/walrus":                    partOther,
	}
	want := map[string]int64{}
	for rel, part := range files {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, make([]byte, 8192), 0o600); err != nil {
			t.Fatal(err)
		}
		want[part] += allocated(path)
	}
	got := newDiskGuard(dir, "", 0, slog.New(slog.DiscardHandler)).measure()
	for _, part := range []string{partRaftLog, partState, partSnapshots, partOther} {
		if got[part] != want[part] {
			t.Errorf("%s: %d bytes, want %d", part, got[part], want[part])
		}
	}
}
