package client_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/paramstore/paramstore/client"
)

// fakeSSM is a hand-written SSM upstream: GetParameter, GetParameters,
// GetParametersByPath and the change stream, with fault injection and
// call counting.
type fakeSSM struct {
	srv *httptest.Server

	mu     sync.Mutex
	params map[string]fakeParam
	calls  map[string]int // by operation ("GetParameter", ..., "Changes")
	// fault, if set, is asked before each SSM call; a non-zero status is
	// answered with the error code instead of the call.
	fault func(op string, n int) (status int, code string)
	// gate, if set, holds GetParameter calls until it is closed.
	gate     chan struct{}
	noStream bool
	index    uint64
	changes  []fakeChange
	resetTo  uint64        // since values below this get Reset
	notify   chan struct{} // closed and replaced on every change
}

type fakeParam struct {
	Value, Type string
	Version     int64
}

type fakeChange struct {
	Name    string
	Version int64
	Deleted bool
	Index   uint64
}

func newFake(t *testing.T) *fakeSSM {
	t.Helper()
	f := &fakeSSM{params: map[string]fakeParam{}, calls: map[string]int{}, index: 1, notify: make(chan struct{})}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSSM) URL() string { return f.srv.URL }

// put creates or updates a parameter and records a change.
func (f *fakeSSM) put(name, value, typ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.params[name]
	p.Value, p.Type = value, typ
	p.Version++
	f.params[name] = p
	f.index++
	f.changes = append(f.changes, fakeChange{Name: name, Version: p.Version, Index: f.index})
	close(f.notify)
	f.notify = make(chan struct{})
}

func (f *fakeSSM) del(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.params[name]
	delete(f.params, name)
	f.index++
	f.changes = append(f.changes, fakeChange{Name: name, Version: p.Version, Deleted: true, Index: f.index})
	close(f.notify)
	f.notify = make(chan struct{})
}

// resetStream makes followers that are behind receive Reset.
func (f *fakeSSM) resetStream() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index += 10
	f.resetTo = f.index
	close(f.notify)
	f.notify = make(chan struct{})
}

func (f *fakeSSM) setFault(fn func(op string, n int) (int, string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fn
}

func (f *fakeSSM) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeSSM) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for op, c := range f.calls {
		if op != "Changes" {
			n += c
		}
	}
	return n
}

