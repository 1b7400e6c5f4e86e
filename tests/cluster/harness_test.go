package cluster_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/paramstore/paramstore/internal/mirror"
	"github.com/paramstore/paramstore/internal/store/raftstore"
	"github.com/paramstore/paramstore/internal/testproc"
)

// cluster is a set of `paramstore server` processes forming one raft
// cluster, started with --enable-fault-injection (see the package doc).
type cluster struct {
	t          testing.TB
	dir        string // artifacts: node logs, snapshots, visualizations
	keyFile    string // --cluster-key-file, shared
	clusterKey []byte // its key, to authenticate the fault RPCs
	masterKey  string // --master-key-file for the joining nodes (node 1's key)
	nodes      []*node
	faults     bool     // --enable-fault-injection (off for benchmarks)
	args       []string // more flags of every node
	// nodeArgs, when set, are more server flags of a node (peer TLS).
	nodeArgs func(*node) []string
	// nodeEnv, when set, is more environment of a node's run (the first
	// is 1).
	nodeEnv func(n *node, run int) []string
	// apiTLS, when set, is how clients reach nodes that nodeArgs start
	// with --tls-cert: their endpoints are https.
	apiTLS *tls.Config

	credsOnce sync.Once
	creds     testproc.Credentials
	credsErr  error
}

// raftMultiplier is every node's --raft-multiplier (a flag of c.args
// given later wins). These tests are about what a kill, a partition or a
// slow link does, not how fast a cluster elects; with raft's default
// timings, the test machine (2 cores shared with other suites, load
// averages of 20 to 40) starved leaders past their 250 ms lease, and the
// clusters elected again in the middle of tests: writes through "the
// leader" timed out, the console showed no leader, a quorum-lost incident
// never ended (TestWatchFollowerFailover, TestConsoleClusterScreen,
// TestQuorumLossIncident, TestFollowerWithoutLeader, each failed once).
// 4 makes the lease 1 s and the heartbeat timeout 2 s.
const raftMultiplier = 4

// node is one member; its process comes and goes (kill, restart) while its
// addresses and data dir stay.
type node struct {
	c        *cluster
	id       string
	dataDir  string
	apiAddr  string // fixed at the first start
	raftAddr string
	// advertise, when set, is its --raft-advertise (a proxy in front of
	// raftAddr).
	advertise string
	join      string // --join URL; empty for the bootstrap node
	logPath   string

	mu   sync.Mutex
	srv  *testproc.Server // nil while down
	runs int              // how many times the process was started
}

// startCluster starts n nodes: node 1 bootstraps, the others join it, and
// returns when every node answers /readyz with 200.
func startCluster(t testing.TB, n int) *cluster {
	return startClusterOpts(t, n, true)
}

func startClusterOpts(t testing.TB, n int, faults bool, args ...string) *cluster {
	t.Helper()
	return startClusterWith(t, n, &cluster{faults: faults, args: args}, nil)
}

// startClusterWith is startCluster for c's settings; prepare, when set,
// sees the nodes before they start.
func startClusterWith(t testing.TB, n int, c *cluster, prepare func(*cluster)) *cluster {
	t.Helper()
	c.t, c.dir = t, artifactsDir(t)
	c.keyFile = filepath.Join(c.dir, "cluster.key")
	out, err := testproc.Command(t, "cluster", "keygen").Output()
	if err != nil {
		t.Fatalf("paramstore cluster keygen: %v", err)
	}
	if err := os.WriteFile(c.keyFile, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if c.clusterKey, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(out))); err != nil {
		t.Fatalf("paramstore cluster keygen printed %q: %v", out, err)
	}
	for i := 1; i <= n; i++ {
		nd := &node{
			c:        c,
			id:       fmt.Sprintf("n%d", i),
			dataDir:  filepath.Join(c.dir, fmt.Sprintf("n%d-data", i)),
			apiAddr:  testproc.FreeAddr(t),
			raftAddr: testproc.FreeAddr(t),
		}
		nd.logPath = filepath.Join(c.dir, nd.id+".log")
		if i > 1 {
			nd.join = c.nodes[0].endpoint()
		}
		c.nodes = append(c.nodes, nd)
	}
	if prepare != nil {
		prepare(c)
	}
	for i, nd := range c.nodes {
		nd.start()
		if i == 0 {
			// The joining nodes need node 1's master key.
			key, err := os.ReadFile(filepath.Join(nd.dataDir, "master.key"))
			if err != nil {
				t.Fatalf("node 1 master key: %v", err)
			}
			c.masterKey = filepath.Join(c.dir, "master.key")
			if err := os.WriteFile(c.masterKey, key, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c
}

func (n *node) endpoint() string {
	if n.c.apiTLS != nil {
		return "https://" + n.apiAddr
	}
	return "http://" + n.apiAddr
}

// httpClient is a client of the nodes' API ports, with timeout.
func (c *cluster) httpClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: c.apiTLS}}
}

