package raftstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// TestStateMachineFullDisk: the state machine on a real full disk (a 2 MiB
// tmpfs filled up): a batch that cannot be written is reported with its
// class (ENOSPC), not swallowed, and the report clears once a batch is
// written again.
//
// It runs twice: committing every batch, and with the deferred commit (the
// server's mode), where the commit of the waiting entries fails first and
// the next batch waits until they are written; then every write
// acknowledged before is in the file after a reopen.
func TestStateMachineFullDisk(t *testing.T) {
	for _, tc := range []struct {
		name       string
		batchLimit int
	}{{"commit per batch", 0}, {"deferred commit", 1}} {
		t.Run(tc.name, func(t *testing.T) { testStateMachineFullDisk(t, tc.batchLimit) })
	}
}

func testStateMachineFullDisk(t *testing.T, batchLimit int) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700"); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("skipped: mounting a tmpfs is not permitted here (CI runs as root): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	path := filepath.Join(dir, "state.db")
	db, err := store.OpenOptions(path, store.Options{BatchLimit: batchLimit})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	var watch storageWatch
	f := &fsm{db: db, storage: &watch}
	index := uint64(0)
	var acked []string
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
	// The disk is full: a committed batch is not dropped (raft would move
	// past it) but waits, reported with its class, until space returns.
	stop := make(chan struct{})
	defer close(stop)
	f.stop = stop
	done := make(chan any, 1)
	var name string
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatal("200 writes of 4 KB succeeded on a full 2 MiB disk")
		}
		name = "/full/" + strings.Repeat("p", i%50) + string(rune('a'+i%26))
		go func() { done <- apply(name) }()
		failing := false
		for !failing {
			select {
			case res := <-done:
				if res != nil {
					t.Fatalf("apply %s on a full disk returned %v: a committed entry must wait, not fail", name, res)
				}
				acked = append(acked, name)
				failing = true // written: try the next one
				continue
			case <-time.After(10 * time.Millisecond):
			}
			if h := watch.snapshot(); len(h.Failing) == 1 {
				if h.Failing[0].Where != "state machine" || h.Failing[0].Class != "ENOSPC" {
					t.Fatalf("storage health: %+v", h)
				}
				goto waiting
			}
		}
	}
waiting:
	select {
	case res := <-done:
		t.Fatalf("the batch the disk refused returned %v before space came back", res)
	case <-time.After(300 * time.Millisecond):
	}
	os.Remove(filler)
	if res := <-done; res != nil {
		t.Fatalf("the waiting batch once space came back: %v", res)
	}
	found := false
	err = db.View(context.Background(), func(r *store.Reader) error {
		return r.Scan(tenancy, "", "", func(it *store.ScanItem) (store.ScanControl, error) {
			found = found || it.Name == name
			return store.ScanControl{}, nil
		})
	})
	if err != nil || !found {
		t.Errorf("%s after the disk had space again: found=%v %v (a committed write was lost)", name, found, err)
	}
	if res := apply("/after"); res != nil {
		t.Fatalf("apply with space again: %v", res)
	}
	if err := db.Commit(); err != nil {
		t.Fatalf("commit with space again: %v", err)
	}
	if h := watch.snapshot(); len(h.Failing) != 0 || h.Errors == 0 {
		t.Errorf("storage health after a good write: %+v", h)
	}
	// Every write acknowledged, before and while the disk was full, is in
	// the file.
	acked = append(acked, "/first", name, "/after")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = store.Open(path); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	err = db.View(context.Background(), func(r *store.Reader) error {
		return r.Scan(tenancy, "", "", func(it *store.ScanItem) (store.ScanControl, error) {
			have[it.Name] = true
			return store.ScanControl{}, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range acked {
		if !have[n] {
			t.Errorf("%s, acknowledged, is missing from the file after a reopen", n)
		}
	}
}
