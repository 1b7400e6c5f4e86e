package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestDecodeCacheSeesChanges: cached head records are never returned for
// bytes that changed, and callers get their own copy of the struct.
func TestDecodeCacheSeesChanges(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(index uint64, create bool, expect uint64, version int64, value string) {
		t.Helper()
		cmd := &Command{Op: OpPut, Tenancy: "t", Name: "/a", Create: create, Expect: expect,
			Param: &Parameter{Name: "/a", Latest: Version{Version: version, Type: "String", Value: value}, Versions: []int64{version}}}
		data, _ := cmd.Marshal()
		if err := db.ApplyBatch([]Entry{{Index: index, Data: data}})[0]; err != nil {
			t.Fatal(err)
		}
	}
	read := func() *Parameter {
		t.Helper()
		var p *Parameter
		if err := db.View(context.Background(), func(r *Reader) error {
			var err error
			p, err = r.Param("t", "/a")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	put(1, true, 0, 1, "one")
	first := read()
	first.Latest.Value = "scribbled" // the caller's copy, not the cache's
	if got := read(); got.Latest.Value != "one" {
		t.Fatalf("second read: got %q, want one (cache entry changed through a returned copy)", got.Latest.Value)
	}
	put(2, false, 1, 2, "two")
	if got := read(); got.Latest.Value != "two" || got.Latest.Version != 2 {
		t.Fatalf("after overwrite: got %q v%d, want two v2", got.Latest.Value, got.Latest.Version)
	}
}

// TestDecodeCacheSeededByPut: a put leaves the head record it wrote
// decoded in the cache, for the exact bytes it wrote, so the planning read
// of the next write of the parameter decodes nothing; the copy it returns
// is the head record as stored.
func TestDecodeCacheSeededByPut(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cmd := &Command{Op: OpPut, Tenancy: "t", Name: "/a", Create: true,
		Param: &Parameter{Name: "/A", Latest: Version{Version: 1, Type: "String", Value: "one"}, Versions: []int64{1},
			Tags: map[string]string{"k": "v"}}}
	data, _ := cmd.Marshal()
	if err := db.ApplyBatch([]Entry{{Index: 7, Data: data}})[0]; err != nil {
		t.Fatal(err)
	}
	key := paramKey("t", "/a")
	db.decoded.mu.Lock()
	e, ok := db.decoded.entries[string(key)]
	db.decoded.mu.Unlock()
	if !ok {
		t.Fatal("the put left no decoded head record in the cache")
	}
	err = db.View(context.Background(), func(r *Reader) error {
		stored := r.tx.Bucket(bucketParams).Get(key)
		if string(stored) != string(e.raw) {
			t.Fatalf("cached bytes %s differ from the stored %s", e.raw, stored)
		}
		p, err := r.Param("t", "/a")
		if err != nil {
			return err
		}
		if p.ModIndex != 7 || p.Name != "/A" || p.Latest.Value != "one" || p.Tags["k"] != "v" {
			t.Fatalf("read %+v, want the stored head at ModIndex 7", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTenancyCacheSeesChanges: the tenancy record read through the cache
// follows every write of it, and a caller's copy is its own.
func TestTenancyCacheSeesChanges(t *testing.T) {
	db := openTestDB(t)
	read := func() *Tenancy {
		t.Helper()
		var ten *Tenancy
		if err := db.d.View(WithPointReads(context.Background()), func(r *Reader) error {
			var err error
			ten, err = r.Tenancy(testTenancy)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ten
	}
	db.mustApply(putCmd("/a", 1, "Standard", 0))
	first := read()
	if first.Standard != 1 {
		t.Fatalf("after a create: %+v, want 1 standard", first)
	}
	first.Standard = 99 // the caller's copy, not the cache's
	if got := read(); got.Standard != 1 {
		t.Fatalf("second read: %+v, want 1 standard (the cache changed through a returned copy)", got)
	}
	db.mustApply(putCmd("/b", 1, "Advanced", 0))
	if got := read(); got.Standard != 1 || got.Advanced != 1 {
		t.Fatalf("after a second create: %+v, want 1 and 1", got)
	}
	db.mustApply(&Command{Op: OpSetting, Tenancy: testTenancy, SettingID: "/ssm/parameter-store/default-parameter-tier", Setting: &Setting{Value: "Advanced"}})
	if got := read(); got.Settings["/ssm/parameter-store/default-parameter-tier"].Value != "Advanced" || got.Advanced != 1 {
		t.Fatalf("after a setting: %+v", got)
	}
}
