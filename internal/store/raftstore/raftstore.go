// Package raftstore replicates the store's commands with hashicorp/raft. A
// single server is a cluster of one: the same code path, log and snapshots as
// a five-node cluster.
//
// The state machine is persistent (bbolt, package store), so raft is told not
// to restore a snapshot on start; entries replayed after a restart are
// skipped by the state machine's applied index. Before raft starts, Open
// checks that the state machine, the snapshots and the log fit together
// (recover.go) and that the files were not damaged while the node was
// stopped (clean.go).
package raftstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/tlsconf"
)

// Config configures a node, in the manner of raft.Config: Default gives one
// default per setting, Validate rejects a configuration whose settings are
// missing or contradict each other. The settings are the flags of
// `paramstore server`, which binds them to these fields directly; Dir,
// ClusterKey, Logger, Check and KeyCheck are what the server hands over.
type Config struct {
	// Dir holds the raft log and stable store (raft.db or wal/, see
	// logstore.go), snapshots/ and state.db.
	Dir string
	// RaftLog is the format of the raft log of a new directory
	// (--raft-log): LogAuto or "" (the directory's format; the WAL for a
	// new one), LogWAL or LogBolt (that format; a directory holding the
	// other is refused).
	RaftLog string
	// NodeID is this node's raft ID (--node-id).
	NodeID string
	// Bind is the raft TCP address (--raft-listen); empty means an
	// in-process transport (a single node that cannot be joined).
	Bind string
	// Advertise is the raft address other nodes dial (--raft-advertise;
	// default: Bind's).
	Advertise string
	// ClusterKey authenticates raft connections and the cluster RPCs;
	// required with Bind.
	ClusterKey []byte
	// PeerTLS, when set, encrypts and authenticates raft connections and
	// the cluster RPCs with mutual TLS (--peer-tls-*), in addition to the
	// cluster key: a node whose certificate the peer CA did not sign
	// cannot join nor talk raft.
	PeerTLS *tlsconf.Peer
	// PeerTLSTransition also accepts plaintext peers, and dials a peer in
	// plaintext when it does not speak TLS: the window of a rolling move
	// of a cluster from plaintext to TLS (docs/security.md).
	PeerTLSTransition bool
	// Join, when set, is the API URL of a member (--join): the node does not
	// bootstrap a cluster of its own but asks to be added.
	Join string
	// NonVoter makes the node a read replica (--non-voter).
	NonVoter bool
	// MaxStaleness bounds how long since its last contact with the leader a
	// follower still serves stale reads (--max-staleness).
	MaxStaleness time.Duration
	// SnapshotThreshold is the number of log entries between snapshots
	// (--snapshot-threshold).
	SnapshotThreshold uint64
	// SnapshotInterval is how often raft checks whether to snapshot
	// (--snapshot-interval).
	SnapshotInterval time.Duration
	// TrailingLogs is the number of entries kept after a snapshot
	// (--trailing-logs); at most SnapshotThreshold, so that the log holds
	// at most twice SnapshotThreshold entries.
	TrailingLogs uint64
	// SnapshotsRetain is how many snapshots are kept on disk
	// (--snapshots-retain; raft's FileSnapshotStore retain count).
	SnapshotsRetain int
	// HeartbeatTimeout, ElectionTimeout and LeaderLeaseTimeout are raft's
	// timings (raft.Config; no flag binds them): a follower that has not
	// heard from the leader for HeartbeatTimeout starts an election, a
	// candidate without a majority after ElectionTimeout starts another,
	// and a leader that has not heard from a quorum for LeaderLeaseTimeout
	// steps down. Each is drawn between its value and twice it. Short
	// timings elect quickly; a node without Bind that is its only voter
	// uses soloTimeout instead (it elects itself 50–100 ms after its
	// start: nothing can reach it); a host that starves the process of CPU for
	// longer than the lease costs the cluster its leader and one election
	// (docs/cluster.md). Tests of a cluster that are not about elections
	// lengthen them, so that a loaded machine does not elect for them.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// Logger receives raft's warnings; nil discards.
	Logger *slog.Logger
	// Check checks state.db and raft.db before they are opened after an
	// unclean shutdown, and a snapshot's copy before it replaces the state
	// machine; nil means store.InProcessChecker, which a corrupt file can
	// crash (the server runs store.ExecChecker).
	Check store.Checker
	// KeyCheck is the key check value of this node's master key, sent when
	// it joins: a cluster that recorded another value refuses the node.
	KeyCheck []byte
	// ForceNewCluster makes this node's state the state of a new cluster
	// whose only member is this node (recover.go): the recovery when the
	// raft log is lost or a quorum is gone for good (--force-new-cluster).
	ForceNewCluster bool
	// FaultInjection lets tests cut this node's raft links and slow them
	// down while it runs (fault.go: Node.SetFaults, the "fault" cluster
	// RPC). Never on by default.
	FaultInjection bool
	// LegacyLogCodec makes the node behave as a version before the
	// compact log encoding (logcodec.go): it does not advertise it, and
	// skips a compact entry it is given with an error, as such a version
	// fails to decode it. A test setting, for mixed-version clusters.
	LegacyLogCodec bool
	// Intents, when set on a node without Bind, is the audit trail that
	// the intent records carried by commands go to as they are applied
	// (intent.go): the API then hands them to Apply instead of writing
	// them first.
	Intents IntentLog
	// KillAtIntent is a test setting: "before:S" or "after:S" kills the
	// process with SIGKILL as it applies a command whose intent record
	// contains S, before the record is handed to the trail or once it is
	// durable there.
	KillAtIntent string
}

// Default returns the default configuration for dir: the only place the
// defaults of the raft settings are written.
func Default(dir string) Config {
	return Config{
		Dir:               dir,
		NodeID:            "node1",
		SnapshotThreshold: 8192,
		SnapshotInterval:  30 * time.Second,
		// As many as the threshold (the most Validate accepts).
		TrailingLogs:    8192,
		SnapshotsRetain: 2,
		MaxStaleness:    10 * time.Second,
		// Half of raft's defaults (a node without peers uses soloTimeout).
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
	}
}

// Validate checks the configuration, naming the failing field (both fields
// when two contradict each other): what Open needs besides the settings
// (Dir, and a ClusterKey with Bind), and ValidateSettings.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("raftstore: Config.Dir is required")
	case c.Bind != "" && len(c.ClusterKey) < 16:
		return errors.New("raftstore: a cluster (--raft-listen) needs a cluster key of at least 16 bytes (--cluster-key-file)")
	}
	return c.ValidateSettings()
}

