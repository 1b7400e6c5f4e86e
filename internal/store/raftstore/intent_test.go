package raftstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

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
	// failFlush makes Flush fail, as a full disk does; failed counts the
	// failures.
	failFlush bool
	failed    int
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
	if f.failFlush {
		f.failed++
		return errors.New("no space left on the trail's disk")
	}
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
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// The state as a crash would leave it: committed before the puts.
	state := filepath.Join(dir, stateFile)
	before, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	n = openNode(t, cfg)
	var idx []uint64
	for i := range 3 {
		slot := &store.IntentSlot{Body: fmt.Appendf(nil, `{"requestID":"r%d"}`, i)}
		if err := n.Apply(store.WithIntent(context.Background(), slot), putCmd(fmt.Sprintf("/r%d", i), 1, 0)); err != nil {
			t.Fatal(err)
		}
		last, _ := n.logs.LastIndex()
		idx = append(idx, last)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, before, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "clean-shutdown.json")); err != nil {
		t.Fatal(err)
	}
	// The trail made the first intent durable before the crash.
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
		t.Fatalf("after the restart the trail got intents at %v, want %v (the first was held)", trail2.logged, idx[1:])
	}
}

// TestIntentOwedWhenTrailFails: while the trail cannot make intents
// durable, the state machine still commits, and records the intents it
// owes the trail in the state; the next start hands those the trail lacks
// to it, and a commit once they are durable forgets them.
func TestIntentOwedWhenTrailFails(t *testing.T) {
	dir := t.TempDir()
	trail := &fakeTrail{failFlush: true}
	cfg := testConfig(t, dir)
	cfg.Intents = trail
	n := openNode(t, cfg)
	slot := &store.IntentSlot{Body: []byte(`{"requestID":"owed"}`)}
	if err := n.Apply(store.WithIntent(context.Background(), slot), putCmd("/owed", 1, 0)); err != nil {
		t.Fatal(err)
	}
	idx, _ := n.logs.LastIndex()
	if err := n.DB().Commit(); err != nil {
		t.Fatalf("commit while the trail fails: %v", err)
	}
	if n.DB().CommittedIndex() < idx {
		t.Fatalf("committed index %d, want at least %d", n.DB().CommittedIndex(), idx)
	}
	owed, err := n.DB().OwedIntents()
	if err != nil || len(owed) != 1 || owed[0].Index != idx || string(owed[0].Body) != string(slot.Body) {
		t.Fatalf("owed intents %+v, %v; want the put's at %d", owed, err, idx)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	trail2 := &fakeTrail{}
	cfg.Intents = trail2
	n2 := openNode(t, cfg)
	defer n2.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		trail2.mu.Lock()
		got, flushed := slices.Clone(trail2.logged), trail2.flushed
		trail2.mu.Unlock()
		if flushed == 1 {
			if !slices.Equal(got, []uint64{idx}) {
				t.Fatalf("the restarted node handed the trail %v, want the owed intent at %d", got, idx)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the owed intent did not reach the trail: %v", got)
		}
	}
	// The resume sets its flag after the flush: wait for a commit that
	// forgets the owed intents.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := n2.Apply(context.Background(), putCmd(fmt.Sprintf("/after-%d", time.Now().UnixNano()), 1, 0)); err != nil {
			t.Fatal(err)
		}
		if err := n2.DB().Commit(); err != nil {
			t.Fatal(err)
		}
		if owed, err := n2.DB().OwedIntents(); err == nil && len(owed) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the owed intents stayed in the state after the trail made them durable")
		}
	}
}
