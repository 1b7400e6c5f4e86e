// Package fault injects time-boxed faults on purpose (game days, drills):
// latency, AWS-shaped errors, throttling, or a blackhole. The server
// applies them at its API edge (Middleware); the agent to its upstream
// calls (Transport). A fault reverts by itself when its duration ends,
// whatever happens to whoever injected it.
package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Kinds of fault.
const (
	KindLatency   = "latency"
	KindError     = "error"
	KindThrottle  = "throttle"
	KindBlackhole = "blackhole"
)

// MaxDuration bounds how long one fault may last.
const MaxDuration = 24 * time.Hour

// Spec is a fault to inject, as the wire carries it.
type Spec struct {
	Kind string `json:"kind"`
	// Rate is the fraction of matching calls affected, in (0, 1]; 0 means 1.
	Rate float64 `json:"rate,omitempty"`
	// Latency is the delay of a latency fault (Go duration, e.g. "2s").
	Latency string `json:"latency,omitempty"`
	// Operations limits the fault to these SSM operations; empty is all.
	Operations []string `json:"operations,omitempty"`
	// Duration is how long the fault lasts (Go duration). Required.
	Duration string `json:"duration"`
}

// Status is the active fault.
type Status struct {
	Spec
	Started time.Time `json:"started"`
	Expires time.Time `json:"expires"`
}

// parsed is a validated Spec.
type parsed struct {
	spec     Spec
	latency  time.Duration
	duration time.Duration
}

// Parse validates s; errors name the field.
func Parse(s Spec) (parsed, error) {
	p := parsed{spec: s}
	switch s.Kind {
	case KindLatency, KindError, KindThrottle, KindBlackhole:
	default:
		return p, fmt.Errorf("fault: kind: want latency, error, throttle or blackhole, got %q", s.Kind)
	}
	if s.Rate < 0 || s.Rate > 1 {
		return p, fmt.Errorf("fault: rate: want 0..1, got %v", s.Rate)
	}
	if p.spec.Rate == 0 {
		p.spec.Rate = 1
	}
	var err error
	if p.duration, err = time.ParseDuration(s.Duration); err != nil || p.duration <= 0 || p.duration > MaxDuration {
		return p, fmt.Errorf("fault: duration: want a positive duration up to %v, got %q", MaxDuration, s.Duration)
	}
	if s.Latency != "" {
		if p.latency, err = time.ParseDuration(s.Latency); err != nil || p.latency < 0 || p.latency > time.Hour {
			return p, fmt.Errorf("fault: latency: want a duration up to 1h, got %q", s.Latency)
		}
	}
	if s.Kind == KindLatency && p.latency == 0 {
		p.latency = time.Second
		p.spec.Latency = "1s"
	}
	for _, op := range s.Operations {
		if op == "" || len(op) > 64 || strings.ContainsAny(op, " ,/") {
			return p, fmt.Errorf("fault: operations: %q is not an operation name", op)
		}
	}
	return p, nil
}

// Injector holds at most one active fault. It is safe for concurrent use.
type Injector struct {
	// OnChange, if set, is called with a description when a fault starts,
	// is cleared or expires (not under the lock).
	onChange func(event string, active bool)
	now      func() time.Time

	mu     sync.Mutex
	active *parsed
	status Status
	timer  *time.Timer
	gen    int
	ended  chan struct{} // closed when the active fault ends
}

// endLocked marks the active fault ended; mu is held.
func (in *Injector) endLocked() {
	in.active = nil
	if in.ended != nil {
		close(in.ended)
		in.ended = nil
	}
}

// endedCh is closed when the active fault ends (nil when none is active).
func (in *Injector) endedCh() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.ended
}

// New returns an Injector. onChange may be nil; now nil means time.Now.
func New(onChange func(event string, active bool), now func() time.Time) *Injector {
	if now == nil {
		now = time.Now
	}
	if onChange == nil {
		onChange = func(string, bool) {}
	}
	return &Injector{onChange: onChange, now: now}
}

// Describe is a one-line description of a fault.
func Describe(s Spec) string {
	d := "fault injected: " + s.Kind
	if s.Kind == KindLatency {
		d += " " + s.Latency
	}
	if s.Rate > 0 && s.Rate < 1 {
		d += fmt.Sprintf(" at rate %g", s.Rate)
	}
	if len(s.Operations) > 0 {
		d += " on " + strings.Join(s.Operations, ",")
	}
	return d + " for " + s.Duration
}

// Inject validates spec and makes it the active fault, replacing any.
func (in *Injector) Inject(spec Spec) (Status, error) {
	p, err := Parse(spec)
	if err != nil {
		return Status{}, err
	}
	now := in.now()
	in.mu.Lock()
	if in.timer != nil {
		in.timer.Stop()
	}
	in.gen++
	gen := in.gen
	in.endLocked()
	in.ended = make(chan struct{})
	in.active = &p
	in.status = Status{Spec: p.spec, Started: now, Expires: now.Add(p.duration)}
	st := in.status
	in.timer = time.AfterFunc(p.duration, func() { in.expire(gen) })
	in.mu.Unlock()
	in.onChange(Describe(p.spec), true)
	return st, nil
}

