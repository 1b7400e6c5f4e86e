package raftstore

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSnapshotsAndStorageHealth: the snapshot status counts the entries
// since the last snapshot and dates it; an injected ENOSPC on the raft log
// fails the write with that error (not swallowed), is reported by Storage
// with its class, and clears on the next write that succeeds.
func TestSnapshotsAndStorageHealth(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.FaultInjection = true
	n := openNode(t, cfg)
	defer n.Close()
	ctx := context.Background()
	if st := n.Snapshots(); !st.LastTime.IsZero() || st.Threshold != cfg.SnapshotThreshold {
		t.Fatalf("before any snapshot: %+v", st)
	}
	for _, name := range []string{"/h1", "/h2", "/h3", "/h4", "/h5"} {
		if err := n.Apply(ctx, putCmd(name, 1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	before := n.Snapshots()
	if before.EntriesSince < 5 {
		t.Fatalf("entries since snapshot: got %d, want at least 5", before.EntriesSince)
	}
	start := time.Now().Add(-time.Second)
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	after := n.Snapshots()
	if after.EntriesSince != 0 || after.LastTime.Before(start) {
		t.Errorf("after a snapshot: %+v, want 0 entries since and a time after %v", after, start)
	}

	if err := n.SetFaults(Faults{Storage: "EBADF"}); err == nil {
		t.Error("SetFaults accepted storage fault EBADF")
	}
	if err := n.SetFaults(Faults{Storage: "ENOSPC"}); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := n.Apply(actx, putCmd("/full", 1, 0))
	cancel()
	if err == nil {
		t.Fatal("write with the raft log failing: no error")
	}
	h := n.Storage()
	if len(h.Failing) != 1 || h.Failing[0].Where != "raft log" || h.Failing[0].Class != "ENOSPC" || h.Errors == 0 {
		t.Fatalf("storage health: %+v", h)
	}
	if !strings.Contains(h.Failing[0].Err.Error(), "no space left on device") {
		t.Errorf("storage error: %v", h.Failing[0].Err)
	}
	if err := n.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Apply(wctx, putCmd("/after", 1, 0)); err != nil {
		t.Fatalf("write after the fault cleared: %v", err)
	}
	if h := n.Storage(); len(h.Failing) != 0 {
		t.Errorf("storage health after a good write: %+v", h)
	}
}
