package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// cluster is a set of `paramstore server` processes forming one raft
// cluster, each behind a raft proxy (see the package doc).
type cluster struct {
	t         testing.TB
	dir       string // artifacts: node logs, snapshots, visualizations
	keyFile   string // --cluster-key-file, shared
	masterKey string // --master-key-file for the joining nodes (node 1's key)
	nodes     []*node
	direct    bool // advertise the raft port itself (no proxy), for benchmarks

	credsOnce sync.Once
	keyID     string
	secret    string
}

// node is one member; its process comes and goes (kill, restart) while its
// addresses and data dir stay.
type node struct {
	c        *cluster
	id       string
	dataDir  string
	apiAddr  string // fixed at the first start
	raftAddr string // where the node listens for raft
	proxy    *proxy // in front of raftAddr; nil when c.direct
	join     string // --join URL; empty for the bootstrap node
	logPath  string

	mu   sync.Mutex
	proc *nodeProc // nil while down
	runs int       // how many times the process was started
}

// nodeProc is one process of a node.
type nodeProc struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait returned
	waitErr error
	logDone chan struct{} // closed when the output pipe reached EOF
}

// startCluster starts n nodes: node 1 bootstraps, the others join it, and
// returns when every node answers /readyz with 200.
func startCluster(t testing.TB, n int) *cluster {
	return startClusterOpts(t, n, false)
}

