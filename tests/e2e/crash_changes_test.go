package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/paramstore/paramstore/internal/testproc"
)

// seenChange is one change of the change stream, as a watcher saw it.
type seenChange struct {
	Name    string
	Version int64
	Deleted bool
	Index   uint64
}

type changesPage struct {
	Index   uint64
	Changes []seenChange
	Reset   bool
}

// changesCall reads one page of the change stream of path after since,
// waiting up to wait.
func changesCall(ctx context.Context, srv *testproc.Server, path string, since uint64, wait time.Duration) (*changesPage, error) {
	q := url.Values{"path": {path}, "since": {fmt.Sprint(since)}, "wait": {fmt.Sprint(wait.Seconds())}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL()+"/_paramstore/changes?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	cr := srv.Credentials()
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: cr.ID, SecretAccessKey: cr.Secret}, req, hex.EncodeToString(empty[:]), "ssm", "us-east-1", time.Now()); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("changes: HTTP %d", resp.StatusCode)
	}
	var p changesPage
	return &p, json.NewDecoder(resp.Body).Decode(&p)
}

// changeWatcher long-polls the change stream of a path, as an agent does,
// and keeps every change it saw, until the server dies under it.
type changeWatcher struct {
	done  chan struct{}
	mu    sync.Mutex
	from  uint64 // the index of its first poll
	seen  []seenChange
	fault error // a repeated or out-of-order change, a Reset
}

func startChangeWatcher(t *testing.T, srv *testproc.Server, path string) *changeWatcher {
	t.Helper()
	first, err := changesCall(context.Background(), srv, path, 0, 0)
	if err != nil {
		t.Fatalf("change stream: %v", err)
	}
	w := &changeWatcher{done: make(chan struct{}), from: first.Index}
	go func() {
		defer close(w.done)
		since := first.Index
		for {
			p, err := changesCall(context.Background(), srv, path, since, 5*time.Second)
			if err != nil {
				return // the kill
			}
			w.mu.Lock()
			if p.Reset {
				w.fault = fmt.Errorf("a Reset after index %d", since)
			}
			for _, ch := range p.Changes {
				if ch.Index <= since && w.fault == nil {
					w.fault = fmt.Errorf("change %+v repeated or out of order (after index %d)", ch, since)
				}
				since = max(since, ch.Index)
				w.seen = append(w.seen, ch)
			}
			since = max(since, p.Index)
			w.mu.Unlock()
		}
	}()
	return w
}

// check waits for the watcher to end (the server it followed was killed),
// then reads the change stream of the restarted server from where the
// watcher began: every change the watcher saw (some only applied, not
// committed, when the server died) must be there, the same change at the
// same index. It returns how many changes the watcher saw.
func (w *changeWatcher) check(t *testing.T, round int, srv *testproc.Server, path string) int {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("round %d: the change watcher did not end after the kill", round)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fault != nil {
		t.Fatalf("round %d: change watcher: %v", round, w.fault)
	}
	after := map[uint64]seenChange{}
	for since := w.from; ; {
		p, err := changesCall(context.Background(), srv, path, since, 0)
		if err != nil {
			t.Fatalf("round %d: change stream after the restart: %v", round, err)
		}
		if p.Reset {
			t.Fatalf("round %d: change stream after the restart: Reset from index %d", round, since)
		}
		for _, ch := range p.Changes {
			after[ch.Index] = ch
		}
		if p.Index <= since {
			break
		}
		since = p.Index
	}
	for _, ch := range w.seen {
		if got, ok := after[ch.Index]; !ok || got != ch {
			t.Fatalf("round %d: the watcher saw %+v before the kill; after the restart index %d holds %+v (present: %v)", round, ch, ch.Index, got, ok)
		}
	}
	return len(w.seen)
}