// ValidateSettings checks the settings alone, those an operator chooses
// with flags: the server checks them before it creates any file, when Dir
// and ClusterKey are not known yet.
func (c Config) ValidateSettings() error {
	switch {
	case c.NodeID == "":
		return errors.New("raftstore: Config.NodeID (--node-id) is required")
	case !validLogKind(c.RaftLog):
		return fmt.Errorf("raftstore: Config.RaftLog (--raft-log) %q: want auto, wal or bolt", c.RaftLog)
	case c.SnapshotThreshold == 0:
		return errors.New("raftstore: Config.SnapshotThreshold (--snapshot-threshold) must be positive")
	case c.SnapshotInterval <= 0:
		return errors.New("raftstore: Config.SnapshotInterval (--snapshot-interval) must be positive")
	case c.SnapshotsRetain < 1:
		return errors.New("raftstore: Config.SnapshotsRetain (--snapshots-retain) must be at least 1")
	case c.TrailingLogs > c.SnapshotThreshold:
		return fmt.Errorf("raftstore: Config.TrailingLogs (--trailing-logs) %d exceeds Config.SnapshotThreshold (--snapshot-threshold) %d: "+
			"keep at most as many entries after a snapshot as there are between snapshots (lower --trailing-logs with --snapshot-threshold)",
			c.TrailingLogs, c.SnapshotThreshold)
	case c.Join != "" && c.Bind == "":
		return errors.New("raftstore: Config.Join (--join) needs Config.Bind (--raft-listen)")
	case c.MaxStaleness <= 0:
		return errors.New("raftstore: Config.MaxStaleness (--max-staleness) must be positive")
	case c.ForceNewCluster && c.Join != "":
		return errors.New("raftstore: Config.ForceNewCluster (--force-new-cluster) makes a new cluster; drop Config.Join (--join)")
	}
	return c.validateTimings()
}

