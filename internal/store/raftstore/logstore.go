package raftstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
	bolt "go.etcd.io/bbolt"

	"github.com/paramstore/paramstore/internal/atomicfile"
	"github.com/paramstore/paramstore/internal/store"
)

// The raft log store (--raft-log). Two formats hold a node's raft log and
// its stable values (current term, vote):
//
//   - bolt: raft.db, a bbolt file (raft-boltdb), every data directory made
//     before the WAL; each append batch is a bbolt commit, which fsyncs
//     twice (the pages, then the meta page);
//   - wal: wal/, a segmented write-ahead log (raft-wal): wal/wal-meta.db
//     (a small bbolt file: the list of segments and the stable values) and
//     wal/*.wal (segments of walSegmentSize, written zeros made ahead of
//     need in wal/next-segment.zero, or preallocated: walspare.go; whole
//     ones deleted as raft truncates the log); an append batch is written
//     to the tail segment and synced once.
//
// The format of a data directory is what it holds, never a guess: a
// directory with raft.db keeps raft.db, a new one gets the WAL (or raft.db
// with --raft-log bolt), and a directory with both, or with neither but
// with state a log should go with (a state machine that applied entries,
// snapshots), is refused: see detectLog.

// Log formats, the values of --raft-log.
const (
	LogAuto = "auto" // the directory's format; the WAL for a new one
	LogWAL  = "wal"
	LogBolt = "bolt"
)

const (
	walDir = "wal"
	// walMetaFile is raft-wal's bbolt file in walDir.
	walMetaFile = metadb.FileName
	// walSegmentSize is the size of a WAL segment. The log holds at most
	// TrailingLogs + SnapshotThreshold entries (16k by default, a few MB
	// of compact commands), and raft-wal frees space a whole segment at a
	// time: 8 MiB keeps the log to a few segments where raft-wal's 64 MiB
	// default preallocates one that is mostly empty.
	walSegmentSize = 8 << 20
)

// logStore is raft's log and stable store: raft.db or the WAL.
type logStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

var (
	_ logStore = (*raftboltdb.BoltStore)(nil)
	_ logStore = (*walStore)(nil)
)

// validLogKind reports whether kind is a value of --raft-log.
func validLogKind(kind string) bool {
	switch kind {
	case "", LogAuto, LogWAL, LogBolt:
		return true
	}
	return false
}

// logFiles returns the files of dir's log of the given kind that the
// start-up checks look at, relative to dir: raft.db, or the WAL's meta
// file and segments.
func logFiles(dir, kind string) []string {
	if kind == LogBolt {
		return []string{logFile}
	}
	files := []string{filepath.Join(walDir, walMetaFile)}
	segs, _ := filepath.Glob(filepath.Join(dir, walDir, "*.wal"))
	for _, s := range segs {
		files = append(files, filepath.Join(walDir, filepath.Base(s)))
	}
	return files
}

// detectLog decides the log format of the raft directory dir for the
// wanted one (--raft-log): the format of the log dir holds, or for a
// directory without one, the WAL (auto, wal) or raft.db (bolt); isNew
// says the directory holds no log, and Open then refuses it if it holds
// other state (checkNoStateWithoutLog). It refuses a directory holding
// both formats, and a wanted format that is not the directory's: a log is
// never converted on the way (there is no silent migration).
func detectLog(dir, want string) (kind string, isNew bool, err error) {
	if !validLogKind(want) {
		return "", false, fmt.Errorf("raftstore: --raft-log %q: want auto, wal or bolt", want)
	}
	hasBolt, err := exists(filepath.Join(dir, logFile))
	if err != nil {
		return "", false, err
	}
	hasWAL, err := exists(filepath.Join(dir, walDir))
	if err != nil {
		return "", false, err
	}
	switch {
	case hasBolt && hasWAL:
		return "", false, &DataDirError{Dir: dir, Files: []string{logFile, walDir + "/"},
			Problem: "the directory holds two raft logs, raft.db (raft-boltdb) and wal/ (raft-wal), and the server cannot tell which one is this node's",
			Fix: "keep the one this node last ran with and move the other aside (for example mv " + filepath.Join(dir, walDir) + " " + filepath.Join(dir, walDir) + ".aside, " +
				"if the server's log said raft_log=bolt); the newer files are the log's. If unsure, " + fixMember}
	case hasBolt:
		kind = LogBolt
	case hasWAL:
		kind = LogWAL
	}
	if kind != "" && want != "" && want != LogAuto && want != kind {
		return "", false, &DataDirError{Dir: dir, Files: logFiles(dir, kind),
			Problem: fmt.Sprintf("--raft-log %s, but this node's raft log is in the %s format (%s); a log is not converted when the server starts", want, kind, logFiles(dir, kind)[0]),
			Fix:     "start without --raft-log (auto keeps the directory's format), or, to change the format, " + fixMember}
	}
	if kind != "" {
		return kind, false, nil
	}
	if want == LogBolt {
		return LogBolt, true, nil
	}
	return LogWAL, true, nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("raftstore: %w", err)
}

