package raftstore

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestApplyWait(t *testing.T) {
	var w applyWait
	w.trigger(5)
	tests := []struct {
		name    string
		trigger uint64 // 0: none
		wait    uint64
		want    bool
	}{
		{"below applied", 0, 3, true},
		{"at applied", 0, 5, true},
		{"above applied", 0, 6, false},
		{"reached by a trigger", 7, 6, true},
		{"at the trigger", 7, 7, true},
		{"past the trigger", 7, 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w applyWait
			w.trigger(5)
			ch := w.wait(tt.wait)
			if tt.trigger != 0 {
				w.trigger(tt.trigger)
			}
			if got := isClosed(ch); got != tt.want {
				t.Fatalf("wait(%d) after applied 5, trigger %d: released %v, want %v", tt.wait, tt.trigger, got, tt.want)
			}
		})
	}
	// Waiters of one index share a channel, released together; those of
	// later indexes stay.
	a, b, c := w.wait(9), w.wait(9), w.wait(10)
	w.trigger(9)
	if !isClosed(a) || !isClosed(b) || isClosed(c) {
		t.Fatalf("after trigger(9): released %v, %v, %v; want true, true, false", isClosed(a), isClosed(b), isClosed(c))
	}
	if len(w.waiting) != 1 {
		t.Fatalf("got %d indexes waited for, want 1 (10)", len(w.waiting))
	}
}

func TestBroadcast(t *testing.T) {
	var b broadcast
	before := b.wait()
	if isClosed(before) {
		t.Fatal("released before any change")
	}
	b.notify()
	if !isClosed(before) {
		t.Fatal("not released by the change after it was taken")
	}
	if isClosed(b.wait()) {
		t.Fatal("a channel taken after the change is released by it")
	}
}

// TestReadAfterBarrier: entries that never reach the state machine (a
// leader's no-op and barriers) do not make a linearizable read wait for
// the next write: the leader's read index is the newest entry that does.
func TestReadAfterBarrier(t *testing.T) {
	ctx := context.Background()
	n := openNode(t, testConfig(t, t.TempDir()))
	defer n.Close()
	if err := n.Apply(ctx, putCmd("/b/1", 1, 0)); err != nil {
		t.Fatal(err)
	}
	last := n.DB().LastApplied()
	for range 3 {
		if err := n.raft.Barrier(time.Minute).Error(); err != nil {
			t.Fatal(err)
		}
	}
	commit := n.raft.CommitIndex()
	if commit <= last {
		t.Fatalf("got commit index %d after three barriers, want above the applied %d", commit, last)
	}
	got, err := n.fsmIndex(commit)
	if err != nil || got != last {
		t.Fatalf("fsmIndex(%d) = %d, %v; want the last command's %d", commit, got, err, last)
	}
	if got := params(t, n); got["/b/1"] == nil {
		t.Fatalf("linearizable read after barriers: got %v, want /b/1", got)
	}
	// Asked again for the same commit index, as every read between two
	// writes does, it answers without reading the log again.
	if allocs := testing.AllocsPerRun(20, func() {
		if got, err := n.fsmIndex(commit); err != nil || got != last {
			t.Fatalf("fsmIndex(%d) again = %d, %v; want %d", commit, got, err, last)
		}
	}); allocs != 0 {
		t.Errorf("fsmIndex of the same commit index again: %.0f allocations a call, want 0 (the log entry read again)", allocs)
	}
	// A write after the barriers is the index to reach again.
	if err := n.Apply(ctx, putCmd("/b/2", 1, 0)); err != nil {
		t.Fatal(err)
	}
	if got, err := n.fsmIndex(n.raft.CommitIndex()); err != nil || got != n.DB().LastApplied() {
		t.Fatalf("fsmIndex after a write = %d, %v; want %d", got, err, n.DB().LastApplied())
	}
}

// fakeLeader answers the apply RPC with the index index(), as a leader
// that committed the forwarded command there.
func fakeLeader(t *testing.T, index func() uint64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != rpcPrefix+"apply" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(rpcResponse{Index: index()})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// registerLeader records url as the API address of the node itself, the
// leader of its cluster of one, so that forward sends it its commands.
func registerLeader(t *testing.T, n *Node, url string) {
	t.Helper()
	err := n.Apply(context.Background(), &store.Command{Op: store.OpSetNode, Node: &store.NodeInfo{ID: n.cfg.NodeID, APIAddr: url, RaftAddr: "inmem"}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestForwardReadYourWrites: a forwarded write returns once this node has
// applied the leader's index, and fails with a retryable error, not
// success, when it does not catch up: its next read would miss the write.
func TestForwardReadYourWrites(t *testing.T) {
	data, err := putCmd("/f", 1, 0).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	n := openNode(t, testConfig(t, t.TempDir()))
	defer n.Close()
	// The leader's answer: the index the forwarded command committed at.
	var at atomic.Uint64
	registerLeader(t, n, fakeLeader(t, at.Load))

	t.Run("applied", func(t *testing.T) {
		at.Store(n.DB().LastApplied())
		if err := n.forward(context.Background(), data); err != nil {
			t.Fatalf("forward with the leader's index applied here: %v", err)
		}
	})
	t.Run("applied later", func(t *testing.T) {
		at.Store(n.DB().LastApplied() + 1)
		// The next command lands at that index (or later), while forward
		// waits or before it does.
		done := make(chan error, 1)
		go func() { done <- n.Apply(context.Background(), putCmd("/later", 1, 0)) }()
		if err := n.forward(context.Background(), data); err != nil {
			t.Fatalf("forward with the leader's index applied later: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("not applied", func(t *testing.T) {
		at.Store(1 << 40)
		// The index is never reached: the wait ends with ctx.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := n.forward(ctx, data)
		if !errors.Is(err, ErrBehind) || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("forward with the leader's index never applied here: got %v, want ErrBehind (store.ErrUnavailable)", err)
		}
		// Apply returns it as it is: the command is committed, so no
		// leader is to be waited for.
		if errors.Is(err, ErrNotReady) || errors.Is(err, raft.ErrNotLeader) {
			t.Fatalf("got %v, an error Apply retries", err)
		}
	})
}

func TestWaitReadyEnds(t *testing.T) {
	n := openNode(t, testConfig(t, t.TempDir()))
	// A node that can serve answers at once.
	if err := n.WaitReady(context.Background()); err != nil {
		t.Fatalf("WaitReady on a ready leader: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// A closed node never becomes ready; WaitReady says so.
	if err := n.WaitReady(context.Background()); !errors.Is(err, ErrNotReady) {
		t.Fatalf("WaitReady on a closed node: got %v, want ErrNotReady", err)
	}
	if err := n.waitApplied(context.Background(), n.DB().LastApplied()+1); !errors.Is(err, ErrBehind) {
		t.Fatalf("waitApplied on a closed node: got %v, want ErrBehind", err)
	}
}
