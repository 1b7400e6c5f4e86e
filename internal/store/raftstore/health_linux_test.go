package raftstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// TestNodeWritesWaitNotForFullDisk: a node whose state file is on a full
// disk (a 64 MiB tmpfs left 1 MiB; its raft log is not) does not keep writers waiting
// for the disk. Writers in flight when the state machine fails get
// ErrStateStalled at once (their entries may be committed and are applied
// later), later writes are refused before they are proposed (the raft
// log's last index does not move), a linearizable read is served or
// answered ErrBehind (a retryable 503), never left waiting, and writes
// resume once space returns, with every acknowledged write kept, also
// after a reopen.
func TestNodeWritesWaitNotForFullDisk(t *testing.T) {
	dir, disk := t.TempDir(), t.TempDir()
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=64m,mode=0700"); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("skipped: mounting a tmpfs is not permitted here (CI runs as root): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(disk, 0) })
	if err := os.Symlink(filepath.Join(disk, stateFile), filepath.Join(dir, stateFile)); err != nil {
		t.Fatal(err)
	}
	n := openNode(t, testConfig(t, dir))
	open := true
	defer func() {
		if open {
			n.Close()
		}
	}()
	value := strings.Repeat("x", 4000)
	put := func(name string) error {
		c := putCmd(name, 1, 0)
		c.Param.Latest.Value = value
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return n.Apply(ctx, c)
	}
	if err := put("/first"); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(disk, "filler")
	fh, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB is left: the writes applied within a commit interval, which
	// the commit that meets the full disk holds, fit once the filler goes.
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(disk, &st); err != nil {
			t.Fatal(err)
		}
		if int64(st.Bavail)*st.Bsize < 1<<20 {
			break
		}
		if _, err := fh.Write(make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
	}
	fh.Close()

	// Four writers until each is refused.
	var mu sync.Mutex
	acked := []string{"/first"}
	var refusals []error
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				name := fmt.Sprintf("/full/%d/%d", w, i)
				err := put(name)
				mu.Lock()
				if err != nil {
					refusals = append(refusals, err)
					mu.Unlock()
					return
				}
				acked = append(acked, name)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range refusals {
		if !errors.Is(err, ErrStateStalled) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("a write on a full state disk: %v, want ErrStateStalled (an internal error, not a retryable one)", err)
		}
	}
	t.Logf("%d writes acknowledged before the disk refused the state machine; first refusal: %v", len(acked), refusals[0])
	if h := n.Storage(); len(h.Failing) != 1 || h.Failing[0].Where != whereState || h.Failing[0].Class != "ENOSPC" {
		t.Fatalf("storage health on a full state disk: %+v", h)
	}

	last := n.raft.LastIndex()
	if err := put("/refused"); !errors.Is(err, ErrStateStalled) {
		t.Fatalf("a write while the state machine waits for the disk: %v, want ErrStateStalled", err)
	}
	if got := n.raft.LastIndex(); got != last {
		t.Errorf("a refused write moved the raft log from index %d to %d: it was proposed", last, got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err = n.View(ctx, func(*store.Reader) error { return nil })
	cancel()
	switch {
	case err == nil:
		t.Logf("linearizable read served: every committed entry was applied (the commit failed, not an apply)")
	case errors.Is(err, ErrBehind) && errors.Is(err, ErrStateStalled):
		t.Logf("linearizable read refused: %v", err)
	default:
		t.Errorf("a linearizable read while the state machine waits for the disk: %v, want it served or ErrBehind with ErrStateStalled", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The state machine tries again with a backoff of at most
	// storageRetryMax.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := put("/after")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrStateStalled) || time.Now().After(deadline) {
			t.Fatalf("a write once space returned: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	acked = append(acked, "/after")
	check := func(n *Node) {
		t.Helper()
		have := params(t, n)
		for _, name := range acked {
			if have[name] == nil {
				t.Errorf("%s, acknowledged, is missing", name)
			}
		}
	}
	check(n)
	open = false
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	n = openNode(t, testConfig(t, dir))
	open = true
	check(n)
}
