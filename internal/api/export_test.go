package api

import "time"

// SetStreamPatience sets how long a stream's client may take to make room
// for its pages, until the test ends.
func SetStreamPatience(t interface{ Cleanup(func()) }, d time.Duration) {
	patience.Store(int64(d))
	t.Cleanup(func() { patience.Store(0) })
}

// AnswerWorkers is answerWorkers.
var AnswerWorkers = answerWorkers

// SetAnswerPacing turns the answer workers' pauses for writes in flight on
// or off, until the benchmark ends.
func SetAnswerPacing(t interface{ Cleanup(func()) }, on bool) {
	noPacing.Store(!on)
	t.Cleanup(func() { noPacing.Store(false) })
}

// WritesInFlight is how many calls that may change state h is serving.
func WritesInFlight(h *Handler) int64 { return h.writing.n.Load() }
