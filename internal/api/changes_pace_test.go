package api

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestAnswerPace: after a slice of answers, an answer worker that finds a
// call in flight that may change state pauses (its fan-out steps aside),
// and one that finds none does not; a pause ends even if the write never
// does (a fan-out is slowed by writes, never stopped).
func TestAnswerPace(t *testing.T) {
	var writing atomic.Int64
	l := &parkListener{writing: &writing}

	l.pace(time.Now().Add(-time.Millisecond))
	if got := l.pauses.Load(); got != 0 {
		t.Fatalf("paused %d times with no write in flight, want 0", got)
	}

	writing.Store(1) // a write that does not end while the test runs
	for range 3 {
		l.pace(time.Now().Add(-time.Hour)) // a long slice: the longest pause
	}
	if got := l.pauses.Load(); got != 3 {
		t.Fatalf("paused %d times in 3 slices with a write in flight, want 3", got)
	}

	writing.Store(0)
	l.pace(time.Now().Add(-time.Millisecond))
	if got := l.pauses.Load(); got != 3 {
		t.Fatalf("paused again after the write ended (%d pauses), want 3", got)
	}

	// A listener made without the count (none in tests that build one)
	// never pauses.
	(&parkListener{}).pace(time.Now())
}
