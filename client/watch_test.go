package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/servertest"
)

// next returns the next change, failing the test if the channel closes or
// nothing comes before a generous deadline.
func next(t *testing.T, ch <-chan client.Change) client.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed")
		}
		return c
	case <-time.After(20 * time.Second):
		t.Fatalf("no change arrived")
	}
	return client.Change{}
}

func TestWatchFollowsStream(t *testing.T) {
	f := newFake(t)
	f.put("/app/x", "1", "String")
	f.put("/other/y", "1", "String")
	cfg, _ := testConfig(t, newClock(), f.URL())
	c := newClient(t, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	mustGet(t, c, "/app/x")
	ch, err := c.Watch(ctx, "/app")
	if err != nil {
		t.Fatal(err)
	}
	// The follower has read the current index once it long-polls from it.
	eventually(t, "the follower to start", func() bool { return f.count("Changes") >= 2 })

	f.put("/other/y", "2", "String") // not under /app: not reported
	f.put("/app/x", "2", "String")
	if got := next(t, ch); got != (client.Change{Name: "/app/x", Version: 2}) {
		t.Fatalf("got %+v, want /app/x version 2", got)
	}
	// The change expired the cached value before it was reported.
	if r := mustGet(t, c, "/app/x"); r.Value != "2" {
		t.Fatalf("Get after the change: got %q, want 2", r.Value)
	}

	f.del("/app/x")
	if got := next(t, ch); got.Name != "/app/x" || !got.Deleted {
		t.Fatalf("got %+v, want /app/x deleted", got)
	}
	var nf *types.ParameterNotFound
	if _, err := c.Get(t.Context(), "/app/x", true); !errors.As(err, &nf) {
		t.Fatalf("Get after delete: got %v, want ParameterNotFound", err)
	}

	f.put("/app/z", "1", "String")
	mustGet(t, c, "/app/z")
	if got := next(t, ch); got.Name != "/app/z" {
		t.Fatalf("got %+v, want /app/z", got)
	}
	f.mu.Lock()
	f.params["/app/z"] = fakeParam{Value: "silently changed", Type: "String", Version: 9}
	f.mu.Unlock()
	f.resetStream()
	if got := next(t, ch); got != (client.Change{Name: "/app", Reset: true}) {
		t.Fatalf("got %+v, want a Reset of /app", got)
	}
	if r := mustGet(t, c, "/app/z"); r.Value != "silently changed" {
		t.Fatalf("Get after Reset: got %q, want the new value", r.Value)
	}

	cancel()
	for range ch { // closed when ctx is done
	}
}

func TestWatchPollsWithoutStream(t *testing.T) {
	f := newFake(t)
	f.noStream = true
	f.put("/app/a", "1", "String")
	f.put("/app/b", "1", "String")
	cfg, _ := testConfig(t, newClock(), f.URL())
	cfg.PathTTL = map[string]time.Duration{"/app": time.Millisecond} // poll as often as allowed
	c := newClient(t, cfg)
	mustGet(t, c, "/app/a")
	ch, err := c.Watch(t.Context(), "/app")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first poll", func() bool { return f.count("GetParametersByPath") >= 1 })
	f.put("/app/a", "2", "String")
	f.del("/app/b")
	got := []client.Change{next(t, ch), next(t, ch)}
	want := []client.Change{{Name: "/app/a", Version: 2}, {Name: "/app/b", Version: 1, Deleted: true}}
	if got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if r := mustGet(t, c, "/app/a"); r.Value != "2" {
		t.Fatalf("Get after the change: got %q, want 2", r.Value)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for range ch { // closed by Close
	}
}

func TestAgainstServer(t *testing.T) {
	_, ep := servertest.Start(t)
	sdk := servertest.Client(t, ep, "us-east-1")
	ctx := t.Context()
	put := func(name, value string) {
		t.Helper()
		if _, err := sdk.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value),
			Type: types.ParameterTypeSecureString, Overwrite: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	put("/app/db/password", "hunter2")

	cfg, _ := testConfig(t, newClock(), ep)
	c := newClient(t, cfg)
	r := mustGet(t, c, "/app/db/password")
	if r.Value != "hunter2" || r.Type != "SecureString" || r.Version != 1 || r.ARN == "" {
		t.Fatalf("Get: got %+v", r.Parameter)
	}
	if r := mustGet(t, c, "/app/db/password:1"); r.Value != "hunter2" || r.Selector != ":1" {
		t.Fatalf("Get with selector: got %+v", r.Parameter)
	}
	var nf *types.ParameterNotFound
	if _, err := c.Get(ctx, "/app/missing", true); !errors.As(err, &nf) {
		t.Fatalf("Get missing: got %v (%T), want *types.ParameterNotFound", err, err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := c.Watch(wctx, "/app")
	if err != nil {
		t.Fatal(err)
	}
	// Changes are reported from the index at which Watch started; keep
	// writing until the follower is past its first call.
	put("/app/db/password", "correct horse")
	got := next(t, ch)
	for got.Version < 2 {
		got = next(t, ch)
	}
	if got.Name != "/app/db/password" || got.Deleted {
		t.Fatalf("got %+v, want /app/db/password changed", got)
	}
	if r := mustGet(t, c, "/app/db/password"); r.Value != "correct horse" {
		t.Fatalf("Get after the change: got %q, want the new value", r.Value)
	}
	rs, err := c.GetByPath(ctx, "/app", true, true)
	if err != nil || len(rs) != 1 || rs[0].Value != "correct horse" {
		t.Fatalf("GetByPath: got %+v, %v", rs, err)
	}
}

// TestWatchFromReturn: a change made right after Watch returns is
// reported (Watch reads the stream's position before it returns).
func TestWatchFromReturn(t *testing.T) {
	f := newFake(t)
	f.put("/ret/a", "1", "String")
	cfg, _ := testConfig(t, newClock(), f.URL())
	c := newClient(t, cfg)
	ch, err := c.Watch(t.Context(), "/ret")
	if err != nil {
		t.Fatal(err)
	}
	f.put("/ret/a", "2", "String")
	if got := next(t, ch); got != (client.Change{Name: "/ret/a", Version: 2}) {
		t.Fatalf("got %+v, want /ret/a version 2", got)
	}
}

// TestWatchSilentEndpoint: an endpoint that takes the change stream's
// request and never answers is given up after Timeout (the request's idle
// watchdog), and the watch moves on to the next endpoint and reports its
// changes. The other endpoint refuses the stream until the silent one has
// been asked, so the watch meets the silent one wherever it starts.
func TestWatchSilentEndpoint(t *testing.T) {
	var silentCalls atomic.Int64
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		silentCalls.Add(1)
		<-r.Context().Done()
	}))
	t.Cleanup(silent.Close)
	f := newFake(t)
	f.put("/app/x", "1", "String")
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_paramstore/changes" && silentCalls.Load() == 0 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(good.Close)
	cfg, _ := testConfig(t, newClock(), silent.URL, good.URL)
	cfg.Timeout = 200 * time.Millisecond
	c := newClient(t, cfg)
	ch, err := c.Watch(t.Context(), "/app")
	if err != nil {
		t.Fatal(err)
	}
	// The watch follows the good endpoint once it has asked it from an index.
	eventually(t, "the watch to follow the good endpoint", func() bool { return f.count("Changes") >= 2 })
	f.put("/app/x", "2", "String")
	if got := next(t, ch); got != (client.Change{Name: "/app/x", Version: 2}) {
		t.Fatalf("got %+v, want /app/x version 2", got)
	}
	if silentCalls.Load() == 0 {
		t.Fatal("the silent endpoint was never asked")
	}
}
