package raftstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/paramstore/paramstore/internal/store"
)

// An in-process cluster, in the manner of hashicorp/raft's testing.go:
// several real nodes in one process (raft, raft-boltdb, the bbolt state
// machine, the cluster-key stream layer over loopback TCP, the cluster RPCs
// served by httptest), partitioned by node ID through the fault-injection
// layer that `paramstore server --enable-fault-injection` uses.

// clusterWait bounds every wait for the cluster: an election, replication,
// a heal. It is a deadline for a condition, not a measurement.
const clusterWait = 30 * time.Second

// tolerantTimings are the raft timings of the test clusters: four times
// the defaults. These tests are about what a partition does, not how fast
// a cluster elects; with the defaults, a loaded 2-core machine running
// -race starved a leader of CPU past its 250 ms lease now and then, and
// the cluster elected again in the middle of a test (raft: "failed to
// contact quorum of nodes, stepping down", at load averages of 10 to 17).
func tolerantTimings(cfg Config) Config {
	cfg.HeartbeatTimeout = 2 * time.Second
	cfg.ElectionTimeout = 2 * time.Second
	cfg.LeaderLeaseTimeout = time.Second
	return cfg
}

type cluster struct {
	t       testing.TB
	key     []byte
	members []*member
}

// member is one node with its API (the cluster RPCs) on a loopback port.
type member struct {
	id  string
	n   *Node
	api *httptest.Server
	// conns counts the connections its API accepted.
	conns atomic.Int64
}

// makeCluster starts size nodes: the first bootstraps, the others join it;
// it returns when every node is registered and knows the leader.
func makeCluster(t testing.TB, size int) *cluster {
	t.Helper()
	return makeClusterWith(t, size, nil)
}

// makeClusterWith is makeCluster with more settings of every node from
// configure, when set.
func makeClusterWith(t testing.TB, size int, configure func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, key: make([]byte, 32)}
	rand.Read(c.key)
	t.Cleanup(c.close)
	for range size {
		c.add(configure)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	for _, m := range c.members {
		if err := m.n.WaitReady(ctx); err != nil {
			t.Fatalf("%s: %v", m.id, err)
		}
	}
	return c
}

// add starts the next node (the first bootstraps, the others join it),
// with more settings from configure when set, and returns once it is
// registered.
func (c *cluster) add(configure func(*Config)) *member {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	cfg := testConfig(t, t.TempDir())
	if _, bench := t.(*testing.B); !bench {
		// Benchmarks measure the default timings (heartbeats every
		// HeartbeatTimeout/10 cost CPU too).
		cfg = tolerantTimings(cfg)
	}
	cfg.NodeID = fmt.Sprintf("n%d", len(c.members)+1)
	cfg.Bind = "127.0.0.1:0"
	cfg.ClusterKey = c.key
	cfg.FaultInjection = true
	if len(c.members) > 0 {
		cfg.Join = c.members[0].api.URL
	}
	if configure != nil {
		configure(&cfg)
	}
	n, err := Open(cfg)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.NodeID, err)
	}
	m := &member{id: cfg.NodeID, n: n, api: httptest.NewUnstartedServer(n.Handler())}
	m.api.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			m.conns.Add(1)
		}
	}
	m.api.Start()
	c.members = append(c.members, m)
	if len(c.members) == 1 {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatalf("%s: %v", m.id, err)
		}
	}
	if err := n.Register(ctx, m.api.URL); err != nil {
		t.Fatalf("register %s: %v", m.id, err)
	}
	return m
}

// close heals the cluster and closes every node, followers first.
func (c *cluster) close() {
	for _, m := range c.members {
		m.n.SetFaults(Faults{})
	}
	for i := len(c.members) - 1; i >= 0; i-- {
		m := c.members[i]
		if err := m.n.Close(); err != nil {
			c.t.Errorf("close %s: %v", m.id, err)
		}
		m.api.Close()
	}
}

// others returns the members other than those of not.
func (c *cluster) others(not ...*member) []*member {
	var out []*member
	for _, m := range c.members {
		if !slices.Contains(not, m) {
			out = append(out, m)
		}
	}
	return out
}

