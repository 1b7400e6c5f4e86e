package raftstore

import (
	"errors"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
)

// fakeFuture is a raft.ApplyFuture answered by answer.
type fakeFuture struct {
	raft.ApplyFuture
	ch chan error
}

func newFakeFuture() *fakeFuture { return &fakeFuture{ch: make(chan error, 1)} }

func (f *fakeFuture) Error() error     { return <-f.ch }
func (f *fakeFuture) answer(err error) { f.ch <- err }

// TestFutureWaiter: every future handed to the waiter has its answer
// delivered by the one goroutine, whatever the order raft answers them in; after stop, once
// nothing is queued, run returns, and later waits still get their answers.
func TestFutureWaiter(t *testing.T) {
	w := futureWaiter{wake: make(chan struct{}, 1)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go w.run(stop, &wg)
	errA, errB := errors.New("a"), errors.New("b")
	a, b, c := newFakeFuture(), newFakeFuture(), newFakeFuture()
	da, db, dc := w.wait(a), w.wait(b), w.wait(c)
	// Answered out of order: the waiter, blocked on a, delivers them all
	// once a is answered.
	b.answer(errB)
	c.answer(nil)
	a.answer(errA)
	for _, tc := range []struct {
		name string
		done <-chan error
		want error
	}{{"a", da, errA}, {"b", db, errB}, {"c", dc, nil}} {
		if got := <-tc.done; got != tc.want {
			t.Fatalf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// A future still unanswered at stop is answered before run returns.
	d := newFakeFuture()
	dd := w.wait(d)
	close(stop)
	d.answer(raft.ErrRaftShutdown)
	if got := <-dd; !errors.Is(got, raft.ErrRaftShutdown) {
		t.Fatalf("at stop: got %v", got)
	}
	wg.Wait()
	e := newFakeFuture()
	de := w.wait(e)
	e.answer(nil)
	if got := <-de; got != nil {
		t.Fatalf("after run returned: got %v", got)
	}
}
