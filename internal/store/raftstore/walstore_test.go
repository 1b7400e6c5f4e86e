package raftstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestDetectLog: the format of a directory is what it holds; a new one
// gets the WAL unless --raft-log bolt; both formats, or a wanted format
// the directory does not hold, are refused.
func TestDetectLog(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    []string // created in the directory (a trailing / makes a directory)
		want     string
		kind     string
		isNew    bool
		refused  bool
		mentions string
	}{
		{"new, auto", nil, LogAuto, LogWAL, true, false, ""},
		{"new, unset", nil, "", LogWAL, true, false, ""},
		{"new, wal", nil, LogWAL, LogWAL, true, false, ""},
		{"new, bolt", nil, LogBolt, LogBolt, true, false, ""},
		{"new with state.db", []string{stateFile}, LogAuto, LogWAL, true, false, ""},
		{"raft.db, auto", []string{logFile}, LogAuto, LogBolt, false, false, ""},
		{"raft.db, bolt", []string{logFile}, LogBolt, LogBolt, false, false, ""},
		{"raft.db, wal", []string{logFile}, LogWAL, "", false, true, "--raft-log wal"},
		{"wal/, auto", []string{walDir + "/"}, LogAuto, LogWAL, false, false, ""},
		{"wal/, bolt", []string{walDir + "/"}, LogBolt, "", false, true, "--raft-log bolt"},
		{"both", []string{logFile, walDir + "/"}, LogAuto, "", false, true, "two raft logs"},
		{"both, bolt wanted", []string{logFile, walDir + "/"}, LogBolt, "", false, true, "two raft logs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				var err error
				if strings.HasSuffix(f, "/") {
					err = os.Mkdir(filepath.Join(dir, f), 0o700)
				} else {
					err = os.WriteFile(filepath.Join(dir, f), nil, 0o600)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			kind, isNew, err := detectLog(dir, tc.want)
			if tc.refused {
				if !errors.Is(err, ErrDataDir) || !strings.Contains(err.Error(), tc.mentions) || !strings.Contains(err.Error(), "To fix:") {
					t.Fatalf("got %v, want a data directory error mentioning %q and a fix", err, tc.mentions)
				}
				return
			}
			if err != nil || kind != tc.kind || isNew != tc.isNew {
				t.Fatalf("got %q new=%v (%v), want %q new=%v", kind, isNew, err, tc.kind, tc.isNew)
			}
		})
	}
	if _, _, err := detectLog(t.TempDir(), "sqlite"); err == nil {
		t.Fatal("--raft-log sqlite accepted")
	}
}

