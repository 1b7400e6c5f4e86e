package raftstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	bolt "go.etcd.io/bbolt"

	"github.com/paramstore/paramstore/internal/atomicfile"
	"github.com/paramstore/paramstore/internal/store"
)

// The start-up check. Three things hold the state of a node: the state
// machine (state.db, with the index and term of the last entry it applied),
// raft's snapshots (snapshots/, the state machine as of an index) and raft's
// log (raft.db, the entries after the snapshot). Raft starts from the newest
// snapshot's index (the state machine is persistent, so raft does not
// restore the snapshot into it) and hands every later committed entry to the
// state machine, which skips what it applied before. That works only when
//
//	snapshot index <= applied index <= last log index (or the snapshot's),
//	the log holds every entry after the snapshot, and
//	the log's entry at the applied index is the one the state machine applied.
//
// Before raft starts, reconcile checks this. A state machine behind the
// snapshot (state.db missing, or an older copy) is rebuilt from the snapshot;
// anything else that does not hold is refused with an error that names the
// files and what to do, since starting would lose writes silently (a state
// machine ahead of a lost log skips the new entries it is given) or crash
// raft (a log that starts after the snapshot).

// ErrDataDir is wrapped by the errors of a data directory that cannot be
// used as it is: damaged or inconsistent files that need an operator.
var ErrDataDir = errors.New("raftstore: the data directory needs attention")

// DataDirError says what is wrong with a data directory and how to fix it.
type DataDirError struct {
	Dir     string
	Files   []string // the files concerned, relative to Dir
	Problem string
	Fix     string
}

func (e *DataDirError) Error() string {
	files := make([]string, len(e.Files))
	for i, f := range e.Files {
		files[i] = filepath.Join(e.Dir, f)
	}
	return fmt.Sprintf("raftstore: cannot start on %s: %s (%s).\nTo fix: %s",
		e.Dir, e.Problem, strings.Join(files, ", "), e.Fix)
}

func (e *DataDirError) Unwrap() error { return ErrDataDir }

const (
	stateFile    = "state.db"
	logFile      = "raft.db"
	snapshotsDir = "snapshots"
	docsRef      = "docs/operations.md, \"Recovering a data directory\""
)

// fixMember is the advice for a node whose own files cannot be trusted.
const fixMember = "if the other members of the cluster are healthy, remove this node " +
	"(paramstore cluster remove NODE-ID), empty its data directory and start it again with --join; " +
	"it gets the whole state from the leader."

// dirState is what the start-up check looks at.
type dirState struct {
	applied, appliedTerm uint64
	// reach is applied, or beyond it the last of the log's entries after
	// it that never reach the state machine (raft's no-ops and barriers,
	// which raft does not hand over): the state machine reflects every
	// entry up to reach. A snapshot taken just after such entries claims
	// their index while it holds the state at applied.
	reach         uint64
	first, last   uint64 // the log's range; 0, 0 when empty
	termAtApplied uint64 // the log's term of entry applied, when the log holds it
	snap          *raft.SnapshotMeta
	unreadable    []string // snapshot directories raft cannot read
}

func (s dirState) snapIndex() uint64 {
	if s.snap == nil {
		return 0
	}
	return s.snap.Index
}

func (n *Node) inspect(logs raft.LogStore, snaps *raft.FileSnapshotStore) (dirState, error) {
	var st dirState
	var err error
	if st.applied, err = n.db.AppliedIndex(); err != nil {
		return st, err
	}
	if st.appliedTerm, err = n.db.AppliedTerm(); err != nil {
		return st, err
	}
	if st.first, err = logs.FirstIndex(); err != nil {
		return st, fmt.Errorf("raftstore: read %s: %w", n.logName(), err)
	}
	if st.last, err = logs.LastIndex(); err != nil {
		return st, fmt.Errorf("raftstore: read %s: %w", n.logName(), err)
	}
	if st.applied > 0 && st.first > 0 && st.applied >= st.first && st.applied <= st.last {
		var l raft.Log
		if err := logs.GetLog(st.applied, &l); err == nil {
			st.termAtApplied = l.Term
		}
	}
	st.reach = st.applied
	for i := st.applied + 1; i <= st.last; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil || l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			break
		}
		st.reach = i
	}
	list, err := snaps.List()
	if err != nil {
		return st, fmt.Errorf("raftstore: list snapshots: %w", err)
	}
	if len(list) > 0 {
		st.snap = list[0]
	}
	// Raft skips, with a warning only, a snapshot whose metadata it cannot
	// read: name them, since the start may depend on them.
	entries, _ := os.ReadDir(filepath.Join(n.cfg.Dir, snapshotsDir))
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		if !slices.ContainsFunc(list, func(m *raft.SnapshotMeta) bool { return m.ID == e.Name() }) {
			if _, err := os.Stat(filepath.Join(n.cfg.Dir, snapshotsDir, e.Name(), "meta.json")); err == nil || !errors.Is(err, os.ErrNotExist) {
				st.unreadable = append(st.unreadable, filepath.Join(snapshotsDir, e.Name(), "meta.json"))
			}
		}
	}
	return st, nil
}

