package raftstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// The encoding of the raft log in a cluster.
//
// A put is proposed in the compact form (store.MarshalCompact), which a
// version before it cannot decode (it would fail the entry and go on: a
// silently lost write on that node), only while every member of the
// cluster decodes it:
//
//   - A node advertises the encodings it decodes when it registers
//     (joinRequest.Codecs, kept in store.NodeInfo.Codecs); it registers
//     again when its advertisement changed. An older version advertises
//     none.
//   - The gate is open when every server of the latest raft configuration
//     (voters and non-voters) is registered with store.CodecCompact. Every
//     node computes it from its configuration and registry when either
//     changes, and when it becomes leader (refreshLogCodec).
//   - The leader decides: each proposal, its own or forwarded, passes
//     propose, which re-encodes a compact entry as JSON while its gate is
//     closed, or was not computed in this leader's term. A follower encodes compact when its own gate is open and the
//     leader it forwards to advertises it; the leader checks again.
//   - A node that does not advertise it joins (or registers again) through
//     the leader's addMember, which closes the gate before anything else
//     (closeLogCodec: a proposal encoded before is in raft's queue ahead of
//     the closing), registers the node without it, and when its log still
//     holds a compact entry, takes a snapshot that truncates the log up to
//     its index, and has every other member do the same (any of them may
//     lead next): the node receives a snapshot (the state machine's file)
//     and JSON entries after it, never a compact entry. Only then is it
//     added to the configuration.
//
// What no leader can see is a member restarted in place with an older
// version (it keeps its registration); docs/architecture.md gives the way
// back to an older version: remove the node, and join it again.
type logCodec struct {
	// mu is held shared by a proposal from the gate's check until raft
	// queued the entry, and exclusively to close the gate.
	mu sync.RWMutex
	// closing counts the joins of nodes without the compact form in
	// progress (under mu); gen counts the closings, so that a refresh
	// computed before one does not open the gate (under mu).
	closing int
	gen     uint64
	open    atomic.Bool
	// term is the raft term in which this node, leader, computed open: a
	// new leader proposes JSON until it refreshed the gate in its term (its
	// gate of a follower may predate a change of the configuration).
	term atomic.Uint64
	// refreshMu orders the refreshes; dirty asks codecLoop for one.
	refreshMu sync.Mutex
	dirty     chan struct{}
	// refused counts the compact entries that reached a node with
	// Config.LegacyLogCodec (which must stay 0).
	refused atomic.Int64
}

// advertisedCodecs are the encodings this node registers with.
func (n *Node) advertisedCodecs() []string {
	if n.cfg.LegacyLogCodec {
		return nil
	}
	return []string{store.CodecCompact}
}

// encode encodes a command for the log: a node with no peers (no raft
// listener) writes puts in the compact form; a cluster only while its
// gate is open (see logCodec).
func (n *Node) encode(cmd *store.Command) ([]byte, error) {
	if n.cfg.Bind == "" || n.codec.open.Load() {
		return cmd.MarshalCompact()
	}
	return cmd.Marshal()
}

// propose queues data in raft (on the leader), as JSON if it is compact
// and the gate is closed.
func (n *Node) propose(data []byte, timeout time.Duration) (raft.ApplyFuture, error) {
	if n.cfg.Bind == "" {
		return n.raft.Apply(data, timeout), nil
	}
	n.codec.mu.RLock()
	defer n.codec.mu.RUnlock()
	if store.IsCompact(data) && !(n.codec.open.Load() && n.codec.term.Load() == n.raft.CurrentTerm()) {
		var err error
		if data, err = reencodeJSON(data); err != nil {
			return nil, err
		}
	}
	return n.raft.Apply(data, timeout), nil
}

// reencodeJSON turns a compact entry into JSON.
func reencodeJSON(data []byte) ([]byte, error) {
	cmd, err := store.UnmarshalCommand(data)
	if err != nil {
		return nil, fmt.Errorf("raftstore: re-encode a compact command: %w", err)
	}
	return cmd.Marshal()
}

// forwardable is data as sent to leader: JSON unless the leader
// advertises the compact form.
func forwardable(data []byte, leader *store.NodeInfo) ([]byte, error) {
	if store.IsCompact(data) && !slices.Contains(leader.Codecs, store.CodecCompact) {
		return reencodeJSON(data)
	}
	return data, nil
}

// refreshLogCodec computes the gate from the configuration and the
// registry.
func (n *Node) refreshLogCodec() {
	c := &n.codec
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.mu.RLock()
	gen := c.gen
	c.mu.RUnlock()
	term := n.raft.CurrentTerm()
	leader := n.raft.State() == raft.Leader
	open := n.compactForAll()
	c.mu.Lock()
	if !open || (c.gen == gen && c.closing == 0) {
		c.open.Store(open)
		if leader {
			c.term.Store(term)
		}
	}
	c.mu.Unlock()
}

// compactForAll reports whether every server of the latest configuration
// is registered with the compact form.
func (n *Node) compactForAll() bool {
	if n.cfg.Bind == "" || n.cfg.LegacyLogCodec {
		return false
	}
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil || len(cf.Configuration().Servers) == 0 {
		return false
	}
	all := true
	err := n.db.View(store.WithPointReads(context.Background()), func(r *store.Reader) error {
		all = true
		for _, s := range cf.Configuration().Servers {
			info, err := r.Node(string(s.ID))
			if err != nil {
				return err
			}
			if info == nil || !slices.Contains(info.Codecs, store.CodecCompact) {
				all = false
			}
		}
		return nil
	})
	return err == nil && all
}

