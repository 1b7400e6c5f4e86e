package raftstore

import (
	"context"
	"errors"
	"testing"

	"github.com/paramstore/paramstore/internal/store"
)

// TestWritePlanOnLaggingFollower plans a write on a follower that has not
// applied a parameter the leader acknowledged before the plan began: the
// follower's raft log refuses every append (a storage fault), so it stays
// behind while it still hears the leader's heartbeats and knows it. The
// plan must see the parameter, as a linearizable read would: planned on
// the follower's stale state, a LabelParameterVersion or AddTagsToResource
// would answer ParameterNotFound, a PutParameter without Overwrite would
// create it again, and nothing would be proposed for a compare-and-set to
// catch. So the plan waits until the follower has caught up (here, until
// the fault is lifted), and never answers from the stale state.
func TestWritePlanOnLaggingFollower(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	l := c.leader()
	f := c.others(l)[0]
	c.sync()
	if err := f.n.SetFaults(Faults{Storage: "EIO"}); err != nil {
		t.Fatal(err)
	}
	const name = "/lagging/created-through-the-leader"
	apply(t, l, putCmd(name, 1, 0))
	if p := localParam(t, f, name); p != nil {
		t.Fatalf("%s applied %s with its raft log failing", f.id, name)
	}

	// The leader plans on its own state, at once.
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	plan := func(m *member) (*store.Parameter, error) {
		var p *store.Parameter
		err := m.n.View(store.WithWritePlan(ctx), func(r *store.Reader) error {
			var err error
			p, err = r.Param(tenancy, name)
			return err
		})
		return p, err
	}
	if p, err := plan(l); err != nil || p == nil {
		t.Fatalf("a write's plan on the leader %s: %v, %v; want %s", l.id, p, err, name)
	}

	type result struct {
		p   *store.Parameter
		err error
	}
	out := make(chan result, 1)
	go func() {
		p, err := plan(f)
		out <- result{p, err}
	}()
	// The plan may not answer before the follower catches up: it either
	// answers now from the stale state (wrong), or waits for an index
	// the follower has not applied.
	var early *result
	waiting := poll(func() bool {
		select {
		case r := <-out:
			early = &r
			return true
		default:
		}
		f.n.applyWait.mu.Lock()
		defer f.n.applyWait.mu.Unlock()
		return len(f.n.applyWait.waiting) > 0
	})
	if early != nil {
		if early.err != nil {
			t.Fatalf("a write's plan on the lagging follower %s: %v", f.id, early.err)
		}
		t.Fatalf("a write's plan on the lagging follower %s answered from its stale state (%s: %v) before applying what the leader acknowledged before the plan began",
			f.id, name, early.p)
	}
	if !waiting {
		t.Fatalf("a write's plan on the lagging follower %s neither answered nor waited for the leader's index within %v", f.id, clusterWait)
	}
	if err := f.n.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	r := <-out
	if errors.Is(r.err, ErrBehind) {
		// The plan gave up waiting (leaderWait) before the follower
		// caught up: the leader backs off its retries while the log
		// refuses appends, longer the longer the fault held (a loaded
		// machine). Unavailable is no wrong answer; the next plan, once
		// the follower caught up, must see the parameter.
		t.Logf("the plan on %s gave up waiting: %v", f.id, r.err)
		c.sync()
		r.p, r.err = plan(f)
	}
	if r.err != nil || r.p == nil {
		t.Fatalf("a write's plan on %s once it caught up: %v, %v; want %s", f.id, r.p, r.err, name)
	}

	// Later reads of the same plan (a retry after a conflict) need no
	// second check; SyncPlan (the service's, before a parameter's lock)
	// counts as the first read.
	pctx := store.WithWritePlan(ctx)
	if err := f.n.View(pctx, func(*store.Reader) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if !store.PlanSynced(pctx) {
		t.Errorf("a write's plan on %s is not marked synced after its first read", f.id)
	}
	pctx = store.WithWritePlan(ctx)
	if err := f.n.SyncPlan(pctx); err != nil || !store.PlanSynced(pctx) {
		t.Errorf("SyncPlan on %s: %v, synced %v", f.id, err, store.PlanSynced(pctx))
	}
	if err := f.n.SyncPlan(ctx); err != nil || store.PlanSynced(ctx) {
		t.Errorf("SyncPlan on %s of a context without a write plan: %v", f.id, err)
	}
}
