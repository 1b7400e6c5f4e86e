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
