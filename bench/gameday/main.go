// Command gameday runs the agent game day of issue 21: a 3-node cluster,
// a warm agent reading through it, the whole cluster SIGKILLed for
// -outage, a cold agent started in the middle of the outage, the cluster
// restarted; and prints, for each agent, the time from "cluster ready" to
// its first fresh read, its failed reads, and the warm agent's /healthz
// before, during and after. -agent-bin lets the agents be another build
// (the one before a change) while the servers stay the same.
//
//	go build -o bin/paramstore ./cmd/paramstore
//	go run ./bench/gameday -server-bin bin/paramstore -agent-bin bin/paramstore
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/bench/internal/benchutil"
)

const token = "gameday-token"

func main() {
	serverBin := flag.String("server-bin", "bin/paramstore", "paramstore binary of the servers")
	agentBin := flag.String("agent-bin", "bin/paramstore", "paramstore binary of the agents")
	outage := flag.Duration("outage", 30*time.Second, "how long the whole cluster is down")
	params := flag.Int("params", 20, "parameters the application reads")
	flag.Parse()
	if err := run(*serverBin, *agentBin, *outage, *params); err != nil {
		fmt.Fprintln(os.Stderr, "gameday:", err)
		os.Exit(1)
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a process whose output goes to a log file.
type proc struct {
	cmd  *exec.Cmd
	addr string
}

func start(bin, logPath string, env []string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pw.Close()
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		defer lf.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(lf, sc.Text())
			var rec struct{ Msg, Addr string }
			if !sent && json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
				addr <- rec.Addr
				sent = true
			}
		}
	}()
	select {
	case a := <-addr:
		return &proc{cmd: cmd, addr: a}, nil
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s %s: no listening line within 60s (log %s)", bin, args[0], logPath)
	}
}

