package raftstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// Register makes sure this node is a member of its cluster with its current
// addresses: a new node joins through Config.Join (or through the leader it
// already knows), a restarted one re-registers if its API address changed,
// and a bootstrapping node registers itself. It retries until it succeeds
// or ctx ends, or until the cluster refuses the node for good: a master key
// whose check value differs from the cluster's (store.ErrKeyMismatch).
func (n *Node) Register(ctx context.Context, apiAddr string) error {
	if n.cfg.Bind == "" {
		return nil
	}
	jr := joinRequest{ID: n.cfg.NodeID, RaftAddr: string(n.trans.LocalAddr()), APIAddr: apiAddr, NonVoter: n.cfg.NonVoter, KeyCheck: n.cfg.KeyCheck,
		Codecs: n.advertisedCodecs()}
	body, _ := json.Marshal(jr)
	for attempt := 0; ; attempt++ {
		if n.registered(jr) {
			return nil
		}
		var err error
		switch {
		case n.raft.State() == raft.Leader:
			err = n.addMember(ctx, jr)
		default:
			target := n.cfg.Join
			if leader, lerr := n.leaderInfo(); lerr == nil {
				target = leader.APIAddr
			}
			if target == "" {
				err = errors.New("no leader known yet and no --join address")
				break
			}
			_, err = n.rpc.call(ctx, target, "join", body)
		}
		if err == nil && n.registered(jr) {
			n.log.Info("registered in the cluster", "node_id", jr.ID, "raft", jr.RaftAddr, "api", jr.APIAddr)
			return nil
		}
		if errors.Is(err, store.ErrKeyMismatch) {
			return err
		}
		if err != nil && attempt%10 == 9 {
			n.log.Warn("still trying to join the cluster", "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.stop:
			return errors.New("raftstore: closed")
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// registered reports whether the local state already lists this node with
// these addresses and log encodings, and raft's configuration holds it.
func (n *Node) registered(jr joinRequest) bool {
	var info *store.NodeInfo
	if err := n.db.View(store.WithPointReads(context.Background()), func(r *store.Reader) error {
		var err error
		info, err = r.Node(jr.ID)
		return err
	}); err != nil || info == nil || info.APIAddr != jr.APIAddr || info.RaftAddr != jr.RaftAddr || !slices.Equal(info.Codecs, jr.Codecs) {
		return false
	}
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return false
	}
	for _, s := range cf.Configuration().Servers {
		if s.ID == raft.ServerID(jr.ID) && s.Address == raft.ServerAddress(jr.RaftAddr) {
			return true
		}
	}
	return false
}

// Member describes a cluster member.
type Member struct {
	ID       string `json:"NodeId"`
	RaftAddr string `json:"RaftAddress"`
	APIAddr  string `json:"ApiAddress,omitempty"`
	Suffrage string `json:"Suffrage"`
	Leader   bool   `json:"Leader"`
}

// Members lists raft's configuration with the registered API addresses.
func (n *Node) Members() ([]Member, error) {
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, err
	}
	_, leaderID := n.raft.LeaderWithID()
	var out []Member
	err := n.db.View(context.Background(), func(r *store.Reader) error {
		for _, s := range cf.Configuration().Servers {
			m := Member{ID: string(s.ID), RaftAddr: string(s.Address), Suffrage: s.Suffrage.String(), Leader: s.ID == leaderID}
			if info, err := r.Node(string(s.ID)); err == nil && info != nil {
				m.APIAddr = info.APIAddr
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// ErrNotLeader is returned by membership changes on a follower.
var ErrNotLeader = errors.New("raftstore: not the leader")

func (n *Node) notLeader() error {
	if leader, err := n.leaderInfo(); err == nil {
		return fmt.Errorf("%w: send it to the leader %s at %s", ErrNotLeader, leader.ID, leader.APIAddr)
	}
	return ErrNotLeader
}

// RemoveMember removes a node (dead or leaving) from the cluster. It runs on
// the leader.
func (n *Node) RemoveMember(ctx context.Context, id string) error {
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	if err := n.changeVoters(n.raft.RemoveServer(raft.ServerID(id), 0, leaderWait)); err != nil {
		return err
	}
	n.log.Info("node removed from the cluster", "node_id", id)
	return n.Apply(ctx, &store.Command{Op: store.OpRemoveNode, Name: id})
}

// TransferLeadership hands leadership to id, or to the most up-to-date
// follower when id is empty. It runs on the leader.
func (n *Node) TransferLeadership(id string) error {
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	if id == "" {
		return n.raft.LeadershipTransfer().Error()
	}
	for _, m := range n.raft.GetConfiguration().Configuration().Servers {
		if m.ID == raft.ServerID(id) {
			return n.raft.LeadershipTransferToServer(m.ID, m.Address).Error()
		}
	}
	return fmt.Errorf("raftstore: no member %q", id)
}

// Status is what /readyz reports.
type Status struct {
	NodeID              string  `json:"node_id"`
	State               string  `json:"state"`
	LeaderID            string  `json:"leader_id"`
	CanWrite            bool    `json:"can_write"`
	CanReadLinearizable bool    `json:"can_read_linearizable"`
	CanReadStale        bool    `json:"can_read_stale"`
	StalenessSeconds    float64 `json:"staleness_seconds"`
	CommitIndex         uint64  `json:"commit_index"`
	AppliedIndex        uint64  `json:"applied_index"`
	// StateAppliedIndex is the last entry the state machine applied
	// (what reads see); raft's AppliedIndex counts the entries handed to
	// it, and moves before the state machine applies a batch.
	StateAppliedIndex uint64 `json:"state_applied_index"`
	// StateCommittedIndex is the last entry committed (fsynced) to
	// state.db; it trails StateAppliedIndex by the deferred commit's
	// window (commitInterval) at most, and a crash re-applies the entries
	// between them from the log.
	StateCommittedIndex uint64 `json:"state_committed_index"`
	// LogCodec is the encoding this node proposes puts in: "compact"
	// once every member decodes it, else "json" (logcodec.go).
	LogCodec string `json:"log_codec"`
}

// Status reports what kinds of requests this node can serve now.
func (n *Node) Status() Status {
	_, leaderID := n.raft.LeaderWithID()
	st := Status{
		NodeID:              n.cfg.NodeID,
		State:               n.raft.State().String(),
		LeaderID:            string(leaderID),
		CommitIndex:         n.raft.CommitIndex(),
		AppliedIndex:        n.raft.AppliedIndex(),
		StateAppliedIndex:   n.db.LastApplied(),
		StateCommittedIndex: n.db.CommittedIndex(),
		LogCodec:            n.LogCodec(),
	}
	isLeader := n.raft.State() == raft.Leader
	st.CanReadStale = n.staleOK() == nil
	if isLeader {
		st.CanWrite = true
		st.CanReadLinearizable = n.readyForReads.Load()
	} else if leaderID != "" {
		_, err := n.leaderInfo()
		st.CanWrite = err == nil
		st.CanReadLinearizable = err == nil && st.CanReadStale
	}
	if s := n.Staleness(); s < time.Duration(1<<62) {
		st.StalenessSeconds = s.Seconds()
	} else {
		st.StalenessSeconds = -1
	}
	return st
}
