package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// TestIntentHooks: a command's intent reaches OnIntent with its index as
// it is applied, before the commit that holds it; every commit runs
// BeforeCommit first, and one it fails does not happen (the entries stay
// pending and a later commit holds them).
func TestIntentHooks(t *testing.T) {
	var got []uint64
	var sawBeforeCommit []uint64 // the intents seen when each BeforeCommit ran
	failCommit := false
	opts := Options{BatchLimit: 1000,
		OnIntent: func(index uint64, origin string, intent []byte) {
			if origin != "n1" || string(intent) != fmt.Sprintf(`{"i":%d}`, index) {
				t.Errorf("OnIntent(%d, %q, %q)", index, origin, intent)
			}
			got = append(got, index)
		},
	}
	path := filepath.Join(t.TempDir(), "state.db")
	var d *DB
	opts.BeforeCommit = func() error {
		sawBeforeCommit = append(sawBeforeCommit, uint64(len(got)))
		if failCommit {
			return ErrIntentTrail
		}
		return nil
	}
	d, err := OpenOptions(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	db := &testDB{t: t, d: d}
	for i := range 3 {
		c := putCmd(fmt.Sprintf("/p%d", i), 1, "Standard", 0)
		if i != 1 {
			c.Intent, c.Origin = fmt.Appendf(nil, `{"i":%d}`, i+1), "n1"
		}
		db.mustApply(c)
	}
	if !slices.Equal(got, []uint64{1, 3}) {
		t.Fatalf("OnIntent indexes: got %v, want [1 3]", got)
	}
	if d.Commits() != 0 {
		t.Fatalf("%d commits before Commit", d.Commits())
	}
	failCommit = true
	if err := d.Commit(); !errors.Is(err, ErrIntentTrail) {
		t.Fatalf("Commit with BeforeCommit failing: got %v, want ErrIntentTrail", err)
	}
	if d.CommittedIndex() != 0 || !d.Pending() {
		t.Fatalf("after a refused commit: committed index %d, pending %v", d.CommittedIndex(), d.Pending())
	}
	if p := pointParam(t, d, "/p2"); p == nil {
		t.Fatal("an applied put is not read after a refused commit")
	}
	failCommit = false
	// A batch that is not deferrable commits at once: BeforeCommit first.
	db.mustApply(&Command{Op: OpCreateKey, Tenancy: testTenancy, Key: &Key{ID: "k1"}})
	if d.CommittedIndex() != 4 {
		t.Fatalf("committed index %d, want 4", d.CommittedIndex())
	}
	if !slices.Equal(got, []uint64{1, 3}) {
		t.Fatalf("the commit after a refused one applied the entries again through OnIntent: %v", got)
	}
	for i, n := range sawBeforeCommit {
		if n != 2 {
			t.Fatalf("BeforeCommit %d ran with %d intents handed over, want 2", i, n)
		}
	}
	if len(sawBeforeCommit) < 2 {
		t.Fatalf("BeforeCommit ran %d times, want at least 2", len(sawBeforeCommit))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = OpenOptions(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, name := range []string{"/p0", "/p1", "/p2"} {
		if p := (&testDB{t: t, d: d}).param(name); p == nil {
			t.Fatalf("%s missing after reopen", name)
		}
	}
}

// TestIntentOfDuplicateOnce: a command applied again under its ID (a copy
// re-proposed after an unknown outcome) does not announce its intent again.
func TestIntentOfDuplicateOnce(t *testing.T) {
	var got []uint64
	d, err := OpenOptions(filepath.Join(t.TempDir(), "state.db"), Options{BatchLimit: 1000,
		OnIntent: func(index uint64, _ string, _ []byte) { got = append(got, index) }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	db := &testDB{t: t, d: d}
	c := putCmd("/dup", 1, "Standard", 0)
	c.ID, c.Intent, c.Origin = NewCommandID(testNowTime), []byte(`{}`), "n1"
	db.mustApply(c)
	db.mustApply(c)
	if !slices.Equal(got, []uint64{1}) {
		t.Fatalf("OnIntent indexes: got %v, want [1]", got)
	}
}