func (p *proc) kill() {
	if p != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

type node struct {
	id, api, raft, data string
	args                []string
	p                   *proc
}

func ready(api string) bool {
	resp, err := http.Get("http://" + api + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func waitReady(nodes []*node, all bool) time.Time {
	for {
		n := 0
		for _, nd := range nodes {
			if ready(nd.api) {
				n++
			}
		}
		if (all && n == len(nodes)) || (!all && n > 0) {
			return time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reading is one agent read by the application loop.
type reading struct {
	at        time.Time
	ok, stale bool
	status    int
}

type agentRun struct {
	name string
	p    *proc
	mu   sync.Mutex
	log  []reading
}

func (a *agentRun) loop(ctx context.Context, names []string) {
	c := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		for _, n := range names {
			req, _ := http.NewRequest("GET", "http://"+a.p.addr+"/systemsmanager/parameters/get?withDecryption=true&name="+url.QueryEscape(n), nil)
			req.Header.Set("X-Aws-Parameters-Secrets-Token", token)
			r := reading{}
			resp, err := c.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				r.status = resp.StatusCode
				r.ok = resp.StatusCode == 200
				r.stale = resp.Header.Get("X-Paramstore-Stale") == "true"
			}
			r.at = time.Now()
			a.mu.Lock()
			a.log = append(a.log, r)
			a.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// summary: failed reads, and the first fresh read at or after t.
func (a *agentRun) summary(t time.Time) (reads, failed, stale int, firstFresh time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.log {
		reads++
		if !r.ok {
			failed++
		} else if r.stale {
			stale++
		}
		if firstFresh.IsZero() && !r.at.Before(t) && r.ok && !r.stale {
			firstFresh = r.at
		}
	}
	return
}

func healthz(addr string) string {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var h struct {
		Status    string
		Upstreams []struct {
			State, Breaker string
			LastError      string   `json:"last_error"`
			Age            *float64 `json:"observation_age_seconds"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&h)
	var ups []string
	for _, u := range h.Upstreams {
		s := u.State + "/" + u.Breaker
		if u.Age != nil {
			s += fmt.Sprintf(" (%.1fs ago)", *u.Age)
		}
		if u.LastError != "" {
			s += " err"
		}
		ups = append(ups, s)
	}
	return fmt.Sprintf("%s [%s]", h.Status, strings.Join(ups, ", "))
}

func run(serverBin, agentBin string, outage time.Duration, nparams int) error {
	dir, err := os.MkdirTemp("", "paramstore-gameday-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	keyOut, err := exec.Command(serverBin, "cluster", "keygen").Output()
	if err != nil {
		return fmt.Errorf("cluster keygen: %w", err)
	}
	clusterKey := filepath.Join(dir, "cluster.key")
	os.WriteFile(clusterKey, keyOut, 0o600)
	var nodes []*node
	for i := 1; i <= 3; i++ {
		nd := &node{id: fmt.Sprintf("n%d", i), api: freeAddr(), raft: freeAddr(), data: filepath.Join(dir, fmt.Sprintf("n%d", i))}
		nd.args = []string{"server", "--node-id", nd.id, "--listen", nd.api, "--raft-listen", nd.raft, "--data-dir", nd.data,
			"--cluster-key-file", clusterKey, "--no-audit"}
		if i > 1 {
			nd.args = append(nd.args, "--join", "http://"+nodes[0].api, "--master-key-file", filepath.Join(dir, "master.key"))
		}
		if nd.p, err = start(serverBin, filepath.Join(dir, nd.id+".log"), base, nd.args...); err != nil {
			return err
		}
		defer func() { nd.p.kill() }() // the last process of the node
		if i == 1 {
			for !ready(nd.api) {
				time.Sleep(20 * time.Millisecond)
			}
			mk, err := os.ReadFile(filepath.Join(nd.data, "master.key"))
			if err != nil {
				return err
			}
			os.WriteFile(filepath.Join(dir, "master.key"), mk, 0o600)
		}
		nodes = append(nodes, nd)
	}
	waitReady(nodes, true)
	creds, err := benchutil.LoadCreds(filepath.Join(nodes[0].data, "root-credentials"))
	if err != nil {
		return err
	}
	sdk := ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + nodes[0].api),
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")})
	var names []string
	for i := range nparams {
		n := fmt.Sprintf("/gameday/p%02d", i)
		if _, err := sdk.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String("v"),
			Type: types.ParameterTypeSecureString, Overwrite: aws.Bool(true)}); err != nil {
			return err
		}
		names = append(names, n)
	}
	key := make([]byte, 32)
	rand.Read(key)
	agentEnv := append(base, "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "GAMEDAY_KEY="+base64.StdEncoding.EncodeToString(key))
	agentArgs := []string{"agent", "--listen", "127.0.0.1:0", "--token", token, "--ttl", "2s"}
	for _, nd := range nodes {
		agentArgs = append(agentArgs, "--upstream", "http://"+nd.api)
	}
	warm := &agentRun{name: "warm"}
	if warm.p, err = start(agentBin, filepath.Join(dir, "warm.log"), agentEnv,
		append(agentArgs, "--cache-dir", filepath.Join(dir, "warm-cache"), "--cache-key", "env:GAMEDAY_KEY")...); err != nil {
		return err
	}
	defer warm.p.kill()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); warm.loop(ctx, names) }()
	time.Sleep(3 * time.Second)
	fmt.Printf("healthz before:  %s\n", healthz(warm.p.addr))

	down := time.Now()
	for _, nd := range nodes {
		nd.p.kill()
	}
	fmt.Printf("t=0.0s cluster SIGKILLed (all 3 nodes)\n")
	time.Sleep(outage / 6)
	cold := &agentRun{name: "cold"}
	if cold.p, err = start(agentBin, filepath.Join(dir, "cold.log"), agentEnv, agentArgs...); err != nil {
		return err
	}
	defer cold.p.kill()
	fmt.Printf("t=%.1fs cold agent started (no cache)\n", time.Since(down).Seconds())
	wg.Add(1)
	go func() { defer wg.Done(); cold.loop(ctx, names) }()
	time.Sleep(outage/2 - outage/6)
	fmt.Printf("healthz during:  %s\n", healthz(warm.p.addr))
	time.Sleep(outage - outage/2)
	// All at once: a node may wait for a quorum before it listens.
	errs := make(chan error, len(nodes))
	for _, nd := range nodes {
		go func() {
			var err error
			nd.p, err = start(serverBin, filepath.Join(dir, nd.id+".log"), base, nd.args...)
			errs <- err
		}()
	}
	for range nodes {
		if err := <-errs; err != nil {
			return err
		}
	}
	readyAt := waitReady(nodes, false)
	fmt.Printf("t=%.1fs cluster restarted; first /readyz 200 at t=%.1fs\n", time.Since(down).Seconds()-time.Since(readyAt).Seconds(), readyAt.Sub(down).Seconds())
	time.Sleep(5 * time.Second)
	fmt.Printf("healthz +5s:     %s\n", healthz(warm.p.addr))
	time.Sleep(20 * time.Second)
	fmt.Printf("healthz +25s:    %s\n", healthz(warm.p.addr))
	cancel()
	wg.Wait()
	for _, a := range []*agentRun{warm, cold} {
		reads, failed, stale, first := a.summary(readyAt)
		ttf := "never"
		if !first.IsZero() {
			ttf = fmt.Sprintf("%.2fs", first.Sub(readyAt).Seconds())
		}
		fmt.Printf("%-4s agent: %d reads, %d failed, %d stale; first fresh read %s after the cluster was ready\n", a.name, reads, failed, stale, ttf)
	}
	return nil
}
