package raftstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// What the server's incidents watch in the node (DESIGN.md decision 9):
// peers the leader cannot reach, and storage errors of the raft log and
// the state machine. Both are observed where they happen, never inferred
// from a timeout.

// peerHealth records, on the leader, the peers whose heartbeats fail
// (raft's FailedHeartbeatObservation) until they answer again
// (ResumedHeartbeatObservation).
type peerHealth struct {
	mu      sync.Mutex
	failing map[string]time.Time // peer ID -> when it was last heard from
}

func (p *peerHealth) observe(o raft.Observation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch d := o.Data.(type) {
	case raft.FailedHeartbeatObservation:
		if p.failing == nil {
			p.failing = map[string]time.Time{}
		}
		if _, ok := p.failing[string(d.PeerID)]; !ok {
			p.failing[string(d.PeerID)] = d.LastContact
		}
	case raft.ResumedHeartbeatObservation:
		delete(p.failing, string(d.PeerID))
	case raft.RaftState:
		// Only a leader heartbeats: a node that is not one knows nothing
		// of its peers' health, and a new leader starts afresh.
		p.failing = nil
	}
}

// UnreachablePeers returns, on the leader, the peers whose heartbeats
// fail, each with the time it was last heard from (zero when never); it is
// empty on other nodes.
func (n *Node) UnreachablePeers() map[string]time.Time {
	n.peers.mu.Lock()
	defer n.peers.mu.Unlock()
	if n.raft.State() != raft.Leader || len(n.peers.failing) == 0 {
		return nil
	}
	members := map[string]bool{}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			members[string(s.ID)] = true
		}
	}
	out := map[string]time.Time{}
	for id, t := range n.peers.failing {
		if members[id] {
			out[id] = t
		}
	}
	return out
}

func (n *Node) watchPeers(obs <-chan raft.Observation) {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case o := <-obs:
			n.peers.observe(o)
		}
	}
}

func newPeerObserver(ch chan raft.Observation) *raft.Observer {
	return raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.RaftState:
			return true
		}
		return false
	})
}

// StorageError is a failed write of the raft log or the state machine.
type StorageError struct {
	// Where is "raft log" or "state machine".
	Where string
	// Class is the error's class: ENOSPC, EIO, EROFS, EDQUOT, or "other".
	Class string
	// Err is the error; it names files and system errors, never data.
	Err  error
	Time time.Time
}

// StorageHealth is the node's storage as its writes found it: the last
// error since the last successful write of the same place, per place.
type StorageHealth struct {
	Failing []StorageError
	// Errors counts every failed write since the node started.
	Errors int64
}

// storageWatch records the outcome of the node's storage writes.
type storageWatch struct {
	mu      sync.Mutex
	failing map[string]StorageError // by Where
	errors  int64
	// stalled is closed once a write of the state machine fails, and
	// replaced by an open one when a write succeeds again (stateStalled).
	stalled       chan struct{}
	stalledClosed bool
}

// ErrorClass names the class of a storage error: the errno that matters
// to an operator, or "other".
func ErrorClass(err error) string {
	if errors.Is(err, store.ErrIntentTrail) {
		return "audit"
	}
	for _, e := range []syscall.Errno{syscall.ENOSPC, syscall.EIO, syscall.EROFS, syscall.EDQUOT} {
		if errors.Is(err, e) {
			switch e {
			case syscall.ENOSPC:
				return "ENOSPC"
			case syscall.EIO:
				return "EIO"
			case syscall.EROFS:
				return "EROFS"
			default:
				return "EDQUOT"
			}
		}
	}
	return "other"
}

func (s *storageWatch) record(where string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if where == whereState {
		s.markStalledLocked(err != nil)
	}
	if err == nil {
		delete(s.failing, where)
		return
	}
	s.errors++
	if s.failing == nil {
		s.failing = map[string]StorageError{}
	}
	s.failing[where] = StorageError{Where: where, Class: ErrorClass(err), Err: err, Time: time.Now()}
}

func (s *storageWatch) markStalledLocked(stalled bool) {
	switch {
	case s.stalled == nil:
		s.stalled = make(chan struct{})
		if stalled {
			close(s.stalled)
		}
		s.stalledClosed = stalled
	case stalled && !s.stalledClosed:
		close(s.stalled)
		s.stalledClosed = true
	case !stalled && s.stalledClosed:
		s.stalled = make(chan struct{})
		s.stalledClosed = false
	}
}

// stateStalled returns the error of the state machine's last write when
// it failed (the state machine then waits for its disk: applyDurably),
// and a channel closed once a write of it fails (at once when err is not
// nil).
func (s *storageWatch) stateStalled() (<-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled == nil {
		s.markStalledLocked(false)
	}
	if e, ok := s.failing[whereState]; ok {
		return s.stalled, e.Err
	}
	return s.stalled, nil
}

