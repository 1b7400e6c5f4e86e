package raftstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// countedLogs counts the entries read from a real log store.
type countedLogs struct {
	logStore
	reads int
}

func (c *countedLogs) GetLog(index uint64, log *raft.Log) error {
	c.reads++
	return c.logStore.GetLog(index, log)
}

// TestRecentLogs: the entries a cluster node's log store last wrote are
// read back from memory; a deleted range (a follower's conflicting tail)
// is read from the store again, and then holds what was written there
// since; entries the store refused, and entries older than the cache
// holds, are not served from it.
func TestRecentLogs(t *testing.T) {
	s, err := openWAL(filepath.Join(t.TempDir(), walDir), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inner := &countedLogs{logStore: s}
	var fault error
	l := &watchedLogs{logStore: inner, watch: &storageWatch{}, recent: newRecentLogs(8),
		fault: func() error { return fault }}
	entries := func(from, to uint64, term uint64) []*raft.Log {
		var out []*raft.Log
		for i := from; i <= to; i++ {
			out = append(out, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: fmt.Appendf(nil, "%d@%d", i, term)})
		}
		return out
	}
	read := func(index uint64) (string, bool, error) {
		before := inner.reads
		var got raft.Log
		err := l.GetLog(index, &got)
		return string(got.Data), inner.reads == before, err
	}
	want := func(index uint64, data string, fromMemory bool) {
		t.Helper()
		got, mem, err := read(index)
		if err != nil || got != data || mem != fromMemory {
			t.Errorf("entry %d: %q (from memory %v), %v; want %q (from memory %v)", index, got, mem, err, data, fromMemory)
		}
	}
	if err := l.StoreLogs(entries(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	want(10, "10@1", true)
	want(3, "3@1", true)
	want(2, "2@1", false) // older than the last 8
	if err := l.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	if _, mem, err := read(9); !errors.Is(err, raft.ErrLogNotFound) || mem {
		t.Errorf("a deleted entry: %v (from memory %v), want %v from the store", err, mem, raft.ErrLogNotFound)
	}
	want(5, "5@1", false) // the cache was emptied
	if err := l.StoreLogs(entries(8, 9, 2)); err != nil {
		t.Fatal(err)
	}
	want(9, "9@2", true)
	fault = syscall.ENOSPC
	if err := l.StoreLogs(entries(10, 10, 2)); err == nil {
		t.Fatal("an injected ENOSPC did not fail the write")
	}
	if _, mem, err := read(10); err == nil || mem {
		t.Errorf("an entry the store refused: %v (from memory %v), want an error from the store", err, mem)
	}
	fault = nil
	if err := l.StoreLog(entries(10, 10, 2)[0]); err != nil {
		t.Fatal(err)
	}
	want(10, "10@2", true)
}
