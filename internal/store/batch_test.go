package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
)

// openDeferred opens a state machine whose commits are deferred (the
// server's mode: raftstore commits on an interval).
func openDeferred(t testing.TB, path string) *DB {
	t.Helper()
	d, err := OpenOptions(path, Options{BatchLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pointParam reads a head record with WithPointReads, as GetParameter does.
func pointParam(t *testing.T, d *DB, name string) *Parameter {
	t.Helper()
	var p *Parameter
	err := d.View(WithPointReads(context.Background()), func(r *Reader) error {
		var err error
		p, err = r.Param(testTenancy, name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func scanNames(t *testing.T, d *DB) []string {
	t.Helper()
	var names []string
	err := d.View(context.Background(), func(r *Reader) error {
		names = nil
		return r.Scan(testTenancy, "", "", func(it *ScanItem) (ScanControl, error) {
			names = append(names, it.Name)
			return ScanControl{}, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestDeferredCommitReads: a write applied but not committed is seen by
// the next point read without a commit (the read buffer), and by the next
// scan after one (the flush barrier); a deletion likewise.
func TestDeferredCommitReads(t *testing.T) {
	d := openDeferred(t, filepath.Join(t.TempDir(), "state.db"))
	defer d.Close()
	db := &testDB{t: t, d: d}
	db.mustApply(putCmd("/a", 1, "Standard", 0))
	if !d.Pending() || d.Commits() != 0 {
		t.Fatalf("after a deferred put: pending %v, %d commits; want pending and none", d.Pending(), d.Commits())
	}
	if p := pointParam(t, d, "/a"); p == nil || p.Latest.Version != 1 {
		t.Fatalf("point read right after the put: got %+v, want version 1", p)
	}
	var ten *Tenancy
	err := d.View(WithPointReads(context.Background()), func(r *Reader) error {
		var err error
		ten, err = r.Tenancy(testTenancy)
		return err
	})
	if err != nil || ten.Standard != 1 {
		t.Fatalf("tenancy by a point read: %+v, %v; want 1 standard parameter", ten, err)
	}
	if d.Commits() != 0 {
		t.Fatalf("point reads committed (%d commits); the read buffer serves them", d.Commits())
	}
	if got := scanNames(t, d); len(got) != 1 || got[0] != "/a" {
		t.Fatalf("scan after the put: got %v, want [/a]", got)
	}
	if d.Commits() != 1 || d.Pending() {
		t.Fatalf("a scan must commit first: %d commits, pending %v; want 1 and not pending", d.Commits(), d.Pending())
	}
	modIndex := db.index
	db.mustApply(putCmd("/a", 2, "Standard", modIndex))
	db.mustApply(putCmd("/b", 1, "Standard", 0))
	if p := pointParam(t, d, "/a"); p == nil || p.Latest.Version != 2 {
		t.Fatalf("point read after an overwrite: got %+v, want version 2", p)
	}
	db.mustApply(&Command{Op: OpDelete, Tenancy: testTenancy, Name: "/a"})
	if p := pointParam(t, d, "/a"); p != nil {
		t.Fatalf("point read after the delete: got %+v, want none", p)
	}
	if got := scanNames(t, d); len(got) != 1 || got[0] != "/b" {
		t.Fatalf("scan after the delete: got %v, want [/b]", got)
	}
}

// TestPointReadFallsBack: a point-read callback that reads a bucket the
// read buffer does not serve (a retained version) while writes wait for a
// commit runs again after one, and returns what the applied state holds.
func TestPointReadFallsBack(t *testing.T) {
	d := openDeferred(t, filepath.Join(t.TempDir(), "state.db"))
	defer d.Close()
	db := &testDB{t: t, d: d}
	db.mustApply(putCmd("/v", 1, "Standard", 0))
	db.mustApply(putCmd("/v", 2, "Standard", db.index))
	runs := 0
	var v *Version
	err := d.View(WithPointReads(context.Background()), func(r *Reader) error {
		runs++
		var err error
		v, err = r.Version(testTenancy, "/v", 1)
		return err
	})
	if err != nil || v == nil || v.Version != 1 {
		t.Fatalf("version 1: got %+v, %v", v, err)
	}
	if runs != 2 || d.Pending() {
		t.Fatalf("got %d runs, pending %v; want 2 runs (the second after a commit)", runs, d.Pending())
	}
	runs = 0
	if err := d.View(WithPointReads(context.Background()), func(r *Reader) error {
		runs++
		_, err := r.Version(testTenancy, "/v", 1)
		return err
	}); err != nil || runs != 1 {
		t.Fatalf("with nothing to commit: %d runs, %v; want 1", runs, err)
	}
}

// TestPointReadAppliedIndex: a point read knows the applied index without
// a commit (the change hub follows it so); a plain read sees the same
// index after one.
func TestPointReadAppliedIndex(t *testing.T) {
	d := openDeferred(t, filepath.Join(t.TempDir(), "state.db"))
	defer d.Close()
	db := &testDB{t: t, d: d}
	db.mustApply(putCmd("/a", 1, "Standard", 0))
	db.mustApply(putCmd("/a", 2, "Standard", db.index))
	applied := func(ctx context.Context) uint64 {
		var idx uint64
		if err := d.View(ctx, func(r *Reader) error { idx = r.AppliedIndex(); return nil }); err != nil {
			t.Fatal(err)
		}
		return idx
	}
	if got := applied(WithPointReads(context.Background())); got != db.index || !d.Pending() || d.Commits() != 0 {
		t.Fatalf("point read: applied index %d, pending %v, %d commits; want %d, pending, none", got, d.Pending(), d.Commits(), db.index)
	}
	if got := applied(context.Background()); got != db.index || d.Pending() {
		t.Fatalf("plain read: applied index %d, pending %v; want %d, committed", got, d.Pending(), db.index)
	}
	if got := applied(WithPointReads(context.Background())); got != db.index {
		t.Fatalf("point read with nothing pending: applied index %d, want %d", got, db.index)
	}
}

// TestDeferredCommitSurvivesReopen: Close commits what was applied.
func TestDeferredCommitSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	d := openDeferred(t, path)
	db := &testDB{t: t, d: d}
	for i := range 5 {
		db.mustApply(putCmd(fmt.Sprintf("/p%d", i), 1, "Standard", 0))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openDeferred(t, path)
	defer d.Close()
	if idx, _ := d.AppliedIndex(); idx != 5 {
		t.Fatalf("applied index after reopen: got %d, want 5", idx)
	}
	if got := scanNames(t, d); len(got) != 5 {
		t.Fatalf("after reopen: got %v, want 5 parameters", got)
	}
}

// TestDeferredCommitLimit: the open transaction is committed once it holds
// BatchLimit entries, and a command that is not a parameter write commits
// its batch at once.
func TestDeferredCommitLimit(t *testing.T) {
	d, err := OpenOptions(filepath.Join(t.TempDir(), "state.db"), Options{BatchLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	db := &testDB{t: t, d: d}
	for i := range 4 {
		db.mustApply(putCmd(fmt.Sprintf("/p%d", i), 1, "Standard", 0))
	}
	if d.Commits() != 1 || d.CommittedIndex() != 3 {
		t.Fatalf("after 4 puts with a limit of 3: %d commits at index %d; want 1 at 3", d.Commits(), d.CommittedIndex())
	}
	db.mustApply(&Command{Op: OpCreateKey, Tenancy: testTenancy, Key: &Key{ID: "k1"}})
	if d.Pending() || d.CommittedIndex() != 5 {
		t.Fatalf("after a key creation: pending %v, committed index %d; want committed at 5", d.Pending(), d.CommittedIndex())
	}
}

// TestDeferredReadsUnderLoad: while one goroutine applies overwrites and
// another commits on and off, every point read and every scan sees at
// least the last write acknowledged before it began (run with -race).
func TestDeferredReadsUnderLoad(t *testing.T) {
	d := openDeferred(t, filepath.Join(t.TempDir(), "state.db"))
	defer d.Close()
	const writes = 300
	var acked atomic.Int64
	db := &testDB{t: t, d: d}
	db.mustApply(putCmd("/hot", 1, "Standard", 0))
	acked.Store(1)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for v := int64(2); v <= writes; v++ {
			data, _ := putCmd("/hot", v, "Standard", uint64(v-1)).Marshal()
			if err := d.ApplyBatch([]Entry{{Index: uint64(v), Data: data}})[0]; err != nil {
				t.Errorf("apply version %d: %v", v, err)
				return
			}
			acked.Store(v)
			if v%17 == 0 {
				if err := d.Commit(); err != nil {
					t.Errorf("commit: %v", err)
				}
			}
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				want := acked.Load()
				ctx := context.Background()
				if i%5 != 0 {
					ctx = WithPointReads(ctx)
				}
				var got int64
				err := d.View(ctx, func(r *Reader) error {
					p, err := r.Param(testTenancy, "/hot")
					if p != nil {
						got = p.Latest.Version
					}
					return err
				})
				if err != nil || got < want {
					t.Errorf("read: version %d, %v; want at least %d (acknowledged before the read)", got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestFlushBarrierShared: readers that need the committed state while a
// write waits for its commit share one commit.
func TestFlushBarrierShared(t *testing.T) {
	d := openDeferred(t, filepath.Join(t.TempDir(), "state.db"))
	defer d.Close()
	db := &testDB{t: t, d: d}
	db.mustApply(putCmd("/shared", 1, "Standard", 0))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := scanNames(t, d); len(got) != 1 {
				t.Errorf("scan: got %v, want [/shared]", got)
			}
		}()
	}
	wg.Wait()
	if d.Commits() != 1 {
		t.Fatalf("8 readers after one write: %d commits, want 1", d.Commits())
	}
}

// bufferedView is what a point read (WithPointReads) sees of names and the
// tenancy, and the changes after since: through the read buffer while
// writes wait for a commit, or from the committed state (committed).
type bufferedView struct {
	params  map[string]*Parameter
	tenancy *Tenancy
	changes []Change
	floor   uint64
}

func readView(t *testing.T, d *DB, names []string, committed bool) bufferedView {
	t.Helper()
	ctx := WithPointReads(context.Background())
	if committed {
		ctx = context.Background()
	}
	var v bufferedView
	err := d.View(ctx, func(r *Reader) error {
		v = bufferedView{params: map[string]*Parameter{}}
		for _, n := range names {
			p, err := r.Param(testTenancy, n)
			if err != nil {
				return err
			}
			v.params[n] = p
		}
		var err error
		if v.tenancy, err = r.Tenancy(testTenancy); err != nil {
			return err
		}
		v.floor = r.ChangeFloor()
		return r.Changes(0, func(ch *Change) (bool, error) {
			v.changes = append(v.changes, *ch)
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBufferedViewMatchesCommitted: what the read buffer serves after
// deferred creates, overwrites in the same tier and across tiers, label
// changes and deletes (the buffer holds what each command wrote, a tenancy
// record only when the command changed it) is what the committed state
// serves once the same writes are committed.
func TestBufferedViewMatchesCommitted(t *testing.T) {
	db := openTestDB(t)
	names := []string{"/a", "/b", "/c"}
	version := map[string]int64{}
	modIndex := map[string]uint64{}
	tier := map[string]string{}
	put := func(name, newTier string) {
		version[name]++
		db.mustApply(putCmd(name, version[name], newTier, modIndex[name]))
		modIndex[name], tier[name] = db.index, newTier
	}
	steps := []func(){
		func() { put("/a", "Standard"); put("/b", "Standard") },
		func() { put("/a", "Standard"); put("/a", "Standard"); put("/c", "Advanced") },
		func() { put("/b", "Advanced"); put("/a", "Standard") },
		func() {
			db.mustApply(&Command{Op: OpMeta, Tenancy: testTenancy, Name: "/c", Expect: modIndex["/c"], Labels: map[string]int64{"l": version["/c"]}})
			modIndex["/c"] = db.index
			put("/b", "Standard")
		},
		func() {
			db.mustApply(&Command{Op: OpDelete, Tenancy: testTenancy, Name: "/a"})
			version["/a"], modIndex["/a"] = 0, 0
			put("/c", "Standard")
		},
		func() { put("/a", "Advanced"); put("/a", "Advanced") },
	}
	for i, step := range steps {
		step()
		if !db.d.Pending() {
			t.Fatalf("step %d: nothing pending: the writes were not deferred", i)
		}
		buffered := readView(t, db.d, names, false)
		if !db.d.Pending() {
			t.Fatalf("step %d: the point reads committed", i)
		}
		committed := readView(t, db.d, names, true)
		if db.d.Pending() {
			t.Fatalf("step %d: the committed read left writes pending", i)
		}
		if !reflect.DeepEqual(buffered, committed) {
			t.Fatalf("step %d: buffered view\n%+v\ncommitted view\n%+v", i, buffered, committed)
		}
	}
}

// planRead reads a head record and the tenancy record by a point read, as
// PutParameter's plan does, and counts the runs of the callback.
func planRead(t *testing.T, d *DB, name string, during func()) (p *Parameter, ten *Tenancy, runs int) {
	t.Helper()
	err := d.View(WithPointReads(context.Background()), func(r *Reader) error {
		runs++
		var err error
		if p, err = r.Param(testTenancy, name); err != nil {
			return err
		}
		if during != nil && runs == 1 {
			during()
		}
		ten, err = r.Tenancy(testTenancy)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, ten, runs
}

// TestPointReadLazyTx: a point read that the read buffer answers opens no
// read transaction: the head record of an overwrite in the buffer, the
// tenancy record read once from the committed state per commit. A commit
// between the buffer's capture and the opening of the transaction makes
// the callback run again, on the committed state.
func TestPointReadLazyTx(t *testing.T) {
	db := openTestDB(t)
	d := db.d
	db.mustApply(putCmd("/a", 1, "Standard", 0))
	db.mustApply(putCmd("/b", 1, "Standard", 0))
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	txs := func() int { return d.db.Stats().TxN }
	db.mustApply(putCmd("/a", 2, "Standard", db.index-1))
	before := txs()
	p, ten, runs := planRead(t, d, "/a", nil)
	if p == nil || p.Latest.Version != 2 || ten.Standard != 2 || runs != 1 {
		t.Fatalf("first read: %+v, %+v in %d runs; want version 2, 2 standard parameters, 1 run", p, ten, runs)
	}
	if got := txs() - before; got != 1 {
		t.Fatalf("first read opened %d transactions, want 1 (the committed tenancy record)", got)
	}
	before = txs()
	for range 3 {
		if p, ten, _ := planRead(t, d, "/a", nil); p.Latest.Version != 2 || ten.Standard != 2 {
			t.Fatalf("again: %+v, %+v", p, ten)
		}
	}
	if got := txs() - before; got != 0 {
		t.Fatalf("reads the buffer answers opened %d transactions, want 0", got)
	}
	// /b is not in the buffer: its head record is read from the file.
	before = txs()
	if p, _, _ := planRead(t, d, "/b", nil); p == nil || p.Latest.Version != 1 {
		t.Fatalf("/b: %+v", p)
	}
	if got := txs() - before; got != 1 {
		t.Fatalf("a read of /b opened %d transactions, want 1", got)
	}
	// A commit after the buffer was taken, before the callback opens the
	// transaction (to read /b): the callback runs again. What the buffer
	// answered before is the state as of the read's start.
	runs = 0
	var pb *Parameter
	err := d.View(WithPointReads(context.Background()), func(r *Reader) error {
		runs++
		if _, err := r.Tenancy(testTenancy); err != nil {
			return err
		}
		if runs == 1 {
			db.mustApply(&Command{Op: OpSetting, Tenancy: testTenancy, SettingID: "s", Setting: &Setting{Value: "v"}})
		}
		var err error
		pb, err = r.Param(testTenancy, "/b")
		return err
	})
	if err != nil || runs != 2 || pb == nil || pb.Latest.Version != 1 {
		t.Fatalf("a commit before the transaction: %+v, %v in %d runs; want /b, 2 runs", pb, err, runs)
	}
	if _, ten, _ := planRead(t, d, "/a", nil); ten.Settings["s"].Value != "v" {
		t.Fatalf("after the commit: %+v, want the setting", ten)
	}
	// The committed tenancy record of the old buffer is not served after
	// a commit: a deferred create, then a commit, then a plain overwrite.
	db.mustApply(putCmd("/c", 1, "Standard", 0))
	if _, ten, _ := planRead(t, d, "/c", nil); ten.Standard != 3 {
		t.Fatalf("after the create of /c: %d standard parameters, want 3", ten.Standard)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	db.mustApply(putCmd("/c", 2, "Standard", db.index))
	if p, ten, _ := planRead(t, d, "/c", nil); p.Latest.Version != 2 || ten.Standard != 3 {
		t.Fatalf("after the commit and an overwrite: %+v, %d standard parameters; want version 2, 3", p, ten.Standard)
	}
}

// TestRunBufferedBeginFails: a buffered read whose transaction cannot be
// opened ends its callback with the error and asks for the run on the
// committed state; any other panic is not swallowed.
func TestRunBufferedBeginFails(t *testing.T) {
	want := errors.New("begin failed")
	var r Reader
	err := runBuffered(func(*Reader) error { panic(errBeginBuffered{want}) }, &r)
	if !errors.Is(err, want) || !r.needFlush {
		t.Fatalf("got %v, needFlush %v; want %v and a second run", err, r.needFlush, want)
	}
	defer func() {
		if p := recover(); p != "other" {
			t.Fatalf("recovered %v, want the callback's own panic", p)
		}
	}()
	runBuffered(func(*Reader) error { panic("other") }, &Reader{})
}
