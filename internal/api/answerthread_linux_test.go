package api

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestYieldingThread: an answer worker's thread asks for the long slice
// (what makes any waking thread preempt it), keeps its policy and nice
// value, and the goroutine stays on that thread.
func TestYieldingThread(t *testing.T) {
	before, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		t.Fatalf("sched_getattr: %v", err)
	}
	type result struct {
		tid, tid2 int
		a         *unix.SchedAttr
		err       error
	}
	done := make(chan result)
	go func() { // (its thread ends with it: locked, never unlocked)
		yieldingThread()
		r := result{tid: unix.Gettid()}
		r.a, r.err = unix.SchedGetAttr(0, 0)
		r.tid2 = unix.Gettid()
		done <- r
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("sched_getattr: %v", r.err)
	}
	if r.a.Runtime != answerThreadSlice {
		t.Errorf("the answer thread's slice is %d ns, want %d", r.a.Runtime, answerThreadSlice)
	}
	if r.a.Policy != before.Policy || r.a.Nice != before.Nice {
		t.Errorf("the answer thread's policy/nice is %d/%d, want %d/%d (unchanged)", r.a.Policy, r.a.Nice, before.Policy, before.Nice)
	}
	if r.tid != r.tid2 {
		t.Errorf("the answer worker moved from thread %d to %d: not locked", r.tid, r.tid2)
	}
	after, err := unix.SchedGetAttr(0, 0)
	if err == nil && after.Runtime == answerThreadSlice && before.Runtime != answerThreadSlice {
		t.Errorf("the test's own thread got the answer thread's slice")
	}
}
