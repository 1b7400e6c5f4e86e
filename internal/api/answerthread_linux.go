package api

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// answerThreadSlice is the scheduling slice (sched_setattr's sched_runtime)
// that the answer workers ask for their threads: longer than the kernel's
// default (its base slice times 1 + log2 of the CPUs, up to 8: 1.4 ms on
// this 2-core machine), which makes them the threads any other may
// preempt.
const answerThreadSlice = 20_000_000 // ns

// yieldingThread locks the calling goroutine (an answer worker) to its
// thread and asks the kernel to let any thread that wakes take the core
// from it: a slice longer than every other thread's. Since Linux 6.12 the
// EEVDF scheduler lets a waking thread whose slice is shorter than the
// running thread's preempt it at once (PREEMPT_SHORT), where one with an
// equal slice waits for the running thread's slice to end (up to 1.4 ms
// on 2 cores). A fan-out is thousands of write system calls in a row; a
// write's stages (the request read, raft's log fsync and apply, the
// goroutines woken after each) each wake a thread, which thus finds a
// core at once rather than behind the fan-out. The thread's weight (its
// nice value) is unchanged: over time the fan-out gets the same share of
// the CPU, and it never preempts anyone on waking. On an older kernel the
// slice is accepted and ignored; an error (a seccomp filter, not Linux
// 6.12's EEVDF) leaves the thread as it was.
func yieldingThread() {
	runtime.LockOSThread()
	a, err := unix.SchedGetAttr(0, 0)
	if err != nil || a.Policy != unix.SCHED_NORMAL {
		return
	}
	a.Runtime = answerThreadSlice
	a.Flags = 0
	unix.SchedSetAttr(0, a, 0)
}
