package raftstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// Waiting without polling. Three things wake a waiter, each at the moment
// it happens: the state machine applying entries (the fsm adapter triggers
// applyWait and the node's changes), raft changing state or leader (an
// observer), and a new leader becoming ready for reads (leaderWatch).
//
//   - waitApplied waits for an index of the state machine (etcd's
//     pkg/wait.WaitTime): linearizable reads and read-your-writes.
//   - WaitReady and Apply's retries wait for the next change of what the
//     node knows about its cluster.

// applyWait lets goroutines wait until the state machine has applied an
// index, as etcd's pkg/wait.WaitTime does for its applied index: one
// channel per awaited index, closed when the state machine reaches it.
type applyWait struct {
	mu      sync.Mutex
	applied uint64                   // the index last triggered
	waiting map[uint64]chan struct{} // by awaited index, all above applied
}

// appliedCh, closed, is returned for an index already applied.
var appliedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// wait returns a channel closed once the state machine has applied idx.
func (w *applyWait) wait(idx uint64) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if idx <= w.applied {
		return appliedCh
	}
	if w.waiting == nil {
		w.waiting = make(map[uint64]chan struct{})
	}
	ch := w.waiting[idx]
	if ch == nil {
		ch = make(chan struct{})
		w.waiting[idx] = ch
	}
	return ch
}

// trigger records that the state machine has applied every entry up to
// applied, releasing the waiters of those indexes.
func (w *applyWait) trigger(applied uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.applied = applied
	for idx, ch := range w.waiting {
		if idx <= applied {
			close(ch)
			delete(w.waiting, idx)
		}
	}
}

// broadcast wakes every waiter at the next change: a channel closed and
// replaced by notify (as store.DB.Changed does for commits).
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next notify. Take it before looking
// at the state it announces changes of, so a change in between is not lost.
func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// forwardWait bounds how long a follower waits to apply a write it
// forwarded to the leader.
const forwardWait = 5 * time.Second

// ErrBehind is returned when this node's state machine did not apply an
// index in time: a linearizable read, or a client's next read after a write
// forwarded to the leader (read-your-writes), would miss committed writes.
// It wraps store.ErrUnavailable (a retryable 503 at the API).
var ErrBehind = fmt.Errorf("raftstore: state machine behind the leader: %w", store.ErrUnavailable)

// applied is called by the state machine adapter after every batch and
// restore: it releases the waiters of the indexes now applied, and wakes
// those waiting for a change (a leader's registration is a command).
func (n *Node) applied() {
	n.applyWait.trigger(n.db.LastApplied())
	n.changes.notify()
}

// waitApplied waits until the state machine has applied idx, at most
// leaderWait: idx must be an entry that reaches the state machine (a
// command or a configuration, see fsmIndex), or one it already applied.
func (n *Node) waitApplied(ctx context.Context, idx uint64) error {
	select {
	case <-n.applyWait.wait(idx):
		return nil
	default:
	}
	stalled, _ := n.storage.stateStalled()
	t := time.NewTimer(leaderWait)
	defer t.Stop()
	select {
	case <-n.applyWait.wait(idx):
		return nil
	case <-stalled:
		// The state machine waits for its disk: it will not apply idx
		// before the disk accepts its writes, however long this waits.
		select {
		case <-n.applyWait.wait(idx):
			return nil
		default:
		}
		return fmt.Errorf("%w: index %d not applied (applied %d): %w", ErrBehind, idx, n.db.LastApplied(), stalledCause(n.storage.stateStalled()))
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for index %d (applied %d): %w", ErrBehind, idx, n.db.LastApplied(), ctx.Err())
	case <-t.C:
		return fmt.Errorf("%w: index %d not applied within %v (applied %d)", ErrBehind, idx, leaderWait, n.db.LastApplied())
	case <-n.stop:
		return fmt.Errorf("%w: waiting for index %d: %w", ErrBehind, idx, raft.ErrRaftShutdown)
	}
}

