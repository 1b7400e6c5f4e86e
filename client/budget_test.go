package client_test

import (
	"sync"
	"testing"
	"time"
)

// TestRefreshBudget: with the upstream hanging (a brownout), a read of a
// cached but expired value is answered from the cache, marked stale,
// while the refresh is still waiting on the upstream; concurrent reads
// share that one refresh; and the refresh's answer is served once it comes.
func TestRefreshBudget(t *testing.T) {
	f := newFake(t)
	f.put("/app/v", "v1", "SecureString")
	clk := newClock()
	cfg, _ := testConfig(t, clk, f.URL())
	cfg.TTL = time.Minute
	cfg.RefreshBudget = 20 * time.Millisecond
	c := newClient(t, cfg)
	mustGet(t, c, "/app/v")

	clk.Advance(2 * time.Minute)
	f.put("/app/v", "v2", "SecureString")
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	released := false
	defer func() {
		if !released {
			close(gate)
		}
	}()

	var wg sync.WaitGroup
	results := make([]string, 8)
	stale := make([]bool, 8)
	for i := range results {
		wg.Go(func() {
			r := mustGet(t, c, "/app/v")
			results[i], stale[i] = r.Value, r.Stale
		})
	}
	wg.Wait()
	// Every read returned while the upstream still held the refresh.
	for i := range results {
		if results[i] != "v1" || !stale[i] {
			t.Errorf("read %d during the brownout: got %q stale=%v, want v1 stale", i, results[i], stale[i])
		}
	}
	// The reads may return before the refresh's request reaches the
	// upstream (they wait only for the budget), so wait for it to arrive.
	eventually(t, "the refresh to reach the upstream", func() bool { return f.count("GetParameter") >= 2 })

	close(gate)
	released = true
	eventually(t, "the refresh to land", func() bool {
		r := mustGet(t, c, "/app/v")
		return r.Value == "v2" && !r.Stale
	})
	// Every refresh the reads started has reached the upstream by now.
	if n := f.count("GetParameter"); n != 2 {
		t.Errorf("GetParameter calls: got %d, want 2 (the warm-up and one coalesced refresh)", n)
	}
}

// TestColdMissIgnoresBudget: a value not cached at all waits for the
// upstream's answer however long the budget.
func TestColdMissIgnoresBudget(t *testing.T) {
	f := newFake(t)
	f.put("/app/v", "v1", "String")
	clk := newClock()
	cfg, _ := testConfig(t, clk, f.URL())
	cfg.RefreshBudget = time.Nanosecond
	gate := make(chan struct{})
	f.gate = gate
	c := newClient(t, cfg)
	done := make(chan string)
	go func() { done <- mustGet(t, c, "/app/v").Value }()
	eventually(t, "the call to reach the upstream", func() bool { return f.count("GetParameter") == 1 })
	select {
	case v := <-done:
		t.Fatalf("cold read returned %q before the upstream answered", v)
	default:
	}
	close(gate)
	if v := <-done; v != "v1" {
		t.Fatalf("cold read: got %q, want v1", v)
	}
}