// TestLogFormatKept: a new directory gets the WAL, a directory with
// raft.db keeps it across restarts in either mode of --raft-log that
// accepts it (and grows no wal/), and the other format is refused without
// touching the files.
func TestLogFormatKept(t *testing.T) {
	fresh := testConfig(t, t.TempDir())
	fresh.RaftLog = ""
	n := openNode(t, fresh)
	fill(t, n, "/w/", 3)
	n.Close()
	if _, err := os.Stat(filepath.Join(fresh.Dir, walDir, walMetaFile)); err != nil {
		t.Fatalf("a new directory has no WAL: %v", err)
	}
	if _, err := os.Stat(filepath.Join(fresh.Dir, logFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a new directory has raft.db: %v", err)
	}
	fresh.RaftLog = LogBolt
	wantDataDirError(t, fresh, walDir)

	old := testConfig(t, t.TempDir())
	old.RaftLog = LogBolt
	n = openNode(t, old)
	fill(t, n, "/b/", 3)
	want := params(t, n)
	n.Close()
	for _, mode := range []string{LogAuto, "", LogBolt} {
		old.RaftLog = mode
		n = openNode(t, old)
		assertSameParams(t, params(t, n), want)
		fill(t, n, "/b-"+mode+"/", 1)
		want = params(t, n)
		n.Close()
		if _, err := os.Stat(filepath.Join(old.Dir, walDir)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("--raft-log %q made a wal/ beside raft.db: %v", mode, err)
		}
	}
	old.RaftLog = LogWAL
	before, _ := os.ReadFile(filepath.Join(old.Dir, logFile))
	wantDataDirError(t, old, logFile)
	after, _ := os.ReadFile(filepath.Join(old.Dir, logFile))
	if !bytes.Equal(before, after) {
		t.Fatal("a refused start changed raft.db")
	}
	if _, err := os.Stat(filepath.Join(old.Dir, walDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused start made a wal/: %v", err)
	}

	// Both: refused, whichever is wanted.
	if err := os.Mkdir(filepath.Join(old.Dir, walDir), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{LogAuto, LogBolt} {
		old.RaftLog = mode
		wantDataDirError(t, old, logFile, walDir)
	}
}

// walDamage is a node's directory (WAL) closed as a kill leaves it (no
// clean-shutdown record), with 20 parameters in its tail segment.
func walDamage(t *testing.T) Config {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	cfg.RaftLog = LogWAL
	n := openNode(t, cfg)
	fill(t, n, "/d/", 20)
	n.Close()
	os.Remove(filepath.Join(cfg.Dir, cleanFile))
	return cfg
}

func walSegments(t *testing.T, cfg Config) []string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(cfg.Dir, walDir, "*.wal"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no WAL segment in %s (%v)", cfg.Dir, err)
	}
	return segs
}

// TestWALDamageRefused: what raft-wal would repair by dropping entries or
// files is refused by name before it opens the WAL: a cut segment (raft-wal
// reads it as ending at the cut), a missing segment (it recreates a missing
// tail empty), segments without the meta file (it would delete them), a
// damaged meta file. Nothing is changed on the way: the file put back, the
// node starts with every entry.
func TestWALDamageRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, cfg Config) (file string, undo func())
		problem string
	}{
		{"segment cut", func(t *testing.T, cfg Config) (string, func()) {
			seg := walSegments(t, cfg)[0]
			raw, _ := os.ReadFile(seg)
			if err := os.Truncate(seg, 4096); err != nil {
				t.Fatal(err)
			}
			return seg, func() { os.WriteFile(seg, raw, 0o600) }
		}, "it was cut"},
		{"segment missing", func(t *testing.T, cfg Config) (string, func()) {
			seg := walSegments(t, cfg)[0]
			os.Rename(seg, seg+".moved")
			return seg, func() { os.Rename(seg+".moved", seg) }
		}, "is missing"},
		{"meta missing", func(t *testing.T, cfg Config) (string, func()) {
			meta := filepath.Join(cfg.Dir, walDir, walMetaFile)
			os.Rename(meta, meta+".moved")
			return meta, func() { os.Rename(meta+".moved", meta) }
		}, "is missing"},
		{"meta damaged", func(t *testing.T, cfg Config) (string, func()) {
			meta := filepath.Join(cfg.Dir, walDir, walMetaFile)
			raw, _ := os.ReadFile(meta)
			bad := append([]byte(nil), raw...)
			for i := range 8192 {
				bad[i] ^= 0x5a
			}
			os.WriteFile(meta, bad, 0o600)
			return meta, func() { os.WriteFile(meta, raw, 0o600) }
		}, "damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := walDamage(t)
			segsBefore := walSegments(t, cfg)
			file, undo := tc.damage(t, cfg)
			rel, _ := filepath.Rel(cfg.Dir, file)
			de := wantDataDirError(t, cfg, rel)
			if !strings.Contains(de.Problem, tc.problem) {
				t.Errorf("problem %q does not say %q", de.Problem, tc.problem)
			}
			undo()
			if got := walSegments(t, cfg); len(got) != len(segsBefore) {
				t.Fatalf("the refused start changed the segments: %v, was %v", got, segsBefore)
			}
			n := openNode(t, cfg)
			defer n.Close()
			if got := len(params(t, n)); got != 20 {
				t.Fatalf("after the file was put back: %d parameters, want 20", got)
			}
		})
	}
}