// fsmIndex returns the index the state machine must reach to reflect every
// entry up to idx, a committed index of this node's log (the leader's): the
// newest entry at or before idx that raft hands to the state machine.
// No-ops and barriers never reach it (a new leader's first entries are
// both), so a wait for their own index would last until the next write.
func (n *Node) fsmIndex(idx uint64) (uint64, error) {
	// Reads ask again and again for the same commit index between writes
	// (after a restart, until the first write, it is the leader's no-op:
	// every read would read and decode that log entry). The answer for an
	// index never changes: the entries up to a commit index are final.
	if m := n.fsmMemo.Load(); m != nil && m.commit == idx {
		return m.fsm, nil
	}
	fsm, err := n.scanFSMIndex(idx)
	if err == nil {
		n.fsmMemo.Store(&fsmMemo{commit: idx, fsm: fsm})
	}
	return fsm, err
}

// fsmMemo is the last answer of fsmIndex.
type fsmMemo struct{ commit, fsm uint64 }

func (n *Node) scanFSMIndex(idx uint64) (uint64, error) {
	for i := idx; i > n.db.LastApplied(); i-- {
		var l raft.Log
		err := n.logs.GetLog(i, &l)
		switch {
		case errors.Is(err, raft.ErrLogNotFound):
			// Compacted into a snapshot, so the state machine went past
			// it: what it applied covers every entry up to i.
			return n.db.LastApplied(), nil
		case err != nil:
			return 0, fmt.Errorf("raftstore: read log entry %d: %w", i, err)
		case l.Type == raft.LogCommand || l.Type == raft.LogConfiguration:
			return i, nil
		}
	}
	return min(idx, n.db.LastApplied()), nil
}

// watchRaft relays raft's changes of state and leader to the node's
// waiters. It runs until Close.
func (n *Node) watchRaft(obs <-chan raft.Observation) {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case <-obs:
			n.changes.notify()
		}
	}
}

// newObserver returns an observer of raft's changes of state and leader
// that never blocks raft: with one observation waiting, later ones are
// dropped, and the waiting one wakes the waiters after them anyway.
func newObserver(ch chan raft.Observation) *raft.Observer {
	return raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.RaftState, raft.LeaderObservation:
			return true
		}
		return false
	})
}

// servable reports whether the node can take writes and linearizable
// reads: it is the leader and has committed an entry of its term, or a
// follower that knows a registered leader.
func (n *Node) servable() bool {
	if n.raft.State() == raft.Leader {
		return n.readyForReads.Load()
	}
	_, err := n.leaderInfo()
	return err == nil
}

// WaitReady waits until the node can take writes and linearizable reads
// (it is the leader, or a follower that knows a registered leader), ctx
// ends or the node is closed.
func (n *Node) WaitReady(ctx context.Context) error {
	for {
		changed := n.changes.wait()
		if n.servable() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotReady, ctx.Err())
		case <-n.stop:
			return fmt.Errorf("%w: %w", ErrNotReady, raft.ErrRaftShutdown)
		}
	}
}

// awaitApplied waits until f, a command this node (the leader) proposed,
// is applied, and returns its error; it gives up after timeout, when ctx
// ends, or as soon as the state machine fails a write: the entry may then
// be committed, and is applied once the disk accepts the state machine's
// writes, but the caller is not kept waiting for the disk (nor is a
// SIGTERM's drain). raft's future cannot be selected on, so a goroutine
// waits for it (and ends when raft answers it, at the latest at shutdown).
// stalled is the channel of stateStalled, taken before f was proposed.
func (n *Node) awaitApplied(ctx context.Context, f raft.ApplyFuture, timeout time.Duration, stalled <-chan struct{}) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	var gaveUp error
	select {
	case err := <-done:
		return err
	case <-stalled:
		gaveUp = fmt.Errorf("%w; the write was proposed and may be committed: it is applied once the disk accepts the state machine's writes",
			stalledCause(n.storage.stateStalled()))
	case <-t.C:
		gaveUp = fmt.Errorf("%w: the write was proposed and not applied within %v (applied %d); it may be committed", ErrBehind, timeout, n.db.LastApplied())
	case <-ctx.Done():
		gaveUp = fmt.Errorf("%w: the write was proposed and may be committed: %w", ErrBehind, ctx.Err())
	}
	// An answer that came with the reason to give up wins.
	select {
	case err := <-done:
		return err
	default:
		return gaveUp
	}
}

// stalledCause is ErrStateStalled with the state machine's last storage
// error, if any, from stateStalled.
func stalledCause(_ <-chan struct{}, cause error) error {
	if cause == nil {
		return ErrStateStalled
	}
	return fmt.Errorf("%w (%s: %v)", ErrStateStalled, ErrorClass(cause), cause)
}
