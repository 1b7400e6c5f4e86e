package raftstore

import (
	"time"

	"github.com/hashicorp/raft"
)

// The leader of a cluster of one. A linearizable read on a leader waits for
// a quorum to confirm its leadership (readIndex), so that a leader deposed
// by a partition cannot answer from an old state. When the leader is the
// only voter of its configuration there is nobody to depose it: no node can
// win an election without its vote. Such a leader reads its commit index
// and skips the check (Node.soleVoter).
//
// The configuration changes only on the leader, by Node's own calls, and
// raft uses a new configuration as soon as the leader appends it. So the
// flag is cleared before a voter is added (beginVoterChange) and computed
// again from the configuration after every change of voters and whenever
// the node becomes leader (updateSoleVoter); a computation that read the
// configuration before a change began does not store its answer.

// beginVoterChange clears soleVoter before a voter is added.
func (n *Node) beginVoterChange() {
	n.voterMu.Lock()
	n.voterGen++
	n.voterChanging++
	n.soleVoter.Store(false)
	n.voterMu.Unlock()
}

// endVoterChange ends a change that beginVoterChange began, and computes
// soleVoter again.
func (n *Node) endVoterChange() {
	n.voterMu.Lock()
	n.voterChanging--
	n.voterMu.Unlock()
	n.updateSoleVoter()
}

// changeVoters waits for a change of the configuration that can only lower
// the number of voters (a removal), then computes soleVoter again.
func (n *Node) changeVoters(f raft.IndexFuture) error {
	err := f.Error()
	n.updateSoleVoter()
	return err
}

// updateSoleVoter sets soleVoter from the latest configuration: whether
// this node is the leader and the configuration's only voter.
func (n *Node) updateSoleVoter() {
	n.voterMu.Lock()
	gen := n.voterGen
	n.voterMu.Unlock()
	sole := false
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		sole = onlyVoter(f.Configuration(), raft.ServerID(n.cfg.NodeID))
	}
	n.voterMu.Lock()
	defer n.voterMu.Unlock()
	if gen == n.voterGen && n.voterChanging == 0 {
		n.soleVoter.Store(sole && n.raft.State() == raft.Leader)
	}
}

// soloTimeout is raft's heartbeat, election and lease timeout on a node
// without a transport (Config.Bind empty) that is its configuration's only
// voter: nothing can reach it, so nothing can depose it or need its
// heartbeats, and the timeouts only delay its first election after a start
// (by one to two heartbeat timeouts: 0.5–1 s with Config's).
const soloTimeout = 50 * time.Millisecond

// soloAtStart reports whether the newest configuration this node holds
// names it as the only voter, or it holds none yet (it bootstraps one that
// does): from the configurations among the entries after the newest
// snapshot, which reads kept, else from that snapshot's metadata.
func soloAtStart(id raft.ServerID, reads *startReads, snaps raft.SnapshotStore) bool {
	var conf *raft.Configuration
	newest := uint64(0)
	for idx, l := range reads.other {
		if l.Type == raft.LogConfiguration && idx > newest {
			c := raft.DecodeConfiguration(l.Data)
			conf, newest = &c, idx
		}
	}
	if conf == nil {
		list, err := snaps.List()
		if err != nil {
			return false
		}
		if len(list) == 0 {
			// No snapshot and no configuration in the log: a new node.
			return reads.last == 0
		}
		conf = &list[0].Configuration
	}
	return onlyVoter(*conf, id)
}

// onlyVoter reports whether id is conf's one voter.
func onlyVoter(conf raft.Configuration, id raft.ServerID) bool {
	voters := 0
	self := false
	for _, s := range conf.Servers {
		if s.Suffrage == raft.Voter {
			voters++
			self = self || s.ID == id
		}
	}
	return voters == 1 && self
}