// checkNoStateWithoutLog refuses a directory without a raft log whose
// state machine applied entries or that holds snapshots: its log was lost
// (with the term and vote of the node), and starting would begin a new one
// that does not continue it. A restored snapshot (paramstore snapshot
// restore) resets the applied index, so it starts.
func (n *Node) checkNoStateWithoutLog() error {
	applied, err := n.db.AppliedIndex()
	if err != nil {
		return err
	}
	var snaps []string
	entries, err := os.ReadDir(filepath.Join(n.cfg.Dir, snapshotsDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("raftstore: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasSuffix(e.Name(), ".tmp") {
			snaps = append(snaps, filepath.Join(snapshotsDir, e.Name()))
		}
	}
	if applied == 0 && len(snaps) == 0 {
		return nil
	}
	return &DataDirError{Dir: n.cfg.Dir, Files: append([]string{stateFile, logFile, walDir}, snaps...),
		Problem: fmt.Sprintf("there is no raft log (neither %s nor %s/), but the state machine has applied index %d and there are %d snapshots: the log was lost or moved, and a new one would not continue it: new writes would be numbered from 1 and never applied",
			logFile, walDir, applied, len(snaps)),
		Fix: "put back the raft log of this node (raft.db, or the wal/ directory) from where it was moved or from a backup, or " + fixMember +
			" If this node is the only one left, start it once with --force-new-cluster: state.db becomes the state of a new single-node cluster (see " + docsRef + ")."}
}

// openLog opens (creating it if need be) the log of the given kind in dir.
func openLog(dir, kind string, hlog hclog.Logger) (logStore, error) {
	if kind == LogBolt {
		return openLogStore(filepath.Join(dir, logFile))
	}
	return openWAL(filepath.Join(dir, walDir), hlog)
}

// walStore is the WAL with its meta file, which raft-wal's Close leaves
// open (v0.4.0): Close closes both, so that the file's lock goes with the
// node (a check or a compaction after it would otherwise wait for it).
//
// It opens the WAL again after a failed append (StoreLogs), so every call
// holds mu for reading, and the reopen holds it for writing.
type walStore struct {
	dir string
	log hclog.Logger

	mu     sync.RWMutex
	wal    *wal.WAL // nil after a failed reopen, until one succeeds
	meta   *metadb.BoltMetaDB
	spare  *spareFS
	closed bool
	// reopens counts the reopens after a failed append (tests).
	reopens atomic.Int64
}

// errWALClosed answers the calls to a closed store, and those after a
// reopen failed (the next append tries the reopen again).
var errWALClosed = errors.New("raft-wal: the log is closed")

// use calls fn with the open WAL, holding mu for reading.
func (s *walStore) use(fn func(w *wal.WAL) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.wal == nil {
		return errWALClosed
	}
	return fn(s.wal)
}

func (s *walStore) FirstIndex() (first uint64, err error) {
	err = s.use(func(w *wal.WAL) (err error) {
		first, err = w.FirstIndex()
		return err
	})
	return first, err
}

func (s *walStore) LastIndex() (last uint64, err error) {
	err = s.use(func(w *wal.WAL) (err error) {
		last, err = w.LastIndex()
		return err
	})
	return last, err
}

// GetLog answers raft.ErrLogNotFound for an entry before the first index,
// as raft.db does. raft-wal (v0.4.0) truncates the head of a segment only
// in its metadata and still reads those entries until the whole segment is
// deleted: the leader would then send a new follower entries it truncated
// after a snapshot, instead of the snapshot (and the compact entries that
// logcodec.go truncates for a node that cannot decode them).
//
// An entry whose bytes were damaged makes raft-wal's decoder panic
// (v0.4.0); that is an error here, which raft reports (or refuses to start
// on), not a crash.
func (s *walStore) GetLog(index uint64, l *raft.Log) error {
	return s.use(func(w *wal.WAL) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: raft-wal: entry %d cannot be decoded: %v", wal.ErrCorrupt, index, p)
			}
		}()
		first, err := w.FirstIndex()
		if err != nil {
			return err
		}
		if index < first {
			return raft.ErrLogNotFound
		}
		return w.GetLog(index, l)
	})
}

