// Package cluster_test runs clusters of `paramstore server` processes,
// injects faults (SIGKILL of the leader, network partitions, latency) while
// aws-sdk-go-v2 clients read and write through every node, and checks the
// outcome: the recorded history of every parameter must be linearizable
// (checked with porcupine), no acknowledged write may be lost, and after the
// run every replica must hold the same state.
//
// # How partitions are made
//
// Every node runs with --enable-fault-injection, which wraps the stream
// layer its raft transport is built on (internal/store/raftstore/fault.go).
// The harness sets each node's faults through the cluster RPC "fault",
// authenticated with the cluster key (raftstore.InjectFaults): the peers it
// is cut off from, by node ID, and a delay added to its raft reads. A node
// controls the raft connections it dials, which carry its requests and the
// answers to them, so a link between A and B is cut on both: isolating node
// X means X cuts every other node, and every other node cuts X. A dial to a
// cut peer hangs until the transport's timeout, as behind a network that
// drops packets; the faults are a process's state, gone when it restarts.
//
// The node-to-node cluster calls honour the cuts too: a follower does not
// forward writes, read-index requests or joins to a leader it has cut. The
// test clients, though, reach every node's API directly (clients on both
// sides of the partition, as in Jepsen): an isolated old leader can still be
// asked to commit or confirm a read, which it must refuse: it cannot reach a
// quorum over raft.
//
// SIGKILL faults kill the node process (kill -9) and restart it on the same
// data dir and addresses.
//
// The default (CI) form is short; PARAMSTORE_CLUSTER_LONG=1 (make
// cluster-long) runs more rounds and longer phases. Artifacts (node logs,
// porcupine visualizations, replica snapshots) go to a fresh directory under
// $PARAMSTORE_ARTIFACTS (default: the system temp dir), removed when the test
// passes and kept, with its path logged, when it fails.
package cluster_test

import (
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/testproc"
)

func TestMain(m *testing.M) {
	if os.Getenv(fleetWorkerEnv) != "" {
		os.Exit(fleetWorkerMain()) // a process of BenchmarkFleet's agents
	}
	testproc.Main(m)
}

// longMode reports whether PARAMSTORE_CLUSTER_LONG asks for the long form.
func longMode() bool {
	v := os.Getenv("PARAMSTORE_CLUSTER_LONG")
	return v != "" && v != "0"
}

// envInt returns the integer environment variable name, or def.
func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return n
}

// pick returns short in the default form and long in the long form.
func pick[T any](short, long T) T {
	if longMode() {
		return long
	}
	return short
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// artifactsDir returns a fresh directory for t's artifacts, under
// $PARAMSTORE_ARTIFACTS or the temp dir. It is removed if t passes and kept
// (and logged) if it fails.
func artifactsDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv("PARAMSTORE_ARTIFACTS")
	if base != "" {
		if err := os.MkdirAll(base, 0o755); err != nil {
			t.Fatalf("PARAMSTORE_ARTIFACTS: %v", err)
		}
	}
	dir, err := os.MkdirTemp(base, "paramstore-"+unsafeChars.ReplaceAllString(t.Name(), "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("artifacts kept in %s", dir)
			return
		}
		if base == "" {
			os.RemoveAll(dir)
		}
	})
	return dir
}

// since is a monotonic clock for histories: nanoseconds since start.
type clock struct{ start time.Time }

func (c clock) now() int64 { return int64(time.Since(c.start)) }
