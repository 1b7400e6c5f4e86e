package raftstore

import (
	"sync"

	"github.com/hashicorp/raft"
)

// A node reads its log after the newest snapshot three times when it
// starts: checkLogReadable reads every entry (a damaged one is refused with
// its file and the fix); raft's NewRaft reads every entry again for the
// configurations among them; and raft's first commit hands every entry to
// the state machine again, from the snapshot's index (where raft's applied
// index starts), though the state machine skips those it applied before.
// After a burst of writes the log holds up to SnapshotThreshold plus two
// SnapshotIntervals of them (hundreds of thousands of entries at a few
// thousand writes a second), and each read of them is two preads of the
// WAL and a decode per entry: 1.3–1.5 s per 140,000 entries on the
// benchmark machine, so the start took three times that.
//
// startReads keeps what the second and third reads need from the first:
// the term of every entry, and whole the entries that are not commands
// (configurations, no-ops, barriers: a few). watchedLogs.GetLog serves
// from it, in the order raft reads when it starts and in no other:
//
//   - NewRaft's read of the last entry (its index and term), then its scan
//     from the snapshot's index on: a command entry is served as its index,
//     term and type, without its data, which the scan does not look at (it
//     reads configurations only);
//   - on a node without peers only (no transport that could ask for
//     entries to replicate), raft's first commit, which reads the same
//     entries in the same order to apply them: up to the state machine's
//     applied index, which it skips whatever their data.
//
// The first read that is not the next one of that order ends it, and every
// read from then on goes to the log: a read that raft's next version makes
// in another order costs time, not an entry.
type startReads struct {
	mu    sync.Mutex
	phase startPhase
	// from and last bound the entries checkLogReadable read.
	from, last uint64
	// next is the index raft reads next in this phase.
	next uint64
	// lastSeen: NewRaft read the last entry, which it does before its scan.
	lastSeen bool
	// replayTo is the last index served to raft's first commit (the state
	// machine's applied index at the start); 0: none.
	replayTo uint64
	// terms holds the term of every entry from from on, one run per term.
	terms []termRun
	// other holds the entries that are not commands, whole.
	other map[uint64]raft.Log
	// served counts the reads served in each phase (tests).
	served [phaseOff]int
}

type startPhase int

const (
	phaseScan startPhase = iota
	phaseReplay
	phaseOff
)

// termRun: the entries from index on have term, up to the next run.
type termRun struct {
	index, term uint64
}

func newStartReads(from uint64) *startReads {
	return &startReads{from: from, next: from, other: make(map[uint64]raft.Log)}
}

// add records l, the entry checkLogReadable read at the next index.
func (s *startReads) add(l *raft.Log) {
	if n := len(s.terms); n == 0 || s.terms[n-1].term != l.Term {
		s.terms = append(s.terms, termRun{index: l.Index, term: l.Term})
	}
	if l.Type != raft.LogCommand {
		s.other[l.Index] = *l
	}
	s.last = l.Index
}

// allowReplay lets raft's first commit be served up to applied.
func (s *startReads) allowReplay(applied uint64) {
	s.mu.Lock()
	s.replayTo = min(applied, s.last)
	s.mu.Unlock()
}

// termOf is the term of entry index (from <= index <= last).
func (s *startReads) termOf(index uint64) uint64 {
	lo, hi := 0, len(s.terms)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if s.terms[mid].index <= index {
			lo = mid
		} else {
			hi = mid
		}
	}
	return s.terms[lo].term
}

// fill writes entry index to out as raft's start reads it.
func (s *startReads) fill(index uint64, out *raft.Log) {
	if l, ok := s.other[index]; ok {
		*out = l
		return
	}
	*out = raft.Log{Index: index, Term: s.termOf(index), Type: raft.LogCommand}
}

// get serves the read of entry index into out when it is the one raft's
// start makes next (served). When it is not, the start's reads are over
// and this one and every one after it go to the log; done reports them
// over (after the last one served, too).
func (s *startReads) get(index uint64, out *raft.Log) (served, done bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == phaseOff || s.last == 0 || index < s.from || index > s.last {
		s.phase = phaseOff
		return false, true
	}
	switch {
	case s.phase == phaseScan && index == s.last && !s.lastSeen && s.next == s.from:
		// NewRaft reads the last entry first, then scans.
		s.lastSeen = true
	case s.next == index && (s.phase == phaseScan || index <= s.replayTo):
		s.next++
	default:
		s.phase = phaseOff
		return false, true
	}
	s.fill(index, out)
	s.served[s.phase]++
	if s.next > s.last || s.phase == phaseReplay && s.next > s.replayTo {
		if s.phase == phaseScan && s.replayTo >= s.from {
			s.phase, s.next = phaseReplay, s.from
		} else {
			s.phase = phaseOff
		}
	}
	return true, s.phase == phaseOff
}
