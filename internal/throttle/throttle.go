// Package throttle limits request rates per access key and operation class
// with token buckets (golang.org/x/time/rate), answering as AWS does with
// ThrottlingException "Rate exceeded" so SDK retry logic backs off. Each key
// has its own buckets, so one noisy key never starves the others.
package throttle

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Class is an operation class with its own bucket.
type Class int

// The classes. The class of each operation is in the API's table of
// operations (internal/api/operations.go).
const (
	Reads     Class = iota // reads of parameters
	Writes                 // calls that change state
	Describes              // reads of metadata: descriptions, tags, settings, listings
	NumClasses
)

var classNames = [NumClasses]string{"reads", "writes", "describes"}

// String is the class's name, as in the --throttle-<name> flags.
func (c Class) String() string { return classNames[c] }

// Limit is a sustained rate and a burst; a zero Rate means unlimited.
type Limit struct {
	Rate  float64
	Burst int
}

// ParseLimit parses "RATE[:BURST]" (e.g. "100:200"); "" or "0" is unlimited.
// The burst defaults to the rate (at least 1).
func ParseLimit(s string) (Limit, error) {
	if s == "" || s == "0" {
		return Limit{}, nil
	}
	rs, bs, hasBurst := strings.Cut(s, ":")
	r, err := strconv.ParseFloat(rs, 64)
	if err != nil || r < 0 {
		return Limit{}, fmt.Errorf("throttle: rate %q: want a non-negative number", rs)
	}
	l := Limit{Rate: r, Burst: max(1, int(r))}
	if hasBurst {
		b, err := strconv.Atoi(bs)
		if err != nil || b < 1 {
			return Limit{}, fmt.Errorf("throttle: burst %q: want a positive integer", bs)
		}
		l.Burst = b
	}
	return l, nil
}

// Config holds the limit of each class.
type Config struct {
	Limits [NumClasses]Limit
	// MaxKeys bounds the number of keys tracked; idle keys are dropped
	// first. Default 100000.
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter decides whether a request may proceed.
type Limiter struct {
	cfg Config
	now func() time.Time

	// mu guards keys.
	mu   sync.Mutex
	keys map[string]*keyState
}

type keyState struct {
	buckets [NumClasses]*rate.Limiter
	seen    time.Time
}

// ErrRateExceeded is returned when a bucket is empty.
var ErrRateExceeded = errors.New("throttle: rate exceeded")

// New builds a limiter; it is a no-op when every limit is zero.
func New(cfg Config) *Limiter {
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100000
	}
	l := &Limiter{cfg: cfg, now: cfg.Now, keys: map[string]*keyState{}}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// Enabled reports whether any class is limited.
func (l *Limiter) Enabled() bool {
	for _, lim := range l.cfg.Limits {
		if lim.Rate > 0 {
			return true
		}
	}
	return false
}

// Allow takes a token for key in class c, or returns ErrRateExceeded.
func (l *Limiter) Allow(key string, c Class) error {
	lim := l.cfg.Limits[c]
	if lim.Rate <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	ks, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= l.cfg.MaxKeys {
			l.evict(now)
		}
		ks = &keyState{}
		l.keys[key] = ks
	}
	ks.seen = now
	b := ks.buckets[c]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(lim.Rate), lim.Burst)
		ks.buckets[c] = b
	}
	l.mu.Unlock()
	if !b.AllowN(now, 1) {
		return ErrRateExceeded
	}
	return nil
}

// evict drops keys idle for more than a minute, or half of them when none
// is idle. Called with mu held.
func (l *Limiter) evict(now time.Time) {
	n := 0
	for k, ks := range l.keys {
		if now.Sub(ks.seen) > time.Minute {
			delete(l.keys, k)
			n++
		}
	}
	if n > 0 {
		return
	}
	for k := range l.keys {
		delete(l.keys, k)
		if len(l.keys) <= l.cfg.MaxKeys/2 {
			return
		}
	}
}
