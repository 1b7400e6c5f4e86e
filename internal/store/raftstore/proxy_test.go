package raftstore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/hashicorp/raft"
)

// retryAttempts runs attempt until it returns true, giving up after three
// attempts: an attempt returns false when the leader changed during it
// (an election on a loaded machine voids what it measured).
func retryAttempts(t *testing.T, attempt func(n int) bool) {
	t.Helper()
	for n := 1; ; n++ {
		if attempt(n) {
			return
		}
		if n == 3 {
			t.Fatal("the leader changed during each of 3 attempts")
		}
		t.Logf("attempt %d: the leader changed; trying again", n)
	}
}

// leaderProxy is a proxy in front of the leader's API that a follower uses
// as the leader's address, so that a test can watch or hold the follower's
// calls to the leader.
type leaderProxy struct {
	leader   *member
	follower *member
	term     uint64
	*httptest.Server
}

// stillLeader reports whether the leader the proxy was made for still
// leads in the same term.
func (p *leaderProxy) stillLeader() bool {
	return p.leader.n.raft.State() == raft.Leader && p.leader.n.raft.CurrentTerm() == p.term
}

// proxyLeader starts a leaderProxy in front of c's leader, registers it as
// the leader's API address and waits until one of the followers sees it.
// hook sees each call first; it answers a call itself by returning true,
// else the call goes on to the leader. A nil proxy means the leader
// changed before the follower saw it; the caller closes the proxy.
func proxyLeader(t *testing.T, c *cluster, hook func(w http.ResponseWriter, r *http.Request) bool) *leaderProxy {
	t.Helper()
	p := &leaderProxy{leader: c.leader()}
	p.term = p.leader.n.raft.CurrentTerm()
	p.follower = c.others(p.leader)[0]
	target, err := url.Parse(p.leader.api.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hook(w, r) {
			rp.ServeHTTP(w, r)
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := p.leader.n.Register(ctx, p.URL); err != nil {
		p.Close()
		if !p.stillLeader() {
			return nil
		}
		t.Fatal(err)
	}
	if !poll(func() bool {
		info, err := p.follower.n.leaderInfo()
		return err == nil && info.APIAddr == p.URL
	}) {
		p.Close()
		t.Fatalf("%s does not see the leader's new API address", p.follower.id)
	}
	return p
}
