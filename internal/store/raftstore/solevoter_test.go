package raftstore

import (
	"context"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/store"
)

// TestSoleVoterReads checks when a leader skips the leadership check of a
// linearizable read (solevoter.go): a single node does; the leader of three
// voters does not, so that cut off from the others it answers no
// linearizable read; once the others are removed, it does again.
func TestSoleVoterReads(t *testing.T) {
	t.Parallel()
	single := openNode(t, testConfig(t, t.TempDir()))
	defer single.Close()
	if !poll(single.soleVoter.Load) {
		t.Errorf("a single node does not skip the leadership check of its reads")
	}

	c := makeCluster(t, 3)
	l := c.leader()
	if l.n.soleVoter.Load() {
		t.Fatalf("the leader %s of 3 voters skips the leadership check of its reads", l.id)
	}
	c.partition(l)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err := l.n.View(ctx, func(*store.Reader) error { return nil })
	cancel()
	if err == nil {
		t.Errorf("the leader %s cut off from the other voters served a linearizable read", l.id)
	}
	c.fullyConnect()

	l = c.leader()
	ctx, cancel = context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	for _, m := range c.others(l) {
		if err := l.n.RemoveMember(ctx, m.id); err != nil {
			t.Fatalf("remove %s: %v", m.id, err)
		}
	}
	if !poll(l.n.soleVoter.Load) {
		t.Errorf("the leader %s, only voter left, still checks its leadership for reads", l.id)
	}
	if err := l.n.View(ctx, func(*store.Reader) error { return nil }); err != nil {
		t.Errorf("the only voter %s: linearizable read: %v", l.id, err)
	}
}
