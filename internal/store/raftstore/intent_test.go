package raftstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// fakeTrail is an IntentLog in memory: what was logged, what was flushed,
// and the indexes a restart finds.
type fakeTrail struct {
	mu      sync.Mutex
	logged  []uint64
	bodies  [][]byte
	flushed int // len(logged) at the last Flush
	held    map[uint64]bool
}

func (f *fakeTrail) LogIntent(body []byte, index uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logged = append(f.logged, index)
	f.bodies = append(f.bodies, body)
	return nil
}

func (f *fakeTrail) Flush(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushed = len(f.logged)
	return nil
}

func (f *fakeTrail) IntentIndexes(after uint64) (map[uint64]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[uint64]bool{}
	for i := range f.held {
		if i > after {
			out[i] = true
		}
	}
	return out, nil
}

// TestIntentInLog: a put applied with an intent slot carries the intent in
// its log entry; applying it hands the intent to the trail with the
// entry's index, once; the state machine's commit makes it durable first;
// the slot says it was used, and a later command of the same call does not
// carry it again.
func TestIntentInLog(t *testing.T) {
	trail := &fakeTrail{}
	cfg := testConfig(t, t.TempDir())
	cfg.Intents = trail
	n := openNode(t, cfg)
	defer n.Close()
	if !n.CarriesIntents() {
		t.Fatal("a node without Bind and with Intents does not carry them")
	}
	slot := &store.IntentSlot{Body: []byte(`{"eventName":"PutParameter","requestID":"r1"}`)}
	ctx := store.WithIntent(context.Background(), slot)
	if err := n.Apply(ctx, putCmd("/i", 1, 0)); err != nil {
		t.Fatal(err)
	}
	if !slot.Used() {
		t.Fatal("the slot was not used")
	}
	last, err := n.logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	if err := n.logs.GetLog(last, &l); err != nil {
		t.Fatal(err)
	}
	cmd, err := store.UnmarshalCommand(l.Data)
	if err != nil {
		t.Fatal(err)
	}
	if string(cmd.Intent) != string(slot.Body) || cmd.Origin != cfg.NodeID {
		t.Fatalf("the log entry carries intent %q from %q", cmd.Intent, cmd.Origin)
	}
	// A second command of the call (a retry after the first was applied)
	// carries none.
	if err := n.Apply(ctx, putCmd("/i", 2, 0)); err == nil || !store.IsResult(err) {
		t.Logf("second put: %v", err)
	}
	if err := n.DB().Commit(); err != nil {
		t.Fatal(err)
	}
	trail.mu.Lock()
	logged, flushed, body := slices.Clone(trail.logged), trail.flushed, string(trail.bodies[0])
	trail.mu.Unlock()
	if !slices.Equal(logged, []uint64{last}) || body != string(slot.Body) {
		t.Fatalf("intents logged at %v (%q), want once at %d", logged, body, last)
	}
	if flushed != 1 {
		t.Fatalf("the commit flushed %d intents, want 1", flushed)
	}
}

// TestIntentNotAppendedTwice: at a restart, the entries the state machine
// applies again (it had not committed them) hand their intents to the
// trail unless it already holds them.
func TestIntentNotAppendedTwice(t *testing.T) {
	dir := t.TempDir()
	trail := &fakeTrail{}
	cfg := testConfig(t, dir)
	cfg.Intents = trail
	n := openNode(t, cfg)
	committed := n.DB().CommittedIndex()
	var idx []uint64
	for i := range 3 {
		slot := &store.IntentSlot{Body: fmt.Appendf(nil, `{"requestID":"r%d"}`, i)}
		if err := n.Apply(store.WithIntent(context.Background(), slot), putCmd(fmt.Sprintf("/r%d", i), 1, 0)); err != nil {
			t.Fatal(err)
		}
		last, _ := n.logs.LastIndex()
		idx = append(idx, last)
	}
	// As after a crash before the state machine's commit: the entries
	// apply again at the next start (the applied index is reset, as if
	// the state had not committed them), and the trail made the first
	// intent durable before the crash.
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(n.cfg.Dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ResetAppliedIndex(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Remove(filepath.Join(n.cfg.Dir, "clean-shutdown.json")); err != nil {
		t.Fatal(err)
	}
	trail2 := &fakeTrail{held: map[uint64]bool{idx[0]: true}}
	cfg.Intents = trail2
	n2 := openNode(t, cfg)
	defer n2.Close()
	if err := n2.waitApplied(context.Background(), idx[2]); err != nil {
		t.Fatal(err)
	}
	trail2.mu.Lock()
	defer trail2.mu.Unlock()
	if !slices.Equal(trail2.logged, idx[1:]) {
		t.Fatalf("after the restart the trail got intents at %v, want %v (the first was held; committed index was %d)", trail2.logged, idx[1:], committed)
	}
}
