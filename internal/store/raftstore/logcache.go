package raftstore

import (
	"sync"

	"github.com/hashicorp/raft"
)

// On a node of a cluster, raft reads back entries it has just written:
// the leader reads each one from its log store to send it to each
// follower (setupAppendEntries), and a follower reads each one to apply it
// (processLogs; only the leader keeps the entries it applies in memory).
// From the WAL every such read is a pread of the segment and a decode,
// for each follower: a tenth of a cluster's CPU per write. recentLogs
// keeps the last entries written (as raft.LogCache does, which the log
// store of a cluster node used to lack), so that those reads find them in
// memory.
//
// It holds only what the store accepted (StoreLogs succeeded) and is
// emptied before any DeleteRange (raft deletes a follower's conflicting
// tail before it writes the leader's entries there, and the whole log
// when it installs a snapshot), so a hit is always the entry the store
// holds at that index. Nothing changes an entry's Data once raft has it:
// the cache shares it with raft, as the leader's in-flight entries do.

// recentLogsSize is how many entries recentLogs keeps: more than raft
// sends in one AppendEntries (MaxAppendEntries) to a follower that keeps
// up, a few hundred KB with commands of a few hundred bytes.
const recentLogsSize = 1024

// recentLogs is a ring of the last entries written, by index; a nil
// *recentLogs keeps nothing.
type recentLogs struct {
	mu   sync.RWMutex
	ring []*raft.Log
}

func newRecentLogs(size int) *recentLogs {
	return &recentLogs{ring: make([]*raft.Log, size)}
}

// add keeps logs, written to the store.
func (c *recentLogs) add(logs []*raft.Log) {
	if c == nil {
		return
	}
	c.mu.Lock()
	for _, l := range logs {
		c.ring[l.Index%uint64(len(c.ring))] = l
	}
	c.mu.Unlock()
}

// get sets *log to the entry at index and reports whether it was kept.
func (c *recentLogs) get(index uint64, log *raft.Log) bool {
	if c == nil {
		return false
	}
	c.mu.RLock()
	l := c.ring[index%uint64(len(c.ring))]
	c.mu.RUnlock()
	if l == nil || l.Index != index {
		return false
	}
	*log = *l
	return true
}

// clear forgets every entry.
func (c *recentLogs) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	clear(c.ring)
	c.mu.Unlock()
}
