package raftstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestWALSpareFullDisk: the log on a real full disk (a 20 MiB tmpfs,
// filled up). The spare being written when the disk fills fails and its
// temporary file is removed (the space comes back); the segment after it,
// preallocated as raft-wal does, cannot be made, and the appends after
// that are refused with ENOSPC, not acknowledged: each opens the log
// again (raft-wal would refuse every append from then on, even with space
// freed). Once space is freed the same append succeeds, and every
// acknowledged entry reads back, before and after a reopen.
func TestWALSpareFullDisk(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mount("tmpfs", root, "tmpfs", 0, "size=20m,mode=0700"); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("skipped: mounting a tmpfs is not permitted here (CI runs as root): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(root, 0) })
	dir := filepath.Join(root, walDir)
	s, err := openWAL(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	data := func(i uint64) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8), 0xc3}, 16<<10) }
	const batch = 16 // 768 KiB a batch
	next := uint64(1)
	batchFrom := func(first uint64) []*raft.Log {
		logs := make([]*raft.Log, batch)
		for j := range logs {
			i := first + uint64(j)
			logs[j] = &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: data(i)}
		}
		return logs
	}
	// The first segment is preallocated, the spare written: fill all but
	// 2 MiB, so that the next spare cannot be written.
	if err := s.StoreLogs(batchFrom(next)); err != nil {
		t.Fatal(err)
	}
	next += batch
	waitSpare(t, s)
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil {
		t.Fatal(err)
	}
	ballast := filepath.Join(root, "ballast")
	free := int64(st.Bavail) * st.Bsize
	if err := os.WriteFile(ballast, make([]byte, free-2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	// Fill the first segment: the second comes from the spare, and the
	// spare after it fails.
	for s.spare.made.Load() == 0 {
		if err := s.StoreLogs(batchFrom(next)); err != nil {
			t.Fatalf("append at %d with a spare ready: %v", next, err)
		}
		next += batch
	}
	if ready := waitSpareDone(t, s); ready {
		t.Fatal("a spare was written on a full disk")
	}
	if _, err := os.Stat(filepath.Join(dir, spareSegmentTemp)); !os.IsNotExist(err) {
		t.Fatalf("the failed spare's %s is left: %v", spareSegmentTemp, err)
	}
	// Fill the second segment: the third cannot be preallocated.
	var full error
	for range 64 {
		if full = s.StoreLogs(batchFrom(next)); full != nil {
			break
		}
		next += batch
	}
	if !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("appends past a full disk: %v, want ENOSPC", full)
	}
	if s.reopens.Load() == 0 {
		t.Fatal("the log was not opened again after a refused append")
	}
	// Refused again while the disk is full (the reopened tail has no
	// preallocated space): a failed write leaves raft-wal's tail unusable,
	// and the next append opens the log again.
	reopens := s.reopens.Load()
	for range 3 {
		if err := s.StoreLogs(batchFrom(next)); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("an append to a full disk again: %v, want ENOSPC", err)
		}
	}
	if s.reopens.Load() < reopens+3 {
		t.Fatalf("%d reopens for 3 refused appends, want 3", s.reopens.Load()-reopens)
	}
	acked := next - 1
	if last, err := s.LastIndex(); err != nil || last != acked {
		t.Fatalf("last index %d, %v after refused appends; want %d", last, err, acked)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(batchFrom(next)); err != nil {
		t.Fatalf("the refused append again, with space freed: %v", err)
	}
	acked = next + batch - 1
	check := func(step string) {
		t.Helper()
		last, err := s.LastIndex()
		if err != nil || last != acked {
			t.Fatalf("%s: last index %d, %v; want %d", step, last, err, acked)
		}
		for i := uint64(1); i <= acked; i++ {
			var l raft.Log
			if err := s.GetLog(i, &l); err != nil || !bytes.Equal(l.Data, data(i)) {
				t.Fatalf("%s: entry %d: %v", step, i, err)
			}
		}
	}
	check("space freed")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = openWAL(dir, hclog.NewNullLogger()); err != nil {
		t.Fatal(err)
	}
	check("after a reopen")
}

// waitSpareDone waits until no spare is being written, and says whether
// one is ready.
func waitSpareDone(t *testing.T, s *walStore) bool {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		s.mu.RLock()
		spare := s.spare
		s.mu.RUnlock()
		spare.mu.Lock()
		ready, making := spare.ready, spare.making
		spare.mu.Unlock()
		if making == nil {
			return ready
		}
		if time.Now().After(deadline) {
			t.Fatal("the spare segment was still being written after a minute")
		}
	}
}
