package client

import (
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
	failures int       // consecutive, while closed
	openedAt time.Time // while open
	probing  bool      // a half-open probe is in flight
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
		b.probing = true
		return true
	default: // half-open: one probe at a time
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
}

// success records a call that the upstream answered.
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures, b.probing = 0, false
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
	b.failures, b.probing, b.openedAt = 0, false, b.now()
	b.setState(BreakerOpen)
}

// release records a call abandoned by its caller, which says nothing about
// the upstream.
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
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
