// Package raftstore replicates the store's commands with hashicorp/raft. A
// single server is a cluster of one: the same code path, log and snapshots as
// a five-node cluster.
//
// The state machine is persistent (bbolt, package store), so raft is told not
// to restore a snapshot on start; entries replayed after a restart are
// skipped by the state machine's applied index.
package raftstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/paramstore/paramstore/internal/store"
)

// Config configures a node.
type Config struct {
	// Dir holds raft.db (log and stable store), snapshots/ and state.db.
	Dir string
	// NodeID is this node's raft ID; defaults to "node1".
	NodeID string
	// Bind is the raft TCP address; empty means an in-process transport
	// (a single node that cannot be joined).
	Bind string
	// SnapshotThreshold is the number of log entries between snapshots.
	SnapshotThreshold uint64
	// SnapshotInterval is how often raft checks whether to snapshot.
	SnapshotInterval time.Duration
	// TrailingLogs is the number of entries kept after a snapshot.
	TrailingLogs uint64
	// Logger receives raft's warnings; nil discards.
	Logger *slog.Logger
}

// Default returns the default configuration for dir.
func Default(dir string) Config {
	return Config{
		Dir:               dir,
		NodeID:            "node1",
		SnapshotThreshold: 8192,
		SnapshotInterval:  30 * time.Second,
		TrailingLogs:      10240,
	}
}

// Validate checks the configuration, naming the failing field.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("raftstore: Config.Dir is required")
	case c.NodeID == "":
		return errors.New("raftstore: Config.NodeID is required")
	case c.SnapshotThreshold == 0:
		return errors.New("raftstore: Config.SnapshotThreshold must be positive")
	case c.SnapshotInterval <= 0:
		return errors.New("raftstore: Config.SnapshotInterval must be positive")
	}
	return nil
}

// Node is a raft node whose state machine is a store.DB.
type Node struct {
	cfg   Config
	db    *store.DB
	raft  *raft.Raft
	logs  *raftboltdb.BoltStore
	trans raft.Transport
	log   *slog.Logger
}

// Open opens (bootstrapping on first start) the node.
func Open(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("raftstore: %w", err)
	}
	db, err := store.Open(filepath.Join(cfg.Dir, "state.db"))
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, db: db, log: logger}
	if err := n.start(); err != nil {
		db.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) start() error {
	cfg := n.cfg
	hlog := hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Warn,
		Output: slogWriter{n.log},
	})
	logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db")})
	if err != nil {
		return fmt.Errorf("raftstore: open log: %w", err)
	}
	n.logs = logs
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog)
	if err != nil {
		logs.Close()
		return fmt.Errorf("raftstore: open snapshots: %w", err)
	}
	var addr raft.ServerAddress
	if cfg.Bind == "" {
		addr, n.trans = raft.NewInmemTransport(raft.ServerAddress(cfg.NodeID))
	} else {
		tcpAddr, err := net.ResolveTCPAddr("tcp", cfg.Bind)
		if err != nil {
			logs.Close()
			return fmt.Errorf("raftstore: raft-listen %q: %w", cfg.Bind, err)
		}
		t, err := raft.NewTCPTransportWithLogger(cfg.Bind, tcpAddr, 8, 10*time.Second, hlog)
		if err != nil {
			logs.Close()
			return fmt.Errorf("raftstore: raft-listen %q: %w", cfg.Bind, err)
		}
		n.trans = t
		addr = t.LocalAddr()
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NoSnapshotRestoreOnStart = true
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	// A single node elects itself after one election timeout; keep startup
	// quick. Clusters may raise these.
	rc.HeartbeatTimeout = 500 * time.Millisecond
	rc.ElectionTimeout = 500 * time.Millisecond
	rc.LeaderLeaseTimeout = 250 * time.Millisecond

	has, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		n.closeTransport()
		logs.Close()
		return fmt.Errorf("raftstore: %w", err)
	}
	r, err := raft.NewRaft(rc, &fsm{db: n.db}, logs, logs, snaps, n.trans)
	if err != nil {
		n.closeTransport()
		logs.Close()
		return fmt.Errorf("raftstore: start raft: %w", err)
	}
	n.raft = r
	if !has {
		f := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			ID: rc.LocalID, Address: addr, Suffrage: raft.Voter,
		}}})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			r.Shutdown()
			n.closeTransport()
			logs.Close()
			return fmt.Errorf("raftstore: bootstrap: %w", err)
		}
	}
	return nil
}

