package raftstore

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/hashicorp/raft"
)

// A node without peers reads its log from the disk once when it starts:
// raft's scan for configurations and its first commit are served from
// checkLogReadable's read, and the node starts with every write, takes new
// ones, and starts again.
func TestStartReadsLogOnce(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, t.TempDir())
	n := openNode(t, cfg)
	const count = 300
	for i := range count {
		if err := n.Apply(ctx, putCmd("/start/"+strconv.Itoa(i), 1, 0)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	want := params(t, n)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	var snapIndex uint64
	for round := range 2 {
		n = openNode(t, cfg)
		s := n.startReads
		first, _ := n.logs.FirstIndex()
		last := s.last
		applied := n.DB().LastApplied()
		s.mu.Lock()
		scan, replay, phase := s.served[phaseScan], s.served[phaseReplay], s.phase
		s.mu.Unlock()
		t.Logf("round %d: log %d..%d, applied %d at the start; served scan %d, replay %d", round, first, last, applied, scan, replay)
		if from := max(first, snapIndex+1); s.from != from {
			t.Errorf("round %d: the reads start at %d, want %d (log from %d, snapshot at %d)", round, s.from, from, first, snapIndex)
		}
		first = s.from
		// NewRaft reads the last entry, then every entry.
		if want := int(last-first) + 2; scan != want {
			t.Errorf("round %d: raft's scan was served %d reads, want %d", round, scan, want)
		}
		if want := int(last - first + 1); replay != want {
			t.Errorf("round %d: raft's first commit was served %d reads, want %d (every entry after the snapshot, all applied)", round, replay, want)
		}
		if phase != phaseOff {
			t.Errorf("round %d: the start's reads are not over (phase %d)", round, phase)
		}
		assertSameParams(t, params(t, n), want)
		name := fmt.Sprintf("/start/after/%d", round)
		if err := n.Apply(ctx, putCmd(name, 1, 0)); err != nil {
			t.Fatalf("round %d: put after the start: %v", round, err)
		}
		if round == 0 {
			// The next start reads the log after a snapshot.
			if err := n.Snapshot(); err != nil {
				t.Fatal(err)
			}
			snapIndex = statUint(t, n, "last_snapshot_index")
			for i := range 5 {
				if err := n.Apply(ctx, putCmd(fmt.Sprintf("/start/snap/%d", i), 1, 0)); err != nil {
					t.Fatal(err)
				}
			}
		}
		want = params(t, n)
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// The reads are served in raft's order only: anything else ends them, and
// goes to the log.
func TestStartReadsOrder(t *testing.T) {
	entries := []raft.Log{
		{Index: 5, Term: 1, Type: raft.LogConfiguration, Data: []byte("conf")},
		{Index: 6, Term: 1, Type: raft.LogCommand, Data: []byte("a")},
		{Index: 7, Term: 2, Type: raft.LogNoop},
		{Index: 8, Term: 2, Type: raft.LogCommand, Data: []byte("b")},
	}
	build := func(replayTo uint64) *startReads {
		s := newStartReads(5)
		for i := range entries {
			s.add(&entries[i])
		}
		s.allowReplay(replayTo)
		return s
	}
	read := func(s *startReads, index uint64) (raft.Log, bool, bool) {
		var l raft.Log
		served, done := s.get(index, &l)
		return l, served, done
	}

	s := build(7)
	order := []uint64{8, 5, 6, 7, 8, 5, 6, 7}
	for i, idx := range order {
		l, served, done := read(s, idx)
		if !served {
			t.Fatalf("read %d (index %d) not served", i, idx)
		}
		wantDone := i == len(order)-1
		if done != wantDone {
			t.Fatalf("read %d (index %d): done %v, want %v", i, idx, done, wantDone)
		}
		e := entries[idx-5]
		if l.Index != idx || l.Term != e.Term || l.Type != e.Type {
			t.Fatalf("read %d: got index %d term %d type %v, want %d %d %v", i, l.Index, l.Term, l.Type, idx, e.Term, e.Type)
		}
		if e.Type != raft.LogCommand && string(l.Data) != string(e.Data) {
			t.Fatalf("read %d: entry %d that is not a command served without its data", i, idx)
		}
		if e.Type == raft.LogCommand && l.Data != nil {
			t.Fatalf("read %d: a command's data served", i)
		}
	}
	if _, served, _ := read(s, 8); served {
		t.Fatal("a read after the replay's last one was served")
	}

	for _, tc := range []struct {
		name  string
		reads []uint64
	}{
		{"scan starts elsewhere", []uint64{8, 6}},
		{"scan skips", []uint64{8, 5, 7}},
		{"last read twice", []uint64{8, 8}},
		{"replay past the applied index", []uint64{8, 5, 6, 7, 8, 5, 6, 7, 8}},
		{"before the first", []uint64{4}},
		{"past the last", []uint64{9}},
	} {
		s := build(7)
		for i, idx := range tc.reads {
			_, served, done := read(s, idx)
			if i < len(tc.reads)-1 {
				continue
			}
			if served || !done {
				t.Errorf("%s: read of %d: served %v, done %v; want it refused and the reads over", tc.name, idx, served, done)
			}
			if _, served, _ := read(s, 5); served {
				t.Errorf("%s: a read after the refused one was served", tc.name)
			}
		}
	}

	// Without a replay (peers), the scan is all.
	s = build(0)
	for _, idx := range []uint64{8, 5, 6, 7} {
		if _, served, done := read(s, idx); !served || done {
			t.Fatalf("scan read %d: served %v done %v", idx, served, done)
		}
	}
	if _, served, done := read(s, 8); !served || !done {
		t.Fatalf("the scan's last read: served %v done %v, want served and over", served, done)
	}
	if _, served, _ := read(s, 5); served {
		t.Fatal("a replay was served on a node with peers")
	}
}

// soloAtStart: the newest configuration a node holds at its start, from its
// log after the snapshot or else the snapshot, names it as the only voter.
func TestSoloAtStart(t *testing.T) {
	conf := func(voters ...string) raft.Configuration {
		var c raft.Configuration
		for _, v := range voters {
			c.Servers = append(c.Servers, raft.Server{ID: raft.ServerID(v), Address: raft.ServerAddress(v), Suffrage: raft.Voter})
		}
		return c
	}
	withNonVoter := conf("node1")
	withNonVoter.Servers = append(withNonVoter.Servers, raft.Server{ID: "node2", Address: "node2", Suffrage: raft.Nonvoter})
	snapsWith := func(t *testing.T, c *raft.Configuration) raft.SnapshotStore {
		snaps, err := raft.NewFileSnapshotStore(t.TempDir(), 1, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			_, trans := raft.NewInmemTransport("node1")
			sink, err := snaps.Create(raft.SnapshotVersionMax, 10, 1, *c, 1, trans)
			if err != nil {
				t.Fatal(err)
			}
			if err := sink.Close(); err != nil {
				t.Fatal(err)
			}
		}
		return snaps
	}
	readsWith := func(from uint64, confs ...raft.Configuration) *startReads {
		s := newStartReads(from)
		for i, c := range confs {
			s.add(&raft.Log{Index: from + uint64(2*i), Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(c)})
			s.add(&raft.Log{Index: from + uint64(2*i) + 1, Term: 1, Type: raft.LogCommand, Data: []byte("x")})
		}
		return s
	}
	one, three := conf("node1"), conf("node1", "node2", "node3")
	other := conf("node2")
	for _, tc := range []struct {
		name  string
		reads *startReads
		snap  *raft.Configuration
		want  bool
	}{
		{"new node", newStartReads(1), nil, true},
		{"bootstrapped alone", readsWith(1, one), nil, true},
		{"grew to three", readsWith(1, one, three), nil, false},
		{"shrank to one", readsWith(1, three, one), nil, true},
		{"a non-voter besides", readsWith(1, withNonVoter), nil, true},
		{"another node's", readsWith(1, other), nil, false},
		{"the snapshot's: alone", readsWith(11), &one, true},
		{"the snapshot's: three", readsWith(11), &three, false},
		{"the log's over the snapshot's", readsWith(11, one), &three, true},
		{"entries without a configuration or snapshot", func() *startReads {
			s := newStartReads(1)
			s.add(&raft.Log{Index: 1, Term: 1, Type: raft.LogCommand})
			return s
		}(), nil, false},
	} {
		if got := soloAtStart("node1", tc.reads, snapsWith(t, tc.snap)); got != tc.want {
			t.Errorf("%s: soloAtStart %v, want %v", tc.name, got, tc.want)
		}
	}
}