// plan decides what the start-up check does with st: nothing (nil, false),
// rebuild the state machine from the snapshot (nil, true), or refuse.
func (n *Node) plan(st dirState) (rebuild bool, err *DataDirError) {
	dir := n.cfg.Dir
	snapIdx := st.snapIndex()
	snapFiles := []string{snapshotsDir + "/"}
	if st.snap != nil {
		snapFiles = []string{filepath.Join(snapshotsDir, st.snap.ID)}
	}
	snapFiles = append(snapFiles, st.unreadable...)
	switch {
	case st.termAtApplied != 0 && st.appliedTerm != 0 && st.termAtApplied != st.appliedTerm:
		return false, &DataDirError{Dir: dir, Files: []string{stateFile, n.logName()},
			Problem: fmt.Sprintf("the raft log is not the one the state machine was built from: state.db applied index %d in term %d, but the log's entry %d is from term %d",
				st.applied, st.appliedTerm, st.applied, st.termAtApplied),
			Fix: "put back the raft log (" + n.logName() + ") of this node (a copy from another node or another cluster does not fit), or " + fixMember +
				" If this node is the only one left, start it once with --force-new-cluster: state.db becomes the state of a new single-node cluster (see " + docsRef + ")."}
	case st.last > snapIdx && st.first > snapIdx+1:
		have := "there is no snapshot"
		if st.snap != nil {
			have = fmt.Sprintf("the newest readable snapshot is at index %d", snapIdx)
		}
		return false, &DataDirError{Dir: dir, Files: append([]string{n.logName()}, snapFiles...),
			Problem: fmt.Sprintf("the raft log starts at index %d but %s: entries %d to %d are in no file (a snapshot was deleted or cannot be read)",
				st.first, have, snapIdx+1, st.first-1),
			Fix: "put back the missing snapshot directory from a backup of this node, or " + fixMember +
				fmt.Sprintf(" If this node is the only one left, start it once with --force-new-cluster: it keeps state.db (index %d) and applies the log after it (see %s).", st.applied, docsRef)}
	case st.applied > max(st.last, snapIdx):
		return false, &DataDirError{Dir: dir, Files: append([]string{stateFile, n.logName()}, snapFiles...),
			Problem: fmt.Sprintf("the state machine (state.db) has applied index %d, but the raft log ends at index %d and the newest snapshot is at index %d: the raft log was lost or replaced by an older copy, and new writes would be numbered at or below %d and never applied",
				st.applied, st.last, snapIdx, st.applied),
			Fix: "put back " + n.logName() + " and snapshots/ from a backup of this node, or " + fixMember +
				fmt.Sprintf(" If this node is the only one left, start it once with --force-new-cluster: state.db (index %d) becomes the state of a new single-node cluster (see %s).", st.applied, docsRef)}
	case st.reach < snapIdx:
		return true, nil
	}
	return false, nil
}