// ErrStateStalled is wrapped by the error of a write this node's leader
// refused, or stopped waiting for, because its state machine cannot write
// its file (a full or failing disk): the state machine waits for the disk
// with the committed entries it has not written (applyDurably), so a write
// proposed now would only wait behind them. It is an internal error (HTTP
// 500), as every write a full disk refuses (docs/operations.md).
var ErrStateStalled = errors.New("raftstore: the state machine cannot write to its disk")

// stalledWrite is the error of a write refused before it is proposed while
// the state machine's last write failed with cause.
func stalledWrite(cause error) error {
	return fmt.Errorf("%w; the write is refused before it is proposed: writes resume once the disk accepts the state machine's writes",
		stalledCause(nil, cause))
}

// Storage reports the node's storage health.
func (n *Node) Storage() StorageHealth { return n.storage.snapshot() }

func (s *storageWatch) snapshot() StorageHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := StorageHealth{Errors: s.errors}
	for _, where := range []string{whereLog, whereState} {
		if e, ok := s.failing[where]; ok {
			h.Failing = append(h.Failing, e)
		}
	}
	return h
}

const (
	whereLog   = "raft log"
	whereState = "state machine"
)

// watchedLogs is the raft log and stable store with its writes watched
// (and, with fault injection, failed on purpose: Faults.Storage).
type watchedLogs struct {
	logStore
	watch *storageWatch
	fault func() error // nil, or the injected error of every write
	// recent keeps the entries last written, for raft's reads of them
	// (logcache.go); nil on a node without peers.
	recent *recentLogs
	// start serves raft's reads of the log while it starts (startreads.go);
	// nil once they are over.
	start atomic.Pointer[startReads]
}

// IsMonotonic passes on the log store's answer (raft.MonotonicLogStore):
// raft then empties a WAL, which refuses a gap, when it installs a
// snapshot from the leader instead of keeping entries before it.
func (l *watchedLogs) IsMonotonic() bool {
	m, ok := l.logStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (l *watchedLogs) write(f func() error) error {
	err := l.injected()
	if err == nil {
		err = f()
	}
	l.watch.record(whereLog, err)
	return err
}

func (l *watchedLogs) injected() error {
	if l.fault == nil {
		return nil
	}
	return l.fault()
}

func (l *watchedLogs) StoreLog(log *raft.Log) error {
	return l.StoreLogs([]*raft.Log{log})
}

func (l *watchedLogs) StoreLogs(logs []*raft.Log) error {
	err := l.write(func() error { return l.logStore.StoreLogs(logs) })
	if err == nil {
		l.recent.add(logs)
	}
	return err
}

func (l *watchedLogs) DeleteRange(min, max uint64) error {
	l.recent.clear()
	return l.write(func() error { return l.logStore.DeleteRange(min, max) })
}

func (l *watchedLogs) GetLog(index uint64, log *raft.Log) error {
	if s := l.start.Load(); s != nil {
		served, done := s.get(index, log)
		if done {
			l.start.CompareAndSwap(s, nil)
		}
		if served {
			return nil
		}
	}
	if l.recent.get(index, log) {
		return nil
	}
	return l.logStore.GetLog(index, log)
}

// storageFaultError is the error an injected storage fault returns, as a
// failing disk would: a path error wrapping the errno.
func storageFaultError(class string) (error, error) {
	var errno syscall.Errno
	switch class {
	case "":
		return nil, nil
	case "ENOSPC":
		errno = syscall.ENOSPC
	case "EIO":
		errno = syscall.EIO
	default:
		return nil, fmt.Errorf("raftstore: fault storage %q: want ENOSPC or EIO", class)
	}
	return fmt.Errorf("raftstore: fault injection: write the raft log: %w", errno), nil
}

// SnapshotStatus is how far the log has grown since the last snapshot.
type SnapshotStatus struct {
	// LastTime is when the last snapshot was taken (zero: none yet).
	LastTime time.Time
	// EntriesSince is the log entries after the last snapshot: raft takes
	// one past Config.SnapshotThreshold, so many more mean snapshots fail.
	EntriesSince uint64
	// Threshold is Config.SnapshotThreshold.
	Threshold uint64
}

// Snapshots reports the snapshot status of the node.
func (n *Node) Snapshots() SnapshotStatus {
	st := SnapshotStatus{Threshold: n.cfg.SnapshotThreshold}
	stats := n.raft.Stats()
	last, _ := strconv.ParseUint(stats["last_log_index"], 10, 64)
	snap, _ := strconv.ParseUint(stats["last_snapshot_index"], 10, 64)
	if last > snap {
		st.EntriesSince = last - snap
	}
	if n.snaps != nil {
		if metas, err := n.snaps.List(); err == nil && len(metas) > 0 {
			// raft's file snapshot store names a snapshot term-index-msec.
			parts := strings.Split(metas[0].ID, "-")
			if ms, err := strconv.ParseInt(parts[len(parts)-1], 10, 64); err == nil && len(parts) == 3 {
				st.LastTime = time.UnixMilli(ms)
			}
		}
	}
	return st
}
