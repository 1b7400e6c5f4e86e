package raftstore

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paramstore/paramstore/internal/store"
)

// TestFollowerPlanIndex: a follower's write plan asks the leader for its
// plan index (no quorum round, unlike a read index) and sees a parameter
// acknowledged before it began; with a leader of an older version, which
// answers the call as unknown, it asks for the read index instead and
// still sees it, and asks that leader for a read index from then on.
func TestFollowerPlanIndex(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	for _, older := range []bool{false, true} {
		t.Run(fmt.Sprintf("older-leader=%v", older), func(t *testing.T) {
			retryAttempts(t, func(attempt int) bool { return followerPlanIndex(t, c, older, attempt) })
		})
	}
}

// followerPlanIndex is one attempt of TestFollowerPlanIndex; false when
// the leader changed during it.
func followerPlanIndex(t *testing.T, c *cluster, older bool, attempt int) bool {
	var plans, reads atomic.Int32
	px := proxyLeader(t, c, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasSuffix(r.URL.Path, "/planindex"):
			plans.Add(1)
			if older {
				writeRPC(w, http.StatusNotFound, rpcResponse{Error: unknownCall})
				return true
			}
		case strings.HasSuffix(r.URL.Path, "/readindex"):
			reads.Add(1)
		}
		return false
	})
	if px == nil {
		return false
	}
	defer px.Close()
	leader, f, stillLeader := px.leader, px.follower, px.stillLeader
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	name := fmt.Sprintf("/planindex/older-%v-%d", older, attempt)
	apply(t, leader, putCmd(name, 1, 0))
	var p *store.Parameter
	err := f.n.View(store.WithWritePlan(ctx), func(r *store.Reader) error {
		var err error
		p, err = r.Param(tenancy, name)
		return err
	})
	if !stillLeader() {
		return false
	}
	if err != nil || p == nil {
		t.Fatalf("a write's plan on %s: %v, %v; want %s, acknowledged before it began", f.id, p, err, name)
	}
	wantReads := int32(0)
	if older {
		wantReads = 1
	}
	if got, gotReads := plans.Load(), reads.Load(); got != 1 || gotReads != wantReads {
		t.Errorf("a write's plan on %s sent %d plan index and %d read index calls; want 1 and %d", f.id, got, gotReads, wantReads)
	}
	// A second plan under the same leader: an older one is not asked for
	// a plan index again (it would cost every write a refused call).
	if err := f.n.View(store.WithWritePlan(ctx), func(*store.Reader) error { return nil }); err != nil {
		if !stillLeader() {
			return false
		}
		t.Fatal(err)
	}
	if !stillLeader() {
		return false
	}
	wantPlans := int32(2)
	if older {
		wantPlans, wantReads = 1, 2
	}
	if got, gotReads := plans.Load(), reads.Load(); got != wantPlans || gotReads != wantReads {
		t.Errorf("two plans on %s sent %d plan index and %d read index calls; want %d and %d", f.id, got, gotReads, wantPlans, wantReads)
	}
	return true
}