// start runs the node's process (same flags on every start) and waits until
// it answers /readyz with 200. Its output goes to the node's log file; the
// process is stopped (SIGTERM, exit code 0) when the test ends.
func (n *node) start() {
	t := n.c.t
	t.Helper()
	n.mu.Lock()
	if n.srv != nil {
		n.mu.Unlock()
		t.Fatalf("%s: start while running", n.id)
	}
	n.runs++
	run := n.runs
	n.mu.Unlock()

	args := []string{
		"--node-id", n.id,
		"--raft-listen", n.raftAddr,
		"--cluster-key-file", n.c.keyFile,
		"--raft-multiplier", strconv.Itoa(raftMultiplier),
	}
	if n.c.faults {
		args = append(args, "--enable-fault-injection")
	}
	args = append(args, n.c.args...)
	if n.advertise != "" {
		args = append(args, "--raft-advertise", n.advertise)
	}
	if n.c.nodeArgs != nil {
		args = append(args, n.c.nodeArgs(n)...)
	}
	if n.join != "" {
		args = append(args, "--join", n.join, "--master-key-file", n.c.masterKey)
	}
	var env []string
	if n.c.nodeEnv != nil {
		env = testproc.Env(n.c.nodeEnv(n, run)...)
	}
	srv := testproc.StartServer(t, testproc.ServerConfig{
		Name: fmt.Sprintf("%s run %d", n.id, run), DataDir: n.dataDir, Listen: n.apiAddr, Args: args,
		LogFile: n.logPath, ReadyTimeout: 60 * time.Second, TLS: n.c.apiTLS, Env: env,
	})
	if n.c.faults {
		// Runs before the process's own stop (cleanups run last first):
		// a node still cut off when a test fails stops as fast as a healed one.
		t.Cleanup(func() {
			if !srv.Exited() {
				if err := n.c.injectFaults(n, raftstore.Faults{}); err != nil {
					t.Logf("heal %s before it stops: %v", n.id, err)
				}
			}
		})
	}
	n.mu.Lock()
	n.srv = srv
	n.mu.Unlock()
}

// server is the node's running process, or nil.
func (n *node) server() *testproc.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// running reports whether the node's process is up.
func (n *node) running() bool { return n.server() != nil }

// kill sends SIGKILL and waits until the process is gone.
func (n *node) kill() {
	n.mu.Lock()
	srv := n.srv
	n.srv = nil
	n.mu.Unlock()
	if srv != nil {
		srv.Kill()
	}
}

// terminate sends SIGTERM and waits; it reports a failure to exit cleanly.
func (n *node) terminate() error {
	n.mu.Lock()
	srv := n.srv
	n.srv = nil
	n.mu.Unlock()
	if srv == nil {
		return nil
	}
	code, err := srv.Terminate(testproc.StopTimeout)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%s exited with code %d after SIGTERM, want 0", n.id, code)
	}
	return nil
}

// readyz is the body of GET /readyz.
type readyz struct {
	raftstore.Status
	Mirrors []mirror.Status `json:"mirrors"`
	status  int
}

var readyClient = &http.Client{Timeout: time.Second}

// ready fetches /readyz.
func (n *node) ready() (readyz, error) {
	hc := readyClient
	if n.c.apiTLS != nil {
		hc = n.c.httpClient(time.Second)
	}
	resp, err := hc.Get(n.endpoint() + "/readyz")
	if err != nil {
		return readyz{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return readyz{}, err
	}
	var r readyz
	if err := json.Unmarshal(body, &r); err != nil {
		return readyz{}, fmt.Errorf("%s /readyz: status %d, body %q: %w", n.id, resp.StatusCode, body, err)
	}
	r.status = resp.StatusCode
	return r, nil
}

// waitReady waits until the node answers /readyz with 200.
func (n *node) waitReady(timeout time.Duration) {
	t := n.c.t
	t.Helper()
	srv := n.server()
	if srv == nil {
		t.Fatalf("%s is not running", n.id)
	}
	if err := srv.WaitReady(timeout); err != nil {
		t.Fatalf("%s (log %s): %v", n.id, n.logPath, err)
	}
}

// leader waits until a running node reports itself leader, able to write
// and to serve linearizable reads (its first barrier committed), and the
// other running nodes that know a leader name the same one.
func (c *cluster) leader(timeout time.Duration) *node {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		var leader *node
		agree := true
		var states []string
		for _, n := range c.nodes {
			if !n.running() {
				continue
			}
			r, err := n.ready()
			if err != nil {
				states = append(states, n.id+": "+err.Error())
				continue
			}
			states = append(states, fmt.Sprintf("%s: %s leader=%q", n.id, r.State, r.LeaderID))
			if r.State == "Leader" && r.CanWrite && r.CanReadLinearizable {
				if leader != nil {
					agree = false
				}
				leader = n
			}
		}
		if leader != nil && agree {
			return leader
		}
		last = strings.Join(states, "; ")
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("no leader after %v: %s", timeout, last)
	return nil
}

// injectFaults sets the faults of n's raft transport (see the package doc).
func (c *cluster) injectFaults(n *node, f raftstore.Faults) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return raftstore.InjectFaults(ctx, n.endpoint(), c.clusterKey, f)
}