// validateTimings checks the raft timings as raft.ValidateConfig does, in
// the terms of this Config.
func (c Config) validateTimings() error {
	const least = 5 * time.Millisecond // raft's own floor
	switch {
	case c.HeartbeatTimeout < least:
		return fmt.Errorf("raftstore: Config.HeartbeatTimeout %v is below %v", c.HeartbeatTimeout, least)
	case c.ElectionTimeout < least:
		return fmt.Errorf("raftstore: Config.ElectionTimeout %v is below %v", c.ElectionTimeout, least)
	case c.LeaderLeaseTimeout < least:
		return fmt.Errorf("raftstore: Config.LeaderLeaseTimeout %v is below %v", c.LeaderLeaseTimeout, least)
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return fmt.Errorf("raftstore: Config.ElectionTimeout %v is shorter than Config.HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	case c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return fmt.Errorf("raftstore: Config.LeaderLeaseTimeout %v is longer than Config.HeartbeatTimeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	return nil
}

// Node is a raft node whose state machine is a store.DB.
type Node struct {
	cfg  Config
	db   *store.DB
	raft *raft.Raft
	logs logStore
	// logKind is the format of the log (LogWAL or LogBolt).
	logKind string
	// fsmMemo caches fsmIndex's last answer.
	fsmMemo atomic.Pointer[fsmMemo]
	trans   raft.Transport
	log     *slog.Logger
	hlog    hclog.Logger
	rpc     *rpcClient
	check   store.Checker
	// faults wraps the raft stream layer when Config.FaultInjection is set
	// (with Bind); storageFault is the injected error of log writes.
	faults       *faultStream
	storageFault atomic.Pointer[error]
	// snaps is the snapshot store (Snapshots reads it).
	snaps raft.SnapshotStore
	// startReads is what served raft's reads of the log at the start
	// (startreads.go; its counts are for tests).
	startReads *startReads
	// peers and storage are what the server's incidents watch (health.go).
	peers   peerHealth
	storage storageWatch

	// readyForReads is set once a new leader has committed a barrier, so
	// its commit index covers every earlier entry (see leaderWatch).
	readyForReads atomic.Bool

	// soleVoter is set while this node is the leader and the only voter
	// of its configuration: a cluster of one is its own quorum, so its
	// linearizable reads need no leadership check (readIndex). voterMu
	// guards voterGen and voterChanging, which keep a configuration read
	// before a change of voters began from setting it (soleVoter.go).
	soleVoter     atomic.Bool
	voterMu       sync.Mutex
	voterGen      uint64
	voterChanging int

	// leaderCache and leaderGen keep the leader's registered addresses
	// (leaderInfo).
	leaderCache atomic.Pointer[leaderCache]
	leaderGen   atomic.Uint64
	// noPlanIndex is leaderInfo's answer for a leader that did not know
	// the planindex call (askPlanIndex).
	noPlanIndex atomic.Pointer[store.NodeInfo]
	// noApplyBatch is leaderInfo's answer for a leader that did not know
	// the applybatch call (forward.go).
	noApplyBatch atomic.Pointer[store.NodeInfo]

	// codec is the gate of the compact log encoding (logcodec.go).
	codec logCodec

	// applyWait releases the waiters of applied indexes; changes wakes
	// those waiting for any change of state, leader or registration
	// (wait.go).
	applyWait applyWait
	changes   broadcast
	observer  *raft.Observer
	// peerObserver feeds peers (health.go).
	peerObserver *raft.Observer

	// Linearizable reads on the leader share leadership checks: a read
	// joins the next check that has not started yet (see readIndex).
	// readMu also orders the start of a check's goroutine before Close.
	readMu      sync.Mutex
	readNext    *readCheck
	readRunning bool
	// On a follower, linearizable reads share the read index RPC to the
	// leader the same way (see followerReadIndex); under readMu too.
	fwdNext    *readCheck
	fwdRunning bool
	// A follower's write plans share the plan index RPC to the leader the
	// same way (see followerPlanIndex); under readMu too.
	planNext    *readCheck
	planRunning bool
	// A follower's forwarded writes share the forward call to the leader
	// (forward.go); under readMu too.
	fwdQueue forwardQueue

	// intents is the state of the intents carried in the log (intent.go).
	intents intentState

	closed atomic.Bool
	stop   chan struct{}
	// wg counts the node's goroutines: Close waits for them.
	wg sync.WaitGroup
}

// Open opens (bootstrapping on first start) the node. It refuses, with an
// error wrapping ErrDataDir that names the files and the fix, a data
// directory whose files are damaged or do not fit together.
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
	n := &Node{cfg: cfg, log: logger, stop: make(chan struct{}), check: cfg.Check}
	n.codec.dirty = make(chan struct{}, 1)
	if n.check == nil {
		n.check = store.InProcessChecker
	}
	n.hlog = hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Warn,
		Output: slogWriter{n.log},
	})
	kind, isNew, err := detectLog(cfg.Dir, cfg.RaftLog)
	if err != nil {
		return nil, err
	}
	n.logKind = kind
	if err := n.checkFiles(context.Background()); err != nil {
		return nil, err
	}
	opts := store.Options{Check: n.check, BatchLimit: commitEntries}
	if n.carriesIntents() {
		opts.OnIntent, opts.BeforeCommit, opts.OwedIntents = n.onIntent, n.syncIntents, n.owedIntents
	}
	db, err := store.OpenOptions(filepath.Join(cfg.Dir, stateFile), opts)
	if err != nil {
		return nil, err
	}
	n.db = db
	if isNew && !cfg.ForceNewCluster {
		if err := n.checkNoStateWithoutLog(); err != nil {
			db.Close()
			return nil, err
		}
	}
	n.log.Info("raft log", "format", kind, "new", isNew)
	n.rpc = newRPCClient(cfg.ClusterKey, cfg.PeerTLS, cfg.PeerTLSTransition, n.log)
	if err := n.start(); err != nil {
		db.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) start() error {
	cfg := n.cfg
	hlog := n.hlog
	logs, snaps, err := n.openRaftFiles()
	if err != nil {
		return err
	}
	var addr raft.ServerAddress
	if cfg.Bind == "" {
		addr, n.trans = raft.NewInmemTransport(raft.ServerAddress(cfg.NodeID))
	} else {
		stream, err := newAuthStream(cfg.Bind, cfg.Advertise, cfg.ClusterKey)
		if err == nil {
			stream.peer, stream.transition, stream.log = cfg.PeerTLS, cfg.PeerTLSTransition, n.log
		}
		if err != nil {
			logs.Close()
			return fmt.Errorf("raftstore: raft-listen %q: %w", cfg.Bind, err)
		}
		var layer raft.StreamLayer = stream
		if cfg.FaultInjection {
			n.faults = newFaultStream(stream)
			layer = n.faults
			n.log.Warn("raft fault injection enabled: this node's raft links can be cut through the cluster RPCs (a test setting)")
		}
		t := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: layer, MaxPool: 4, Timeout: 10 * time.Second, Logger: hlog,
		})
		n.trans = t
		addr = t.LocalAddr()
	}
	if cfg.ForceNewCluster {
		logs, snaps, err = n.forceNewCluster(logs, snaps, addr)
	} else {
		err = n.reconcile(logs, snaps)
	}
	if err != nil {
		n.closeTransport()
		if logs != nil {
			logs.Close()
		}
		return err
	}
	reads, err := n.checkLogReadable(logs, snaps)
	if err != nil {
		n.closeTransport()
		logs.Close()
		return err
	}
	n.logs = logs
	n.snaps = snaps

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NoSnapshotRestoreOnStart = true
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	rc.CommitTimeout = commitTimeout
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	if cfg.Bind == "" && soloAtStart(rc.LocalID, reads, snaps) {
		// Its only voter, and unreachable: it elects itself at once.
		rc.HeartbeatTimeout = min(rc.HeartbeatTimeout, soloTimeout)
		rc.ElectionTimeout = min(rc.ElectionTimeout, soloTimeout)
		rc.LeaderLeaseTimeout = min(rc.LeaderLeaseTimeout, soloTimeout)
	}

	has, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		n.closeTransport()
		logs.Close()
		return fmt.Errorf("raftstore: %w", err)
	}
	if err := n.loadIntents(logs); err != nil {
		n.closeTransport()
		logs.Close()
		return err
	}
	n.applyWait.trigger(n.db.LastApplied())
	watched := &watchedLogs{logStore: logs, watch: &n.storage}
	if cfg.Bind != "" {
		watched.recent = newRecentLogs(recentLogsSize)
	} else {
		// No transport can ask for entries to replicate: raft's first
		// commit may be served too (startreads.go).
		reads.allowReplay(n.db.LastApplied())
	}
	watched.start.Store(reads)
	n.startReads = reads
	if cfg.FaultInjection {
		watched.fault = func() error {
			if e := n.storageFault.Load(); e != nil {
				return *e
			}
			return nil
		}
	}
	f := &fsm{db: n.db, applied: n.applied, storage: &n.storage, stop: n.stop, log: n.log, nodesChanged: func() {
		n.dropLeaderInfo()
		n.logCodecChanged()
	}}
	if cfg.LegacyLogCodec {
		f.refused = &n.codec.refused
	}
	if n.carriesIntents() {
		f.beforeRestore = n.restoreIntents
	}
	r, err := raft.NewRaft(rc, f, watched, logs, snaps, n.trans)
	if err != nil {
		n.closeTransport()
		logs.Close()
		return fmt.Errorf("raftstore: start raft: %w", err)
	}
	n.raft = r
	obs := make(chan raft.Observation, 1)
	n.observer = newObserver(obs)
	r.RegisterObserver(n.observer)
	peerObs := make(chan raft.Observation, 64)
	n.peerObserver = newPeerObserver(peerObs)
	r.RegisterObserver(n.peerObserver)
	n.wg.Add(5)
	go n.codecLoop()
	n.logCodecChanged()
	go n.commitLoop()
	go n.leaderWatch()
	go n.watchRaft(obs)
	go n.watchPeers(peerObs)
	if !has && cfg.Join == "" {
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

// The deferred commit of the state machine (DESIGN.md decision 10, etcd's
// backend batch): a write is acknowledged once it is durable in the raft
// log and applied; the state machine commits what was applied every
// commitInterval, or once commitEntries entries wait (store.Options.
// BatchLimit), before a snapshot lets raft truncate the log, before a read
// that needs it, and at Close. The start applies the log's entries after
// the committed applied index again.
//
// The interval is 1 s, not etcd's 100 ms: a commit's cost (its page
// rewrites and fsyncs, during which apply waits) grows far slower than the
// entries it holds, and since change notifications follow the applied state
// (store.DB.Changed, the read buffer) nothing a client waits for is tied to
// it. Measured (BenchmarkDeferredCommitCycle, overwrites in batches of 16):
// committing every 320 entries costs 39-48 µs of CPU per entry and stalls
// apply 43-61 µs per entry; every 4,800 entries, 26-28 µs and 11-13 µs.
// The price is at most commitEntries entries (or 1 s of writes) to replay
// after a crash, and webhooks (the event outbox, read from the committed
// state) woken up to 1 s after the write.
const (
	commitInterval = time.Second
	commitEntries  = 10000
)

// commitTimeout is raft's CommitTimeout: how long a leader with nothing
// new to send waits before it sends its followers an append anyway, the
// only way they learn that their last entries committed (raft's heartbeats
// do not carry the commit index; hashicorp/raft#282). A write taken by a
// follower waits for the follower to apply it (read-your-writes, forward),
// so on a cluster between bursts it waited this long, 50-100 ms with
// raft's default 50 ms: measured through a follower of a 3-node cluster
// (tests/cluster BenchmarkFollowerWrite, sequential puts 20 ms apart),
// p50 85 ms against 4 ms through the leader; 21 ms with 10 ms, 14 ms with
// 5 ms. What it costs an idle cluster (3 nodes, --raft-multiplier 1, 20 s):
// the leader 4.9% of a core with 50 ms, 8.6% with 10 ms, 14.3% with 5 ms;
// each follower 1.5%, 2.5%, 4.6%. Under load, new entries carry the commit
// index before the timeout (BenchmarkThroughput writes within noise).
const commitTimeout = 10 * time.Millisecond

// commitLoop commits the state machine every commitInterval until Close
// (which commits last). A commit the disk refuses is reported as the state
// machine's storage error; the applier waits until one succeeds
// (applyDurably).
func (n *Node) commitLoop() {
	defer n.wg.Done()
	t := time.NewTicker(commitInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		pending := n.db.Pending()
		err := n.db.Commit()
		if pending || err != nil {
			n.storage.record(whereState, err)
		}
	}
}

// leaderWatch commits a barrier whenever this node becomes leader, and only
// then lets it serve linearizable reads (a new leader's commit index may
// not yet cover entries of earlier terms).
func (n *Node) leaderWatch() {
	defer n.wg.Done()
	ch := n.raft.LeaderCh()
	for {
		select {
		case <-n.stop:
			return
		case isLeader := <-ch:
			n.readyForReads.Store(false)
			n.soleVoter.Store(false)
			n.logLeadership(isLeader)
			n.logCodecChanged()
			if isLeader {
				if err := n.raft.Barrier(leaderWait).Error(); err == nil {
					n.updateSoleVoter()
					n.readyForReads.Store(n.raft.State() == raft.Leader)
				}
			}
			n.changes.notify()
		}
	}
}

// logLeadership logs this node's leadership changes. Raft's own lines for
// them are at INFO, below the Warn level of its logger (start), which keeps
// only the cause: a leader that stepped down ("failed to contact quorum of
// nodes") or a follower that timed out ("heartbeat timeout reached"). The
// reads and writes refused until a new leader serves them are explained by
// these two lines.
func (n *Node) logLeadership(isLeader bool) {
	term := n.raft.CurrentTerm()
	if isLeader {
		n.log.Info("raft: this node is now the leader", "node", n.cfg.NodeID, "term", term)
		return
	}
	n.log.Info("raft: this node is no longer the leader", "node", n.cfg.NodeID, "term", term)
}

// DB returns the state machine, for reads.
func (n *Node) DB() *store.DB { return n.db }

// View runs fn against a snapshot of the local state machine. By default
// the read is linearizable: the leader confirms its leadership with a
// quorum (ReadIndex) and the node waits until it has applied everything
// committed before the read began; a follower asks the leader for that
// index. With store.WithStale(ctx) the local state is read directly, if
// this node heard from a leader within MaxStaleness. With
// store.WithWritePlan(ctx) the local state is read once it reflects every
// write acknowledged before the call began (planSync).
func (n *Node) View(ctx context.Context, fn func(r *store.Reader) error) error {
	if store.IsWritePlan(ctx) {
		if err := n.planSync(ctx); err != nil {
			return err
		}
	} else if store.IsStale(ctx) {
		if err := n.staleOK(); err != nil {
			return err
		}
	} else if err := n.readBarrier(ctx); err != nil {
		return err
	}
	return n.db.View(ctx, fn)
}

// SyncPlan brings the local state up to date for the write plan of ctx
// (store.WithWritePlan), as its first read would (planSync); nothing for
// another context. The service calls it before it takes a parameter's
// write lock, so that concurrent writers of one parameter through a
// follower share one read index request instead of asking one by one.
func (n *Node) SyncPlan(ctx context.Context) error {
	if !store.IsWritePlan(ctx) {
		return nil
	}
	return n.planSync(ctx)
}

// planSync brings the local state up to date for the plan of a write, once
// per call (store.PlanSynced): every write acknowledged before the call
// began must be in the state the plan reads, or the plan answers as if it
// had not happened (a parameter not found, one that already exists, a
// no-op) without proposing anything a compare-and-set could catch.
//
// The leader (or a single node) has applied every write it acknowledged
// before acknowledging it, and a new leader serves plans once its barrier
// has applied those of the earlier terms (readyForReads), so it reads its
// state at once: no round trip. As for its writes, no quorum confirms that
// it still leads: a leader cut off from the quorum steps down within its
// lease, before another can be elected. A follower asks the leader for its
// plan index (planIndex: the index it applied, no quorum round; shared by
// concurrent plans, followerPlanIndex) and waits until it has applied it. Without a known leader the plan is
// refused with ErrNotReady at once: the write could not commit anyway.
func (n *Node) planSync(ctx context.Context) error {
	if store.PlanSynced(ctx) {
		return nil
	}
	// As Apply does, a plan that began with a leader known waits through
	// an election (a leader stepping down, a new one not ready yet) for
	// at most leaderWait, rather than failing the write at once.
	var giveUp <-chan time.Time
	pause := 10 * time.Millisecond
	for attempt := 0; ; attempt++ {
		changed := n.changes.wait()
		var err error
		if n.raft.State() == raft.Leader {
			if n.readyForReads.Load() {
				store.MarkPlanSynced(ctx)
				return nil
			}
			// A new leader: its barrier is about to apply the entries of
			// earlier terms (leaderWatch).
			err = fmt.Errorf("%w: new leader not ready", ErrNotReady)
		} else if _, id := n.raft.LeaderWithID(); id == "" {
			if attempt == 0 {
				return ErrNotReady
			}
			err = fmt.Errorf("%w: no known leader", ErrNotReady)
		} else {
			idx, rerr := n.followerPlanIndex(ctx)
			if rerr == nil {
				if err := n.waitApplied(ctx, idx); err != nil {
					return err
				}
				store.MarkPlanSynced(ctx)
				return nil
			}
			if !errors.Is(rerr, ErrNotReady) {
				return rerr
			}
			err = rerr
		}
		if giveUp == nil {
			t := time.NewTimer(leaderWait)
			defer t.Stop()
			giveUp = t.C
		}
		// A follower is not told when its leader becomes ready for reads:
		// it also tries again after a pause.
		again := time.NewTimer(pause)
		pause = min(2*pause, 500*time.Millisecond)
		select {
		case <-changed:
		case <-again.C:
		case <-giveUp:
			again.Stop()
			return fmt.Errorf("raftstore: write plan: gave up after %v: %w", leaderWait, err)
		case <-ctx.Done():
			again.Stop()
			return fmt.Errorf("%w: %w", ErrNotReady, ctx.Err())
		case <-n.stop:
			again.Stop()
			return fmt.Errorf("%w: %w", ErrNotReady, raft.ErrRaftShutdown)
		}
		again.Stop()
	}
}

// ErrTooStale is returned for stale reads on a node cut off from the leader
// for longer than MaxStaleness.
var ErrTooStale = fmt.Errorf("raftstore: no contact with a leader within the staleness bound: %w", store.ErrUnavailable)

// staleOK says whether this node may serve a stale read: on the leader, or
// while its last contact with a leader is within MaxStaleness. Whether it
// knows a leader right now does not matter: a follower forgets its leader
// one heartbeat timeout after the last contact (an election, a partition, a
// lost majority), and its state is then exactly as stale as the time since
// that contact, which is what the bound is about. A node that never heard
// from a leader has no bound to be within.
func (n *Node) staleOK() error {
	if n.raft.State() == raft.Leader {
		return nil
	}
	lc := n.raft.LastContact()
	if lc.IsZero() || time.Since(lc) > n.cfg.MaxStaleness {
		return ErrTooStale
	}
	return nil
}

// Staleness is how long ago this node last heard from the leader (0 on the
// leader).
func (n *Node) Staleness() time.Duration {
	if n.raft.State() == raft.Leader {
		return 0
	}
	lc := n.raft.LastContact()
	if lc.IsZero() {
		return time.Duration(1<<63 - 1)
	}
	return time.Since(lc)
}

// readBarrier makes the next local read linearizable.
func (n *Node) readBarrier(ctx context.Context) error {
	var idx uint64
	if n.raft.State() == raft.Leader {
		var err error
		if idx, err = n.readIndex(); err != nil {
			return err
		}
	} else {
		var err error
		if idx, err = n.followerReadIndex(ctx); err != nil {
			return err
		}
	}
	return n.waitApplied(ctx, idx)
}

// followerReadIndex is a follower's side of a linearizable read: the
// leader's read index (readIndex), asked over one RPC shared by every
// read that arrived before it was sent. A read joins the pending RPC,
// never one in flight, so the index the leader answers was taken after
// the read began, and covers every write committed before it: the read is
// as linearizable as with an RPC of its own. One goroutine sends the RPCs
// one after another; under a read load that is one RPC per round trip
// rather than one per read.
func (n *Node) followerReadIndex(ctx context.Context) (uint64, error) {
	return n.askShared(ctx, &n.fwdNext, &n.fwdRunning, n.askReadIndex)
}

// followerPlanIndex is a follower's side of a write's plan (planSync): the
// leader's plan index (planIndex), shared by every plan that arrived
// before the RPC was sent, as followerReadIndex shares read indexes (and
// for the same reason: the index was taken after the plan began).
func (n *Node) followerPlanIndex(ctx context.Context) (uint64, error) {
	return n.askShared(ctx, &n.planNext, &n.planRunning, n.askPlanIndex)
}

// askShared joins the pending request of *next (one not sent yet),
// starting the goroutine that sends them one after another with ask when
// *running is not set; next and running are under readMu.
func (n *Node) askShared(ctx context.Context, next **readCheck, running *bool, ask func(context.Context) (uint64, error)) (uint64, error) {
	n.readMu.Lock()
	if n.closed.Load() {
		n.readMu.Unlock()
		return 0, fmt.Errorf("%w: %w", ErrNotReady, raft.ErrRaftShutdown)
	}
	c := *next
	if c == nil {
		c = &readCheck{done: make(chan struct{})}
		*next = c
		if !*running {
			*running = true
			n.wg.Add(1)
			go n.runShared(next, running, ask)
		}
	}
	c.joined++
	n.readMu.Unlock()
	select {
	case <-c.done:
		return c.index, c.err
	case <-ctx.Done():
		// The others that joined still get the answer.
		return 0, ctx.Err()
	}
}

// readIndexTimeout bounds a shared read index RPC: it serves reads that
// may each have their own deadline, so it cannot use theirs.
const readIndexTimeout = leaderWait

// runShared sends the pending requests of *next with ask until there is
// none (askShared).
func (n *Node) runShared(next **readCheck, running *bool, ask func(context.Context) (uint64, error)) {
	defer n.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		n.readMu.Lock()
		c := *next
		*next = nil
		if c == nil {
			*running = false
			n.readMu.Unlock()
			return
		}
		n.readMu.Unlock()
		c.index, c.err = ask(ctx)
		close(c.done)
	}
}