// TestWALGarbledSegment: bytes of a segment overwritten (not cut) are
// past what the start-up check sees (raft-wal checks the CRC of the last
// batch only); the node must refuse or start, never panic, and when it
// starts the state machine's writes are all there (the start-up check
// refuses a log that ends before the state machine).
func TestWALGarbledSegment(t *testing.T) {
	for _, at := range []int64{40, 1000, 3000} {
		cfg := walDamage(t)
		seg := walSegments(t, cfg)[0]
		f, err := os.OpenFile(seg, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(bytes.Repeat([]byte{0xa5}, 64), at)
		f.Close()
		n, err := Open(cfg)
		if err != nil {
			t.Logf("garbled at %d: refused: %v", at, err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = n.WaitReady(ctx)
		cancel()
		if err != nil {
			t.Errorf("garbled at %d: started but not ready: %v", at, err)
			n.Close()
			continue
		}
		if got := len(params(t, n)); got != 20 {
			t.Errorf("garbled at %d: started with %d parameters, want 20", at, got)
		}
		n.Close()
	}
}

// FuzzWALOpen: a WAL whose segment holds any bytes at any place opens
// with an error or reads its entries; it never panics.
func FuzzWALOpen(f *testing.F) {
	f.Add(int64(40), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add(int64(32), []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add(int64(200), []byte("garbage"))
	f.Fuzz(func(t *testing.T, at int64, data []byte) {
		if at < 0 || at > 8192 || len(data) > 4096 {
			return
		}
		dir := t.TempDir()
		s, err := openWAL(filepath.Join(dir, walDir), hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		for i := uint64(1); i <= 30; i += 10 {
			logs := make([]*raft.Log, 10)
			for j := range logs {
				logs[j] = &raft.Log{Index: i + uint64(j), Term: 1, Type: raft.LogCommand, Data: bytes.Repeat([]byte{byte(j)}, 50)}
			}
			if err := s.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		segs, _ := filepath.Glob(filepath.Join(dir, walDir, "*.wal"))
		fh, err := os.OpenFile(segs[0], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteAt(data, at)
		fh.Close()
		s, err = openWAL(filepath.Join(dir, walDir), hclog.NewNullLogger())
		if err != nil {
			return
		}
		defer s.Close()
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		for i := first; i <= last && i > 0; i++ {
			var l raft.Log
			s.GetLog(i, &l)
		}
	})
}

// TestMoveToWAL: the documented move of a single node from raft.db to the
// WAL (docs/operations.md): stopped cleanly, raft.db moved aside, started
// once with --force-new-cluster --raft-log wal: every parameter is there,
// on a WAL, and later starts (auto) keep the WAL.
func TestMoveToWAL(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.RaftLog = LogBolt
	n := openNode(t, cfg)
	fill(t, n, "/m/", 10)
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	fill(t, n, "/after-snapshot/", 5)
	want := params(t, n)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(cfg.Dir, logFile), filepath.Join(cfg.Dir, "raft.db.aside")); err != nil {
		t.Fatal(err)
	}
	cfg.RaftLog = LogWAL
	wantDataDirError(t, cfg, stateFile) // without --force-new-cluster: the log is missing
	cfg.ForceNewCluster = true
	n = openNode(t, cfg)
	assertSameParams(t, params(t, n), want)
	fill(t, n, "/on-wal/", 3)
	want = params(t, n)
	n.Close()
	cfg.ForceNewCluster, cfg.RaftLog = false, LogAuto
	n = openNode(t, cfg)
	defer n.Close()
	if n.logKind != LogWAL {
		t.Fatalf("after the move the node runs on %s", n.logKind)
	}
	assertSameParams(t, params(t, n), want)
}

// TestWALTailTruncationReopens: a follower deletes a suffix of its log
// (entries a new leader does not have) and appends the leader's; raft-wal
// v0.4.0 seals the segment without its index block, and after a restart
// every entry must still read, the new ones in place of the deleted
// (segmentFiler; TestLeaderKills of tests/cluster found it).
func TestWALTailTruncationReopens(t *testing.T) {
	dir := t.TempDir()
	store := func(s logStore, from, to, term uint64) {
		t.Helper()
		var logs []*raft.Log
		for i := from; i <= to; i++ {
			logs = append(logs, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte{byte(i), byte(term)}})
		}
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s logStore, step string) {
		t.Helper()
		last, _ := s.LastIndex()
		if last != 14 {
			t.Fatalf("%s: last index %d, want 14", step, last)
		}
		for i := uint64(1); i <= 14; i++ {
			var l raft.Log
			term := uint64(1)
			if i >= 8 {
				term = 2
			}
			if i >= 12 {
				term = 3
			}
			if err := s.GetLog(i, &l); err != nil || l.Term != term || l.Data[0] != byte(i) {
				t.Fatalf("%s: entry %d: %+v, %v (want term %d)", step, i, l, err, term)
			}
		}
	}
	s, err := openWAL(filepath.Join(dir, walDir), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	store(s, 1, 10, 1)
	if err := s.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	store(s, 8, 12, 2)
	if err := s.DeleteRange(12, 12); err != nil {
		t.Fatal(err)
	}
	store(s, 12, 14, 3)
	check(s, "before the restart")
	s.Close()
	s, err = openWAL(filepath.Join(dir, walDir), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s, "after the restart")
	store(s, 15, 15, 3)
}

// TestCompactWALDirectory: paramstore compact on a directory with the WAL
// compacts state.db alone (the WAL frees whole segments itself), refuses
// while a node runs on it, and the node starts again on the compacted
// files with every parameter.
func TestCompactWALDirectory(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.RaftLog = LogWAL
	n := openNode(t, cfg)
	fill(t, n, "/c/", 50)
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, err := Compact(context.Background(), cfg.Dir, nil); !errors.Is(err, ErrInUse) {
		t.Fatalf("compact while the node runs: %v, want ErrInUse", err)
	}
	want := params(t, n)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := Compact(context.Background(), cfg.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Name != stateFile {
		t.Fatalf("compacted %+v, want state.db alone", res)
	}
	n = openNode(t, cfg)
	defer n.Close()
	assertSameParams(t, params(t, n), want)
}
