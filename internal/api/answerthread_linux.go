package api

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// answerNice is the nice value of an answer worker's thread.
const answerNice = 10

// lowerAnswerThread locks the calling answer worker to its thread and
// lowers that thread's weight to answerNice (setpriority on the thread's
// id, which Linux applies to the one thread). A fan-out to ten thousand
// watchers is ten thousand write system calls in a row on that thread;
// at nice 0 it and the agents' threads it wakes hold the cores as long as
// the threads of a write (its connection's, raft's, the audit writer's),
// and each of those waits behind them after every fsync or network event.
// At nice 10 the scheduler gives a waking nice-0 thread the core first;
// on an idle machine the fan-out still runs at full speed (a weight
// matters only against other runnable threads).
//
// The goroutine never unlocks: when it returns, its thread exits with it,
// so the lowered value never reaches other goroutines (raising it back
// would need CAP_SYS_NICE). Threads the Go runtime starts while a locked
// goroutine runs come from its template thread, not from this one, so
// they do not inherit the value. It returns the thread's id. An error
// (none is expected: anyone may raise a thread's nice value) is ignored:
// the fan-out then competes as before.
func lowerAnswerThread() int {
	runtime.LockOSThread()
	tid := unix.Gettid()
	_ = unix.Setpriority(unix.PRIO_PROCESS, tid, answerNice)
	return tid
}
