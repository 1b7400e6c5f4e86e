package raftstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fill writes count new parameters under prefix.
func fill(t *testing.T, n *Node, prefix string, count int) {
	t.Helper()
	for i := range count {
		if err := n.Apply(context.Background(), putCmd(prefix+strconv.Itoa(i), 1, 0)); err != nil {
			t.Fatalf("put %s%d: %v", prefix, i, err)
		}
	}
}

// testLogName is the raft log (file or directory) of a test node's
// directory: raft.db with PARAMSTORE_TEST_RAFT_LOG=bolt, else the WAL.
func testLogName(cfg Config) string {
	if cfg.RaftLog == LogBolt {
		return logFile
	}
	return walDir
}

// copyLog replaces the raft log of directory to by the one of from.
func copyLog(t *testing.T, cfg Config, from, to string) {
	t.Helper()
	name := testLogName(cfg)
	if name == logFile {
		copyFile(t, filepath.Join(from, name), filepath.Join(to, name))
		return
	}
	if err := os.RemoveAll(filepath.Join(to, name)); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(to, name), os.DirFS(filepath.Join(from, name))); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantDataDirError asserts that Open refuses cfg with an error that names
// every file in files and says what to do.
func wantDataDirError(t *testing.T, cfg Config, files ...string) *DataDirError {
	t.Helper()
	n, err := Open(cfg)
	if err == nil {
		n.Close()
		t.Fatalf("Open succeeded, want an ErrDataDir error naming %v", files)
	}
	var de *DataDirError
	if !errors.As(err, &de) || !errors.Is(err, ErrDataDir) {
		t.Fatalf("got %v, want a *DataDirError", err)
	}
	for _, f := range files {
		if !strings.Contains(err.Error(), filepath.Join(cfg.Dir, f)) {
			t.Errorf("the error does not name %s:\n%v", f, err)
		}
	}
	if !strings.Contains(err.Error(), "To fix:") {
		t.Errorf("the error says nothing about a fix:\n%v", err)
	}
	t.Logf("refused: %v", err)
	return de
}