// always returns a fault that answers every call with status and code.
func always(status int, code string) func(string, int) (int, string) {
	return func(string, int) (int, string) { return status, code }
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func (f *fakeSSM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/_paramstore/changes" {
		f.serveChanges(w, r)
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")
	var in struct {
		Name, Path, NextToken string
		Names                 []string
		Recursive             bool
		MaxResults            int
	}
	json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	f.calls[op]++
	n := f.calls[op]
	fault, gate := f.fault, f.gate
	f.mu.Unlock()
	if fault != nil {
		if status, code := fault(op, n); status != 0 {
			writeErr(w, status, code, "injected "+code)
			return
		}
	}
	if gate != nil && op == "GetParameter" {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch op {
	case "GetParameter":
		p, ok := f.lookup(in.Name)
		if !ok {
			writeErr(w, 400, "ParameterNotFound", "")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"Parameter": p})
	case "GetParameters":
		out := map[string]any{"Parameters": []any{}, "InvalidParameters": []string{}}
		var ps []any
		var invalid []string
		for _, name := range in.Names {
			if p, ok := f.lookup(name); ok {
				ps = append(ps, p)
			} else {
				invalid = append(invalid, name)
			}
		}
		if ps != nil {
			out["Parameters"] = ps
		}
		if invalid != nil {
			out["InvalidParameters"] = invalid
		}
		json.NewEncoder(w).Encode(out)
	case "GetParametersByPath":
		prefix := strings.TrimSuffix(in.Path, "/") + "/"
		var names []string
		for name := range f.params {
			if strings.HasPrefix(name, prefix) && (in.Recursive || !strings.Contains(name[len(prefix):], "/")) {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		start, _ := strconv.Atoi(in.NextToken)
		max := in.MaxResults
		if max == 0 {
			max = 10
		}
		end := min(start+max, len(names))
		ps := []any{}
		for _, name := range names[start:end] {
			p, _ := f.lookup(name)
			ps = append(ps, p)
		}
		out := map[string]any{"Parameters": ps}
		if end < len(names) {
			out["NextToken"] = strconv.Itoa(end)
		}
		json.NewEncoder(w).Encode(out)
	default:
		writeErr(w, 400, "InvalidAction", op)
	}
}

// lookup must be called with mu held.
func (f *fakeSSM) lookup(name string) (map[string]any, bool) {
	if i := strings.Index(name, ":parameter/"); strings.HasPrefix(name, "arn:") && i > 0 {
		name = name[i+len(":parameter"):]
	}
	base, sel := name, ""
	if i := strings.LastIndexByte(name, ':'); i > 0 {
		base, sel = name[:i], name[i:]
	}
	p, ok := f.params[base]
	if !ok || (sel != "" && sel != ":"+strconv.FormatInt(p.Version, 10)) {
		return nil, false
	}
	out := map[string]any{"Name": base, "Type": p.Type, "Value": p.Value, "Version": p.Version,
		"ARN": "arn:aws:ssm:us-east-1:123456789012:parameter" + base, "DataType": "text",
		"LastModifiedDate": 1700000000}
	if sel != "" {
		out["Selector"] = sel
	}
	return out, true
}

func (f *fakeSSM) serveChanges(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls["Changes"]++
	if f.noStream {
		f.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKID/") {
		f.mu.Unlock()
		writeErr(w, 400, "MissingAuthenticationToken", "unsigned")
		return
	}
	f.mu.Unlock()
	q := r.URL.Query()
	path := strings.TrimSuffix(q.Get("path"), "/") + "/"
	since, _ := strconv.ParseUint(q.Get("since"), 10, 64)
	wait, _ := strconv.Atoi(q.Get("wait"))
	timer := time.NewTimer(time.Duration(wait) * time.Second)
	defer timer.Stop()
	for {
		f.mu.Lock()
		page := map[string]any{"Index": f.index, "Changes": []fakeChange{}, "Reset": false}
		if since == 0 {
			f.mu.Unlock()
			json.NewEncoder(w).Encode(page)
			return
		}
		if since < f.resetTo {
			page["Reset"] = true
			f.mu.Unlock()
			json.NewEncoder(w).Encode(page)
			return
		}
		var chs []fakeChange
		for _, c := range f.changes {
			if c.Index > since && strings.HasPrefix(c.Name, path) {
				chs = append(chs, c)
			}
		}
		notify := f.notify
		f.mu.Unlock()
		if len(chs) > 0 {
			page["Changes"] = chs
			json.NewEncoder(w).Encode(page)
			return
		}
		select {
		case <-notify:
		case <-timer.C:
			json.NewEncoder(w).Encode(page)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// clock is an injected clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects log output for assertions and copies it to t.Log.
type logBuffer struct {
	t   testing.TB
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testConfig returns a Config for endpoints with fast backoffs, static
// credentials, the clock clk, and logs to t.
func testConfig(t *testing.T, clk *clock, endpoints ...string) (client.Config, *logBuffer) {
	logs := &logBuffer{t: t}
	return client.Config{
		Endpoints:    endpoints,
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RefreshAhead: 1, // no background refresh unless a test asks for it
		// Wait for the upstream, however slow the shared machine: call
		// counts and freshness are exact. The budget's own tests set it.
		RefreshBudget:   -1,
		BaseBackoff:     time.Millisecond,
		MaxBackoff:      4 * time.Millisecond,
		BreakerFailures: 100,
		Timeout:         10 * time.Second,
		Logger:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:             clk.Now,
	}, logs
}

func newClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually waits for cond, failing the test after a generous deadline.
// It asserts that something happens, never how fast.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustGet(t *testing.T, c *client.Client, name string) client.Result {
	t.Helper()
	r, err := c.Get(t.Context(), name, true)
	if err != nil {
		t.Fatalf("Get(%s): %v", name, err)
	}
	return r
}