// logCodecChanged asks codecLoop for a refresh.
func (n *Node) logCodecChanged() {
	select {
	case n.codec.dirty <- struct{}{}:
	default:
	}
}

// codecLoop refreshes the gate when asked, until Close.
func (n *Node) codecLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case <-n.codec.dirty:
			n.refreshLogCodec()
		}
	}
}

// closeLogCodec is the leader's side of the join of a node that does not
// advertise the compact form (see logCodec): it closes the gate, registers
// the node, and drops the compact entries of the log. The returned release
// ends the closing, once the node is in the configuration.
func (n *Node) closeLogCodec(ctx context.Context, jr joinRequest) (release func(), err error) {
	c := &n.codec
	c.mu.Lock()
	c.closing++
	c.gen++
	c.open.Store(false)
	c.mu.Unlock()
	release = func() {
		c.mu.Lock()
		c.closing--
		c.mu.Unlock()
		n.refreshLogCodec()
	}
	// Registered first, so that a later leader keeps the gate closed too;
	// applied after every entry queued before the closing.
	cmd := &store.Command{Op: store.OpSetNode, Node: &store.NodeInfo{ID: jr.ID, APIAddr: jr.APIAddr, RaftAddr: jr.RaftAddr}}
	if err := n.Apply(ctx, cmd); err != nil {
		release()
		return nil, err
	}
	if err := n.dropCompactEverywhere(ctx, jr.ID); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// dropCompactEverywhere drops the compact entries of the log of this node
// and of every other member that decodes them (the "dropcompact" RPC): any
// of them may lead next and replicate its log to the joining node. A
// member that cannot be reached fails the join, which the node tries
// again.
func (n *Node) dropCompactEverywhere(ctx context.Context, joining string) error {
	idx := n.db.LastApplied()
	if err := n.dropCompactEntries(); err != nil {
		return err
	}
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	body := []byte(strconv.FormatUint(idx, 10))
	for _, s := range cf.Configuration().Servers {
		if s.ID == raft.ServerID(n.cfg.NodeID) || s.ID == raft.ServerID(joining) {
			continue
		}
		info, err := n.nodeInfo(string(s.ID))
		if err != nil {
			return err
		}
		if !slices.Contains(info.Codecs, store.CodecCompact) {
			// An older member: never given a compact entry, and it
			// does not know the call.
			continue
		}
		if _, err := n.rpc.call(ctx, info.APIAddr, "dropcompact", body); err != nil {
			return fmt.Errorf("%w: member %s could not drop the compact entries of its log: %w", ErrNotReady, s.ID, err)
		}
	}
	return nil
}

// serveDropCompact is a member's side of dropCompactEverywhere: once it
// applied the leader's index (every compact entry is before it), it drops
// the compact entries of its log.
func (n *Node) serveDropCompact(ctx context.Context, body []byte) error {
	idx, err := strconv.ParseUint(string(body), 10, 64)
	if err != nil {
		return fmt.Errorf("raftstore: dropcompact: bad index %q", body)
	}
	ctx, cancel := context.WithTimeout(ctx, forwardWait)
	defer cancel()
	if err := n.waitApplied(ctx, idx); err != nil {
		return fmt.Errorf("%w: dropcompact: %w", ErrNotReady, err)
	}
	return n.dropCompactEntries()
}

// dropCompactEntries makes sure the log holds no compact entry: when it
// does, a snapshot truncates the log up to the state machine's index
// (trailing logs 0 for that snapshot), so a node that needs an earlier
// entry receives the snapshot instead.
func (n *Node) dropCompactEntries() error {
	has, err := n.logHoldsCompact()
	if err != nil || !has {
		return err
	}
	rc := n.raft.ReloadableConfig()
	trunc := rc
	trunc.TrailingLogs = 0
	if err := n.raft.ReloadConfig(trunc); err != nil {
		return fmt.Errorf("raftstore: truncate the log: %w", err)
	}
	err = n.raft.Snapshot().Error()
	if rerr := n.raft.ReloadConfig(rc); err == nil && rerr != nil {
		err = rerr
	}
	if err == nil {
		if has, err = n.logHoldsCompact(); err == nil && has {
			err = errors.New("the log still holds compact entries after the snapshot")
		}
	}
	if err != nil {
		return fmt.Errorf("%w: drop the compact log entries a joining node cannot decode: %w", ErrNotReady, err)
	}
	n.log.Info("truncated the raft log for a node without the compact log encoding: it receives a snapshot and JSON entries")
	return nil
}

// logHoldsCompact reports whether a command entry of the log is compact
// (from the last entry back: the compact ones are the latest).
func (n *Node) logHoldsCompact() (bool, error) {
	first, err := n.logs.FirstIndex()
	if err != nil {
		return false, err
	}
	last, err := n.logs.LastIndex()
	if err != nil {
		return false, err
	}
	var l raft.Log
	for i := last; i >= first && i > 0; i-- {
		if err := n.logs.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) {
				continue
			}
			return false, err
		}
		if l.Type == raft.LogCommand && store.IsCompact(l.Data) {
			return true, nil
		}
	}
	return false, nil
}

// LogCodec names the encoding this node proposes puts in: "compact" or
// "json" (for /readyz).
func (n *Node) LogCodec() string {
	if n.cfg.Bind == "" || n.codec.open.Load() {
		return "compact"
	}
	return "json"
}