// askReadIndex asks the leader for its read index.
func (n *Node) askReadIndex(ctx context.Context) (uint64, error) {
	leader, err := n.leaderInfo()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, readIndexTimeout)
	defer cancel()
	idx, err := n.rpc.readIndex(ctx, leader.APIAddr)
	if err != nil {
		n.dropLeaderInfo()
		return 0, fmt.Errorf("%w: read index from %s: %w", ErrNotReady, leader.ID, err)
	}
	return idx, nil
}

// askPlanIndex asks the leader for its plan index (planIndex). A leader
// of an older version, which does not know the call, is asked for its
// read index instead: a larger cost, the same guarantee. It is asked for
// that from then on, while leaderInfo keeps the same answer (the same
// leader, term and registry).
func (n *Node) askPlanIndex(ctx context.Context) (uint64, error) {
	leader, err := n.leaderInfo()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, readIndexTimeout)
	defer cancel()
	var idx uint64
	if n.noPlanIndex.Load() == leader {
		idx, err = n.rpc.readIndex(ctx, leader.APIAddr)
	} else if idx, err = n.rpc.planIndex(ctx, leader.APIAddr); errors.Is(err, errUnknownCall) {
		n.noPlanIndex.Store(leader)
		idx, err = n.rpc.readIndex(ctx, leader.APIAddr)
	}
	if err != nil {
		n.dropLeaderInfo()
		return 0, fmt.Errorf("%w: plan index from %s: %w", ErrNotReady, leader.ID, err)
	}
	return idx, nil
}

