package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

const testTenancy = "123456789012:us-east-1"

// testDB is a state machine with a log index counter, standing in for raft.
type testDB struct {
	t     *testing.T
	d     *DB
	index uint64
}

// openTestDB opens a state machine whose commits are deferred, as the
// server's are: its reads go through the flush barrier.
func openTestDB(t *testing.T) *testDB {
	t.Helper()
	d, err := OpenOptions(filepath.Join(t.TempDir(), "state.db"), Options{BatchLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &testDB{t: t, d: d}
}

// apply applies one command as the next log entry and returns its result.
func (db *testDB) apply(c *Command) error {
	db.t.Helper()
	data, err := c.Marshal()
	if err != nil {
		db.t.Fatal(err)
	}
	db.index++
	return db.d.ApplyBatch([]Entry{{Index: db.index, Data: data}})[0]
}

func (db *testDB) mustApply(c *Command) {
	db.t.Helper()
	if err := db.apply(c); err != nil {
		db.t.Fatalf("apply %s %q: %v", c.Op, c.Name, err)
	}
}

func (db *testDB) param(name string) *Parameter {
	db.t.Helper()
	var p *Parameter
	err := db.d.View(context.Background(), func(r *Reader) error {
		var err error
		p, err = r.Param(testTenancy, name)
		return err
	})
	if err != nil {
		db.t.Fatal(err)
	}
	return p
}

func (db *testDB) tenancy() *Tenancy {
	db.t.Helper()
	var ten *Tenancy
	err := db.d.View(context.Background(), func(r *Reader) error {
		var err error
		ten, err = r.Tenancy(testTenancy)
		return err
	})
	if err != nil {
		db.t.Fatal(err)
	}
	return ten
}

func (db *testDB) versions(name string) []int64 {
	db.t.Helper()
	var out []int64
	err := db.d.View(context.Background(), func(r *Reader) error {
		return r.Versions(testTenancy, name, 0, func(v *Version) (bool, error) {
			out = append(out, v.Version)
			return true, nil
		})
	})
	if err != nil {
		db.t.Fatal(err)
	}
	return out
}

// putCmd builds the put of version v of name; v == 1 creates.
func putCmd(name string, v int64, tier string, expect uint64) *Command {
	vs := make([]int64, 0, v)
	for i := int64(1); i <= v; i++ {
		vs = append(vs, i)
	}
	return &Command{
		Op: OpPut, Tenancy: testTenancy, Name: name,
		Create: v == 1, Expect: expect,
		Param: &Parameter{
			Name:     name,
			Latest:   Version{Version: v, Type: "String", Value: fmt.Sprintf("value %d", v), Tier: tier, Modified: 1000 * v},
			Versions: vs,
		},
	}
}

// dump returns every key and value of every bucket.
func dump(t *testing.T, d *DB) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	err := d.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			m := map[string]string{}
			out[string(name)] = m
			return b.ForEach(func(k, v []byte) error {
				m[string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApplyPutCompareAndSet(t *testing.T) {
	db := openTestDB(t)
	db.mustApply(putCmd("/a/b", 1, "Standard", 0))
	p := db.param("/a/b")
	if p == nil || p.ModIndex != 1 || p.Latest.Value != "value 1" {
		t.Fatalf("got %+v, want version 1 with ModIndex 1", p)
	}

	tests := []struct {
		name string
		cmd  *Command
		want error
	}{
		{"create existing", putCmd("/a/b", 1, "Standard", 0), ErrConflict},
		{"overwrite with stale ModIndex", putCmd("/a/b", 2, "Standard", 7), ErrConflict},
		{"overwrite without expectation", putCmd("/a/b", 2, "Standard", 0), ErrConflict},
		{"overwrite missing", putCmd("/missing", 2, "Standard", 1), ErrConflict},
		{"put without parameter", &Command{Op: OpPut, Tenancy: testTenancy, Name: "/a/b", Expect: 1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := dump(t, db.d)
			err := db.apply(tc.cmd)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil {
				t.Fatalf("got nil, want an error")
			}
			after := dump(t, db.d)
			delete(before, "meta")
			delete(after, "meta")
			if !maps.EqualFunc(before, after, maps.Equal) {
				t.Fatalf("failed command changed the state:\nbefore %v\nafter  %v", before, after)
			}
		})
	}

	db.mustApply(putCmd("/a/b", 2, "Standard", 1))
	p = db.param("/a/b")
	if p.ModIndex != db.index || p.Latest.Version != 2 {
		t.Fatalf("got version %d ModIndex %d, want version 2 ModIndex %d", p.Latest.Version, p.ModIndex, db.index)
	}
	if got := db.versions("/a/b"); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("got versions %v, want [1 2]", got)
	}
	// The ModIndex moved: the old expectation now conflicts.
	if err := db.apply(putCmd("/a/b", 3, "Standard", 1)); !errors.Is(err, ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	if got := db.tenancy().Standard; got != 1 {
		t.Fatalf("got %d standard parameters, want 1", got)
	}
}

func TestApplyPutPrune(t *testing.T) {
	db := openTestDB(t)
	db.mustApply(putCmd("/p", 1, "Standard", 0))
	db.mustApply(putCmd("/p", 2, "Standard", db.index))
	cmd := putCmd("/p", 3, "Standard", db.index)
	cmd.Prune = []int64{1}
	cmd.Param.Versions = []int64{2, 3}
	db.mustApply(cmd)
	if got := db.versions("/p"); !slices.Equal(got, []int64{2, 3}) {
		t.Fatalf("got versions %v, want [2 3]", got)
	}
	if got := db.param("/p").Versions; !slices.Equal(got, []int64{2, 3}) {
		t.Fatalf("got head versions %v, want [2 3]", got)
	}
}

func TestApplyQuota(t *testing.T) {
	db := openTestDB(t)
	quota := func(c *Command, q int64) *Command { c.Quota = q; return c }
	db.mustApply(quota(putCmd("/s1", 1, "Standard", 0), 2))
	db.mustApply(quota(putCmd("/s2", 1, "Standard", 0), 2))
	if err := db.apply(quota(putCmd("/s3", 1, "Standard", 0), 2)); !errors.Is(err, ErrQuota) {
		t.Fatalf("third standard parameter: got %v, want ErrQuota", err)
	}
	if db.param("/s3") != nil {
		t.Fatalf("refused parameter was stored")
	}
	// Quotas are per tier.
	db.mustApply(quota(putCmd("/a1", 1, "Advanced", 0), 1))
	if err := db.apply(quota(putCmd("/a2", 1, "Advanced", 0), 1)); !errors.Is(err, ErrQuota) {
		t.Fatalf("second advanced parameter: got %v, want ErrQuota", err)
	}
	// An overwrite in the same tier does not count again.
	db.mustApply(quota(putCmd("/s1", 2, "Standard", db.param("/s1").ModIndex), 2))
	// Moving a parameter to a full tier is refused too.
	if err := db.apply(quota(putCmd("/s2", 2, "Advanced", db.param("/s2").ModIndex), 1)); !errors.Is(err, ErrQuota) {
		t.Fatalf("upgrade into a full tier: got %v, want ErrQuota", err)
	}
	// Quota 0 is unlimited; upgrading moves the count between tiers.
	db.mustApply(putCmd("/s2", 2, "Advanced", db.param("/s2").ModIndex))
	if ten := db.tenancy(); ten.Standard != 1 || ten.Advanced != 2 {
		t.Fatalf("got counts standard %d advanced %d, want 1 and 2", ten.Standard, ten.Advanced)
	}
	// Deleting frees the quota.
	db.mustApply(&Command{Op: OpDelete, Tenancy: testTenancy, Name: "/s1"})
	db.mustApply(quota(putCmd("/s3", 1, "Standard", 0), 1))
}

func TestApplyDelete(t *testing.T) {
	db := openTestDB(t)
	db.mustApply(putCmd("/d", 1, "Standard", 0))
	db.mustApply(putCmd("/d", 2, "Standard", db.index))
	db.mustApply(putCmd("/d/child", 1, "Standard", 0))
	db.mustApply(putCmd("/dd", 1, "Standard", 0))

	if err := db.apply(&Command{Op: OpDelete, Tenancy: testTenancy, Name: "/d", Expect: 1}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale delete: got %v, want ErrConflict", err)
	}
	db.mustApply(&Command{Op: OpDelete, Tenancy: testTenancy, Name: "/d", Expect: db.param("/d").ModIndex})
	if db.param("/d") != nil {
		t.Fatal("deleted parameter still readable")
	}
	if got := db.versions("/d"); len(got) != 0 {
		t.Fatalf("deleted parameter keeps versions %v", got)
	}
	// Names sharing the prefix are untouched.
	for _, name := range []string{"/d/child", "/dd"} {
		if db.param(name) == nil || len(db.versions(name)) != 1 {
			t.Fatalf("%s was damaged by the delete of /d", name)
		}
	}
	if err := db.apply(&Command{Op: OpDelete, Tenancy: testTenancy, Name: "/d"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete missing: got %v, want ErrNotFound", err)
	}
	if got := db.tenancy().Standard; got != 2 {
		t.Fatalf("got %d standard parameters, want 2", got)
	}
	// A re-created parameter starts from scratch.
	db.mustApply(putCmd("/d", 1, "Standard", 0))
	if got := db.versions("/d"); !slices.Equal(got, []int64{1}) {
		t.Fatalf("got versions %v, want [1]", got)
	}
}

func TestApplyMeta(t *testing.T) {
	db := openTestDB(t)
	db.mustApply(putCmd("/m", 1, "Standard", 0))
	mi := db.param("/m").ModIndex
	meta := &Command{Op: OpMeta, Tenancy: testTenancy, Name: "/m", Expect: mi,
		Labels: map[string]int64{"prod": 1}, Tags: map[string]string{"k": "v"}}
	db.mustApply(meta)
	p := db.param("/m")
	if !maps.Equal(p.Labels, meta.Labels) || !maps.Equal(p.Tags, meta.Tags) || p.ModIndex != db.index {
		t.Fatalf("got labels %v tags %v ModIndex %d", p.Labels, p.Tags, p.ModIndex)
	}
	if got := p.LabelsOf(1); !slices.Equal(got, []string{"prod"}) {
		t.Fatalf("got labels of version 1 %v, want [prod]", got)
	}
	// The meta command changed ModIndex: the old expectation conflicts.
	if err := db.apply(meta); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale meta: got %v, want ErrConflict", err)
	}
	// Nil sets remove everything.
	db.mustApply(&Command{Op: OpMeta, Tenancy: testTenancy, Name: "/m", Expect: p.ModIndex})
	if p := db.param("/m"); len(p.Labels) != 0 || len(p.Tags) != 0 {
		t.Fatalf("got labels %v tags %v, want none", p.Labels, p.Tags)
	}
	if err := db.apply(&Command{Op: OpMeta, Tenancy: testTenancy, Name: "/missing"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("meta on missing: got %v, want ErrNotFound", err)
	}
}

func TestApplySetting(t *testing.T) {
	db := openTestDB(t)
	const id = "/ssm/parameter-store/default-parameter-tier"
	db.mustApply(&Command{Op: OpSetting, Tenancy: testTenancy, SettingID: id, Setting: &Setting{Value: "Advanced", Modified: 5, User: "u"}})
	if got := db.tenancy().Settings[id]; got != (Setting{Value: "Advanced", Modified: 5, User: "u"}) {
		t.Fatalf("got setting %+v", got)
	}
	db.mustApply(&Command{Op: OpSetting, Tenancy: "other:us-east-1", SettingID: id, Setting: &Setting{Value: "Standard"}})
	db.mustApply(&Command{Op: OpSetting, Tenancy: testTenancy, SettingID: id})
	if got, ok := db.tenancy().Settings[id]; ok {
		t.Fatalf("reset setting still present: %+v", got)
	}
	var other *Tenancy
	db.d.View(context.Background(), func(r *Reader) error {
		var err error
		other, err = r.Tenancy("other:us-east-1")
		return err
	})
	if other.Settings[id].Value != "Standard" {
		t.Fatalf("reset leaked into another tenancy: %+v", other.Settings)
	}
}

func TestApplyKeys(t *testing.T) {
	db := openTestDB(t)
	key := func(id, alias string) *Command {
		return &Command{Op: OpCreateKey, Tenancy: testTenancy, Key: &Key{ID: id, Alias: alias, Wrapped: []byte("w-" + id), Created: 1}}
	}
	db.mustApply(key("k2", "alias/two"))
	db.mustApply(key("k1", ""))
	if err := db.apply(key("k2", "alias/other")); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate id: got %v, want ErrExists", err)
	}
	if err := db.apply(key("k3", "alias/two")); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate alias: got %v, want ErrExists", err)
	}
	if err := db.apply(&Command{Op: OpCreateKey, Tenancy: testTenancy}); err == nil {
		t.Fatal("createKey without key succeeded")
	}
	db.mustApply(&Command{Op: OpDisableKey, Tenancy: testTenancy, Key: &Key{ID: "k1", Disabled: true}})
	if err := db.apply(&Command{Op: OpDisableKey, Tenancy: testTenancy, Key: &Key{ID: "nope"}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disable missing: got %v, want ErrNotFound", err)
	}

	err := db.d.View(context.Background(), func(r *Reader) error {
		keys, err := r.Keys(testTenancy)
		if err != nil {
			return err
		}
		var ids []string
		for _, k := range keys {
			ids = append(ids, k.ID)
		}
		if !slices.Equal(ids, []string{"k1", "k2"}) {
			t.Errorf("got keys %v, want [k1 k2] (k3 must not exist)", ids)
		}
		if got := r.KeyIDByAlias(testTenancy, "alias/two"); got != "k2" {
			t.Errorf("got alias/two -> %q, want k2", got)
		}
		if got := r.KeyIDByAlias(testTenancy, "alias/other"); got != "" {
			t.Errorf("refused alias was stored: -> %q", got)
		}
		k1, err := r.Key(testTenancy, "k1")
		if err != nil || k1 == nil || !k1.Disabled || !bytes.Equal(k1.Wrapped, []byte("w-k1")) {
			t.Errorf("got k1 %+v, %v; want disabled with its material", k1, err)
		}
		if k, err := r.Key("other:us-east-1", "k1"); k != nil || err != nil {
			t.Errorf("key visible in another tenancy: %+v, %v", k, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestApplyResetAllKeepsKeys(t *testing.T) {
	db := openTestDB(t)
	db.mustApply(putCmd("/r", 1, "Standard", 0))
	db.mustApply(&Command{Op: OpCreateKey, Tenancy: testTenancy, Key: &Key{ID: "k"}})
	db.mustApply(&Command{Op: OpResetAll})
	if db.param("/r") != nil || len(db.versions("/r")) != 0 || db.tenancy().Standard != 0 {
		t.Fatal("reset left parameters behind")
	}
	db.d.View(context.Background(), func(r *Reader) error {
		if k, _ := r.Key(testTenancy, "k"); k == nil {
			t.Error("reset removed the keyring")
		}
		return nil
	})
}

func TestApplyBatchReplayIsSkipped(t *testing.T) {
	db := openTestDB(t)
	put1, _ := putCmd("/x", 1, "Standard", 0).Marshal()
	put2, _ := putCmd("/x", 2, "Standard", 5).Marshal()
	res := db.d.ApplyBatch([]Entry{{Index: 4, Term: 1}, {Index: 5, Term: 2, Data: put1}})
	if res[0] != nil || res[1] != nil {
		t.Fatalf("first batch: %v", res)
	}
	if idx, _ := db.d.AppliedIndex(); idx != 5 {
		t.Fatalf("got applied index %d, want 5", idx)
	}
	if term, _ := db.d.AppliedTerm(); term != 2 {
		t.Fatalf("got applied term %d, want 2", term)
	}
	before := dump(t, db.d)

	// After a restart raft replays from before the applied index. Replayed
	// entries are skipped: re-applying the create must not conflict, and the
	// overwrite at index 6 is applied exactly once. A skipped command is
	// never reported applied (its result is ErrStaleEntry): were it a new
	// proposal numbered below the applied index (a lost raft log), a nil
	// result would acknowledge a write that is not there.
	res = db.d.ApplyBatch([]Entry{{Index: 3}, {Index: 4}, {Index: 5, Data: put1}})
	if res[0] != nil || res[1] != nil {
		t.Fatalf("replayed entries without a command: %v", res[:2])
	}
	if !errors.Is(res[2], ErrStaleEntry) {
		t.Fatalf("replayed command: got %v, want ErrStaleEntry", res[2])
	}
	if after := dump(t, db.d); !maps.EqualFunc(before, after, maps.Equal) {
		t.Fatalf("replay changed the state")
	}
	res = db.d.ApplyBatch([]Entry{{Index: 5, Data: put1}, {Index: 6, Term: 3, Data: put2}})
	if !errors.Is(res[0], ErrStaleEntry) || res[1] != nil {
		t.Fatalf("mixed batch: got %v, want [ErrStaleEntry nil]", res)
	}
	res = db.d.ApplyBatch([]Entry{{Index: 6, Data: put2}})
	if !errors.Is(res[0], ErrStaleEntry) {
		t.Fatalf("replayed overwrite: got %v, want ErrStaleEntry", res[0])
	}
	p := db.param("/x")
	if p.Latest.Version != 2 || p.ModIndex != 6 {
		t.Fatalf("got version %d ModIndex %d, want 2 and 6", p.Latest.Version, p.ModIndex)
	}
	if idx, _ := db.d.AppliedIndex(); idx != 6 {
		t.Fatalf("got applied index %d, want 6", idx)
	}
	if term, _ := db.d.AppliedTerm(); term != 3 {
		t.Fatalf("got applied term %d, want 3", term)
	}
}

func TestApplyBatchBadEntries(t *testing.T) {
	db := openTestDB(t)
	good, _ := putCmd("/g", 1, "Standard", 0).Marshal()
	unknown, _ := (&Command{Op: "bogus"}).Marshal()
	res := db.d.ApplyBatch([]Entry{{Index: 1, Data: []byte("{not json")}, {Index: 2, Data: unknown}, {Index: 3, Data: good}})
	if res[0] == nil || res[1] == nil || res[2] != nil {
		t.Fatalf("got results %v, want errors for the first two only", res)
	}
	if db.param("/g") == nil {
		t.Fatal("a bad entry stopped the rest of the batch")
	}
	if idx, _ := db.d.AppliedIndex(); idx != 3 {
		t.Fatalf("got applied index %d, want 3", idx)
	}
}

func TestWriteToRestore(t *testing.T) {
	src := openTestDB(t)
	src.mustApply(putCmd("/a/b", 1, "Standard", 0))
	src.mustApply(putCmd("/a/b", 2, "Advanced", src.index))
	src.mustApply(putCmd("root", 1, "Standard", 0))
	src.mustApply(&Command{Op: OpMeta, Tenancy: testTenancy, Name: "root", Expect: src.index, Tags: map[string]string{"k": "v"}})
	src.mustApply(&Command{Op: OpCreateKey, Tenancy: testTenancy, Key: &Key{ID: "k", Alias: "alias/k"}})
	src.mustApply(&Command{Op: OpSetting, Tenancy: testTenancy, SettingID: "s", Setting: &Setting{Value: "v"}})

	var buf bytes.Buffer
	if _, err := src.d.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}

	dst := openTestDB(t)
	dst.mustApply(putCmd("/only/in/dst", 1, "Standard", 0))
	dst.mustApply(putCmd("/x", 1, "Standard", 0))
	dst.mustApply(putCmd("/y", 1, "Standard", 0))
	dst.mustApply(putCmd("/z", 1, "Standard", 0))
	dst.mustApply(putCmd("/w", 1, "Standard", 0))
	dst.mustApply(putCmd("/v", 1, "Standard", 0))
	dst.mustApply(putCmd("/u", 1, "Standard", 0))
	if err := dst.d.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	want, got := dump(t, src.d), dump(t, dst.d)
	if !maps.EqualFunc(want, got, maps.Equal) {
		t.Fatalf("restored contents differ:\ngot  %v\nwant %v", got, want)
	}
	if dst.param("/only/in/dst") != nil {
		t.Fatal("restore kept old contents")
	}
	si, _ := src.d.AppliedIndex()
	di, _ := dst.d.AppliedIndex()
	if si != di || si != 6 {
		t.Fatalf("got applied index %d, want %d", di, si)
	}
	// The restored database takes new entries after the restored index, and
	// skips the older ones.
	dst.index = si
	dst.mustApply(putCmd("/a/b", 3, "Advanced", src.param("/a/b").ModIndex))
	if got := dst.versions("/a/b"); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("got versions %v after restore, want [1 2 3]", got)
	}
}

func TestScan(t *testing.T) {
	db := openTestDB(t)
	names := []string{"/a/1", "/a/2", "/a/b/x", "/a/b/y", "/a/c", "/b/1", "x", "y"}
	for _, n := range names {
		db.mustApply(putCmd(n, 1, "Standard", 0))
	}
	// Another tenancy whose key sorts right after ours must never show up.
	other := putCmd("/a/zz", 1, "Standard", 0)
	other.Tenancy = testTenancy + "x"
	db.mustApply(other)

	scan := func(prefix, after string, ctl func(name string) ScanControl) []string {
		t.Helper()
		var got []string
		err := db.d.View(context.Background(), func(r *Reader) error {
			return r.Scan(testTenancy, prefix, after, func(it *ScanItem) (ScanControl, error) {
				p, err := it.Load()
				if err != nil {
					return ScanControl{}, err
				}
				if p.Name != it.Name {
					t.Errorf("item %q loads parameter %q", it.Name, p.Name)
				}
				got = append(got, it.Name)
				return ctl(it.Name), nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	next := func(string) ScanControl { return ScanControl{} }

	tests := []struct {
		name          string
		prefix, after string
		ctl           func(string) ScanControl
		want          []string
	}{
		{"all", "", "", next, names},
		{"prefix", "/a/", "", next, []string{"/a/1", "/a/2", "/a/b/x", "/a/b/y", "/a/c"}},
		{"after", "/a/", "/a/2", next, []string{"/a/b/x", "/a/b/y", "/a/c"}},
		{"after missing name", "/a/", "/a/10", next, []string{"/a/2", "/a/b/x", "/a/b/y", "/a/c"}},
		{"after last", "/a/", "/a/c", next, nil},
		{"after before prefix", "/a/", "/", next, []string{"/a/1", "/a/2", "/a/b/x", "/a/b/y", "/a/c"}},
		{"stop", "", "", func(n string) ScanControl { return ScanControl{Stop: n == "/a/2"} }, []string{"/a/1", "/a/2"}},
		{"skip subtree", "/a/", "", func(n string) ScanControl {
			if n == "/a/b/x" {
				return ScanControl{SkipTo: "/a/b0"}
			}
			return ScanControl{}
		}, []string{"/a/1", "/a/2", "/a/b/x", "/a/c"}},
		{"skip hierarchical names", "", "", func(n string) ScanControl {
			if n[0] == '/' {
				return ScanControl{SkipTo: "0"}
			}
			return ScanControl{}
		}, []string{"/a/1", "x", "y"}},
		{"skip past the prefix", "/a/", "", func(string) ScanControl { return ScanControl{SkipTo: "/b"} }, []string{"/a/1"}},
		{"no match", "/nope/", "", next, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := scan(tc.prefix, tc.after, tc.ctl)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVersionsFrom(t *testing.T) {
	db := openTestDB(t)
	for v := int64(1); v <= 4; v++ {
		expect := uint64(0)
		if v > 1 {
			expect = db.index
		}
		db.mustApply(putCmd("/v", v, "Standard", expect))
	}
	db.mustApply(putCmd("/v/w", 1, "Standard", 0))
	var got []int64
	err := db.d.View(context.Background(), func(r *Reader) error {
		return r.Versions(testTenancy, "/v", 2, func(v *Version) (bool, error) {
			got = append(got, v.Version)
			return v.Version < 3, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int64{2, 3}) {
		t.Fatalf("got %v, want [2 3]", got)
	}
	if v := db.versions("/v"); !slices.Equal(v, []int64{1, 2, 3, 4}) {
		t.Fatalf("got %v, want [1 2 3 4] (no versions of /v/w)", v)
	}
}

func TestClosedDB(t *testing.T) {
	db := openTestDB(t)
	if err := db.d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	data, _ := putCmd("/c", 1, "Standard", 0).Marshal()
	if res := db.d.ApplyBatch([]Entry{{Index: 1, Data: data}}); res[0] == nil {
		t.Fatal("ApplyBatch on a closed DB succeeded")
	}
	if err := db.d.View(context.Background(), func(*Reader) error { return nil }); err == nil {
		t.Fatal("View on a closed DB succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := openTestDB(t).d.View(ctx, func(*Reader) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("View with a canceled context: got %v, want context.Canceled", err)
	}
}

func TestOpenRejectsOtherSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err := Open(path); err == nil {
		d.Close()
		t.Fatal("Open accepted a database of another schema version")
	}
}

func TestReopenKeepsState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db := &testDB{t: t, d: d}
	db.mustApply(putCmd("/keep", 1, "Standard", 0))
	want := dump(t, d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := dump(t, d); !maps.EqualFunc(want, got, maps.Equal) {
		t.Fatalf("reopened contents differ:\ngot  %v\nwant %v", got, want)
	}
}
