package raftstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

const tenancy = "123456789012:us-east-1"

// testLogWriter logs a node's lines to its test until the test's cleanup.
// hashicorp/raft's NetworkTransport does not wait for the goroutines of its
// accepted connections when it closes, and one may log ("failed to decode
// incoming command: transport shutdown") after the test completed, which
// testing turns into a panic; such late lines are dropped.
type testLogWriter struct {
	t    testing.TB
	mu   *sync.Mutex
	done *bool
}

func newTestLogWriter(t testing.TB) testLogWriter {
	w := testLogWriter{t: t, mu: new(sync.Mutex), done: new(bool)}
	t.Cleanup(func() {
		w.mu.Lock()
		*w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Log(string(p))
	}
	return len(p), nil
}

func testConfig(t testing.TB, dir string) Config {
	cfg := Default(dir)
	// PARAMSTORE_TEST_RAFT_LOG=bolt runs the tests on raft.db (the default:
	// the format of a new directory, the WAL).
	cfg.RaftLog = os.Getenv("PARAMSTORE_TEST_RAFT_LOG")
	// No automatic snapshots: the test forces them, and keeps few entries.
	cfg.SnapshotThreshold = 1 << 20
	cfg.SnapshotInterval = time.Hour
	cfg.TrailingLogs = 2
	cfg.Logger = slog.New(slog.NewTextHandler(newTestLogWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return cfg
}

func openNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		n.Close()
		t.Fatal(err)
	}
	return n
}

func putCmd(name string, version int64, expect uint64) *store.Command {
	vs := make([]int64, 0, version)
	for v := int64(1); v <= version; v++ {
		vs = append(vs, v)
	}
	return &store.Command{
		Op: store.OpPut, Tenancy: tenancy, Name: name, Create: version == 1, Expect: expect,
		Param: &store.Parameter{
			Name:     name,
			Latest:   store.Version{Version: version, Type: "String", Value: fmt.Sprintf("%s@%d", name, version), Tier: "Standard"},
			Versions: vs,
		},
	}
}

// params reads every parameter of the tenancy: name -> latest value.
func params(t *testing.T, n *Node) map[string]*store.Parameter {
	t.Helper()
	out := map[string]*store.Parameter{}
	err := n.View(context.Background(), func(r *store.Reader) error {
		return r.Scan(tenancy, "", "", func(it *store.ScanItem) (store.ScanControl, error) {
			p, err := it.Load()
			out[it.Name] = p
			return store.ScanControl{}, err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func statUint(t *testing.T, n *Node, key string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(n.Stats()[key], 10, 64)
	if err != nil {
		t.Fatalf("stat %s: %v (stats %v)", key, err, n.Stats())
	}
	return v
}

func TestSnapshotTruncatesLogAndStateSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, t.TempDir())
	n := openNode(t, cfg)

	const count = 20
	for i := range count {
		if err := n.Apply(ctx, putCmd("/p/"+strconv.Itoa(i), 1, 0)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	// Overwrite one parameter, compare-and-set on its ModIndex.
	mi := params(t, n)["/p/0"].ModIndex
	if err := n.Apply(ctx, putCmd("/p/0", 2, mi)); err != nil {
		t.Fatal(err)
	}
	if err := n.Apply(ctx, putCmd("/p/0", 3, mi)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale overwrite through raft: got %v, want store.ErrConflict", err)
	}
	if err := n.Apply(ctx, putCmd("/p/1", 1, 0)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate create through raft: got %v, want store.ErrConflict", err)
	}

	firstBefore, err := n.logs.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	lastIndex := statUint(t, n, "last_log_index")
	snapIndex := statUint(t, n, "last_snapshot_index")
	if snapIndex < count || snapIndex > lastIndex {
		t.Fatalf("got last_snapshot_index %d, want between %d and last_log_index %d", snapIndex, count, lastIndex)
	}
	first, err := n.logs.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("log first index %d -> %d, last %d, snapshot %d", firstBefore, first, lastIndex, snapIndex)
	// With TrailingLogs 2 the log keeps only the last entries.
	if first <= firstBefore || lastIndex-first+1 > cfg.TrailingLogs+1 {
		t.Fatalf("log not truncated: first index %d (was %d), last %d, trailing %d", first, firstBefore, lastIndex, cfg.TrailingLogs)
	}
	applied, err := n.DB().AppliedIndex()
	if err != nil {
		t.Fatal(err)
	}
	want := params(t, n)
	if len(want) != count || want["/p/0"].Latest.Version != 2 {
		t.Fatalf("got %d parameters, /p/0 at version %d; want %d and 2", len(want), want["/p/0"].Latest.Version, count)
	}

	// The snapshot raft wrote restores into an empty state machine.
	checkSnapshotRestores(t, cfg.Dir, want)

	// Entries after the snapshot are in the log only; a restart replays them
	// onto the persistent state machine, which must skip what it applied.
	if err := n.Apply(ctx, putCmd("/after/snapshot", 1, 0)); err != nil {
		t.Fatal(err)
	}
	want = params(t, n)
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	n = openNode(t, cfg)
	got := params(t, n)
	assertSameParams(t, got, want)
	if idx, _ := n.DB().AppliedIndex(); idx <= applied {
		t.Fatalf("applied index %d after restart, want > %d", idx, applied)
	}

	// New writes work, including compare-and-set on restored ModIndexes.
	if err := n.Apply(ctx, putCmd("/p/0", 3, got["/p/0"].ModIndex)); err != nil {
		t.Fatalf("overwrite after restart: %v", err)
	}
	if err := n.Apply(ctx, putCmd("/new", 1, 0)); err != nil {
		t.Fatalf("create after restart: %v", err)
	}
	if err := n.Apply(ctx, &store.Command{Op: store.OpDelete, Tenancy: tenancy, Name: "/p/5"}); err != nil {
		t.Fatalf("delete after restart: %v", err)
	}
	if err := n.Snapshot(); err != nil {
		t.Fatalf("second snapshot: %v", err)
	}
	want = params(t, n)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	// A second restart, after a second snapshot.
	n = openNode(t, cfg)
	defer n.Close()
	got = params(t, n)
	assertSameParams(t, got, want)
	if got["/p/0"].Latest.Version != 3 || got["/new"] == nil || got["/p/5"] != nil {
		t.Fatalf("writes after the first restart were lost: %v", got)
	}
}

func assertSameParams(t *testing.T, got, want map[string]*store.Parameter) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d parameters, want %d", len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if g == nil {
			t.Fatalf("parameter %s lost", name)
		}
		if g.ModIndex != w.ModIndex || g.Latest.Version != w.Latest.Version || g.Latest.Value != w.Latest.Value {
			t.Fatalf("parameter %s: got version %d value %q ModIndex %d, want %d %q %d",
				name, g.Latest.Version, g.Latest.Value, g.ModIndex, w.Latest.Version, w.Latest.Value, w.ModIndex)
		}
	}
}

// checkSnapshotRestores opens the newest snapshot in dir, restores it into a
// fresh state machine and compares the parameters.
func checkSnapshotRestores(t *testing.T, dir string, want map[string]*store.Parameter) {
	t.Helper()
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		t.Fatalf("no snapshot in %s: %v", dir, err)
	}
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "restored.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := &fsm{db: db}
	if err := f.Restore(rc); err != nil {
		t.Fatalf("restore snapshot: %v", err)
	}
	got := map[string]*store.Parameter{}
	err = db.View(context.Background(), func(r *store.Reader) error {
		return r.Scan(tenancy, "", "", func(it *store.ScanItem) (store.ScanControl, error) {
			p, err := it.Load()
			got[it.Name] = p
			return store.ScanControl{}, err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	assertSameParams(t, got, want)
}

func TestConfigValidate(t *testing.T) {
	good := Default("/tmp/x")
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"no dir", func(c *Config) { c.Dir = "" }, false},
		{"no node id", func(c *Config) { c.NodeID = "" }, false},
		{"zero threshold", func(c *Config) { c.SnapshotThreshold = 0 }, false},
		{"zero interval", func(c *Config) { c.SnapshotInterval = 0 }, false},
		{"trailing logs at the threshold", func(c *Config) { c.TrailingLogs = c.SnapshotThreshold }, true},
		{"trailing logs above the threshold", func(c *Config) { c.SnapshotThreshold = 16 }, false},
		{"join without bind", func(c *Config) { c.Join = "http://10.0.0.1:4583" }, false},
		{"force new cluster and join", func(c *Config) {
			c.Bind, c.ClusterKey, c.Join, c.ForceNewCluster = "127.0.0.1:0", make([]byte, 16), "http://10.0.0.1:4583", true
		}, false},
		{"bind without a cluster key", func(c *Config) { c.Bind = "127.0.0.1:0" }, false},
		{"no heartbeat timeout", func(c *Config) { c.HeartbeatTimeout = 0 }, false},
		{"no election timeout", func(c *Config) { c.ElectionTimeout = 0 }, false},
		{"no leader lease", func(c *Config) { c.LeaderLeaseTimeout = 0 }, false},
		{"election timeout below the heartbeat timeout", func(c *Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 }, false},
		{"lease above the heartbeat timeout", func(c *Config) { c.LeaderLeaseTimeout = 2 * c.HeartbeatTimeout }, false},
		{"tolerant timings", func(c *Config) { *c = tolerantTimings(*c) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := Open(Config{}); err == nil {
		t.Fatal("Open accepted an empty config")
	}
}

// TestConfigContradiction: settings that contradict each other are refused
// with both named, not adjusted behind the operator's back; the settings
// alone validate without what the server hands over later.
func TestConfigContradiction(t *testing.T) {
	c := Default("")
	c.SnapshotThreshold = 16
	err := c.ValidateSettings()
	if err == nil {
		t.Fatal("TrailingLogs above SnapshotThreshold accepted")
	}
	for _, want := range []string{"--trailing-logs", "--snapshot-threshold", "8192", "16"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to name %s", err, want)
		}
	}
	if err := Default("").ValidateSettings(); err != nil {
		t.Fatalf("the default settings: %v", err)
	}
	if err := Default("").Validate(); err == nil {
		t.Fatal("Validate accepted a config without Dir")
	}
}

func TestApplyAfterClose(t *testing.T) {
	n := openNode(t, testConfig(t, t.TempDir()))
	if !n.Ready() {
		t.Fatal("single node is not leader after WaitReady")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if n.Ready() {
		t.Fatal("closed node reports ready")
	}
	done := make(chan error, 1)
	go func() { done <- n.Apply(context.Background(), putCmd("/c", 1, 0)) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Apply on a closed node succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Apply on a closed node hung")
	}
}

// TestSingleNodeLogsCompactPuts: a node with no peers writes puts to its
// log in the compact form (no older version reads its log) and applies
// them; a clustered node writes JSON until its gate opens (logcodec.go:
// TestLogCodecMixedVersions). The e2e crash tests apply compact entries again from the
// log after a SIGKILL.
func TestSingleNodeLogsCompactPuts(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n := openNode(t, cfg)
	if err := n.Apply(context.Background(), putCmd("/c", 1, 0)); err != nil {
		t.Fatal(err)
	}
	last, err := n.logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	if err := n.logs.GetLog(last, &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Data) == 0 || l.Data[0] == '{' {
		t.Fatalf("the put's log entry is %q, want the compact form", l.Data)
	}
	defer n.Close()
	if p := params(t, n)["/c"]; p == nil || p.Latest.Value != "/c@1" {
		t.Fatalf("the put applied from its compact entry: %+v", p)
	}
	clustered := &Node{cfg: Config{Bind: "127.0.0.1:0"}}
	b, err := clustered.encode(putCmd("/c", 1, 0))
	if err != nil || b[0] != '{' {
		t.Fatalf("a clustered node encodes %q, %v; want JSON", b, err)
	}
}
