package raftstore

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/types"

	"github.com/paramstore/paramstore/internal/atomicfile"
)

// spareSegmentFile is the name, in wal/, of the next segment made ahead of
// need: raft-wal lists only *.wal files, so it never reads it as a segment.
const (
	spareSegmentFile = "next-segment.zero"
	spareSegmentTemp = spareSegmentFile + ".tmp"
)

// spareFS is raft-wal's files (fs.FS) with new segments that are written
// zeros instead of preallocated ones. raft-wal preallocates a segment with
// fallocate: the file's blocks are unwritten extents, and every fsync of an
// append batch then also journals the conversion of the extents the batch
// wrote (measured on this project's machine: a 16 KiB write and fsync cost
// 310-320 µs of CPU and 1.2-1.5 ms against 105-170 µs and 0.4-0.7 ms on a
// file of written zeros; the log's fsync is a write's latency). A
// background goroutine writes the next segment's zeros into
// next-segment.zero and syncs them; Create links that file under the
// segment's name (exclusive, as raft-wal's Create) and starts the next
// spare. With no spare ready (the first segment; the spare still being
// written; a failed spare, e.g. a full disk), Create is raft-wal's own.
//
// The segment's bytes are zeros either way (raft-wal reads a preallocated
// tail as zeros too), so a segment made from the spare reads the same after
// a crash. A spare's size never changes after it is synced, so a segment
// made from one is synced with fdatasync (the size and the blocks are
// already durable), and its directory entry with the first sync, as
// raft-wal does for its own. The spare is never trusted across a restart:
// openWAL removes what a previous run left (a half-written one after a
// crash) and writes it again.
type spareFS struct {
	*fs.FS
	dir  string
	size int64
	log  hclog.Logger

	mu     sync.Mutex
	ready  bool          // dir/spareSegmentFile holds size synced zeros
	making chan struct{} // closed when the spare being written is done; nil when none is
	closed bool
	// made counts the segments made from a spare (tests).
	made atomic.Int64
}

// newSpareFS removes the spare a previous run left and starts writing a
// new one. A spare that cannot be removed is left, with a warning, and
// the segments are preallocated: the spare is a saving, never a reason
// for the log not to work.
func newSpareFS(dir string, size int64, log hclog.Logger) *spareFS {
	s := &spareFS{FS: fs.New(), dir: dir, size: size, log: log}
	for _, name := range []string{spareSegmentFile, spareSegmentTemp} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("the spare WAL segment a previous run left could not be removed; segments are preallocated", "error", err)
			s.closed = true
		}
	}
	s.mu.Lock()
	s.startLocked()
	s.mu.Unlock()
	return s
}

// Create makes the segment name from the spare when one is ready, and
// starts the next spare.
func (s *spareFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || dir != s.dir || size != uint64(s.size) || !s.ready {
		s.startLocked()
		return s.FS.Create(dir, name, size)
	}
	s.ready = false
	spare, path := filepath.Join(s.dir, spareSegmentFile), filepath.Join(s.dir, name)
	// Link fails if name exists, as O_EXCL does.
	if err := os.Link(spare, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, err
		}
		// A file system without hard links: no spare from now on.
		s.log.Warn("the spare WAL segment could not be used; segments are preallocated from now on", "error", err)
		s.closed = true
		os.Remove(spare)
		return s.FS.Create(dir, name, size)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	// The spare's name goes; if it stays (a crash before this remove, or a
	// failed one), it is a second name of the segment that nothing uses:
	// the next spare is renamed over it, and openWAL removes it.
	if err := os.Remove(spare); err != nil {
		s.log.Warn("the used spare WAL segment's name could not be removed", "error", err)
	}
	s.made.Add(1)
	s.startLocked()
	return &zeroSegment{File: f, dir: s.dir}, nil
}

// startLocked starts writing the next spare unless one is ready or being
// written.
func (s *spareFS) startLocked() {
	if s.closed || s.ready || s.making != nil {
		return
	}
	done := make(chan struct{})
	s.making = done
	go func() {
		defer close(done)
		err := writeZeros(filepath.Join(s.dir, spareSegmentTemp), filepath.Join(s.dir, spareSegmentFile), s.size)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.making = nil
		if err != nil {
			s.log.Warn("the next WAL segment could not be written ahead; the next one is preallocated", "error", err)
			return
		}
		s.ready = true
	}()
}

// Close waits for the spare being written, and keeps the next from starting.
func (s *spareFS) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closed = true
	done := s.making
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

// zeroBlock is the zeros writeZeros writes, shared (never written to).
var zeroBlock = make([]byte, 1<<20)

// writeZeros writes size zero bytes to tmp, syncs them, and renames tmp to
// path. A failure removes tmp.
func writeZeros(tmp, path string, size int64) (err error) {
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp)
		}
	}()
	for off := int64(0); off < size; {
		n := min(size-off, int64(len(zeroBlock)))
		if _, err := f.Write(zeroBlock[:n]); err != nil {
			return err
		}
		off += n
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// zeroSegment is a segment made from a spare: its size and blocks are
// durable from the start, so a sync is an fdatasync of its data, plus, the
// first time, its directory's sync (the segment's new name).
type zeroSegment struct {
	*os.File
	dir       string
	dirSynced atomic.Bool
}

func (f *zeroSegment) Sync() error {
	if err := datasync(f.File); err != nil {
		return err
	}
	if f.dirSynced.Load() {
		return nil
	}
	if err := atomicfile.SyncDir(f.dir); err != nil {
		return err
	}
	f.dirSynced.Store(true)
	return nil
}
