package api

import (
	"sync"
	"testing"
	"time"
)

// TestAnswerPace: after a slice of answers, an answer worker that finds a
// call in flight that may change state pauses (its fan-out steps aside),
// and one that finds none does not; a pause ends even if the write never
// does (a fan-out is slowed by writes, never stopped).
func TestAnswerPace(t *testing.T) {
	var g writeGate
	l := &parkListener{writing: &g}
	timer := time.NewTimer(time.Hour)
	timer.Stop()

	l.pace(time.Now().Add(-time.Millisecond), timer)
	if got := l.pauses.Load(); got != 0 {
		t.Fatalf("paused %d times with no write in flight, want 0", got)
	}

	g.begin() // a write that does not end while the test runs
	for range 3 {
		l.pace(time.Now().Add(-time.Hour), timer) // a long slice: the longest pause
	}
	if got := l.pauses.Load(); got != 3 {
		t.Fatalf("paused %d times in 3 slices with a write in flight, want 3", got)
	}

	g.end()
	l.pace(time.Now().Add(-time.Millisecond), timer)
	if got := l.pauses.Load(); got != 3 {
		t.Fatalf("paused again after the write ended (%d pauses), want 3", got)
	}

	// A listener made without the count (none in tests that build one)
	// never pauses.
	(&parkListener{}).pace(time.Now(), timer)
}

// TestWriteGateWait: a worker waiting for the writes in flight wakes when
// the last one ends, whatever its timer says (an hour here: the test would
// time out), and does not wait at all when there are none; concurrent
// writes and waits lose no wake-up.
func TestWriteGateWait(t *testing.T) {
	var g writeGate
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	g.wait(timer, time.Hour) // nothing in flight: returns

	g.begin()
	g.begin()
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(time.Hour)
		t.Stop()
		g.wait(t, time.Hour)
	}()
	for !g.waiting.Load() {
		time.Sleep(time.Millisecond)
	}
	g.end()
	select {
	case <-done:
		t.Fatal("the wait ended with a write still in flight")
	case <-time.After(10 * time.Millisecond): // (a wrong wake-up shows here; its absence proves nothing)
	}
	g.end()
	<-done

	// Writes beginning and ending while workers wait: every wait ends.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 500 {
				g.begin()
				g.end()
			}
		}()
		go func() {
			defer wg.Done()
			t := time.NewTimer(time.Hour)
			t.Stop()
			for range 500 {
				g.begin() // (so that the wait does not return at once)
				go g.end()
				g.wait(t, time.Hour)
			}
		}()
	}
	wg.Wait()
	if n := g.n.Load(); n != 0 {
		t.Fatalf("%d writes counted after all ended", n)
	}
}
