package raftstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// durableRecorder is an IntentSlot.Durable that records the bodies it made
// durable, or fails with err.
type durableRecorder struct {
	mu     sync.Mutex
	bodies []string
	err    error
	body   string
}

func (d *durableRecorder) LogIntentDurable() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return false, d.err
	}
	d.bodies = append(d.bodies, d.body)
	return true, nil
}

func (d *durableRecorder) logged() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.bodies)
}

// intentCluster starts a cluster whose members carry intents to a
// fakeTrail each.
func intentCluster(t *testing.T, size int) (*cluster, map[string]*fakeTrail) {
	trails := map[string]*fakeTrail{}
	c := makeClusterWith(t, size, func(cfg *Config) {
		tr := &fakeTrail{}
		trails[cfg.NodeID] = tr
		cfg.Intents = tr
	})
	return c, trails
}

// intentSlot is the slot of one call with a recorder for its own path.
func intentSlot(body string) (*store.IntentSlot, *durableRecorder) {
	rec := &durableRecorder{body: body}
	return &store.IntentSlot{Body: []byte(body), Durable: rec}, rec
}

func (f *fakeTrail) loggedIndexes() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.logged)
}

// entryAt decodes the command at index of m's log.
func entryAt(t *testing.T, m *member, index uint64) *store.Command {
	t.Helper()
	var l raft.Log
	if err := m.n.logs.GetLog(index, &l); err != nil {
		t.Fatalf("%s: entry %d: %v", m.id, index, err)
	}
	cmd, err := store.UnmarshalCommand(l.Data)
	if err != nil {
		t.Fatalf("%s: entry %d: %v", m.id, index, err)
	}
	return cmd
}

// TestClusterIntentPaths: in a cluster, a put the leader takes carries its
// intent in the log entry, from the leader, whose trail alone appends it;
// a put a follower takes is forwarded without it, after the follower's own
// path made it durable; a follower whose call has no such path, or whose
// path fails, proposes nothing.
func TestClusterIntentPaths(t *testing.T) {
	t.Parallel()
	c, trails := intentCluster(t, 3)
	l := c.leader()
	f := c.others(l)[0]
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()

	slot, rec := intentSlot(`{"requestID":"on-leader"}`)
	if err := l.n.Apply(store.WithIntent(ctx, slot), putCmd("/on-leader", 1, 0)); err != nil {
		t.Fatal(err)
	}
	idx := l.n.DB().LastApplied()
	if cmd := entryAt(t, l, idx); string(cmd.Intent) != `{"requestID":"on-leader"}` || cmd.Origin != l.id {
		t.Fatalf("the leader's entry carries %q from %q", cmd.Intent, cmd.Origin)
	}
	if !slot.Used() || len(rec.logged()) != 0 {
		t.Fatalf("leader: slot used %v, own path called %d times (want used, 0)", slot.Used(), len(rec.logged()))
	}

	slot, rec = intentSlot(`{"requestID":"on-follower"}`)
	if err := f.n.Apply(store.WithIntent(ctx, slot), putCmd("/on-follower", 1, 0)); err != nil {
		t.Fatal(err)
	}
	fidx := f.n.DB().LastApplied()
	if cmd := entryAt(t, l, fidx); cmd.Name != "/on-follower" || cmd.Intent != nil || cmd.Origin != "" {
		t.Fatalf("the forwarded entry %d is %s carrying %q from %q, want /on-follower without an intent", fidx, cmd.Name, cmd.Intent, cmd.Origin)
	}
	if got := rec.logged(); len(got) != 1 || !slot.Used() {
		t.Fatalf("follower: own path called %d times, slot used %v; want once, used", len(got), slot.Used())
	}

	// No way to the trail, or a failing one: nothing is proposed.
	last, _ := l.n.logs.LastIndex()
	bare := &store.IntentSlot{Body: []byte(`{"requestID":"bare"}`)}
	if err := f.n.Apply(store.WithIntent(ctx, bare), putCmd("/bare", 1, 0)); !errors.Is(err, store.ErrNoIntentLogger) {
		t.Fatalf("follower without an own path: %v, want ErrNoIntentLogger", err)
	}
	slot, rec = intentSlot(`{"requestID":"failing"}`)
	rec.err = errors.New("no space left on the trail's disk")
	if err := f.n.Apply(store.WithIntent(ctx, slot), putCmd("/failing", 1, 0)); err == nil || !errors.Is(err, rec.err) {
		t.Fatalf("follower with a failing trail: %v, want its error", err)
	}
	if slot.Used() {
		t.Fatal("a refused intent counts as used")
	}
	c.sync()
	if now, _ := l.n.logs.LastIndex(); now != last+1 { // the sync write
		t.Fatalf("the leader's log went from %d to %d: a refused call proposed something", last, now)
	}

	for id, tr := range trails {
		got := tr.loggedIndexes()
		want := []uint64(nil)
		if id == l.id {
			want = []uint64{idx}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s's trail got intents at %v, want %v", id, got, want)
		}
	}
	for _, m := range c.members {
		if localParam(t, m, "/bare") != nil || localParam(t, m, "/failing") != nil {
			t.Errorf("%s holds a write refused for its intent", m.id)
		}
	}
}