func (in *Injector) expire(gen int) {
	in.mu.Lock()
	if in.gen != gen || in.active == nil {
		in.mu.Unlock()
		return
	}
	kind := in.active.spec.Kind
	in.endLocked()
	in.mu.Unlock()
	in.onChange("fault expired: "+kind, false)
}

// Clear removes the active fault; it reports whether there was one.
func (in *Injector) Clear() bool {
	in.mu.Lock()
	if in.active == nil {
		in.mu.Unlock()
		return false
	}
	kind := in.active.spec.Kind
	in.endLocked()
	in.gen++
	if in.timer != nil {
		in.timer.Stop()
	}
	in.mu.Unlock()
	in.onChange("fault cleared: "+kind, false)
	return true
}

// Status returns the active fault.
func (in *Injector) Status() (Status, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.active == nil || !in.now().Before(in.status.Expires) {
		return Status{}, false
	}
	return in.status, true
}

// decide returns the fault to apply to a call of op, if any.
func (in *Injector) decide(op string) (parsed, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.active == nil || !in.now().Before(in.status.Expires) {
		return parsed{}, false
	}
	p := *in.active
	if len(p.spec.Operations) > 0 && !slices.Contains(p.spec.Operations, op) {
		return parsed{}, false
	}
	if p.spec.Rate < 1 && rand.Float64() >= p.spec.Rate {
		return parsed{}, false
	}
	return p, true
}

// operation is the SSM operation of a JSON 1.1 request.
func operation(r *http.Request) string {
	t := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		return t[i+1:]
	}
	return t
}

// AWS-shaped bodies of injected errors.
const (
	bodyInternal = `{"__type":"InternalServerError","message":"An injected fault failed the request (paramstore fault injection)."}`
	bodyThrottle = `{"__type":"ThrottlingException","message":"Rate exceeded (paramstore fault injection)."}`
)

// ErrBlackhole is the error of a call an agent's blackhole swallowed.
var ErrBlackhole = errors.New("fault injection: blackhole: connection refused")

// Transport applies the active fault to outgoing SSM calls (the agent's
// upstream calls); Base sends the rest (nil: http.DefaultTransport).
type Transport struct {
	Base     http.RoundTripper
	Injector *Injector
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	p, ok := t.Injector.decide(operation(r))
	if !ok {
		return base.RoundTrip(r)
	}
	switch p.spec.Kind {
	case KindBlackhole:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ErrBlackhole}
	case KindLatency:
		if err := sleep(r.Context(), p.latency); err != nil {
			return nil, err
		}
		return base.RoundTrip(r)
	case KindThrottle:
		return synth(r, http.StatusBadRequest, bodyThrottle), nil
	default:
		return synth(r, http.StatusInternalServerError, bodyInternal), nil
	}
}

func synth(r *http.Request, status int, body string) *http.Response {
	if r.Body != nil {
		r.Body.Close()
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-Requestid", "fault-injection")
	return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: r,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maxHold bounds how long a blackhole holds one call (below the server's
// shutdown timeout, so a blackhole never blocks a clean stop for long).
const maxHold = 20 * time.Second

// Middleware applies the active fault at a server's API edge, to SSM
// calls (POST with X-Amz-Target) only: latency delays the call, error and
// throttle answer AWS-shaped errors, blackhole holds the call until the
// caller gives up, the fault ends or 20s pass, and then drops the
// connection.
func (in *Injector) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") == "" {
			next.ServeHTTP(w, r)
			return
		}
		p, ok := in.decide(operation(r))
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		switch p.spec.Kind {
		case KindLatency:
			if sleep(r.Context(), p.latency) != nil {
				return
			}
			next.ServeHTTP(w, r)
		case KindBlackhole:
			// Read the body so that the server notices the caller giving
			// up (it watches the connection only once the body is read).
			io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
			t := time.NewTimer(maxHold)
			defer t.Stop()
			select {
			case <-r.Context().Done():
			case <-in.endedCh():
			case <-t.C:
			}
			panic(http.ErrAbortHandler)
		case KindThrottle:
			writeAWS(w, http.StatusBadRequest, bodyThrottle)
		default:
			writeAWS(w, http.StatusInternalServerError, bodyInternal)
		}
	})
}

func writeAWS(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	// As the API's own errors: the code in the header too.
	var e struct {
		Type string `json:"__type"`
	}
	json.Unmarshal([]byte(body), &e)
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.Header().Set("X-Amzn-Requestid", "fault-injection")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
