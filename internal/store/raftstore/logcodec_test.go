package raftstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// waitLogCodec waits until every member of ms proposes puts in codec.
func waitLogCodec(t *testing.T, codec string, ms ...*member) {
	t.Helper()
	var last []string
	if !poll(func() bool {
		last = last[:0]
		for _, m := range ms {
			last = append(last, m.id+": "+m.n.LogCodec())
		}
		return !slices.ContainsFunc(ms, func(m *member) bool { return m.n.LogCodec() != codec })
	}) {
		t.Fatalf("members do not all propose %s: %v", codec, last)
	}
}

// lastPut is the log entry of the last put in m's log.
func lastPut(t *testing.T, m *member) []byte {
	t.Helper()
	last, err := m.n.logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	for i := last; i > 0; i-- {
		if err := m.n.logs.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
		if l.Type == raft.LogCommand && store.EncodedOp(l.Data) == store.OpPut {
			return l.Data
		}
	}
	t.Fatalf("%s: no put in the log", m.id)
	return nil
}

// TestLogCodecMixedVersions: a cluster whose members all decode the compact
// log encoding writes puts in it; a node of an older version (simulated:
// Config.LegacyLogCodec, which skips any compact entry it is given, as
// that version fails to decode it) joins while writes go on through every
// member: from then on the cluster writes JSON, and the node is never
// given a compact entry, neither a new one nor one of the log from before
// it joined (no member's log holds one: any may lead next), so its replica
// is the same as the others'. Once it is
// removed, the cluster goes back to the compact encoding.
func TestLogCodecMixedVersions(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	waitLogCodec(t, "compact", c.members...)
	l := c.leader()
	f := c.others(l)[0]
	apply(t, l, putCmd("/before/leader", 1, 0))
	apply(t, f, putCmd("/before/follower", 1, 0))
	if e := lastPut(t, l); !store.IsCompact(e) {
		t.Fatalf("with every member decoding it, a put's entry is %q, want the compact form", e)
	}

	// Writers on every member while the old node joins.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	for _, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("/during/%s/%d", m.id, i)
				if err := m.n.Apply(context.Background(), putCmd(name, 1, 0)); err != nil {
					t.Errorf("%s through %s: %v", name, m.id, err)
					return
				}
				written.Add(1)
			}
		}()
	}
	old := c.add(func(cfg *Config) { cfg.LegacyLogCodec = true })
	close(stop)
	wg.Wait()
	t.Logf("%d writes while %s joined", written.Load(), old.id)

	waitLogCodec(t, "json", c.members...)
	// Any member may lead next and send its log to the old node.
	for _, m := range c.members {
		if has, err := m.n.logHoldsCompact(); err != nil || has {
			t.Errorf("after %s joined, the log of %s holds a compact entry (%v), which it would send it as leader", old.id, m.id, err)
		}
	}
	for _, m := range c.members {
		apply(t, m, putCmd("/after/"+m.id, 1, 0))
	}
	if e := lastPut(t, l); store.IsCompact(e) {
		t.Fatalf("with %s a member, a put's entry is compact", old.id)
	}
	c.sync()
	if n := old.n.codec.refused.Load(); n > 0 {
		t.Fatalf("%d compact entries reached %s, which does not decode them", n, old.id)
	}
	c.ensureSame()
	if p := localParam(t, old, "/before/follower"); p == nil {
		t.Errorf("%s lacks a put written in the compact form before it joined", old.id)
	}

	// Without the old node, back to the compact encoding.
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	// A leader change (a loaded machine) fails the removal: again.
	var err error
	if !poll(func() bool {
		l = c.leader()
		err = l.n.RemoveMember(ctx, old.id)
		return err == nil
	}) {
		t.Fatalf("remove %s: %v", old.id, err)
	}
	c.members = c.others(old)
	if err := old.n.Close(); err != nil {
		t.Error(err)
	}
	old.api.Close()
	waitLogCodec(t, "compact", c.members...)
	apply(t, c.others(l)[0], putCmd("/removed", 1, 0))
	if e := lastPut(t, l); !store.IsCompact(e) {
		t.Fatalf("with %s removed, a put's entry is %q, want the compact form", old.id, e)
	}
}
