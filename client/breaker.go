package client

import (
	"context"
	"sync"
	"time"
)

// Breaker states, as reported by Health.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

// breaker is a circuit breaker for one upstream. Closed, it lets every call
// through and counts consecutive failures; after threshold of them it opens
// and refuses calls for openFor; then it turns half-open and lets exactly
// one probe through, which closes it on success and opens it again on
// failure.
type breaker struct {
	threshold int
	openFor   time.Duration
	now       func() time.Time
	onChange  func(state string)

	mu       sync.Mutex
	state    string
	failures int           // consecutive, while closed
	openedAt time.Time     // while open
	probing  bool          // a half-open probe is in flight
	probed   chan struct{} // closed when the probe in flight ends
	waiting  int           // callers of allowNow waiting for that probe
}

func newBreaker(threshold int, openFor time.Duration, now func() time.Time, onChange func(string)) *breaker {
	if onChange == nil {
		onChange = func(string) {}
	}
	return &breaker{threshold: threshold, openFor: openFor, now: now, onChange: onChange, state: BreakerClosed}
}

// allow reports whether a call may go through. When it returns true the
// caller must report the outcome with success, failure or release.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return true
	case BreakerOpen:
		if b.now().Sub(b.openedAt) < b.openFor {
			return false
		}
		b.setState(BreakerHalfOpen)
		b.startProbeLocked()
		return true
	default: // half-open: one probe at a time
		if b.probing {
			return false
		}
		b.startProbeLocked()
		return true
	}
}

// startProbeLocked marks a probe in flight; mu must be held.
func (b *breaker) startProbeLocked() {
	b.probing = true
	b.probed = make(chan struct{})
}

// endProbeLocked marks the probe in flight, if any, done; mu must be held.
func (b *breaker) endProbeLocked() {
	if b.probing {
		b.probing = false
		close(b.probed)
	}
}

// allowNow is allow for a caller that waits with nothing to fall back on
// while every breaker refuses: an open breaker lets one probe through at
// once instead of at the end of its open period, and callers that find a
// probe in flight wait for its outcome (coalesced) and go through if it
// closed the breaker.
func (b *breaker) allowNow(ctx context.Context) bool {
	b.mu.Lock()
	if b.state == BreakerClosed {
		b.mu.Unlock()
		return true
	}
	if !b.probing {
		b.setState(BreakerHalfOpen)
		b.startProbeLocked()
		b.mu.Unlock()
		return true
	}
	wait := b.probed
	b.waiting++
	b.mu.Unlock()
	var done bool
	select {
	case <-wait:
	case <-ctx.Done():
		done = true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting--
	return !done && b.state == BreakerClosed
}

// expedite makes an open breaker due for its probe now: another upstream
// (or the change stream) just answered, so the outage may be over. It
// reports whether the breaker was open and waiting.
func (b *breaker) expedite() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && b.now().Sub(b.openedAt) < b.openFor {
		b.openedAt = b.now().Add(-b.openFor)
		return true
	}
	return false
}

// retryIn is how long until an open breaker lets a probe through (0 when
// it would now).
func (b *breaker) retryIn() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != BreakerOpen {
		return 0
	}
	return max(0, b.openFor-b.now().Sub(b.openedAt))
}

// success records a call that the upstream answered.
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = 0
	b.endProbeLocked()
	b.setState(BreakerClosed)
}

// failure records a call that the upstream failed.
func (b *breaker) failure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		b.failures++
		if b.failures < b.threshold {
			return
		}
	case BreakerOpen:
		return
	}
	b.failures, b.openedAt = 0, b.now()
	b.endProbeLocked()
	b.setState(BreakerOpen)
}

// release records a call abandoned by its caller, which says nothing about
// the upstream.
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endProbeLocked()
}

func (b *breaker) current() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && b.now().Sub(b.openedAt) >= b.openFor {
		return BreakerHalfOpen
	}
	return b.state
}

// setState must be called with mu held.
func (b *breaker) setState(s string) {
	if b.state != s {
		b.state = s
		b.onChange(s)
	}
}
