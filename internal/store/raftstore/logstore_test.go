package raftstore

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
)

// raft.db written with its freelist (as every version before openLogStore
// skipped it) opens with openLogStore, and a file written by openLogStore
// opens the old way: entries, truncations and appends survive each
// switch, and bbolt's consistency check passes after each.
func TestLogStoreFreelistEitherWay(t *testing.T) {
	path := filepath.Join(t.TempDir(), logFile)
	older := func() *raftboltdb.BoltStore {
		s, err := raftboltdb.New(raftboltdb.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	current := func() *raftboltdb.BoltStore {
		s, err := openLogStore(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	steps := []struct {
		name       string
		open       func() *raftboltdb.BoltStore
		first, end uint64 // the log holds [first, end) after the step
	}{
		{"older version writes", older, 51, 101},
		{"this version reads and writes", current, 101, 201},
		{"older version reads and writes", older, 151, 251},
		{"this version reads again", current, 201, 301},
	}
	prevFirst, prevEnd := uint64(1), uint64(1)
	for _, st := range steps {
		s := st.open()
		checkRange(t, st.name+" (before)", s, prevFirst, prevEnd)
		for i := prevEnd; i < st.end; i += 10 {
			logs := make([]*raft.Log, 10)
			for j := range logs {
				logs[j] = &raft.Log{Index: i + uint64(j), Term: 1, Type: raft.LogCommand, Data: []byte("entry")}
			}
			if err := s.StoreLogs(logs); err != nil {
				t.Fatalf("%s: store: %v", st.name, err)
			}
		}
		if err := s.DeleteRange(prevFirst, st.first-1); err != nil {
			t.Fatalf("%s: truncate: %v", st.name, err)
		}
		checkRange(t, st.name+" (after)", s, st.first, st.end)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		boltCheck(t, st.name, path)
		prevFirst, prevEnd = st.first, st.end
	}
}

func checkRange(t *testing.T, step string, s *raftboltdb.BoltStore, first, end uint64) {
	t.Helper()
	if end == first {
		return
	}
	gotFirst, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	gotLast, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if gotFirst != first || gotLast != end-1 {
		t.Fatalf("%s: log holds [%d, %d], want [%d, %d]", step, gotFirst, gotLast, first, end-1)
	}
	for i := first; i < end; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil || l.Index != i || string(l.Data) != "entry" {
			t.Fatalf("%s: entry %d: %+v, %v", step, i, l, err)
		}
	}
}

func boltCheck(t *testing.T, step, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: bbolt check: %v", step, err)
	}
}
