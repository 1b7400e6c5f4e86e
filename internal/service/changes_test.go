package service_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

func TestChanges(t *testing.T) {
	f := newFixture(t)
	f.putString("/init", "v")
	start, err := f.svc.Changes(f.ctx, f.c, "/", true, 0)
	wantOK(t, err)
	if len(start.Changes) != 0 || start.Reset || start.Index == 0 {
		t.Fatalf("since 0: got %+v, want the index only", start)
	}
	f.putString("/app/a", "v")
	f.putString("/app/sub/b", "v")
	f.putString("root", "v")
	f.overwrite("/app/a", "w")
	f.label("/app/a", 1, "old")
	_, err = f.svc.DeleteParameter(f.ctx, f.c, &ssm.NameInput{Name: ptr("/root")})
	wantOK(t, err)
	f.as(callerIn("eu-west-1")).putString("/app/eu", "v")

	type change struct {
		Name    string
		Version int64
		Deleted bool
	}
	tests := []struct {
		path      string
		recursive bool
		want      []change
	}{
		{"/", true, []change{{"/app/a", 1, false}, {"/app/sub/b", 1, false}, {"root", 1, false}, {"/app/a", 2, false}, {"/app/a", 2, false}, {"root", 0, true}}},
		{"/", false, []change{{"root", 1, false}, {"root", 0, true}}},
		{"/app", false, []change{{"/app/a", 1, false}, {"/app/a", 2, false}, {"/app/a", 2, false}}},
		{"/app/", true, []change{{"/app/a", 1, false}, {"/app/sub/b", 1, false}, {"/app/a", 2, false}, {"/app/a", 2, false}}},
		{"/other", true, []change{}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			out, err := f.svc.Changes(f.ctx, f.c, tt.path, tt.recursive, start.Index)
			wantOK(t, err)
			got := []change{}
			last := start.Index
			for _, ch := range out.Changes {
				got = append(got, change{ch.Name, ch.Version, ch.Deleted})
				if ch.Index <= last {
					t.Errorf("got index %d after %d, want increasing indexes", ch.Index, last)
				}
				last = ch.Index
			}
			if diff := mismatch(tt.want, got); diff != "" {
				t.Errorf("changes: %s", diff)
			}
			if out.Index <= start.Index || out.Reset {
				t.Errorf("got index %d reset %v, want past %d", out.Index, out.Reset, start.Index)
			}
		})
	}
	t.Run("bad path", func(t *testing.T) {
		_, err := f.svc.Changes(f.ctx, f.c, "app", true, start.Index)
		wantErr(t, err, ssm.CodeValidation, msgPathRequired)
	})
	t.Run("authorized as GetParametersByPath", func(t *testing.T) {
		authz := &recordingAuthz{deny: map[string]bool{"ssm:GetParametersByPath": true}}
		_, err := f.svc.Changes(f.ctx, service.Caller{Tenancy: f.c.Tenancy, Authz: authz}, "/app/", true, start.Index)
		wantErr(t, err, ssm.CodeAccessDenied, "denied ssm:GetParametersByPath")
		if diff := mismatch([]string{"ssm:GetParametersByPath " + arnPrefix + "app"}, authz.calls); diff != "" {
			t.Errorf("authorization calls: %s", diff)
		}
	})
}

// stepNotifier is a ChangeNotifier the test fires by hand; calls receives
// a value each time the hub asks for a channel, which it does before each
// dispatch.
type stepNotifier struct {
	mu    sync.Mutex
	ch    chan struct{}
	calls chan struct{}
}

func (n *stepNotifier) Changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	select {
	case n.calls <- struct{}{}:
	default:
	}
	return n.ch
}

func (n *stepNotifier) fire() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// TestHubIdleDoesNotCommit: with nobody watching, a change wakes the hub
// without making the state machine commit what is applied: the deferred
// commit (store.Options.BatchLimit) stays deferred. (Before, each commit
// woke the hub into a second one.)
func TestHubIdleDoesNotCommit(t *testing.T) {
	db, err := store.OpenOptions(filepath.Join(t.TempDir(), "state.db"), store.Options{BatchLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kr, err := crypto.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	n := &stepNotifier{calls: make(chan struct{}, 1)}
	svc, err := service.New(service.Config{Store: &dbStore{db: db}, Keyring: kr, Limits: service.DefaultLimits(),
		Now: func() time.Time { return testNow }, Notifier: n})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := service.NewHub(svc, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	<-n.calls // the hub waits for the first change
	c := callerIn(testRegion)
	if _, err := svc.PutParameter(context.Background(), c, &ssm.PutParameterInput{Name: ptr("/a"), Value: ptr("v"), Type: ptr(ssm.TypeString)}); err != nil {
		t.Fatal(err)
	}
	if !db.Pending() {
		t.Fatal("the put was committed at once: the test needs it deferred")
	}
	commits := db.Commits()
	n.fire()
	<-n.calls // the hub dispatches the change
	n.fire()
	<-n.calls // ... and has dispatched it
	if got := db.Commits(); got != commits || !db.Pending() {
		t.Fatalf("an idle hub's wake-up committed the state machine (commits %d -> %d, pending %v)", commits, got, db.Pending())
	}
}