// planIndex is the leader's side of a follower's write plan: the index its
// state machine has applied. The leader acknowledges a write only once its
// state machine applied it (its own, and a forwarded one, whose RPC answers
// after applyLocal), and a new leader answers only once its first barrier
// applied the entries of earlier terms (readyForReads), so the index covers
// every write acknowledged before the call arrived: a follower that has
// applied it plans on a state that misses none. No quorum confirms the
// leadership, as for the leader's own plans (planSync); no log entry is
// read, unlike fsmIndex: an applied index always reaches the state machine.
func (n *Node) planIndex() (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, fmt.Errorf("%w: not the leader", ErrNotReady)
	}
	if !n.readyForReads.Load() {
		return 0, fmt.Errorf("%w: new leader not ready", ErrNotReady)
	}
	return n.db.LastApplied(), nil
}

// readIndex is the leader's side of a linearizable read: the index the
// state machine must reach to reflect the commit index (fsmIndex), valid
// once leadership is confirmed by a quorum.
//
// Concurrent reads share one check, as etcd's read loop does: a read joins
// the pending check, and one goroutine runs the checks one after another,
// each taking the commit index and asking the quorum only after every read
// that joined it arrived. So one round trip to the quorum serves every read
// that arrived while the previous one was in flight.
//
// The leader of a cluster of one (the only voter of its configuration) is
// its own quorum: no other node can be elected without its vote, so its
// commit index is current as soon as it is read, and the check is skipped.
func (n *Node) readIndex() (uint64, error) {
	if !n.readyForReads.Load() {
		return 0, fmt.Errorf("%w: new leader not ready for reads", ErrNotReady)
	}
	if n.soleVoter.Load() && n.raft.State() == raft.Leader {
		return n.fsmIndex(n.raft.CommitIndex())
	}
	n.readMu.Lock()
	if n.closed.Load() {
		n.readMu.Unlock()
		return 0, fmt.Errorf("%w: %w", ErrNotReady, raft.ErrRaftShutdown)
	}
	c := n.readNext
	if c == nil {
		c = &readCheck{done: make(chan struct{})}
		n.readNext = c
		if !n.readRunning {
			n.readRunning = true
			n.wg.Add(1)
			go n.runReadChecks()
		}
	}
	c.joined++
	n.readMu.Unlock()
	<-c.done
	return c.index, c.err
}

