package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// changesOf reads the change log after since with the given context (a
// buffered read with WithPointReads), and the applied index and change
// floor the same read saw.
func changesOf(t *testing.T, d *DB, ctx context.Context, since uint64) (applied, floor uint64, out []Change) {
	t.Helper()
	err := d.View(ctx, func(r *Reader) error {
		applied, floor, out = r.AppliedIndex(), r.ChangeFloor(), nil
		return r.Changes(since, func(ch *Change) (bool, error) {
			out = append(out, *ch)
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return applied, floor, out
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestBufferedChanges: the change log is readable as applied, before the
// commit, by a buffered read that does not commit; Changed fires at the
// apply, Committed only at the commit; and what the buffered reads saw is
// exactly what the committed log holds afterwards, from any index on
// (across a batch that commits at once, a failed command, and a commit
// in the middle).
func TestBufferedChanges(t *testing.T) {
	d := openDeferred(t, filepath.Join(t.TempDir(), "state.db"))
	defer d.Close()
	db := &testDB{t: t, d: d}
	point := WithPointReads(context.Background())
	step := func(c *Command, wantErr bool) {
		t.Helper()
		changed, committed := d.Changed(), d.Committed()
		if err := db.apply(c); (err != nil) != wantErr {
			t.Fatalf("apply %s %s: %v", c.Op, c.Name, err)
		}
		commits := d.Commits()
		if !isClosed(changed) {
			t.Fatalf("Changed not fired by the apply of entry %d", db.index)
		}
		applied, _, _ := changesOf(t, d, point, 0)
		if applied != db.index {
			t.Fatalf("buffered read after entry %d: applied index %d", db.index, applied)
		}
		if d.Commits() != commits {
			t.Fatalf("a buffered read of the change log committed")
		}
		if d.Pending() && isClosed(committed) {
			t.Fatalf("Committed fired without a commit (entry %d)", db.index)
		}
	}
	step(putCmd("/a", 1, "Standard", 0), false)
	step(putCmd("/b", 1, "Standard", 0), false)
	step(putCmd("/a", 2, "Standard", 1), false)
	step(putCmd("/a", 3, "Standard", 1), true) // a conflict: no change
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	step(putCmd("/c", 1, "Standard", 0), false)
	step(&Command{Op: OpSetting, Tenancy: testTenancy, SettingID: "/ssm/parameter-store/default-parameter-tier", Setting: &Setting{Value: "Advanced"}}, false) // not deferred
	step(&Command{Op: OpDelete, Tenancy: testTenancy, Name: "/b"}, false)
	step(putCmd("/d", 1, "Standard", 0), false)

	last := db.index
	var seen [][]Change
	for since := uint64(0); since <= last; since++ {
		_, _, chs := changesOf(t, d, point, since)
		seen = append(seen, chs)
	}
	if !d.Pending() {
		t.Fatal("the test must end with entries applied and not committed")
	}
	_, _, all := changesOf(t, d, context.Background(), 0) // commits first
	if d.Pending() {
		t.Fatal("a full read did not commit")
	}
	var names []string
	for _, ch := range all {
		names = append(names, ch.Name)
	}
	if want := []string{"/a", "/b", "/a", "/c", "/b", "/d"}; !slices.Equal(names, want) {
		t.Fatalf("change log: %v, want %v", names, want)
	}
	for since := uint64(0); since <= last; since++ {
		_, _, committed := changesOf(t, d, context.Background(), since)
		if !slices.Equal(seen[since], committed) {
			t.Fatalf("since %d: buffered read saw %+v, the committed log holds %+v", since, seen[since], committed)
		}
	}
}

// TestBufferedChangesFloor: the change floor and the pruning of the log
// are those of the applied state in a buffered read.
func TestBufferedChangesFloor(t *testing.T) {
	d := openDeferred(t, filepath.Join(t.TempDir(), "state.db"))
	defer d.Close()
	point := WithPointReads(context.Background())
	// Entries without commands up to just below the retention, then puts
	// that push the oldest change out.
	put := func(index uint64, name string) {
		t.Helper()
		data, err := putCmd(name, 1, "Standard", 0).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if res := d.ApplyBatch([]Entry{{Index: index, Data: data}}); res[0] != nil {
			t.Fatal(res[0])
		}
	}
	put(1, "/first")
	put(2, "/second")
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	put(changeRetention+1, "/late") // prunes index 1
	_, floor, chs := changesOf(t, d, point, 0)
	if floor != 1 || len(chs) != 2 || chs[0].Index != 2 || chs[1].Index != changeRetention+1 {
		t.Fatalf("buffered: floor %d, changes %+v; want floor 1 and the changes at 2 and %d", floor, chs, changeRetention+1)
	}
	_, cfloor, cchs := changesOf(t, d, context.Background(), 0)
	if cfloor != floor || !slices.Equal(chs, cchs) {
		t.Fatalf("committed: floor %d, changes %+v; buffered saw floor %d, %+v", cfloor, cchs, floor, chs)
	}
}

// TestChangesSeenSurviveCrash: a watcher may see a change applied and not
// committed; a crash then loses the open transaction, and the start
// applies the log's entries again: the change is the same one at the same
// index. The crash is the state file as it is on disk while the
// transaction is open (bbolt writes nothing of it before the commit).
func TestChangesSeenSurviveCrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	d := openDeferred(t, path)
	defer d.Close()
	var log []Entry
	add := func(c *Command) {
		t.Helper()
		data, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		e := Entry{Index: uint64(len(log) + 1), Term: 1, Data: data}
		log = append(log, e)
		d.ApplyBatch([]Entry{e})
	}
	add(putCmd("/a", 1, "Standard", 0))
	add(putCmd("/b", 1, "Standard", 0))
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	add(putCmd("/a", 2, "Standard", 1))
	add(&Command{Op: OpDelete, Tenancy: testTenancy, Name: "/b"})
	add(putCmd("/c", 1, "Standard", 0))
	applied, _, seen := changesOf(t, d, WithPointReads(context.Background()), 0)
	if applied != 5 || len(seen) != 5 || !d.Pending() {
		t.Fatalf("before the crash: applied %d, %d changes seen, pending %v; want 5, 5, pending", applied, len(seen), d.Pending())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(dir, "crashed.db")
	if err := os.WriteFile(crashed, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	r := openDeferred(t, crashed)
	defer r.Close()
	if idx := r.CommittedIndex(); idx != 2 {
		t.Fatalf("after the crash: committed index %d, want 2 (the open transaction is lost)", idx)
	}
	_, _, before := changesOf(t, r, context.Background(), 0)
	if len(before) != 2 {
		t.Fatalf("after the crash, before the replay: %+v, want the 2 committed changes", before)
	}
	// The start hands raft's log to the state machine again (the entries
	// at or below its applied index are skipped).
	r.ApplyBatch(log)
	_, _, after := changesOf(t, r, context.Background(), 0)
	if !slices.Equal(seen, after) {
		t.Fatalf("a watcher saw %+v before the crash, the replayed log holds %+v", seen, after)
	}
}

// TestChangeFloorOfABatch: a batch whose entries prune the change log one
// after another leaves the floor of its last prune, committed with the
// batch or deferred (then a buffered read sees it too).
func TestChangeFloorOfABatch(t *testing.T) {
	for _, limit := range []int{0, 1000} {
		t.Run(fmt.Sprintf("batchLimit=%d", limit), func(t *testing.T) {
			d, err := OpenOptions(filepath.Join(t.TempDir(), "state.db"), Options{BatchLimit: limit})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			entry := func(index uint64, name string) Entry {
				data, err := putCmd(name, 1, "Standard", 0).Marshal()
				if err != nil {
					t.Fatal(err)
				}
				return Entry{Index: index, Data: data}
			}
			for _, res := range d.ApplyBatch([]Entry{entry(1, "/a"), entry(2, "/b"), entry(3, "/c")}) {
				if res != nil {
					t.Fatal(res)
				}
			}
			batch := []Entry{entry(changeRetention+1, "/d"), entry(changeRetention+2, "/e")}
			for _, res := range d.ApplyBatch(batch) {
				if res != nil {
					t.Fatal(res)
				}
			}
			if limit > 0 {
				_, floor, chs := changesOf(t, d, WithPointReads(context.Background()), 0)
				if floor != 2 || len(chs) != 3 || chs[0].Index != 3 {
					t.Fatalf("buffered: floor %d, changes %+v; want floor 2 and the changes at 3 and after", floor, chs)
				}
			}
			_, floor, chs := changesOf(t, d, context.Background(), 0)
			if floor != 2 || len(chs) != 3 || chs[0].Index != 3 {
				t.Fatalf("committed: floor %d, changes %+v; want floor 2 and the changes at 3 and after", floor, chs)
			}
		})
	}
}