// reconcile runs the start-up check (see the top of this file).
func (n *Node) reconcile(logs raft.LogStore, snaps *raft.FileSnapshotStore) error {
	st, err := n.inspect(logs, snaps)
	if err != nil {
		return err
	}
	for _, u := range st.unreadable {
		n.log.Warn("a snapshot's metadata cannot be read; raft ignores that snapshot", "path", filepath.Join(n.cfg.Dir, u))
	}
	rebuild, derr := n.plan(st)
	if derr != nil {
		return derr
	}
	if !rebuild {
		return nil
	}
	if err := n.rebuild(snaps, st); err != nil {
		return err
	}
	if st, err = n.inspect(logs, snaps); err != nil {
		return err
	}
	if rebuild, derr = n.plan(st); derr != nil {
		return derr
	}
	if rebuild {
		return &DataDirError{Dir: n.cfg.Dir, Files: []string{filepath.Join(snapshotsDir, st.snap.ID)},
			Problem: fmt.Sprintf("the snapshot claims index %d but holds a state at index %d", st.snap.Index, st.applied),
			Fix:     "remove that snapshot directory if an older one and the log cover it, or restore the data directory from a backup (" + docsRef + ")."}
	}
	return nil
}

// checkLogReadable reads every entry of the log after the newest snapshot,
// as raft does when it starts (looking for configurations), where it
// panics on an entry it cannot read: a damaged entry is refused here with
// the file and the fix instead. It returns what raft's own reads at the
// start need of those entries (startReads), so that raft does not read
// them from the disk again.
func (n *Node) checkLogReadable(logs raft.LogStore, snaps raft.SnapshotStore) (*startReads, error) {
	first, err := logs.FirstIndex()
	if err != nil {
		return nil, fmt.Errorf("raftstore: read %s: %w", n.logName(), err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("raftstore: read %s: %w", n.logName(), err)
	}
	from := first
	if list, err := snaps.List(); err == nil && len(list) > 0 {
		from = max(from, list[0].Index+1)
	}
	reads := newStartReads(from)
	for i := from; i <= last && i > 0; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil || l.Index != i {
			if err == nil {
				err = fmt.Errorf("it holds index %d", l.Index)
			}
			return nil, &DataDirError{Dir: n.cfg.Dir, Files: logFiles(n.cfg.Dir, n.logKind),
				Problem: fmt.Sprintf("entry %d of the raft log (%d to %d) cannot be read: %v", i, first, last, err),
				Fix:     fixDamaged(n.cfg.Dir, n.logName())}
		}
		reads.add(&l)
	}
	return reads, nil
}

// rebuild replaces the state machine with the newest snapshot's state; raft
// then applies the log after it.
func (n *Node) rebuild(snaps *raft.FileSnapshotStore, st dirState) error {
	id := filepath.Join(snapshotsDir, st.snap.ID)
	n.log.Warn("the state machine is behind the newest snapshot: rebuilding it from the snapshot and the log",
		"state_applied_index", st.applied, "snapshot", id, "snapshot_index", st.snap.Index)
	_, rc, err := snaps.Open(st.snap.ID)
	if err != nil {
		return &DataDirError{Dir: n.cfg.Dir, Files: []string{stateFile, id},
			Problem: fmt.Sprintf("the state machine (index %d) is behind the newest snapshot (index %d), which cannot be read: %v", st.applied, st.snap.Index, err),
			Fix:     "restore the snapshot directory, or the whole data directory, from a backup (" + docsRef + ")."}
	}
	defer rc.Close()
	if err := n.db.Restore(rc); err != nil {
		return &DataDirError{Dir: n.cfg.Dir, Files: []string{id},
			Problem: fmt.Sprintf("rebuilding the state machine from the snapshot failed: %v", err),
			Fix:     "restore the snapshot directory, or the whole data directory, from a backup (" + docsRef + ")."}
	}
	applied, _ := n.db.AppliedIndex()
	n.log.Warn("rebuilt the state machine from the snapshot", "snapshot", id, "applied_index", applied)
	return nil
}