// TestClusterIntentRestoredFromOwnLog: a leader cut off from its cluster
// still appends the puts it takes to its own log, and never applies them
// (they never commit). The others elect a leader, write on, and truncate
// their logs past the entries it missed, so it catches up from a snapshot,
// which skips its own entries. Before the snapshot replaces its state, it
// appends their intents to its trail (request records of calls that
// failed); while its trail cannot make them durable, it refuses the
// snapshot and stays behind.
func TestClusterIntentRestoredFromOwnLog(t *testing.T) {
	t.Parallel()
	c, trails := intentCluster(t, 3)
	old := c.leader()
	apply(t, old, putCmd("/before", 1, 0))
	c.sync()

	c.partition(old)
	first, _ := old.n.logs.LastIndex()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slot, _ := intentSlot(fmt.Sprintf(`{"requestID":"cut-%d"}`, i))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := old.n.Apply(store.WithIntent(ctx, slot), putCmd(fmt.Sprintf("/cut/%d", i), 1, 0)); err == nil {
				t.Errorf("the cut-off leader acknowledged /cut/%d", i)
			}
		}()
	}
	wg.Wait()
	last, _ := old.n.logs.LastIndex()
	var own []uint64
	for i := first + 1; i <= last; i++ {
		if cmd := entryAt(t, old, i); cmd.Origin == old.id && cmd.Intent != nil {
			own = append(own, i)
		}
	}
	if len(own) == 0 {
		t.Fatal("the cut-off leader stepped down before it appended a put: nothing to restore")
	}
	if applied := old.n.DB().LastApplied(); applied >= own[0] {
		t.Fatalf("the cut-off leader applied up to %d, past its uncommitted entry %d", applied, own[0])
	}

	l := c.leader(c.others(old)...)
	for i := range 10 {
		apply(t, l, putCmd(fmt.Sprintf("/after/%d", i), 1, 0))
	}
	for _, m := range c.others(old) {
		if err := m.n.Snapshot(); err != nil {
			t.Fatalf("%s: snapshot: %v", m.id, err)
		}
	}
	trail := trails[old.id]
	trail.mu.Lock()
	trail.failFlush = true
	trail.mu.Unlock()
	c.fullyConnect()
	// Refused while the trail fails: the old leader stays behind. (A
	// restore hands the intents over, then fails to flush them.)
	if !poll(func() bool {
		trail.mu.Lock()
		defer trail.mu.Unlock()
		return slices.Contains(trail.logged, own[len(own)-1]) && trail.failed > 0
	}) {
		t.Fatalf("no restore handed the old leader's own intents to its trail (trail: %v)", trail.loggedIndexes())
	}
	if localParam(t, old, "/after/9") != nil {
		t.Fatal("the old leader restored a snapshot skipping its own intents while its trail could not make them durable")
	}
	trail.mu.Lock()
	trail.failFlush = false
	trail.mu.Unlock()
	c.sync()
	if localParam(t, old, "/after/9") == nil {
		t.Fatal("the old leader did not catch up once its trail wrote again")
	}
	got := trail.loggedIndexes()
	for _, i := range own {
		if !slices.Contains(got, i) {
			t.Errorf("the old leader's trail lacks the intent of its own entry %d (trail: %v)", i, got)
		}
	}
	if n := len(got); n != len(slices.Compact(slices.Sorted(slices.Values(got)))) {
		t.Errorf("the trail got an intent twice: %v", got)
	}
	trail.mu.Lock()
	flushed := trail.flushed
	trail.mu.Unlock()
	if flushed != len(got) {
		t.Errorf("%d of the %d intents handed to the trail are durable", flushed, len(got))
	}
	for _, m := range c.members {
		for i := range 3 {
			if localParam(t, m, fmt.Sprintf("/cut/%d", i)) != nil {
				t.Errorf("%s holds /cut/%d, which never committed", m.id, i)
			}
		}
	}
	c.ensureSame()
}
