package store

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestPruneRequests: a command's ID prunes the IDs older than dedupWindow
// before its time, and an ID that is not an even-length hex string of at
// least 8 bytes (which hex.DecodeString refused, as every replica must
// agree) prunes nothing.
func TestPruneRequests(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "r.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Unix(1_700_000_000, 0)
	old := NewCommandID(now.Add(-dedupWindow - time.Second))
	recent := NewCommandID(now.Add(-dedupWindow + time.Second))
	current := NewCommandID(now)
	for _, tc := range []struct {
		id        string
		prunesOld bool
	}{
		{current, true},
		{strings.ToUpper(current), true},
		{current + "0", false},       // odd length
		{current[:30] + "zz", false}, // not hex after the time
		{current[:14], false},        // shorter than 8 bytes
		{"", false},
	} {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketRequests)
			if err != nil {
				return err
			}
			for _, id := range []string{old, recent} {
				if err := b.Put([]byte(id), []byte("ok")); err != nil {
					return err
				}
			}
			pruneRequests(b, tc.id)
			if got := b.Get([]byte(old)) == nil; got != tc.prunesOld {
				t.Errorf("id %q: old ID pruned %v, want %v", tc.id, got, tc.prunesOld)
			}
			if b.Get([]byte(recent)) == nil {
				t.Errorf("id %q: pruned an ID inside the window", tc.id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