func startClusterOpts(t testing.TB, n int, direct bool) *cluster {
	t.Helper()
	touchOnce.Do(func() { touchErr = touchSources(moduleRoot) })
	if touchErr != nil {
		t.Fatalf("list module sources: %v", touchErr)
	}
	c := &cluster{t: t, dir: artifactsDir(t), direct: direct}
	c.keyFile = filepath.Join(c.dir, "cluster.key")
	out, err := exec.Command(binPath, "cluster", "keygen").Output()
	if err != nil {
		t.Fatalf("paramstore cluster keygen: %v", err)
	}
	if err := os.WriteFile(c.keyFile, out, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.stopAll)
	for i := 1; i <= n; i++ {
		nd := &node{
			c:        c,
			id:       fmt.Sprintf("n%d", i),
			dataDir:  filepath.Join(c.dir, fmt.Sprintf("n%d-data", i)),
			apiAddr:  freeAddr(t),
			raftAddr: freeAddr(t),
		}
		nd.logPath = filepath.Join(c.dir, nd.id+".log")
		if i > 1 {
			nd.join = "http://" + c.nodes[0].apiAddr
		}
		c.nodes = append(c.nodes, nd)
	}
	// c.nodes is complete before any proxy exists: the proxies read it
	// (and a stray dialer may reach a proxy as soon as it listens).
	for _, nd := range c.nodes {
		if !direct {
			p, err := newProxy("raft-"+nd.id, nd.raftAddr, c.identify)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			nd.proxy = p
		}
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

// freeAddr returns a loopback address with a port that was free a moment
// ago. A node keeps its addresses across restarts, so they cannot be port 0.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// identify names the node whose process dialed an accepted connection.
func (c *cluster) identify(conn net.Conn) string {
	return identifyRetry(conn, c.pids)
}

// pids maps the pid of every running node process to the node's ID.
func (c *cluster) pids() map[int]string {
	m := map[int]string{}
	for _, n := range c.nodes {
		n.mu.Lock()
		if n.proc != nil {
			m[n.proc.cmd.Process.Pid] = n.id
		}
		n.mu.Unlock()
	}
	return m
}

func (n *node) endpoint() string { return "http://" + n.apiAddr }

// advertise is the raft address the other nodes dial.
func (n *node) advertise() string {
	if n.proxy == nil {
		return n.raftAddr
	}
	return n.proxy.Addr()
}

// start runs the node's process (same flags on every start) and waits until
// it answers /readyz with 200.
func (n *node) start() {
	t := n.c.t
	t.Helper()
	n.mu.Lock()
	if n.proc != nil {
		n.mu.Unlock()
		t.Fatalf("%s: start while running", n.id)
	}
	n.runs++
	run := n.runs
	n.mu.Unlock()

	args := []string{"server",
		"--node-id", n.id,
		"--listen", n.apiAddr,
		"--raft-listen", n.raftAddr,
		"--raft-advertise", n.advertise(),
		"--data-dir", n.dataDir,
		"--cluster-key-file", n.c.keyFile,
	}
	if n.join != "" {
		args = append(args, "--join", n.join, "--master-key-file", n.c.masterKey)
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== %s run %d: %s %s\n", n.id, run, binPath, strings.Join(args, " "))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, args...)
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		logf.Close()
		t.Fatalf("start %s: %v", n.id, err)
	}
	pw.Close()
	p := &nodeProc{cmd: cmd, exited: make(chan struct{}), logDone: make(chan struct{})}
	listening := make(chan struct{})
	go func() {
		defer close(p.logDone)
		defer logf.Close()
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		seen := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if !seen && strings.Contains(line, `"msg":"listening"`) {
				seen = true
				close(listening)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()

	select {
	case <-listening:
	case <-p.exited:
		<-p.logDone
		n.mu.Lock()
		n.proc = nil
		n.mu.Unlock()
		t.Fatalf("%s exited before listening: %v; log %s:\n%s", n.id, p.waitErr, n.logPath, tail(n.logPath, 30))
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not log \"listening\" within 30s; log %s", n.id, n.logPath)
	}
	n.waitReady(60 * time.Second)
}

// tail returns the last lines of a file.
func tail(path string, lines int) string {
	data, _ := os.ReadFile(path)
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// running reports whether the node's process is up.
func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil
}

// kill sends SIGKILL and waits until the process is gone.
func (n *node) kill() {
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.exited
	<-p.logDone
}

// terminate sends SIGTERM and waits; it reports a failure to exit cleanly.
func (n *node) terminate() error {
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		<-p.logDone
		return fmt.Errorf("%s did not exit within 30s of SIGTERM; killed", n.id)
	}
	<-p.logDone
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("%s exited with code %d after SIGTERM, want 0", n.id, code)
	}
	return nil
}

// stopAll is the cleanup: SIGTERM every node, followers first.
func (c *cluster) stopAll() {
	for i := len(c.nodes) - 1; i >= 0; i-- {
		if err := c.nodes[i].terminate(); err != nil {
			c.t.Errorf("stop: %v", err)
		}
	}
}

// readyz is the body of GET /readyz.
type readyz struct {
	NodeID              string `json:"node_id"`
	State               string `json:"state"`
	LeaderID            string `json:"leader_id"`
	CanWrite            bool   `json:"can_write"`
	CanReadLinearizable bool   `json:"can_read_linearizable"`
	CanReadStale        bool   `json:"can_read_stale"`

	status int
}

var readyClient = &http.Client{Timeout: time.Second}

// ready fetches /readyz.
func (n *node) ready() (readyz, error) {
	resp, err := readyClient.Get(n.endpoint() + "/readyz")
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

// waitReady polls /readyz until it answers 200.
func (n *node) waitReady(timeout time.Duration) {
	t := n.c.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		n.mu.Lock()
		p := n.proc
		n.mu.Unlock()
		if p == nil {
			t.Fatalf("%s is not running", n.id)
		}
		select {
		case <-p.exited:
			<-p.logDone
			t.Fatalf("%s exited while waiting for /readyz: %v; log %s:\n%s", n.id, p.waitErr, n.logPath, tail(n.logPath, 30))
		default:
		}
		r, err := n.ready()
		if err == nil && r.status == http.StatusOK {
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("status %d: %+v", r.status, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready after %v: %s", n.id, timeout, last)
}

// leader waits until a running node reports itself leader, able to write,
// and the other running nodes that know a leader name the same one.
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
			if r.State == "Leader" && r.CanWrite {
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

// isolate partitions n from every other node, both ways (raft traffic).
func (c *cluster) isolate(n *node) {
	n.proxy.Block()
	for _, o := range c.nodes {
		if o != n {
			o.proxy.BlockFrom(n.id)
		}
	}
}

// heal lifts every partition and removes every delay.
func (c *cluster) heal() {
	for _, n := range c.nodes {
		if n.proxy != nil {
			n.proxy.Unblock()
			n.proxy.SetDelay(0)
		}
	}
}

// credentials returns the root access key node 1 wrote.
func (c *cluster) credentials() (string, string) {
	c.t.Helper()
	c.credsOnce.Do(func() {
		path := filepath.Join(c.nodes[0].dataDir, "root-credentials")
		raw, err := os.ReadFile(path)
		if err != nil {
			return
		}
		profile := ""
		for _, line := range strings.Split(string(raw), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
				profile = strings.TrimSpace(line[1 : len(line)-1])
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || profile != "default" {
				continue
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				c.keyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				c.secret = strings.TrimSpace(v)
			}
		}
	})
	if c.keyID == "" || c.secret == "" {
		c.t.Fatalf("no root access key in %s", filepath.Join(c.nodes[0].dataDir, "root-credentials"))
	}
	return c.keyID, c.secret
}

// consistencyHeader asks a node for a local, possibly stale, read.
const consistencyHeader = "X-Paramstore-Consistency"

// client returns an aws-sdk-go-v2 SSM client for node n with the root key,
// no retries and the given timeout; stale asks for local reads.
func (c *cluster) client(n *node, stale bool, timeout time.Duration) *ssm.Client {
	id, secret := c.credentials()
	opts := ssm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(n.endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second},
		},
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