func (s *walStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs opens the WAL again after a failed append, and tries the
// append once more. raft-wal (v0.4.0) does not recover from one in
// process:
//   - it rotates segments in the background after the append that fills
//     one; when the next segment cannot be made (a full disk fails its
//     preallocation), the metadata lists the new segment but the WAL keeps
//     the sealed one as its tail, and refuses every append ("segment is
//     sealed"), even once space is freed;
//   - an append whose write fails (a full disk under a segment that was
//     not preallocated) leaves its entries in the tail's index but not
//     committed, and every later append is refused ("non-monotonic").
//
// Opened again, the WAL reads its metadata and scans its tail up to the
// last committed batch, as after a restart: the new, empty segment is the
// tail, the failed batch is not in it, and the append is stored if there
// is space now (TestWALSpareFullDisk).
func (s *walStore) StoreLogs(logs []*raft.Log) error {
	var failed *wal.WAL
	err := s.use(func(w *wal.WAL) error {
		err := w.StoreLogs(logs)
		if err != nil {
			failed = w
		}
		return err
	})
	if err == nil {
		return nil
	}
	if rerr := s.reopen(failed, err); rerr != nil {
		return fmt.Errorf("%w (opening the log again: %v)", err, rerr)
	}
	return s.use(func(w *wal.WAL) error { return w.StoreLogs(logs) })
}

// reopen closes the WAL that failed an append with err (nil: after a
// reopen that failed) and opens it again, unless another call did so
// already or the store is closed.
func (s *walStore) reopen(failed *wal.WAL, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errWALClosed
	}
	if s.wal != failed {
		return nil
	}
	s.log.Named("wal").Warn("an append to the log failed: opening the log again, as after a restart", "error", err)
	if failed != nil {
		s.closeLocked()
	}
	w, meta, spare, oerr := openWALFiles(s.dir, s.log)
	if oerr != nil {
		return oerr
	}
	s.wal, s.meta, s.spare = w, meta, spare
	s.reopens.Add(1)
	return nil
}

// IsMonotonic says the WAL refuses a gap (raft.MonotonicLogStore), as
// raft-wal's own WAL does: a node that installs a snapshot from its leader
// then empties its log, rather than keep the entries before the snapshot,
// after which the leader's next entry would be a gap the WAL refuses at
// every append (a follower stuck behind for good).
func (s *walStore) IsMonotonic() bool { return true }

var _ raft.MonotonicLogStore = (*walStore)(nil)

func (s *walStore) DeleteRange(min, max uint64) error {
	return s.use(func(w *wal.WAL) error { return w.DeleteRange(min, max) })
}

func (s *walStore) Set(key, val []byte) error {
	return s.use(func(w *wal.WAL) error { return w.Set(key, val) })
}

func (s *walStore) Get(key []byte) (val []byte, err error) {
	err = s.use(func(w *wal.WAL) (err error) {
		val, err = w.Get(key)
		return err
	})
	return val, err
}

func (s *walStore) SetUint64(key []byte, val uint64) error {
	return s.use(func(w *wal.WAL) error { return w.SetUint64(key, val) })
}

func (s *walStore) GetUint64(key []byte) (val uint64, err error) {
	err = s.use(func(w *wal.WAL) (err error) {
		val, err = w.GetUint64(key)
		return err
	})
	return val, err
}

func (s *walStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.wal == nil {
		return nil
	}
	return s.closeLocked()
}

func (s *walStore) closeLocked() error {
	err := s.wal.Close()
	s.spare.Close()
	if cerr := s.meta.Close(); err == nil {
		err = cerr
	}
	s.wal, s.meta, s.spare = nil, nil, nil
	return err
}

// segmentFiler is raft-wal's segment files with one repair. raft-wal
// v0.4.0 seals the tail segment when raft deletes a suffix of the log (a
// follower dropping entries a new leader does not have) without writing the
// segment's index block, and reading a sealed segment needs that block: the
// node then fails to read its log after a restart ("sealed segment has no
// index block", hashicorp/raft-wal#31; TestWALTailTruncationReopens). Such
// a segment is read the way raft-wal reads a tail after a crash, by a scan
// of its frames up to its last committed batch; the entries past its
// MaxIndex are never asked of it (the next segment holds those indexes).
type segmentFiler struct {
	*segment.Filer
}