// leader waits until one of among is a leader that can take writes and
// linearizable reads, and returns it.
func (c *cluster) leader(among ...*member) *member {
	c.t.Helper()
	if len(among) == 0 {
		among = c.members
	}
	var states []string
	ok := poll(func() bool {
		states = states[:0]
		for _, m := range among {
			st := m.n.Status()
			states = append(states, fmt.Sprintf("%s: %s leader=%q", m.id, st.State, st.LeaderID))
			if st.State == raft.Leader.String() && st.CanWrite && st.CanReadLinearizable {
				return true
			}
		}
		return false
	})
	if !ok {
		c.t.Fatalf("no leader among %s within %v: %s", ids(among), clusterWait, strings.Join(states, "; "))
	}
	for _, m := range among {
		if m.n.Ready() {
			return m
		}
	}
	c.t.Fatalf("the leader among %s stepped down at once", ids(among))
	return nil
}

// setFaults sets m's faults through the cluster RPC, as the process
// harness of tests/cluster does.
func (c *cluster) setFaults(m *member, f Faults) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := InjectFaults(ctx, m.api.URL, c.key, f); err != nil {
		c.t.Fatalf("faults %+v on %s: %v", f, m.id, err)
	}
}

// partition cuts every raft link between far and the other members, on
// both sides of each link.
func (c *cluster) partition(far ...*member) {
	c.t.Helper()
	near := c.others(far...)
	for _, m := range far {
		c.setFaults(m, Faults{Cut: ids(near)})
	}
	for _, m := range near {
		c.setFaults(m, Faults{Cut: ids(far)})
	}
}

// fullyConnect lifts every fault.
func (c *cluster) fullyConnect() {
	c.t.Helper()
	for _, m := range c.members {
		c.setFaults(m, Faults{})
	}
}

// sync commits a write through the leader and waits until every member has
// applied it: afterwards every replica holds everything committed before.
func (c *cluster) sync() {
	c.t.Helper()
	// Through the leader of the moment: if it steps down before the write
	// commits (a starved leader), through the next one. The same name
	// each time: a write that committed anyway is not a second one.
	name := fmt.Sprintf("/_sync/%d", time.Now().UnixNano())
	deadline := time.Now().Add(clusterWait)
	var l *member
	for {
		l = c.leader()
		ctx, cancel := context.WithTimeout(context.Background(), time.Until(deadline))
		err := l.n.Apply(ctx, putCmd(name, 1, 0))
		cancel()
		if err == nil || errors.Is(err, store.ErrExists) {
			break
		}
		if !errors.Is(err, ErrNotReady) || time.Now().After(deadline) {
			c.t.Fatalf("sync write through %s: %v", l.id, err)
		}
	}
	idx := l.n.DB().LastApplied()
	for _, m := range c.members {
		db := m.n.DB()
		if !pollChanges(db, func() bool { return db.LastApplied() >= idx }) {
			c.t.Fatalf("%s applied up to %d, not %d, within %v", m.id, db.LastApplied(), idx, clusterWait)
		}
	}
}

// ensureSame compares every replica's whole bbolt file, bucket by bucket
// and key by key, with the first member's.
func (c *cluster) ensureSame() {
	c.t.Helper()
	want := dumpReplica(c.t, c.members[0].n)
	for _, m := range c.members[1:] {
		got := dumpReplica(c.t, m.n)
		if d := diffDumps(want, got); d != "" {
			c.t.Errorf("replica %s differs from %s: %s", m.id, c.members[0].id, d)
		}
	}
}

