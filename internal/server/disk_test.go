package server

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"syscall"
	"testing"
)

func TestDiskGuardFloor(t *testing.T) {
	var logs bytes.Buffer
	g := newDiskGuard(t.TempDir(), "", 16<<20, slog.New(slog.NewTextHandler(&logs, nil)))
	var free uint64
	g.statfs = func(_ string, st *syscall.Statfs_t) error {
		st.Bsize, st.Bavail, st.Blocks = 4096, free/4096, 1<<20
		return nil
	}
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