func (f segmentFiler) Open(info types.SegmentInfo) (types.SegmentReader, error) {
	if info.IndexStart == 0 && !info.SealTime.IsZero() {
		return f.Filer.RecoverTail(info)
	}
	return f.Filer.Open(info)
}

// openWAL opens the WAL in dir, creating dir for a new one.
func openWAL(dir string, hlog hclog.Logger) (*walStore, error) {
	if err := os.Mkdir(dir, 0o700); err == nil {
		if err := atomicfile.SyncDir(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	w, meta, spare, err := openWALFiles(dir, hlog)
	if err != nil {
		return nil, err
	}
	return &walStore{dir: dir, log: hlog, wal: w, meta: meta, spare: spare}, nil
}

// openWALFiles opens raft-wal on the existing directory dir.
func openWALFiles(dir string, hlog hclog.Logger) (w *wal.WAL, meta *metadb.BoltMetaDB, spare *spareFS, err error) {
	// raft-wal reads segments it did not write the way it wrote them; a
	// damaged one must end in an error, not take the server down.
	meta = &metadb.BoltMetaDB{}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: raft-wal: %v", wal.ErrCorrupt, p)
		}
		if err != nil {
			meta.Close()
			spare.Close()
			w, meta, spare = nil, nil, nil
		}
	}()
	spare = newSpareFS(dir, walSegmentSize, hlog.Named("wal"))
	filer := segmentFiler{segment.NewFiler(dir, spare)}
	if err := finishRotation(dir, meta, filer, hlog.Named("wal")); err != nil {
		return nil, nil, nil, err
	}
	w, err = wal.Open(dir, wal.WithSegmentSize(walSegmentSize), wal.WithLogger(hlog.Named("wal")), wal.WithMetaStore(meta),
		wal.WithSegmentFiler(filer))
	return w, meta, spare, err
}

// finishRotation completes, before raft-wal opens the WAL in dir, a
// segment rotation that a crash cut short. raft-wal (v0.4.0) seals a full
// tail segment (its index frame, committed) in the append that fills it,
// and records the seal and the next segment in its meta file afterwards,
// in the background. Killed in between, the meta file still lists the
// sealed segment as the tail: raft-wal opens it as the tail, in the sealed
// state it reads from the file, and refuses every append ("segment is
// sealed"), for good (a restart or a reopen reads the same files). Here
// the meta file gets what the rotation would have recorded: the tail
// sealed at the last entry the file holds, and an empty next segment
// after it, whose file raft-wal creates as it does
// after a crash that came before the file was made.
func finishRotation(dir string, meta *metadb.BoltMetaDB, filer segmentFiler, log hclog.Logger) error {
	st, err := meta.Load(dir)
	if err != nil || len(st.Segments) == 0 {
		return err // wal.Open reports a meta file it cannot load
	}
	tail := st.Segments[len(st.Segments)-1]
	if !tail.SealTime.IsZero() {
		return nil
	}
	sw, err := filer.RecoverTail(tail)
	if err != nil {
		return nil // a missing or damaged tail: wal.Open handles or reports it
	}
	sealed, _, err := sw.Sealed()
	last := sw.LastIndex()
	sw.Close()
	if err != nil || !sealed {
		return err
	}
	// Without its index frame's offset (IndexStart 0): raft-wal's scan
	// marks the segment sealed on any index frame it meets, also one of a
	// last batch whose commit was torn (it rewinds to the commit before
	// and keeps the mark), whose offsets cannot be trusted; segmentFiler
	// reads such a segment by scanning its committed frames instead.
	tail.SealTime, tail.MaxIndex, tail.IndexStart = time.Now(), last, 0
	st.Segments[len(st.Segments)-1] = tail
	st.Segments = append(st.Segments, types.SegmentInfo{
		ID: st.NextSegmentID, BaseIndex: last + 1, MinIndex: last + 1, SizeLimit: tail.SizeLimit,
		Codec: tail.Codec, CreateTime: time.Now(),
	})
	st.NextSegmentID++
	if err := meta.CommitState(st); err != nil {
		return fmt.Errorf("raft-wal: record the rotation of the sealed tail segment %d: %w", tail.ID, err)
	}
	log.Warn("the tail segment was sealed and its rotation not recorded (a crash during a rotation): recorded it now",
		"segment", tail.ID, "last_index", last)
	return nil
}