// readCheck is one leadership check shared by the reads that joined it.
type readCheck struct {
	done  chan struct{}
	index uint64
	err   error
	// joined counts the reads waiting for it (under readMu).
	joined int
}

// runReadChecks runs pending checks until there is none.
func (n *Node) runReadChecks() {
	defer n.wg.Done()
	for {
		n.readMu.Lock()
		c := n.readNext
		n.readNext = nil
		if c == nil {
			n.readRunning = false
			n.readMu.Unlock()
			return
		}
		n.readMu.Unlock()
		c.index, c.err = n.fsmIndex(n.raft.CommitIndex())
		if err := n.raft.VerifyLeader().Error(); err != nil {
			c.err = fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		close(c.done)
	}
}

// leaderInfo returns the registered addresses of the leader, the node the
// cluster RPCs of a follower (forwarded writes, read index, join) go to:
// ErrNotReady when no leader is known or fault injection cut the link to it.
func (n *Node) leaderInfo() (*store.NodeInfo, error) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return nil, fmt.Errorf("%w: no known leader", ErrNotReady)
	}
	if err := n.linkCut(id); err != nil {
		return nil, err
	}
	// A follower looks its leader up for every forwarded write and plan:
	// the answer is kept while the term and the registry stay the same.
	// The registry's changes (nodesChanged) and a failed call to the
	// leader (dropLeaderInfo: an address that changed in a snapshot this
	// node installed) drop it; gen keeps a lookup that raced with a drop
	// from being kept.
	term := n.raft.CurrentTerm()
	gen := n.leaderGen.Load()
	if c := n.leaderCache.Load(); c != nil && c.id == id && c.term == term && c.gen == gen {
		return c.info, nil
	}
	info, err := n.nodeInfo(string(id))
	if err != nil {
		return nil, err
	}
	n.leaderCache.Store(&leaderCache{id: id, term: term, gen: gen, info: info})
	return info, nil
}

// leaderCache is the last answer of leaderInfo.
type leaderCache struct {
	id   raft.ServerID
	term uint64
	gen  uint64
	info *store.NodeInfo
}

// dropLeaderInfo forgets the answer leaderInfo keeps: the registry
// changed, or a call to the leader failed.
func (n *Node) dropLeaderInfo() {
	n.leaderGen.Add(1)
	n.leaderCache.Store(nil)
}

