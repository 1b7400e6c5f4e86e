package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/paramstore/paramstore/internal/atomicfile"
	"github.com/paramstore/paramstore/internal/store"
)

// Offline compaction.
//
// bbolt never gives pages back to the file system: state.db keeps the size
// of its largest moment, and raft.db, whose entries raft deletes after each
// snapshot (keeping TrailingLogs), keeps the size of the longest log it
// held. Both reuse their free pages, so they stop growing, but the space
// stays taken. Compact rewrites each file into a new one holding only live
// pages (bbolt's Compact), on a stopped node.

// ErrInUse is wrapped by the error of Compact on a data directory that a
// running server (or another compaction) holds.
var ErrInUse = errors.New("raftstore: the data directory is in use")

// CompactResult is what compaction did to one file.
type CompactResult struct {
	Name          string // state.db or raft.db
	Before, After int64  // sizes in bytes
	Keys          int    // keys copied, in every bucket
	// Kept says the compacted copy was not smaller, so the original was
	// kept.
	Kept bool
}

// Compact compacts state.db and raft.db of the raft directory dir, which
// no process may have open: it refuses, with an error wrapping ErrInUse,
// while a server holds the files' locks. Each file is first checked with
// check (a damaged file is not compacted), then copied into a temporary
// file with bbolt's compaction, which is checked again and must hold the
// same keys as the original, then renamed over it (atomicfile); the
// clean-shutdown record is rewritten for the new files. A crash at any
// point leaves each file either the original or the whole compacted copy.
func Compact(ctx context.Context, dir string, check store.Checker) ([]CompactResult, error) {
	if check == nil {
		check = store.InProcessChecker
	}
	var names []string
	for _, name := range []string{stateFile, logFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			names = append(names, name)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("raftstore: compact: %w", err)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("raftstore: compact: no %s or %s in %s: not a data directory's raft directory", stateFile, logFile, dir)
	}
	// Refuse early, before the checks, if a server runs.
	for _, name := range names {
		db, err := lockBolt(filepath.Join(dir, name), true)
		if err != nil {
			return nil, err
		}
		db.Close()
	}
	// A clean-shutdown record must still vouch for the files (they were
	// not changed while the node was stopped); it is rewritten at the end.
	if _, err := verifyCleanShutdown(dir, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := check(ctx, filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("raftstore: compact: %s did not pass the check, so it is not compacted: %w", name, err)
		}
	}
	// Hold every file's lock until both are replaced.
	var srcs []*bolt.DB
	defer func() {
		for _, db := range srcs {
			db.Close()
		}
	}()
	for _, name := range names {
		db, err := lockBolt(filepath.Join(dir, name), false)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, db)
	}
	var results []CompactResult
	for i, name := range names {
		res, err := compactFile(ctx, srcs[i], filepath.Join(dir, name), check)
		if err != nil {
			return results, err
		}
		res.Name = name
		results = append(results, res)
	}
	for _, db := range srcs {
		db.Close()
	}
	srcs = nil
	if err := writeCleanShutdown(dir); err != nil {
		return results, fmt.Errorf("raftstore: compact: rewrite the clean-shutdown record: %w", err)
	}
	return results, nil
}

// lockBolt opens the bbolt file at path with its lock (shared if
// readOnly, else exclusive), or fails with ErrInUse. It never writes to the
// file: opened read-write without NoFreelistSync, bbolt would write the
// free list of a file that has none (state.db).
func lockBolt(path string, readOnly bool) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: readOnly, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is locked by another process: stop the server on this data directory first (compaction runs on a stopped node; in a cluster, one node at a time)", ErrInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("raftstore: compact: open %s: %w", path, err)
	}
	return db, nil
}

// compactFile compacts src (open at path) into a checked copy and renames
// the copy over path.
func compactFile(ctx context.Context, src *bolt.DB, path string, check store.Checker) (CompactResult, error) {
	var res CompactResult
	fi, err := os.Stat(path)
	if err != nil {
		return res, err
	}
	res.Before = fi.Size()
	tmp, err := atomicfile.Create(path, 0o600)
	if err != nil {
		return res, fmt.Errorf("raftstore: compact %s: %w", path, err)
	}
	defer tmp.Cleanup()
	dst, err := bolt.Open(tmp.Name(), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return res, fmt.Errorf("raftstore: compact %s: %w", path, err)
	}
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		return res, fmt.Errorf("raftstore: compact %s: %w", path, err)
	}
	if err := dst.Close(); err != nil {
		return res, fmt.Errorf("raftstore: compact %s: %w", path, err)
	}
	// The copy must be intact and hold what the original holds.
	if _, err := check(ctx, tmp.Name()); err != nil {
		return res, fmt.Errorf("raftstore: compact %s: the compacted copy did not pass the check (the original is untouched): %w", path, err)
	}
	want, err := countKeys(src)
	if err != nil {
		return res, fmt.Errorf("raftstore: compact %s: %w", path, err)
	}
	cp, err := bolt.Open(tmp.Name(), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return res, fmt.Errorf("raftstore: compact %s: reopen the copy: %w", path, err)
	}
	got, err := countKeys(cp)
	cp.Close()
	if err != nil {
		return res, fmt.Errorf("raftstore: compact %s: the copy: %w", path, err)
	}
	if got != want {
		return res, fmt.Errorf("raftstore: compact %s: the copy holds %d keys, the original %d (the original is untouched)", path, got, want)
	}
	res.Keys = got
	if fi, err := os.Stat(tmp.Name()); err == nil && fi.Size() >= res.Before {
		// Nothing to gain (pages already full, or large values that
		// fill pages unevenly either way): keep the original.
		res.After, res.Kept = res.Before, true
		return res, nil
	}
	if err := tmp.Commit(); err != nil {
		return res, fmt.Errorf("raftstore: compact %s: replace: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil {
		res.After = fi.Size()
	}
	return res, nil
}

// countKeys counts the key/value pairs of every bucket, nested ones
// included.
func countKeys(db *bolt.DB) (int, error) {
	n := 0
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			n++
			if v == nil {
				if nb := b.Bucket(k); nb != nil {
					return walk(nb)
				}
			}
			return nil
		})
	}
	err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			n++
			return walk(b)
		})
	})
	return n, err
}