// checkWAL checks the WAL in the raft directory dir before raft-wal opens
// it, for what raft-wal would repair by dropping entries or files:
//
//   - its meta file must pass check (a bbolt file, as raft.db's check),
//     unless the clean-shutdown record vouches for it;
//   - segment files in wal/ but no meta file: raft-wal would start a new
//     log and delete them;
//   - a segment the meta file lists must exist (raft-wal recreates a
//     missing tail segment empty), and be no shorter than the size it was
//     preallocated to (raft-wal reads a cut segment as ending where it was
//     cut). A tail segment of 0 bytes is one whose creation a crash cut
//     before anything was written to it.
//
// What it cannot see: a changed byte inside an entry of a segment (raft-wal
// checks the CRC of the last batch only), as bbolt cannot see one inside a
// page of raft.db; the clean-shutdown record covers both while the node is
// stopped cleanly.
func checkWAL(ctx context.Context, dir string, check store.Checker, vouched bool) error {
	wdir := filepath.Join(dir, walDir)
	metaRel := filepath.Join(walDir, walMetaFile)
	segs, err := filepath.Glob(filepath.Join(wdir, "*.wal"))
	if err != nil {
		return err
	}
	hasMeta, err := exists(filepath.Join(dir, metaRel))
	if err != nil {
		return err
	}
	if !hasMeta {
		if len(segs) == 0 {
			return nil // a new WAL whose creation was cut: raft-wal starts it again
		}
		return &DataDirError{Dir: dir, Files: []string{metaRel},
			Problem: fmt.Sprintf("%s is missing while %s/ holds %d segment files: without it the entries cannot be read (and raft-wal would delete the segments)", walMetaFile, walDir, len(segs)),
			Fix:     "put back " + metaRel + " from where it was moved or from a backup of this node, or " + fixMember}
	}
	// A meta file the clean-shutdown record vouches for is as it was
	// closed: no structural check (a child process) is needed.
	if !vouched {
		if _, err := check(ctx, filepath.Join(dir, metaRel)); err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				return fmt.Errorf("raftstore: check %s: %w", filepath.Join(dir, metaRel), err)
			}
			return &DataDirError{Dir: dir, Files: []string{metaRel},
				Problem: fmt.Sprintf("%s is damaged: %v", metaRel, err), Fix: fixDamaged(dir, walDir)}
		}
	}
	state, err := readWALMeta(filepath.Join(dir, metaRel))
	if err != nil {
		return &DataDirError{Dir: dir, Files: []string{metaRel},
			Problem: fmt.Sprintf("%s cannot be read: %v", metaRel, err), Fix: fixDamaged(dir, walDir)}
	}
	for i, si := range state.Segments {
		rel := filepath.Join(walDir, segmentName(si.BaseIndex, si.ID))
		fi, err := os.Stat(filepath.Join(dir, rel))
		tail := i == len(state.Segments)-1 && si.SealTime.IsZero()
		switch {
		case errors.Is(err, os.ErrNotExist):
			return &DataDirError{Dir: dir, Files: []string{rel},
				Problem: fmt.Sprintf("the WAL segment %s (entries from index %d) is missing", rel, max(si.MinIndex, si.BaseIndex)),
				Fix:     "put back " + rel + " from where it was moved or from a backup of this node, or " + fixMember}
		case err != nil:
			return fmt.Errorf("raftstore: %w", err)
		case tail && fi.Size() == 0:
		case si.SizeLimit > 0 && uint64(fi.Size()) < uint64(si.SizeLimit):
			return &DataDirError{Dir: dir, Files: []string{rel},
				Problem: fmt.Sprintf("the WAL segment %s is %d bytes, shorter than the %d it was created with: it was cut, and the entries past the cut would be lost", rel, fi.Size(), si.SizeLimit),
				Fix:     fixDamaged(dir, walDir)}
		}
	}
	return nil
}

// segmentName is raft-wal's name of a segment file.
func segmentName(baseIndex, id uint64) string {
	return fmt.Sprintf("%020d-%016x.wal", baseIndex, id)
}

// readWALMeta reads the segment list of a WAL's meta file, read-only.
func readWALMeta(path string) (st types.PersistentState, err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return st, err
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(metadb.MetaBucket))
		if b == nil {
			return fmt.Errorf("no %s bucket", metadb.MetaBucket)
		}
		raw := b.Get([]byte(metadb.MetaKey))
		if raw == nil {
			return nil // a WAL that never committed a state: nothing listed
		}
		return json.Unmarshal(raw, &st)
	})
	return st, err
}