// nodeInfo returns the registered addresses of member id: ErrNotReady when
// it has none.
func (n *Node) nodeInfo(id string) (*store.NodeInfo, error) {
	var info *store.NodeInfo
	// A point read: a follower looks its leader up for every forwarded
	// call, which must not commit the state machine each time.
	err := n.db.View(store.WithPointReads(context.Background()), func(r *store.Reader) error {
		var err error
		info, err = r.Node(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if info == nil || info.APIAddr == "" {
		return nil, fmt.Errorf("%w: member %s has no registered API address", ErrNotReady, id)
	}
	return info, nil
}

// ErrNotReady is returned when no leader could accept a write in time.
var ErrNotReady = fmt.Errorf("raftstore: no leader: %w", store.ErrUnavailable)

// leaderWait bounds how long a write waits for a leader.
const leaderWait = 10 * time.Second

// Apply proposes a command and waits until it is committed and applied,
// returning the state machine's result. The write is durable when Apply
// returns nil: fsynced in the raft log of a quorum, and applied to the
// state machine, which commits it to its file within commitInterval (a
// crash before that applies it again from the log at the next start). Without a
// leader it waits for one, at most leaderWait (or until ctx's deadline),
// trying again at each change of what this node knows of its cluster.
func (n *Node) Apply(ctx context.Context, cmd *store.Command) (err error) {
	// The caller's command is not changed: an ID and an intent go on
	// copies. The intent travels in the entry when this node proposes it
	// (leader, or without peers): it then applies the entry itself, or
	// finds it in its own log at a restart or a snapshot's restore
	// (restoreIntents). A command forwarded to the leader does not carry
	// it: the trail makes it durable first (IntentSlot.LogDurable).
	slot := store.IntentFrom(ctx)
	var intent []byte
	if n.carriesIntents() {
		intent = slot.Pending()
	}
	if cmd.ID == "" {
		c := *cmd
		c.ID = store.NewCommandID(time.Now())
		cmd = &c
	}
	var plain, carrying []byte
	carried := false
	defer func() {
		if carried && (err == nil || store.IsResult(err)) {
			slot.Applied()
		}
	}()
	// The wait for a leader is bounded from the first attempt; its timer
	// starts only when an attempt fails (most writes need none).
	start := time.Now()
	var giveUp <-chan time.Time
	for {
		timeout := leaderWait
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
		}
		if err := ctx.Err(); err != nil || timeout <= 0 {
			return fmt.Errorf("raftstore: apply: %w", context.DeadlineExceeded)
		}
		changed := n.changes.wait()
		var err error
		if n.raft.State() == raft.Leader || n.cfg.Bind == "" {
			var data []byte
			if data, err = n.encodeOnce(cmd, intent, &plain, &carrying); err != nil {
				return err
			}
			if intent != nil {
				slot.Take()
				carried = true
			}
			_, err = n.applyLocal(ctx, data, timeout)
		} else {
			if intent != nil {
				// Possibly a second record of the intent, when a proposal
				// that carried it (this node led) is committed after all.
				if err := slot.LogDurable(); err != nil {
					return fmt.Errorf("raftstore: apply: %w", err)
				}
				intent = nil
			}
			var data []byte
			if data, err = n.encodeOnce(cmd, nil, &plain, &carrying); err != nil {
				return err
			}
			err = n.forward(ctx, data)
		}
		if err == nil || store.IsResult(err) {
			return err
		}
		if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) && !errors.Is(err, ErrNotReady) {
			return fmt.Errorf("raftstore: apply: %w", err)
		}
		// No leader, or not one this node can reach: a single node is
		// briefly leaderless while it starts, a cluster while it elects.
		// The same command (its ID deduplicates it) goes again once this
		// node's view of the cluster changes.
		if giveUp == nil {
			t := time.NewTimer(leaderWait - time.Since(start))
			defer t.Stop()
			giveUp = t.C
		}
		select {
		case <-changed:
		case <-giveUp:
			return fmt.Errorf("raftstore: apply: gave up after %v: %w", leaderWait, notReady(err))
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotReady, ctx.Err())
		case <-n.stop:
			return fmt.Errorf("raftstore: apply: %w", raft.ErrRaftShutdown)
		}
	}
}

// encodeOnce returns cmd encoded for the log, carrying intent (from this
// node) when it is not nil: encoded at the first call of each kind into
// *plain or *carrying.
func (n *Node) encodeOnce(cmd *store.Command, intent []byte, plain, carrying *[]byte) ([]byte, error) {
	dst := plain
	if intent != nil {
		dst = carrying
	}
	if *dst != nil {
		return *dst, nil
	}
	c := cmd
	if intent != nil {
		cc := *cmd
		cc.Intent, cc.Origin = intent, n.cfg.NodeID
		c = &cc
	}
	data, err := n.encode(c)
	if err != nil {
		return nil, fmt.Errorf("raftstore: encode: %w", err)
	}
	*dst = data
	return data, nil
}

// notReady makes err an ErrNotReady (a retryable unavailability).
func notReady(err error) error {
	if errors.Is(err, ErrNotReady) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrNotReady, err)
}

// applyLocal proposes data on this node (the leader) and returns the
// entry's index and the state machine's result. It waits at most timeout
// (or until ctx ends) for the entry to be applied, and proposes nothing
// while the state machine cannot write to its disk (ErrStateStalled).
func (n *Node) applyLocal(ctx context.Context, data []byte, timeout time.Duration) (uint64, error) {
	// raft.Apply after Shutdown may queue the entry on its buffered apply
	// channel, where nobody will ever answer it.
	if n.closed.Load() {
		return 0, raft.ErrRaftShutdown
	}
	stalled, cause := n.storage.stateStalled()
	if cause != nil {
		return 0, stalledWrite(cause)
	}
	f, err := n.propose(data, timeout)
	if err != nil {
		return 0, err
	}
	if err := n.awaitApplied(ctx, f, timeout, stalled); err != nil {
		return 0, err
	}
	if res, ok := f.Response().(error); ok && res != nil {
		return f.Index(), res
	}
	return f.Index(), nil
}

// forward sends a command to the leader and waits until this node has
// applied it too, so that a client that reads from this node next sees its
// write even with stale reads (read-your-writes). When this node does not
// catch up within forwardWait, forward fails with ErrBehind although the
// leader committed the write: success would let the client's next read
// here miss it.
func (n *Node) forward(ctx context.Context, data []byte) error {
	leader, idx, err := n.forwardShared(ctx, data)
	if idx > 0 {
		wctx, cancel := context.WithTimeout(ctx, forwardWait)
		defer cancel()
		if werr := n.waitApplied(wctx, idx); werr != nil {
			return fmt.Errorf("raftstore: write committed by the leader %s at index %d, not applied on this node: %w", leader.ID, idx, werr)
		}
	}
	return err
}

// Ready reports whether this node is the leader and can accept writes.
// Use Status for what a follower can do.
func (n *Node) Ready() bool {
	return n.raft.State() == raft.Leader
}

// Snapshot forces a raft snapshot (and log truncation).
func (n *Node) Snapshot() error {
	return n.raft.Snapshot().Error()
}

// Stats returns raft's statistics.
func (n *Node) Stats() map[string]string { return n.raft.Stats() }