// setFaults is injectFaults that fails the test.
func (c *cluster) setFaults(n *node, f raftstore.Faults) {
	c.t.Helper()
	if err := c.injectFaults(n, f); err != nil {
		c.t.Fatalf("faults %+v on %s: %v", f, n.id, err)
	}
}

// isolate partitions n from every other node, both ways (raft traffic and
// the cluster calls to the leader):
// n cuts every other node, and every other node cuts n.
func (c *cluster) isolate(n *node) {
	c.t.Helper()
	var others []string
	for _, o := range c.others(n) {
		others = append(others, o.id)
	}
	c.setFaults(n, raftstore.Faults{Cut: others})
	for _, o := range c.others(n) {
		if o.running() {
			c.setFaults(o, raftstore.Faults{Cut: []string{n.id}})
		}
	}
}

// slowLinks adds d to every read of every raft connection of every
// running node: about d more each way.
func (c *cluster) slowLinks(d time.Duration) {
	c.t.Helper()
	for _, n := range c.nodes {
		if n.running() {
			c.setFaults(n, raftstore.Faults{Delay: d})
		}
	}
}

// heal lifts every partition and removes every delay.
func (c *cluster) heal() {
	c.t.Helper()
	for _, n := range c.nodes {
		if n.running() {
			c.setFaults(n, raftstore.Faults{})
		}
	}
}

// credentials returns the root access key node 1 wrote.
func (c *cluster) credentials() testproc.Credentials {
	c.t.Helper()
	c.credsOnce.Do(func() {
		c.creds, c.credsErr = testproc.ReadCredentials(filepath.Join(c.nodes[0].dataDir, "root-credentials"))
	})
	if c.credsErr != nil {
		c.t.Fatal(c.credsErr)
	}
	return c.creds
}

// consistencyHeader asks a node for a local, possibly stale, read.
const consistencyHeader = "X-Paramstore-Consistency"

// client returns an aws-sdk-go-v2 SSM client for node n with the root key,
// no retries and the given timeout; stale asks for local reads.
func (c *cluster) client(n *node, stale bool, timeout time.Duration) *ssm.Client {
	opts := c.credentials().Options(n.endpoint())
	opts.HTTPClient = &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second},
	}
	// The timeout bounds the whole operation through its context. Not
	// http.Client.Timeout: with it, bodies sent in chunks (a page of
	// GetParameterHistory) intermittently failed mid-read with "use of
	// closed network connection" in this SDK.
	opts.APIOptions = append(opts.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("paramstoreTimeout",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				ctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
	if stale {
		opts.APIOptions = append(opts.APIOptions, smithyhttp.SetHeaderValue(consistencyHeader, "stale"))
	}
	return ssm.New(opts)
}

// converge waits until every running node is ready, a leader is elected,
// and every node has applied a write made after the workload stopped (so
// stale reads on each node see everything committed before it).
func (c *cluster) converge(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for _, n := range c.nodes {
		if n.running() {
			n.waitReady(time.Until(deadline))
		}
	}
	value := fmt.Sprintf("barrier-%d", time.Now().UnixNano())
	var lastErr error
	for {
		if time.Now().After(deadline) {
			c.t.Fatalf("converge: barrier write failed for %v: %v", timeout, lastErr)
		}
		l := c.leader(time.Until(deadline))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.client(l, false, 5*time.Second).PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String("/_cluster/barrier"), Value: aws.String(value), Type: "String", Overwrite: aws.Bool(true),
		})
		cancel()
		if err == nil {
			break
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		cl := c.client(n, true, 2*time.Second)
		for {
			out, err := cl.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/_cluster/barrier")})
			if err == nil && aws.ToString(out.Parameter.Value) == value {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("converge: %s did not apply the barrier write within %v (last: %v)", n.id, timeout, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
