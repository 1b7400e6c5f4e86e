package agent_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flappy sits between the agent and the server. While failing, it answers
// calls in turn with a 503, a dropped connection, a ThrottlingException and
// a reply slower than the client's 2s attempt timeout.
type flappy struct {
	proxy   *httputil.ReverseProxy
	failing atomic.Bool
	calls   atomic.Int64 // SSM calls seen while failing
	release chan struct{}
	once    sync.Once
}

func (f *flappy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !f.failing.Load() || r.URL.Path != "/" {
		f.proxy.ServeHTTP(w, r)
		return
	}
	n := f.calls.Add(1)
	switch n % 4 {
	case 1:
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"__type":"ServiceUnavailable","message":"flapping"}`)
	case 2:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusBadGateway)
	case 3:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", "ThrottlingException")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"ThrottlingException","Message":"Rate exceeded"}`)
	default:
		select {
		case <-f.release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// TestFlappingUpstream checks that a failing upstream sees a bounded number
// of calls however many reads the agent serves, and that every read is
// still answered from the cache.
func TestFlappingUpstream(t *testing.T) {
	srv := startServer(t)
	target, _ := url.Parse(srv.URL())
	f := &flappy{proxy: httputil.NewSingleHostReverseProxy(target), release: make(chan struct{})}
	front := httptest.NewServer(f)
	// Closed after the agent stops (cleanups run last first): Close waits
	// for the agent's change stream through the proxy, which lasts minutes.
	t.Cleanup(front.Close)
	defer f.once.Do(func() { close(f.release) })

	names := []string{"/flap/a", "/flap/b", "/flap/c", "/flap/d"}
	for _, n := range names {
		srv.put(n, "String", "v-"+n)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "none"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ag := start(t, "agent", srv.signingEnv("FLAP_KEY="+newCacheKey(t)), "agent", "--upstream", front.URL,
		"--listen", "127.0.0.1:0", "--cache-dir", dir, "--cache-key", "env:FLAP_KEY", "--ttl", "1ms", "--token", agentToken)
	for _, n := range names {
		if r := lambdaGet(ag.URL(), n, false); r.err != nil || r.stale {
			t.Fatalf("warm %s: %+v", n, r)
		}
	}

	f.failing.Store(true)
	const reads = 400
	began := time.Now()
	ok, stale := 0, 0
	for i := range reads {
		n := names[i%len(names)]
		r := lambdaGet(ag.URL(), n, false)
		if r.err != nil || r.value != "v-"+n {
			t.Errorf("read %d of %s while flapping: %+v", i, n, r)
			continue
		}
		ok++
		if r.stale {
			stale++
		}
	}
	elapsed := time.Since(began)
	calls := f.calls.Load()
	// Without a breaker every read would cost up to 3 attempts (1200 calls).
	// With one, the upstream sees the attempts until the breaker opens plus
	// one probe per open period (5s).
	limit := int64(20 + 3*int(elapsed/(5*time.Second)))
	t.Logf("FLAP: %d reads in %v, %d answered (%d stale), %d upstream calls (limit %d)", reads, elapsed.Round(time.Millisecond), ok, stale, calls, limit)
	if ok != reads || stale != reads {
		t.Errorf("while flapping: %d of %d reads answered, %d stale; want all answered and stale", ok, reads, stale)
	}
	if calls > limit {
		t.Errorf("upstream calls while failing: got %d for %d reads, want at most %d", calls, reads, limit)
	}
	h := getHealth(t, ag.URL())
	if len(h.Upstreams) != 1 || h.Upstreams[0].Breaker == "closed" {
		t.Errorf("healthz while failing: got %+v, want the breaker not closed", h)
	}
	if !strings.Contains(fmt.Sprint(h.Upstreams), front.URL[len("http://"):]) {
		t.Errorf("healthz does not name the upstream %s: %+v", front.URL, h)
	}
	f.once.Do(func() { close(f.release) })
	f.failing.Store(false)
}