// TestLostLogRefused: with raft.db and the snapshots gone, a state machine
// ahead of the (new, empty) log would skip every new write while raft
// acknowledges it. The node refuses to start; --force-new-cluster keeps the
// state and its index, and takes writes again.
func TestLostLogRefused(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, t.TempDir())
	n := openNode(t, cfg)
	fill(t, n, "/lost/", 10)
	want := params(t, n)
	applied := n.DB().LastApplied()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{testLogName(cfg), snapshotsDir} {
		if err := os.RemoveAll(filepath.Join(cfg.Dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	de := wantDataDirError(t, cfg, stateFile, logFile, walDir)
	if !strings.Contains(de.Fix, "--force-new-cluster") {
		t.Errorf("the fix does not mention --force-new-cluster: %s", de.Fix)
	}

	cfg.ForceNewCluster = true
	n = openNode(t, cfg)
	assertSameParams(t, params(t, n), want)
	if err := n.Apply(ctx, putCmd("/after/recovery", 1, 0)); err != nil {
		t.Fatalf("write after --force-new-cluster: %v", err)
	}
	p := params(t, n)["/after/recovery"]
	if p == nil || p.ModIndex <= applied {
		t.Fatalf("write after recovery: got %+v, want a parameter at an index above %d", p, applied)
	}
	want = params(t, n)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// A normal restart afterwards.
	cfg.ForceNewCluster = false
	n = openNode(t, cfg)
	defer n.Close()
	assertSameParams(t, params(t, n), want)
	if err := n.Apply(ctx, putCmd("/after/restart", 1, 0)); err != nil {
		t.Fatal(err)
	}
}

// TestStateMachineRebuilt: a state machine that is missing, or behind the
// newest snapshot, is rebuilt from the snapshot and the log.
func TestStateMachineRebuilt(t *testing.T) {
	for _, tc := range []struct {
		name string
		// damage changes the stopped node's files; old is a copy of
		// state.db taken before the snapshot.
		damage func(t *testing.T, dir, old string)
	}{
		{"state.db missing", func(t *testing.T, dir, _ string) {
			if err := os.Remove(filepath.Join(dir, stateFile)); err != nil {
				t.Fatal(err)
			}
		}},
		{"state.db older than the snapshot", func(t *testing.T, dir, old string) {
			copyFile(t, old, filepath.Join(dir, stateFile))
			os.Remove(filepath.Join(dir, cleanFile))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			n := openNode(t, cfg)
			fill(t, n, "/before/", 5)
			old := filepath.Join(t.TempDir(), "old.db")
			snap, err := n.DB().Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(old)
			if err != nil {
				t.Fatal(err)
			}
			snap.WriteTo(f)
			snap.Close()
			f.Close()
			fill(t, n, "/snapshotted/", 10)
			if err := n.Snapshot(); err != nil {
				t.Fatal(err)
			}
			fill(t, n, "/after/", 3) // in the log only
			want := params(t, n)
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, cfg.Dir, old)

			n = openNode(t, cfg)
			defer n.Close()
			assertSameParams(t, params(t, n), want)
			if err := n.Apply(context.Background(), putCmd("/new", 1, 0)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMissingSnapshotRefused: the log was truncated by a snapshot that is
// gone. Raft would panic ("log not found") replaying from before the log's
// start; the node refuses instead, and --force-new-cluster recovers every
// parameter (the state machine and the log hold them all).
func TestMissingSnapshotRefused(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := openNode(t, cfg)
	fill(t, n, "/s/", 10)
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	fill(t, n, "/t/", 3)
	want := params(t, n)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cfg.Dir, snapshotsDir)); err != nil {
		t.Fatal(err)
	}
	wantDataDirError(t, cfg, testLogName(cfg), snapshotsDir)

	cfg.ForceNewCluster = true
	n = openNode(t, cfg)
	defer n.Close()
	assertSameParams(t, params(t, n), want)
}

// TestForeignLogRefused: a raft.db from another node's history (another
// term at the applied index) is refused.
func TestForeignLogRefused(t *testing.T) {
	a := testConfig(t, t.TempDir())
	n := openNode(t, a)
	fill(t, n, "/a/", 5)
	n.Close()

	// b's entries have higher terms: it was restarted (re-elected) first.
	b := testConfig(t, t.TempDir())
	for range 3 {
		openNode(t, b).Close()
	}
	n = openNode(t, b)
	fill(t, n, "/b/", 20)
	n.Close()

	copyLog(t, a, b.Dir, a.Dir)
	os.Remove(filepath.Join(a.Dir, cleanFile))
	wantDataDirError(t, a, stateFile, testLogName(a))
}

// TestChangedFileRefused: a file changed while the node was stopped after
// a clean shutdown is refused by name, whatever the change; put back, it
// starts again. A damaged clean-shutdown record only costs the check.
func TestChangedFileRefused(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := openNode(t, cfg)
	fill(t, n, "/c/", 5)
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	want := params(t, n)
	n.Close()
	metas, _ := filepath.Glob(filepath.Join(cfg.Dir, snapshotsDir, "*", "meta.json"))
	if len(metas) == 0 {
		t.Fatal("no snapshot metadata")
	}
	meta, _ := filepath.Rel(cfg.Dir, metas[0])
	names := []string{stateFile, meta}
	if cfg.RaftLog == LogBolt {
		names = append(names, logFile)
	} else {
		segs, _ := filepath.Glob(filepath.Join(cfg.Dir, walDir, "*.wal"))
		if len(segs) == 0 {
			t.Fatal("no WAL segment")
		}
		seg, _ := filepath.Rel(cfg.Dir, segs[0])
		names = append(names, filepath.Join(walDir, walMetaFile), seg)
	}
	for _, name := range names {
		path := filepath.Join(cfg.Dir, name)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		flipped := append([]byte(nil), raw...)
		flipped[len(flipped)/2] ^= 0x01
		os.WriteFile(path, flipped, 0o600)
		wantDataDirError(t, cfg, name)
		os.WriteFile(path, raw, 0o600)
	}
	rec := filepath.Join(cfg.Dir, cleanFile)
	raw, err := os.ReadFile(rec)
	if err != nil {
		t.Fatalf("the clean-shutdown record went away while the node refused to start: %v", err)
	}
	raw[len(raw)/2] ^= 0x01
	os.WriteFile(rec, raw, 0o600)
	n = openNode(t, cfg)
	assertSameParams(t, params(t, n), want)
	n.Close()
	if _, err := os.Stat(rec); err != nil {
		t.Fatalf("no clean-shutdown record after a clean shutdown: %v", err)
	}
}

// TestForceNewClusterAppliesLog: --force-new-cluster brings a state machine
// that is behind the log forward before it snapshots it.
func TestForceNewClusterAppliesLog(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := openNode(t, cfg)
	fill(t, n, "/old/", 3)
	old := filepath.Join(t.TempDir(), "old.db")
	snap, err := n.DB().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Create(old)
	snap.WriteTo(f)
	snap.Close()
	f.Close()
	fill(t, n, "/new/", 4)
	want := params(t, n)
	n.Close()
	copyFile(t, old, filepath.Join(cfg.Dir, stateFile))
	os.Remove(filepath.Join(cfg.Dir, cleanFile))

	cfg.ForceNewCluster = true
	n = openNode(t, cfg)
	defer n.Close()
	assertSameParams(t, params(t, n), want)
	aside, _ := filepath.Glob(filepath.Join(cfg.Dir, "pre-recovery-*", testLogName(cfg)))
	if len(aside) != 1 {
		t.Fatalf("the old raft log was not kept aside: %v", aside)
	}
}

// TestSnapshotAfterBarrier: a snapshot taken when the last entries applied
// are ones raft never hands to the state machine (a new leader's no-op, a
// barrier) claims their index while its state is at the last command. The
// node starts on it, with state.db as it is or rebuilt from the snapshot
// (the deferred commit made this common: a kill leaves state.db behind a
// snapshot taken after a restart's no-op and barrier).
func TestSnapshotAfterBarrier(t *testing.T) {
	for _, lose := range []bool{false, true} {
		t.Run("state.db rebuilt="+strconv.FormatBool(lose), func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			n := openNode(t, cfg)
			fill(t, n, "/p/", 3)
			if err := n.raft.Barrier(leaderWait).Error(); err != nil {
				t.Fatal(err)
			}
			if err := n.Snapshot(); err != nil {
				t.Fatal(err)
			}
			applied := n.DB().LastApplied()
			snaps, err := n.snaps.List()
			if err != nil || len(snaps) == 0 {
				t.Fatalf("snapshots: %v, %v", snaps, err)
			}
			if snaps[0].Index <= applied {
				t.Fatalf("snapshot at index %d, state at %d: the barrier did not make the gap this test is about", snaps[0].Index, applied)
			}
			want := params(t, n)
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			if lose {
				if err := os.Remove(filepath.Join(cfg.Dir, stateFile)); err != nil {
					t.Fatal(err)
				}
			}
			n = openNode(t, cfg)
			defer n.Close()
			assertSameParams(t, params(t, n), want)
			if err := n.Apply(context.Background(), putCmd("/new", 1, 0)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
