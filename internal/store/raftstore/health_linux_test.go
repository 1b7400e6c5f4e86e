package raftstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// TestStateMachineFullDisk: the state machine on a real full disk (a 2 MiB
// tmpfs filled up): a batch that cannot be written is reported with its
// class (ENOSPC), not swallowed, and the report clears once a batch is
// written again.
func TestStateMachineFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700"); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("skipped: mounting a tmpfs is not permitted here (CI runs as root): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	db, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var watch storageWatch
	f := &fsm{db: db, storage: &watch}
	index := uint64(0)
	apply := func(name string) any {
		c := putCmd(name, 1, 0)
		c.Param.Latest.Value = strings.Repeat("x", 4000)
		data, _ := c.Marshal()
		index++
		return f.ApplyBatch([]*raft.Log{{Index: index, Term: 1, Type: raft.LogCommand, Data: data}})[0]
	}
	if res := apply("/first"); res != nil {
		t.Fatalf("first apply: %v", res)
	}
	filler := filepath.Join(dir, "filler")
	fh, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := fh.Write(make([]byte, 64<<10)); err != nil {
			break
		}
	}
	fh.Close()
	var failed any
	for i := 0; i < 200 && failed == nil; i++ {
		failed = apply("/full/" + strings.Repeat("p", i%50) + string(rune('a'+i%26)))
	}
	if failed == nil {
		t.Fatal("200 writes of 4 KB succeeded on a full 2 MiB disk")
	}
	h := watch.snapshot()
	if len(h.Failing) != 1 || h.Failing[0].Where != "state machine" || h.Failing[0].Class != "ENOSPC" {
		t.Fatalf("storage health after %v: %+v", failed, h)
	}
	os.Remove(filler)
	if res := apply("/after"); res != nil {
		t.Fatalf("apply with space again: %v", res)
	}
	if h := watch.snapshot(); len(h.Failing) != 0 || h.Errors == 0 {
		t.Errorf("storage health after a good write: %+v", h)
	}
}
