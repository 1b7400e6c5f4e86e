package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

func TestBackoffBounded(t *testing.T) {
	c := &Client{cfg: Config{BaseBackoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second}}
	for attempt := range 64 {
		for _, throttled := range []bool{false, true} {
			ceil := min(c.cfg.MaxBackoff, c.cfg.BaseBackoff<<min(attempt+boolInt(throttled), 20))
			for range 50 {
				if d := c.backoff(attempt, throttled); d < 0 || d >= ceil {
					t.Fatalf("backoff(%d, %v) = %v, want in [0, %v)", attempt, throttled, d, ceil)
				}
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestBreakerStates(t *testing.T) {
	now := time.Unix(0, 0)
	var states []string
	b := newBreaker(2, 10*time.Second, func() time.Time { return now }, func(s string) { states = append(states, s) })
	steps := []struct {
		do        string // "allow", "fail", "ok", "wait"
		wantAllow bool
		want      string
	}{
		{"allow", true, BreakerClosed},
		{"fail", false, BreakerClosed},
		{"allow", true, BreakerClosed},
		{"fail", false, BreakerOpen},
		{"allow", false, BreakerOpen},
		{"wait", false, BreakerHalfOpen},
		{"allow", true, BreakerHalfOpen},  // the probe
		{"allow", false, BreakerHalfOpen}, // only one
		{"fail", false, BreakerOpen},
		{"wait", false, BreakerHalfOpen},
		{"allow", true, BreakerHalfOpen},
		{"ok", false, BreakerClosed},
		{"allow", true, BreakerClosed},
	}
	for i, s := range steps {
		var allowed bool
		switch s.do {
		case "allow":
			allowed = b.allow()
		case "fail":
			b.failure()
		case "ok":
			b.success()
		case "wait":
			now = now.Add(10 * time.Second)
		}
		if allowed != s.wantAllow || b.current() != s.want {
			t.Fatalf("step %d (%s): got allow=%v state %s, want %v %s", i, s.do, allowed, b.current(), s.wantAllow, s.want)
		}
	}
	if got, want := fmt.Sprint(states), "[open half-open open half-open closed]"; got != want {
		t.Errorf("state changes: got %s, want %s", got, want)
	}
}

func TestBaseNameAndCovers(t *testing.T) {
	tests := []struct {
		q    query
		name string
		want bool
	}{
		{query{Kind: kindName, Name: "/a/b"}, "/a/b", true},
		{query{Kind: kindName, Name: "/a/b:3"}, "/a/b", true},
		{query{Kind: kindName, Name: "/a/b:prod"}, "/a/b", true},
		{query{Kind: kindName, Name: "arn:aws:ssm:us-east-1:1:parameter/a/b:2"}, "/a/b", true},
		{query{Kind: kindName, Name: "/a/bc"}, "/a/b", false},
		{query{Kind: kindPath, Name: "/a"}, "/a/b", true},
		{query{Kind: kindPath, Name: "/a"}, "/a/b/c", false},
		{query{Kind: kindPath, Name: "/a", Recursive: true}, "/a/b/c", true},
		{query{Kind: kindPath, Name: "/a/", Recursive: true}, "/ab/c", false},
	}
	for _, tt := range tests {
		if got := tt.q.covers(tt.name); got != tt.want {
			t.Errorf("%+v covers %s: got %v, want %v", tt.q, tt.name, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want errClass
	}{
		{nil, classOK},
		{&types.ParameterNotFound{}, classFinal},
		{errors.New("connection refused"), classRetry},
	}
	for _, tt := range tests {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v): got %v, want %v", tt.err, got, tt.want)
		}
	}
}

// statusErr is an error answered with an HTTP status, as the SDK's
// response errors are.
type statusErr int

func (e statusErr) Error() string       { return "HTTP " + strconv.Itoa(int(e)) }
func (e statusErr) HTTPStatusCode() int { return int(e) }

func TestIsThrottling(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"ThrottlingException", &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"wrapped RequestLimitExceeded", fmt.Errorf("call: %w", &smithy.GenericAPIError{Code: "RequestLimitExceeded"}), true},
		{"HTTP 429", statusErr(http.StatusTooManyRequests), true},
		{"HTTP 500", statusErr(http.StatusInternalServerError), false},
		{"not found", &types.ParameterNotFound{}, false},
		{"network", errors.New("connection refused"), false},
	} {
		if got := IsThrottling(tt.err); got != tt.want {
			t.Errorf("IsThrottling(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestBreakerProbeNow: an urgent caller gets one probe through an open
// breaker at once; urgent callers that come while it is in flight wait for
// its outcome and go through only if it closed the breaker.
func TestBreakerProbeNow(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBreaker(1, time.Hour, func() time.Time { return now }, nil)
	b.allow()
	b.failure()
	if b.allow() {
		t.Fatal("open breaker allowed an ordinary call")
	}
	for _, outcome := range []string{"fail", "ok"} {
		if !b.allowNow(t.Context()) {
			t.Fatalf("%s: urgent caller got no probe through an open breaker", outcome)
		}
		got := make(chan bool)
		go func() { got <- b.allowNow(t.Context()) }()
		for {
			b.mu.Lock()
			w := b.waiting
			b.mu.Unlock()
			if w == 1 {
				break
			}
			runtime.Gosched()
		}
		if outcome == "fail" {
			b.failure()
			if <-got {
				t.Errorf("waiter went through after a failed probe")
			}
			if b.current() != BreakerOpen {
				t.Errorf("after a failed probe: %s, want open", b.current())
			}
		} else {
			b.success()
			if !<-got {
				t.Errorf("waiter refused after a successful probe")
			}
		}
	}
	// Another upstream answered: an open breaker is due for a probe at once.
	b.failure()
	b.failure()
	if b.current() != BreakerOpen {
		t.Fatalf("got %s, want open", b.current())
	}
	b.expedite()
	if b.current() != BreakerHalfOpen || !b.allow() {
		t.Errorf("expedited breaker: got %s, want a probe allowed", b.current())
	}
}

// TestResumeBackoffSpread: a watch's retry after a failure is spread over
// at least watchResumeJitter (the watchers of a dead node must not all
// arrive at the next one at once), widening up to MaxBackoff.
func TestResumeBackoffSpread(t *testing.T) {
	c := &Client{cfg: Config{BaseBackoff: 50 * time.Millisecond, MaxBackoff: 4 * time.Second}}
	for failures, ceil := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		lo, hi := ceil, time.Duration(0)
		for range 200 {
			d := c.resumeBackoff(failures)
			if d < 0 || d >= ceil {
				t.Fatalf("resumeBackoff(%d) = %v, want in [0, %v)", failures, d, ceil)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if hi-lo < ceil/2 {
			t.Errorf("resumeBackoff(%d): 200 waits within [%v, %v], want them spread over [0, %v)", failures, lo, hi, ceil)
		}
	}
}

// TestIdleWatch: a request whose pages keep coming is not cancelled by the
// watchdog's check; one that gets no page for its idle time is.
func TestIdleWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	w := newIdleWatch(time.Hour, cancel)
	w.page()
	w.check() // as if its timer fired now: the last page is recent
	if ctx.Err() != nil {
		t.Fatal("cancelled right after a page")
	}
	w.stop()
	w.check() // a timer that fired as it was stopped: no re-arming
	if ctx.Err() != nil {
		t.Fatal("cancelled after stop, with a recent page")
	}

	ctx, cancel = context.WithCancel(t.Context())
	w = newIdleWatch(time.Millisecond, cancel)
	defer w.stop()
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("a silent request was not cancelled")
	}
}

// TestCacheIndex: after any mix of stores, evictions, removals and
// expiries, the entries a change to a name expires (and Invalidate drops)
// are exactly those whose query covers the name, as a scan of every entry
// finds them.
func TestCacheIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"/a", "/a/b", "/a/b/c", "/a/bc", "/b/x", "/b/x/y"}
	randQuery := func() query {
		n := names[rng.IntN(len(names))]
		switch rng.IntN(5) {
		case 0:
			return query{Kind: kindPath, Region: "r", Name: n, Recursive: rng.IntN(2) == 0}
		case 1:
			return query{Kind: kindPath, Region: "r", Name: n + "/", Recursive: true}
		case 2:
			return query{Kind: kindName, Region: "r", Name: n + ":" + strconv.Itoa(1+rng.IntN(3))}
		case 3:
			return query{Kind: kindName, Region: "r", Name: "arn:aws:ssm:r:1:parameter" + n}
		}
		return query{Kind: kindName, Region: "r", Name: n, Decrypt: rng.IntN(2) == 0}
	}
	c := newCache(12)
	for step := range 3000 {
		name := names[rng.IntN(len(names))]
		var want []string
		for key, el := range c.entries {
			if el.Value.(*entry).q.covers(name) {
				want = append(want, key)
			}
		}
		slices.Sort(want)
		switch rng.IntN(4) {
		case 0, 1:
			c.put(entry{q: randQuery(), notFound: rng.IntN(4) == 0})
		case 2:
			got := c.expire(name, time.Now)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: expire(%s) = %q, want %q", step, name, got, want)
			}
		case 3:
			n := len(c.entries)
			c.remove(name)
			for _, k := range want {
				if _, ok := c.entries[k]; ok {
					t.Fatalf("step %d: remove(%s) kept %q", step, name, k)
				}
			}
			if len(c.entries) != n-len(want) {
				t.Fatalf("step %d: remove(%s) dropped %d entries, want %d", step, name, n-len(c.entries), len(want))
			}
		}
		indexed := len(c.paths)
		for n, els := range c.byName {
			for k, el := range els {
				if c.entries[k] != el || baseName(el.Value.(*entry).q.Name) != n {
					t.Fatalf("step %d: index has %q under %q, not an entry of that name", step, k, n)
				}
			}
			indexed += len(els)
		}
		if indexed != len(c.entries) || c.lru.Len() != len(c.entries) {
			t.Fatalf("step %d: %d entries, %d in the LRU list, %d indexed", step, len(c.entries), c.lru.Len(), indexed)
		}
		if got := c.size.Load(); got != int64(len(c.entries)) {
			t.Fatalf("step %d: size %d, %d entries (expire would skip a cache that is not empty)", step, got, len(c.entries))
		}
	}
}

// BenchmarkCacheExpire: what a change costs the cache of an agent that
// holds entries (GetParameter answers and a few paths).
func BenchmarkCacheExpire(b *testing.B) {
	for _, n := range []int{0, 100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			c := newCache(n + 10)
			for i := range n {
				c.load(entry{q: query{Kind: kindName, Region: "r", Name: fmt.Sprintf("/app/svc%d/p%d", i%10, i)}})
			}
			for i := range min(n, 5) {
				c.load(entry{q: query{Kind: kindPath, Region: "r", Name: fmt.Sprintf("/app/svc%d", i), Recursive: true}})
			}
			b.ReportAllocs()
			for b.Loop() {
				c.expire("/app/svc3/p17", time.Now)
			}
		})
	}
}
