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

// TestFollowerReadsShareReadIndex checks the follower's side of
// linearizable reads (followerReadIndex): reads that arrive while a read
// index RPC to the leader is in flight do not send one each, they share
// the next one; and since that one is sent after they began, they see a
// write acknowledged before they began, which the read in flight may not.
// The leader's API is reached through a proxy that holds the first read
// index RPC until the others have joined the next.
//
// An election during an attempt (on a loaded machine) may fail the reads,
// which voids it; the test then tries again, up to three times.
func TestFollowerReadsShareReadIndex(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	retryAttempts(t, func(attempt int) bool { return shareReadIndex(t, c, attempt) })
}

// shareReadIndex is one attempt of TestFollowerReadsShareReadIndex; it
// returns false if an election during it failed reads.
func shareReadIndex(t *testing.T, c *cluster, attempt int) bool {
	var rpcs atomic.Int32
	held := make(chan struct{}, 1)
	release := make(chan struct{})
	px := proxyLeader(t, c, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/readindex") && rpcs.Add(1) == 1 {
			held <- struct{}{}
			<-release
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

	name := fmt.Sprintf("/readindex/shared-%d", attempt)
	type result struct {
		p   *store.Parameter
		err error
	}
	read := func(out chan<- result) {
		var p *store.Parameter
		err := f.n.View(ctx, func(r *store.Reader) error {
			var err error
			p, err = r.Param(tenancy, name)
			return err
		})
		out <- result{p, err}
	}
	first := make(chan result, 1)
	go read(first)
	select {
	case <-held:
	case r := <-first:
		if !stillLeader() {
			return false
		}
		t.Fatalf("the first read returned (%v) without a read index RPC", r.err)
	}
	// Acknowledged while the first read's RPC is in flight: every read
	// that begins now must see it.
	apply(t, leader, putCmd(name, 1, 0))
	const k = 8
	later := make(chan result, k)
	for range k {
		go read(later)
	}
	joined := poll(func() bool {
		f.n.readMu.Lock()
		defer f.n.readMu.Unlock()
		// More than the held RPC: a read did not wait to share one.
		return f.n.fwdNext != nil && f.n.fwdNext.joined == k || rpcs.Load() > 1
	})
	close(release)
	if n := rpcs.Load(); n > 1 {
		t.Fatalf("%d read index RPCs while the first was in flight: the reads that arrived during it sent their own instead of sharing the next", n)
	}
	if !joined {
		if !stillLeader() {
			return false // this follower may have become the leader
		}
		t.Fatalf("the %d reads that arrived during the first one's RPC did not join one pending RPC", k)
	}
	r0 := <-first
	rs := []result{r0}
	for range k {
		rs = append(rs, <-later)
	}
	failed := 0
	for i, r := range rs {
		switch {
		case r.err != nil:
			failed++
			if stillLeader() {
				t.Errorf("read %d: %v", i, r.err)
			}
		case r.p == nil && i > 0:
			// Whatever happened to the leader meanwhile.
			t.Errorf("a read that began after %s was acknowledged did not see it", name)
		}
	}
	if !stillLeader() {
		// An election moved the reads' RPCs away from the proxy, or
		// failed them: what was checked above still holds, the count
		// below does not.
		return failed == 0
	}
	if got := rpcs.Load(); got != 2 {
		t.Errorf("%d read index RPCs for %d reads, want 2: the first, and one shared by the %d that arrived during it", got, k+1, k)
	}
	return true
}