// Close shuts raft down and closes the log and the state machine.
func (n *Node) Close() error {
	// Under readMu, so that no read check starts a goroutine after Wait.
	n.readMu.Lock()
	n.closed.Store(true)
	n.readMu.Unlock()
	close(n.stop)
	err := n.raft.Shutdown().Error()
	n.raft.DeregisterObserver(n.observer)
	n.raft.DeregisterObserver(n.peerObserver)
	n.wg.Wait()
	n.closeTransport()
	if cerr := n.logs.Close(); err == nil {
		err = cerr
	}
	if cerr := n.db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if werr := writeCleanShutdown(n.cfg.Dir); werr != nil {
			n.log.Warn("could not record the clean shutdown; the next start checks the files", "error", werr)
		}
	}
	return err
}

// fsm adapts store.DB to raft's BatchingFSM.
type fsm struct {
	db *store.DB
	// applied, if set, is called after every batch and restore (the
	// node's waiters, wait.go).
	applied func()
	// storage, if set, records the outcome of each batch's write.
	storage *storageWatch
	// stop, closed when the node closes, ends the wait of a batch the
	// disk refuses; log reports that wait.
	stop <-chan struct{}
	log  *slog.Logger
	// nodesChanged, if set, is called after a batch that registered or
	// removed a node, or changed the configuration (logcodec.go).
	nodesChanged func()
	// refused, set with Config.LegacyLogCodec, counts the compact entries
	// skipped.
	refused *atomic.Int64
	// beforeRestore, if set, runs before a restore replaces the state: an
	// error refuses it (restoreIntents).
	beforeRestore func() error
}

// Waits between attempts of a batch the disk refuses (ENOSPC, EIO, ...).
const (
	storageRetryMin = 100 * time.Millisecond
	storageRetryMax = 5 * time.Second
)

func (f *fsm) notify() {
	if f.applied != nil {
		f.applied()
	}
}

var _ raft.BatchingFSM = (*fsm)(nil)

func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	entries := make([]store.Entry, len(logs))
	nodes := false
	for i, l := range logs {
		entries[i].Index = l.Index
		entries[i].Term = l.Term
		if l.Type == raft.LogConfiguration {
			nodes = true
		}
		if l.Type != raft.LogCommand {
			continue
		}
		data := l.Data
		if f.refused != nil && store.IsCompact(data) {
			f.refused.Add(1)
			if f.log != nil {
				f.log.Error("a compact log entry reached a node that does not decode it: skipped", "index", l.Index)
			}
			data = nil
		}
		entries[i].Data = data
		if op := store.EncodedOp(data); op == store.OpSetNode || op == store.OpRemoveNode {
			nodes = true
		}
	}
	res := f.applyDurably(entries)
	f.notify()
	if nodes && f.nodesChanged != nil {
		f.nodesChanged()
	}
	out := make([]any, len(res))
	for i, r := range res {
		if r != nil {
			out[i] = r
		}
	}
	return out
}

// applyDurably applies a batch, and when the disk refuses it (a storage
// error: ENOSPC, EIO, EROFS, EDQUOT) tries again until it is written or
// the node closes. Raft moves past a batch once ApplyBatch returns, so
// returning the error would leave these committed entries unapplied on
// this node for good, while the other nodes apply them: a silently lost
// write. Waiting stalls this node's state machine instead (its reads go
// stale, its /readyz shows the applied index behind, the storage incident
// and metric say why) until space returns. A batch that fails is rolled
// back whole, so entries left unapplied at close are applied again from
// the log at the next start.
func (f *fsm) applyDurably(entries []store.Entry) []error {
	wait := storageRetryMin
	for attempt := 0; ; attempt++ {
		res := f.db.ApplyBatch(entries)
		// A batch that could not be written fails every entry with the
		// same error; a command's own refusal (not found, a failed
		// check) is no storage error.
		var werr error
		for _, r := range res {
			if r != nil && ErrorClass(r) != "other" {
				werr = r
				break
			}
		}
		if f.storage != nil {
			f.storage.record(whereState, werr)
		}
		if werr == nil && attempt > 0 && f.log != nil {
			f.log.Info("the state machine wrote the waiting batch: applying resumes", "first_index", entries[0].Index, "attempts", attempt+1)
		}
		if werr == nil || f.stop == nil {
			return res
		}
		if attempt == 0 && f.log != nil {
			f.log.Error("the state machine cannot write a committed batch: applying waits until the disk accepts it",
				"error", werr, "class", ErrorClass(werr), "first_index", entries[0].Index, "entries", len(entries))
		}
		select {
		case <-f.stop:
			return res
		case <-time.After(wait):
		}
		wait = min(2*wait, storageRetryMax)
	}
}

// Snapshot takes the state as of the last applied entry (it runs on the
// apply goroutine), so the snapshot's content is at exactly the index raft
// records for it; Persist writes it out later, concurrently with Apply.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	snap, err := f.db.Snapshot()
	if err != nil {
		return nil, err
	}
	return &snapshot{snap: snap}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	defer f.notify()
	if f.beforeRestore != nil {
		if err := f.beforeRestore(); err != nil {
			if f.log != nil {
				f.log.Error("snapshot from the leader not restored", "error", err)
			}
			return err
		}
	}
	return f.db.Restore(rc)
}

// snapshot streams the bbolt file to raft's snapshot store (a local file,
// so the read transaction stays open only at the disk's pace).
type snapshot struct {
	snap *store.Snapshot
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.snap.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("raftstore: snapshot: %w", err)
	}
	return sink.Close()
}

func (s *snapshot) Release() { s.snap.Close() }

// slogWriter forwards hclog's lines to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := string(trimNewline(p))
	if firstElection(line) {
		// Every node starts without a leader and elects one: news, not a
		// warning (a single node does it at each start).
		w.l.Info("raft: no leader yet at start: starting an election", "component", "raft")
		return len(p), nil
	}
	w.l.Warn(line, "component", "raft")
	return len(p), nil
}

// firstElection reports whether an hclog line is raft starting an election
// with no leader ever known (last-leader-id empty): what a node does when
// it starts.
func firstElection(line string) bool {
	i := strings.Index(line, "heartbeat timeout reached, starting election")
	if i < 0 {
		return false
	}
	rest := line[i:]
	j := strings.Index(rest, "last-leader-id=")
	if j < 0 {
		return false
	}
	id := strings.TrimSpace(rest[j+len("last-leader-id="):])
	return id == "" || strings.HasPrefix(id, " ")
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
