package incident

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/webhook"
)

// receiver is a real HTTP webhook receiver that answers 503 while down
// and records the events it accepted, checking their signatures.
type receiver struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server

	mu     sync.Mutex
	down   bool
	failed int
	got    []webhook.Event
	notify chan struct{}
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: []byte(secret), notify: make(chan struct{}, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		defer func() { r.notify <- struct{}{} }()
		if r.down {
			r.failed++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if !webhook.Verify(r.secret, body, req.Header.Get("X-Paramstore-Signature")) {
			t.Errorf("receiver: bad signature")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("receiver: %v", err)
		}
		r.got = append(r.got, ev)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// await waits for a request that leaves cond true.
func (r *receiver) await(cond func() bool) {
	r.t.Helper()
	deadline := time.After(time.Minute)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.notify:
		case <-deadline:
			r.t.Fatal("receiver: timed out")
		}
	}
}

func queueFile(t *testing.T, path string) []webhook.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Notices []webhook.Event `json:"notices"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("queue file: %v", err)
	}
	return f.Notices
}

// TestNotifierQueueSurvivesRestart: notices the receiver did not accept
// before the agent stopped are sent by the next run, with the same event
// ids, and leave the file once accepted.
func TestNotifierQueueSurvivesRestart(t *testing.T) {
	rcv := newReceiver(t, "s3cret")
	rcv.setDown(true)
	path := filepath.Join(t.TempDir(), "incident-notices.json")
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	open := Incident{ID: "agent-1", Source: SourceAgent, Kind: KindUpstream, Started: start}
	closed := open
	closed.Ended = &end

	n1, err := NewNotifier(rcv.srv.URL, []byte("s3cret"), "us-east-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n1.Persist(path); err != nil {
		t.Fatal(err)
	}
	n1.Changed(open)
	n1.Changed(closed)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n1.Run(ctx); close(done) }()
	rcv.await(func() bool { return rcv.failed > 0 })
	cancel()
	<-done
	left := queueFile(t, path)
	if len(left) != 2 {
		t.Fatalf("after the first run the file holds %d notices, want 2", len(left))
	}
	if strings.Contains(string(mustRead(t, path)), "s3cret") {
		t.Fatal("the queue file holds the webhook secret")
	}

	rcv.setDown(false)
	n2, err := NewNotifier(rcv.srv.URL, []byte("s3cret"), "us-east-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.Persist(path); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go n2.Run(ctx2)
	rcv.await(func() bool { return len(rcv.got) >= 2 })
	rcv.mu.Lock()
	got := append([]webhook.Event(nil), rcv.got...)
	rcv.mu.Unlock()
	if got[0].ID != left[0].ID || got[1].ID != left[1].ID || got[0].ID != eventID("agent-1", StateOpen) || got[1].ID != eventID("agent-1", StateClosed) {
		t.Errorf("delivered %s, %s; want the open then the closed notice of the first run (%s, %s)", got[0].ID, got[1].ID, left[0].ID, left[1].ID)
	}
	// The file is emptied once the receiver accepted them.
	deadline := time.Now().Add(time.Minute)
	for len(queueFile(t, path)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the file still holds %d notices after delivery", len(queueFile(t, path)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNotifierQueueFileDamaged: a damaged, truncated or foreign queue file
// is an error naming the file, never a silent empty queue; a missing one
// is an empty queue.
func TestNotifierQueueFileDamaged(t *testing.T) {
	dir := t.TempDir()
	n, err := NewNotifier("http://127.0.0.1:1/", []byte("k"), "us-east-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.json")
	if err := n.Persist(good); err != nil {
		t.Fatalf("missing file: %v", err)
	}
	n.Changed(Incident{ID: "agent-2", Source: SourceAgent, Kind: KindUpstream, Started: time.Now()})
	whole := mustRead(t, good)
	for name, data := range map[string][]byte{
		"garbage":   []byte("\x00\x01 not json"),
		"truncated": whole[:len(whole)/2],
		"foreign":   []byte(`{"notices":[{"id":"x","detail-type":"Parameter Store Change","detail":{}}]}`),
		"unknown":   []byte(`{"notices":[],"other":1}`),
	} {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		n, _ := NewNotifier("http://127.0.0.1:1/", []byte("k"), "us-east-1", nil)
		err := n.Persist(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Persist = %v, want an error naming %s", name, err, path)
		}
	}
}

// FuzzNotifierQueueFile: whatever the file holds, Persist answers (an
// error or a queue of incident notices) and does not panic.
func FuzzNotifierQueueFile(f *testing.F) {
	f.Add([]byte(`{"notices":[]}`))
	f.Add([]byte(`{"notices":[{"version":"0","id":"a","detail-type":"Paramstore Incident","source":"paramstore","detail":{"id":"x"}}]}`))
	f.Add([]byte(`{"notices":null}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "q.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		n, err := NewNotifier("http://127.0.0.1:1/", []byte("k"), "us-east-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Persist(path); err != nil {
			return
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if len(n.queue) > maxQueue {
			t.Fatalf("queue of %d notices, bound %d", len(n.queue), maxQueue)
		}
		for _, ev := range n.queue {
			if ev.ID == "" || ev.DetailType != DetailType {
				t.Fatalf("accepted a notice that is not an incident's: %+v", ev)
			}
		}
	})
}
