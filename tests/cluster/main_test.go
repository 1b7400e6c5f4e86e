// Package cluster_test runs clusters of `paramstore server` processes,
// injects faults (SIGKILL of the leader, network partitions, latency) while
// aws-sdk-go-v2 clients read and write through every node, and checks the
// outcome: the recorded history of every parameter must be linearizable
// (checked with porcupine), no acknowledged write may be lost, and after the
// run every replica must hold the same state.
//
// # How partitions are made
//
// Every node's raft traffic goes through a fault-injecting TCP proxy
// (proxy_test.go): node i listens for raft on Ri and advertises the proxy
// Pi, which forwards to Ri, so every raft connection to node i (the AppendEntries
// and RequestVote RPCs of the others, and the replies to them on the same
// connections) crosses Pi. A proxy alone cannot partition a node both ways,
// because every node dials Pi from 127.0.0.1 and all dialers share the one
// advertised address. The proxies therefore identify the dialing node of
// each accepted connection by its socket: the peer's ephemeral port leads to
// a socket inode in /proc/net/tcp, and the inode to the node process that
// holds it in /proc/<pid>/fd (socketOwner). That makes every directed edge
// (from, to) controllable with BlockFrom(from) on the proxy of "to", and
// isolating node X means: block the proxy in front of X (nobody reaches X)
// and block connections from X on every other proxy (X reaches nobody).
// This is pure Go and needs no privileges (network namespaces or iptables
// would need root on CI), but it is Linux-only, and a connection whose
// dialer cannot be identified is stalled whenever any block is active.
//
// Limitation: only raft traffic is partitioned. A follower forwards writes
// and read-index requests to the leader's registered API address over HTTP,
// which does not cross the proxies, and the test clients reach every node's
// API directly (clients on both sides of the partition, as in Jepsen). An
// isolated old leader can thus still be asked to commit or confirm a read,
// which it must refuse: it cannot reach a quorum over raft.
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
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const modulePath = "github.com/paramstore/paramstore"

// binPath is the paramstore binary built by TestMain.
var binPath string

// moduleRoot is the directory holding the module's go.mod.
var moduleRoot string

// dialHelperEnv makes the test binary act as a dialing subprocess for
// TestSocketOwner: it connects to the address in the variable and holds the
// connection until its stdin closes.
const dialHelperEnv = "PARAMSTORE_CLUSTER_DIAL_HELPER"

func TestMain(m *testing.M) {
	if addr := os.Getenv(dialHelperEnv); addr != "" {
		os.Exit(dialHelper(addr))
	}
	os.Exit(runMain(m))
}

func dialHelper(addr string) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	fmt.Println("connected")
	buf := make([]byte, 1)
	os.Stdin.Read(buf)
	return 0
}

func runMain(m *testing.M) int {
	root, err := findModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	moduleRoot = root
	dir, err := os.MkdirTemp("", "paramstore-cluster-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "paramstore")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/paramstore")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "cluster: go build ./cmd/paramstore in %s: %v\n%s", root, err, out)
		return 1
	}
	return m.Run()
}

// findModuleRoot walks up from the working directory to this module's go.mod.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module "+modulePath)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod for module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

var (
	touchOnce sync.Once
	touchErr  error
)

// touchSources opens every source file of the module, so that `go test`
// records them as inputs of this package (the binary under test is built by
// a subprocess) and a change to any of them invalidates a cached result.
func touchSources(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".mod", ".sum":
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			f.Close()
		}
		return nil
	})
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