// forceNewCluster makes the state machine the state of a new cluster whose
// only member is this node, keeping its index: the state machine first takes
// what the old snapshot and log add to it (every entry of the log, committed
// or not, as raft.RecoverCluster does), then the old log and snapshots move
// to pre-recovery-TIME/ and a new snapshot at the applied index, with a
// configuration of this node alone, starts the new log.
func (n *Node) forceNewCluster(logs logStore, snaps *raft.FileSnapshotStore, addr raft.ServerAddress) (logStore, *raft.FileSnapshotStore, error) {
	st, err := n.inspect(logs, snaps)
	if err != nil {
		return logs, snaps, err
	}
	n.log.Warn("--force-new-cluster: recovering a new single-node cluster from this node's state",
		"state_applied_index", st.applied, "log_first", st.first, "log_last", st.last, "snapshot_index", st.snapIndex())
	if st.reach < st.snapIndex() {
		if err := n.rebuild(snaps, st); err != nil {
			return logs, snaps, err
		}
		st.applied, _ = n.db.AppliedIndex()
	}
	if st.last > st.applied {
		if st.first > st.applied+1 {
			n.log.Error("--force-new-cluster: the log does not continue the state machine; its entries are not applied",
				"state_applied_index", st.applied, "log_first", st.first, "log_last", st.last)
		} else {
			n.applyLog(logs, st.applied+1, st.last)
		}
	}
	applied, err := n.db.AppliedIndex()
	if err != nil {
		return logs, snaps, err
	}
	logs.Close()
	aside := filepath.Join(n.cfg.Dir, "pre-recovery-"+time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(aside, 0o700); err != nil {
		return nil, nil, fmt.Errorf("raftstore: --force-new-cluster: %w", err)
	}
	for _, name := range []string{logFile, walDir, snapshotsDir} {
		err := os.Rename(filepath.Join(n.cfg.Dir, name), filepath.Join(aside, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("raftstore: --force-new-cluster: move the old %s aside: %w", name, err)
		}
	}
	if err := atomicfile.SyncDir(n.cfg.Dir); err != nil {
		return nil, nil, fmt.Errorf("raftstore: --force-new-cluster: move the old log aside: %w", err)
	}
	n.log.Warn("--force-new-cluster: the old raft log and snapshots were moved aside", "dir", aside)
	newLogs, newSnaps, err := n.openRaftFiles()
	if err != nil {
		return nil, nil, err
	}
	if applied == 0 {
		// Nothing to carry over: the node bootstraps like a new one.
		return newLogs, newSnaps, nil
	}
	conf := raft.Configuration{Servers: []raft.Server{{ID: raft.ServerID(n.cfg.NodeID), Address: addr, Suffrage: raft.Voter}}}
	sink, err := newSnaps.Create(raft.SnapshotVersionMax, applied, 1, conf, applied, n.trans)
	if err != nil {
		newLogs.Close()
		return nil, nil, fmt.Errorf("raftstore: --force-new-cluster: create snapshot: %w", err)
	}
	snap, err := n.db.Snapshot()
	if err == nil {
		_, err = snap.WriteTo(sink)
		snap.Close()
	}
	if err != nil {
		sink.Cancel()
		newLogs.Close()
		return nil, nil, fmt.Errorf("raftstore: --force-new-cluster: write snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		newLogs.Close()
		return nil, nil, fmt.Errorf("raftstore: --force-new-cluster: write snapshot: %w", err)
	}
	n.log.Warn("--force-new-cluster: this node is now a cluster of one; other nodes must join it with empty data directories",
		"applied_index", applied, "node_id", n.cfg.NodeID)
	return newLogs, newSnaps, nil
}

// applyLog applies the log's entries from..to to the state machine.
func (n *Node) applyLog(logs raft.LogStore, from, to uint64) {
	const batch = 256
	commands := 0
	for i := from; i <= to; {
		var entries []store.Entry
		for ; i <= to && len(entries) < batch; i++ {
			var l raft.Log
			if err := logs.GetLog(i, &l); err != nil {
				n.log.Error("--force-new-cluster: cannot read the log; later entries are not applied", "index", i, "error", err)
				to = i - 1
				break
			}
			e := store.Entry{Index: l.Index, Term: l.Term}
			if l.Type == raft.LogCommand {
				e.Data = l.Data
				commands++
			}
			entries = append(entries, e)
		}
		for j, err := range n.db.ApplyBatch(entries) {
			if err != nil && !store.IsResult(err) {
				n.log.Warn("--force-new-cluster: a log entry did not apply", "index", entries[j].Index, "error", err)
			}
		}
	}
	n.log.Warn("--force-new-cluster: applied the old log's entries after the state machine (some may never have been committed)",
		"from", from, "to", to, "commands", commands)
}

// logName is the log's file or directory in the raft directory.
func (n *Node) logName() string {
	if n.logKind == LogBolt {
		return logFile
	}
	return walDir
}

// openRaftFiles opens the log and the snapshot store.
func (n *Node) openRaftFiles() (logStore, *raft.FileSnapshotStore, error) {
	logs, err := openLog(n.cfg.Dir, n.logKind, n.hlog)
	if err != nil {
		if errors.Is(err, store.ErrCorrupt) || errors.Is(err, wal.ErrCorrupt) {
			files := logFiles(n.cfg.Dir, n.logKind)
			return nil, nil, &DataDirError{Dir: n.cfg.Dir, Files: files,
				Problem: fmt.Sprintf("the raft log cannot be read: %v", err), Fix: fixDamaged(n.cfg.Dir, files[0])}
		}
		return nil, nil, fmt.Errorf("raftstore: open log (%s): %w", n.logKind, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(n.cfg.Dir, n.cfg.SnapshotsRetain, n.hlog)
	if err != nil {
		logs.Close()
		return nil, nil, fmt.Errorf("raftstore: open snapshots: %w", err)
	}
	return logs, snaps, nil
}

// openLogStore opens raft.db. Its freelist is not written at each commit
// but rebuilt by a scan when the file opens, as state.db's is (store's
// openBolt): a raft log frees pages at every truncation after a snapshot,
// and writing that list made each append batch write a third more bytes
// before its fsyncs (BenchmarkLogAppend: 57.8 KB -> 43 KB per batch of 12
// entries). A file written either way opens either way, so older versions
// read it and it reads theirs (TestLogStoreFreelistEitherWay).
func openLogStore(path string) (*raftboltdb.BoltStore, error) {
	return raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bolt.Options{
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	}})
}

// checkFiles checks state.db and raft.db (or the WAL: checkWAL) with the
// configured Checker before anything opens them (bbolt crashes on some
// corrupt pages), unless the clean-shutdown record vouches for them.
func (n *Node) checkFiles(ctx context.Context) error {
	vouched, err := verifyCleanShutdown(n.cfg.Dir, n.log)
	if err != nil {
		return err
	}
	if n.logKind == LogWAL {
		if err := checkWAL(ctx, n.cfg.Dir, n.check, vouched[filepath.Join(walDir, walMetaFile)]); err != nil {
			return err
		}
	}
	names := []string{stateFile}
	if n.logKind == LogBolt {
		names = append(names, logFile)
	}
	for _, name := range names {
		path := filepath.Join(n.cfg.Dir, name)
		if _, err := os.Stat(path); vouched[name] || errors.Is(err, os.ErrNotExist) {
			continue
		}
		n.log.Info("checking a file that was not closed cleanly", "path", path)
		if _, err := n.check(ctx, path); err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				return fmt.Errorf("raftstore: check %s: %w", path, err)
			}
			return &DataDirError{Dir: n.cfg.Dir, Files: []string{name},
				Problem: fmt.Sprintf("%s is damaged: %v", name, err), Fix: fixDamaged(n.cfg.Dir, name)}
		}
	}
	return nil
}

// fixDamaged is the advice for a damaged file of dir.
func fixDamaged(dir, name string) string {
	path := filepath.Join(dir, name)
	aside := "move it aside (mv " + path + " " + path + ".corrupt)"
	switch {
	case name == stateFile:
		return aside + "; the server then rebuilds the state machine from the snapshot and the log, and refuses to start if they do not hold everything. " +
			"Or restore a backup (paramstore snapshot restore; see " + docsRef + ")."
	case name == logFile || name == walDir || strings.HasPrefix(name, walDir+"/"):
		if name != logFile {
			path = filepath.Join(dir, walDir)
			aside = "move it aside (mv " + path + " " + path + ".corrupt)"
		}
		return aside + "; then " + fixMember +
			" If this node is the only one left, start it once with --force-new-cluster: state.db becomes the state of a new single-node cluster (see " + docsRef + ")."
	case strings.HasPrefix(name, snapshotsDir):
		snap := filepath.Dir(path)
		return "move the snapshot directory aside (mv " + snap + " " + snap + ".corrupt); the server starts from the previous snapshot if the log covers the rest, and says so if it does not (see " + docsRef + ")."
	}
	return aside + " and see " + docsRef + "."
}