func (n *Node) closeTransport() {
	if c, ok := n.trans.(io.Closer); ok {
		c.Close()
	}
}

// DB returns the state machine, for reads.
func (n *Node) DB() *store.DB { return n.db }

// View runs fn against a consistent snapshot of the local state machine.
func (n *Node) View(ctx context.Context, fn func(r *store.Reader) error) error {
	return n.db.View(ctx, fn)
}

// ErrNotReady is returned when no leader could accept a write in time.
var ErrNotReady = errors.New("raftstore: no leader")

// leaderWait bounds how long a write waits for a leader.
const leaderWait = 10 * time.Second

// Apply proposes a command and waits until it is committed and applied,
// returning the state machine's result. The write is durable (fsynced in the
// raft log and in the state machine) when Apply returns nil.
func (n *Node) Apply(ctx context.Context, cmd *store.Command) error {
	data, err := cmd.Marshal()
	if err != nil {
		return fmt.Errorf("raftstore: encode: %w", err)
	}
	// Without a leader, wait at most leaderWait (or ctx's deadline).
	giveUp := time.Now().Add(leaderWait)
	for {
		timeout := leaderWait
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
		}
		if err := ctx.Err(); err != nil || timeout <= 0 {
			return fmt.Errorf("raftstore: apply: %w", context.DeadlineExceeded)
		}
		f := n.raft.Apply(data, timeout)
		err := f.Error()
		if err == nil {
			if res, ok := f.Response().(error); ok && res != nil {
				return res
			}
			return nil
		}
		if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) {
			return fmt.Errorf("raftstore: apply: %w", err)
		}
		// A single node is briefly leaderless while it starts: wait for it.
		if time.Now().After(giveUp) {
			return ErrNotReady
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotReady, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Ready reports whether this node is the leader and can accept writes.
func (n *Node) Ready() bool {
	return n.raft.State() == raft.Leader
}

// WaitReady waits until the node is leader or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	for !n.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotReady, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// Snapshot forces a raft snapshot (and log truncation).
func (n *Node) Snapshot() error {
	return n.raft.Snapshot().Error()
}

// Stats returns raft's statistics.
func (n *Node) Stats() map[string]string { return n.raft.Stats() }

// Close shuts raft down and closes the log and the state machine.
func (n *Node) Close() error {
	err := n.raft.Shutdown().Error()
	n.closeTransport()
	if cerr := n.logs.Close(); err == nil {
		err = cerr
	}
	if cerr := n.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// fsm adapts store.DB to raft's BatchingFSM.
type fsm struct {
	db *store.DB
}

var _ raft.BatchingFSM = (*fsm)(nil)

func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	entries := make([]store.Entry, len(logs))
	for i, l := range logs {
		entries[i].Index = l.Index
		if l.Type == raft.LogCommand {
			entries[i].Data = l.Data
		}
	}
	res := f.db.ApplyBatch(entries)
	out := make([]any, len(res))
	for i, r := range res {
		if r != nil {
			out[i] = r
		}
	}
	return out
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{db: f.db}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return f.db.Restore(rc)
}

// snapshot streams the bbolt file. Persist runs concurrently with Apply; the
// bbolt read transaction gives it a consistent view.
type snapshot struct {
	db *store.DB
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.db.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("raftstore: snapshot: %w", err)
	}
	return sink.Close()
}

func (s *snapshot) Release() {}

// slogWriter forwards hclog's lines to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(string(trimNewline(p)), "component", "raft")
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