// dumpReplica returns every key and value of every bucket of n's state
// machine, read from a copy of its bbolt file.
func dumpReplica(t testing.TB, n *Node) map[string]map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "replica.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := n.DB().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	_, err = snap.WriteTo(f)
	snap.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			m := map[string]string{}
			out[string(name)] = m
			return b.ForEach(func(k, v []byte) error {
				m[string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// diffDumps describes the first difference of two dumps ("" when equal).
func diffDumps(a, b map[string]map[string]string) string {
	buckets := map[string]bool{}
	for name := range a {
		buckets[name] = true
	}
	for name := range b {
		buckets[name] = true
	}
	var names []string
	for name := range buckets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		x, y := a[name], b[name]
		if len(x) != len(y) {
			return fmt.Sprintf("bucket %s: %d keys vs %d", name, len(x), len(y))
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || w != v {
				return fmt.Sprintf("bucket %s key %q: %q vs %q (present %v)", name, k, v, w, ok)
			}
		}
	}
	return ""
}

// poll checks cond every few milliseconds until it holds (true) or
// clusterWait passes (false).
func poll(cond func() bool) bool {
	deadline := time.Now().Add(clusterWait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// pollChanges checks cond after each commit of db until it holds (true)
// or clusterWait passes (false).
func pollChanges(db *store.DB, cond func() bool) bool {
	timeout := time.NewTimer(clusterWait)
	defer timeout.Stop()
	for {
		changed := db.Changed()
		if cond() {
			return true
		}
		select {
		case <-changed:
		case <-timeout.C:
			return cond()
		}
	}
}

func ids(ms []*member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.id
	}
	return out
}

// localParam reads name from m's state machine without asking the leader.
func localParam(t *testing.T, m *member, name string) *store.Parameter {
	t.Helper()
	var p *store.Parameter
	err := m.n.DB().View(context.Background(), func(r *store.Reader) error {
		var err error
		p, err = r.Param(tenancy, name)
		return err
	})
	if err != nil {
		t.Fatalf("%s: read %s: %v", m.id, name, err)
	}
	return p
}

// localParams reads every parameter of m's state machine without asking
// the leader: after sync, what each replica holds. (A linearizable read
// would fail at once if the load cost the cluster its leader meanwhile.)
func localParams(t *testing.T, m *member) map[string]*store.Parameter {
	t.Helper()
	out := map[string]*store.Parameter{}
	err := m.n.DB().View(context.Background(), func(r *store.Reader) error {
		return r.Scan(tenancy, "", "", func(it *store.ScanItem) (store.ScanControl, error) {
			p, err := it.Load()
			out[it.Name] = p
			return store.ScanControl{}, err
		})
	})
	if err != nil {
		t.Fatalf("%s: scan: %v", m.id, err)
	}
	return out
}

func apply(t *testing.T, m *member, cmd *store.Command) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := m.n.Apply(ctx, cmd); err != nil {
		t.Fatalf("%s %s through %s: %v", cmd.Op, cmd.Name, m.id, err)
	}
}

// TestClusterReplicates writes through the leader and through a follower
// (which forwards to the leader) and compares every replica.
func TestClusterReplicates(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	l := c.leader()
	f := c.others(l)[0]
	for i := range 5 {
		apply(t, l, putCmd(fmt.Sprintf("/leader/%d", i), 1, 0))
		apply(t, f, putCmd(fmt.Sprintf("/follower/%d", i), 1, 0))
	}
	mi := localParam(t, l, "/leader/0").ModIndex
	apply(t, f, putCmd("/leader/0", 2, mi))
	c.sync()
	for _, m := range c.members {
		if p := localParam(t, m, "/leader/0"); p == nil || p.Latest.Version != 2 {
			t.Errorf("%s: /leader/0 is %+v, want version 2", m.id, p)
		}
		if got := len(localParams(t, m)); got != 11 { // 10 and the sync write
			t.Errorf("%s holds %d parameters, want 11", m.id, got)
		}
	}
	c.ensureSame()

	// The fault RPC takes only members, and only with the cluster key.
	ctx := context.Background()
	if err := InjectFaults(ctx, l.api.URL, c.key, Faults{Cut: []string{"n9"}}); err == nil || !strings.Contains(err.Error(), `no member "n9"`) {
		t.Errorf("cut of an unknown node: got %v, want an error naming it", err)
	}
	if err := InjectFaults(ctx, l.api.URL, []byte("another key of 16+ bytes"), Faults{}); err == nil || !strings.Contains(err.Error(), "cluster authentication failed") {
		t.Errorf("faults with another key: got %v, want an authentication failure", err)
	}
}

// TestClusterPartitionedFollower cuts a follower off: the majority goes on
// committing, the follower neither applies those writes nor answers a
// linearizable read without them; healed, it catches up and every replica
// is the same.
func TestClusterPartitionedFollower(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	l := c.leader()
	f := c.others(l)[0]
	apply(t, l, putCmd("/before", 1, 0))
	c.sync()

	c.partition(f)
	for i := range 5 {
		apply(t, l, putCmd(fmt.Sprintf("/during/%d", i), 1, 0))
	}
	if p := localParam(t, f, "/during/4"); p != nil {
		t.Fatalf("the partitioned follower %s applied a write made during the partition", f.id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err := f.n.View(ctx, func(r *store.Reader) error { return nil })
	cancel()
	if err == nil {
		t.Errorf("a linearizable read on the partitioned follower %s succeeded without the majority's writes", f.id)
	}

	c.fullyConnect()
	c.sync()
	for _, m := range c.members {
		if localParam(t, m, "/before") == nil || localParam(t, m, "/during/4") == nil {
			t.Errorf("%s lacks a committed write after the heal", m.id)
		}
	}
	c.ensureSame()
}

// TestClusterPartitionedLeader cuts the leader off: the majority elects
// another leader and commits; the old leader acknowledges nothing; healed,
// it follows, and no replica holds the write it could not commit.
func TestClusterPartitionedLeader(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	old := c.leader()
	apply(t, old, putCmd("/before", 1, 0))
	c.sync()

	c.partition(old)
	l := c.leader(c.others(old)...)
	apply(t, l, putCmd("/after", 1, 0))
	// Nothing can carry /lost across the partition: the old leader cannot
	// replicate it, and it does not forward it to a leader it has cut even
	// if it heard of one before the other side's cuts landed (see
	// TestClusterCutLeaderNotCalled). So the write is not indeterminate: it
	// fails, and no member may hold it after the heal. The deadline is
	// well past the leader lease: when it passes before the old leader
	// stepped down, Apply answers a bare context.DeadlineExceeded, not
	// ErrNotReady (applyLocal waits on the leader's future, without ctx).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := old.n.Apply(ctx, putCmd("/lost", 1, 0))
	cancel()
	if err == nil {
		t.Fatalf("the partitioned old leader %s acknowledged a write", old.id)
	}
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("the partitioned old leader %s: %v, want ErrNotReady", old.id, err)
	}

	c.fullyConnect()
	c.sync()
	if old.n.Ready() && c.leader() != old {
		t.Errorf("two leaders after the heal")
	}
	for _, m := range c.members {
		if localParam(t, m, "/after") == nil {
			t.Errorf("%s lacks the new leader's write after the heal", m.id)
		}
		if localParam(t, m, "/lost") != nil {
			t.Errorf("%s holds a write the partitioned old leader never committed", m.id)
		}
	}
	c.ensureSame()
}

// TestClusterCutLeaderNotCalled cuts a follower off from the leader on the
// follower's side only. Raft still brings it the leader's entries on the
// leader's connections, so it knows its leader; but a cut is a cut for the
// cluster RPCs too: a write on the follower is not forwarded across it, and
// the follower does not claim it can write. Healed, the write goes through.
func TestClusterCutLeaderNotCalled(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	l := c.leader()
	f := c.others(l)[0]
	c.setFaults(f, Faults{Cut: []string{l.id}})
	if _, id := f.n.raft.LeaderWithID(); id != raft.ServerID(l.id) {
		t.Fatalf("%s knows leader %q, not %s: the test needs a follower that knows its leader", f.id, id, l.id)
	}
	if f.n.Status().CanWrite {
		t.Errorf("%s, cut from its leader, says it can write", f.id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err := f.n.Apply(ctx, putCmd("/across", 1, 0))
	cancel()
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("a write on %s, cut from its leader: %v, want ErrNotReady", f.id, err)
	}
	// Healed and synced, every member holds what was committed: a write
	// forwarded across the cut would show. (Synced before the heal, a
	// starved leader stepping down could leave the cut follower the
	// leader and the old one orphaned, never applying the sync write.)
	c.fullyConnect()
	c.sync()
	for _, m := range c.members {
		if localParam(t, m, "/across") != nil {
			t.Errorf("%s holds a write forwarded across a cut", m.id)
		}
	}

	ctx, cancel = context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := f.n.Apply(ctx, putCmd("/across", 1, 0)); err != nil {
		t.Fatalf("a write on %s after the heal: %v", f.id, err)
	}
	if localParam(t, l, "/across") == nil {
		t.Errorf("the leader %s lacks the write forwarded after the heal", l.id)
	}
}

// TestForwardReusesConnections makes rounds of concurrent writes through a
// follower: the forwarded writes reuse the connections to the leader
// rather than dial one each (as they did with net/http's default of two
// idle connections per host, most of them did).
func TestForwardReusesConnections(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	l := c.leader()
	f := c.others(l)[0]
	const writers, rounds = 8, 8
	before := l.conns.Load()
	for r := range rounds {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
				defer cancel()
				name := fmt.Sprintf("/fwd/%d/%d", r, w)
				if err := f.n.Apply(ctx, putCmd(name, 1, 0)); err != nil {
					t.Errorf("%s through %s: %v", name, f.id, err)
				}
			}()
		}
		wg.Wait()
	}
	// At most one connection per writer, and as many dialed while an idle
	// one was on its way back to the pool.
	if got := l.conns.Load() - before; got > 2*writers {
		t.Errorf("%d forwarded writes (%d at a time) opened %d connections to the leader, want at most %d",
			writers*rounds, writers, got, 2*writers)
	}
}

// TestStaleReadsWithoutLeader cuts every link, so that no node knows a
// leader or can elect one (a lost majority): a follower keeps serving stale
// reads of what it holds while its last contact with the leader is within
// its MaxStaleness, and refuses them with ErrTooStale once that passes. A
// node that knows no leader used to refuse at once, one heartbeat timeout
// after the leader went, however long --max-staleness allowed.
func TestStaleReadsWithoutLeader(t *testing.T) {
	t.Parallel()
	const strict = 2 * time.Second
	c := makeClusterWith(t, 3, func(cfg *Config) {
		cfg.MaxStaleness = time.Hour
		if cfg.NodeID == "n3" {
			cfg.MaxStaleness = strict
		}
	})
	if l := c.leader(); l.id == "n3" {
		if err := l.n.raft.LeadershipTransfer().Error(); err != nil {
			t.Fatalf("move the leadership off n3: %v", err)
		}
		if !poll(func() bool { return c.leader().id != "n3" }) {
			t.Fatal("n3 still leads")
		}
	}
	apply(t, c.leader(), putCmd("/before", 1, 0))
	c.sync()
	var patient, strictM *member
	for _, m := range c.others(c.leader()) {
		if m.id == "n3" {
			strictM = m
		} else {
			patient = m
		}
	}

	for _, m := range c.members {
		c.setFaults(m, Faults{Cut: ids(c.others(m))})
	}
	for _, m := range []*member{patient, strictM} {
		if !poll(func() bool { _, id := m.n.raft.LeaderWithID(); return id == "" }) {
			t.Fatalf("%s still knows a leader with every link cut", m.id)
		}
	}

	stale := store.WithStale(context.Background())
	var got *store.Parameter
	err := patient.n.View(stale, func(r *store.Reader) error {
		var err error
		got, err = r.Param(tenancy, "/before")
		return err
	})
	if err != nil || got == nil {
		t.Fatalf("stale read on %s, which knows no leader, %v after its last contact (bound 1h): %v, %v", patient.id, patient.n.Staleness(), got, err)
	}

	if !poll(func() bool { return strictM.n.Staleness() > strict }) {
		t.Fatalf("%s: staleness %v", strictM.id, strictM.n.Staleness())
	}
	if err := strictM.n.View(stale, func(*store.Reader) error { return nil }); !errors.Is(err, ErrTooStale) {
		t.Errorf("stale read on %s %v after its last contact (bound %v): %v, want ErrTooStale", strictM.id, strictM.n.Staleness(), strict, err)
	}
	if err := patient.n.View(context.Background(), func(*store.Reader) error { return nil }); err == nil {
		t.Errorf("a linearizable read on %s succeeded with no leader", patient.id)
	}
	// A write's plan needs a leader to send the write to: without one it
	// is refused as unavailable, not planned on a state cut off from it.
	if err := patient.n.View(store.WithWritePlan(context.Background()), func(*store.Reader) error { return nil }); !errors.Is(err, ErrNotReady) {
		t.Errorf("a write's plan on %s with no leader: %v, want ErrNotReady", patient.id, err)
	}
	c.fullyConnect()
	c.sync()
}

// TestFollowerCatchesUpFromSnapshot cuts a follower off while the others
// write on and truncate their logs past what it holds: healed, it installs
// the leader's snapshot, and then takes the entries after it. (Its log, a
// WAL that refuses a gap, must be emptied at the install; keeping its old
// entries left it refusing every append after the snapshot, for good.)
func TestFollowerCatchesUpFromSnapshot(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	l := c.leader()
	f := c.others(l)[0]
	apply(t, l, putCmd("/before", 1, 0))
	c.sync()
	c.partition(f)
	for i := range 10 {
		apply(t, l, putCmd(fmt.Sprintf("/missed/%d", i), 1, 0))
	}
	for _, m := range c.others(f) {
		if err := m.n.Snapshot(); err != nil {
			t.Fatalf("%s: snapshot: %v", m.id, err)
		}
	}
	c.fullyConnect()
	apply(t, c.leader(), putCmd("/after", 1, 0))
	c.sync()
	for _, name := range []string{"/missed/9", "/after"} {
		if localParam(t, f, name) == nil {
			t.Errorf("the follower lacks %s after catching up", name)
		}
	}
	c.ensureSame()
}
