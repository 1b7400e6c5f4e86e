// Package agent_test runs the built paramstore binary as real processes,
// a server and agents in front of it, and drills outages: the server dies,
// the agent restarts, the server comes back.
package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
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
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

const modulePath = "github.com/paramstore/paramstore"

// binPath is the paramstore binary built by TestMain; moduleRoot holds go.mod.
var binPath, moduleRoot string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	root, err := findModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent e2e:", err)
		return 1
	}
	moduleRoot = root
	dir, err := os.MkdirTemp("", "paramstore-agent-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "paramstore")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/paramstore")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "agent e2e: go build ./cmd/paramstore: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

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

// touchSources opens every source file of the module so that `go test`
// records them as inputs: the binary is built by a subprocess.
func touchSources(t testing.TB) {
	touchOnce.Do(func() {
		touchErr = filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != moduleRoot && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin") {
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
	})
	if touchErr != nil {
		t.Fatalf("list module sources: %v", touchErr)
	}
}

// proc is one paramstore subprocess whose JSON logs go to the test log.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	addr   string // from the "listening" log line
	exited chan struct{}
	logged chan struct{} // closed when the output reached EOF
}

// start runs the binary with args and env and waits for its "listening"
// log line.
func start(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	touchSources(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	pw.Close()
	p := &proc{t: t, name: name, cmd: cmd, exited: make(chan struct{}), logged: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		defer close(p.logged)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			t.Logf("%s[%d]: %s", name, cmd.Process.Pid, line)
			var rec struct{ Msg, Addr string }
			if !sent && json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
				listening <- rec.Addr
				sent = true
			}
		}
	}()
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.stop() })
	select {
	case p.addr = <-listening:
	case <-p.exited:
		<-p.logged
		t.Fatalf("%s exited before listening: %v", name, cmd.ProcessState)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not log \"listening\" within 30s", name)
	}
	return p
}

func (p *proc) url() string { return "http://" + p.addr }

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
	<-p.logged
}

// terminate sends SIGTERM, waits, and returns the exit code.
func (p *proc) terminate() int {
	p.t.Helper()
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
			p.t.Errorf("%s did not exit within 30s of SIGTERM", p.name)
		}
	}
	<-p.logged
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) stop() {
	select {
	case <-p.exited:
		<-p.logged
	default:
		if code := p.terminate(); code != 0 {
			p.t.Errorf("%s exited with code %d after SIGTERM, want 0", p.name, code)
		}
	}
}

// baseEnv is the environment without AWS_* settings from the host.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "PARAMSTORE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// server is a paramstore server on a data dir, restartable on its port.
type server struct {
	t       testing.TB
	dataDir string
	p       *proc
	id, key string
}

func startServer(t testing.TB) *server {
	s := &server{t: t, dataDir: t.TempDir()}
	s.p = start(t, "server", baseEnv(), "server", "--listen", "127.0.0.1:0", "--data-dir", s.dataDir, "--no-audit")
	s.waitReady()
	s.id, s.key = readRootCredentials(t, filepath.Join(s.dataDir, "root-credentials"))
	return s
}

// restart starts the server again on the same data dir and port.
func (s *server) restart() {
	s.p = start(s.t, "server", baseEnv(), "server", "--listen", s.p.addr, "--data-dir", s.dataDir, "--no-audit")
	s.waitReady()
}

func (s *server) waitReady() {
	s.t.Helper()
	waitFor(s.t, 30*time.Second, "server /readyz", func() (bool, string) {
		resp, err := http.Get(s.p.url() + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
}

func (s *server) sdk() *ssm.Client {
	return ssm.New(ssm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.p.url()),
		Credentials:  credentials.NewStaticCredentialsProvider(s.id, s.key, ""),
		Retryer:      aws.NopRetryer{},
	})
}

func (s *server) put(name, typ, value string) {
	s.t.Helper()
	_, err := s.sdk().PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: types.ParameterType(typ), Overwrite: aws.Bool(true),
	})
	if err != nil {
		s.t.Fatalf("put %s: %v", name, err)
	}
}

// signingEnv is the environment of processes that sign with the server's
// root access key.
func (s *server) signingEnv(extra ...string) []string {
	dir := s.t.TempDir()
	return baseEnv(append([]string{
		"AWS_ACCESS_KEY_ID=" + s.id,
		"AWS_SECRET_ACCESS_KEY=" + s.key,
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED=true",
	}, extra...)...)
}

func readRootCredentials(t testing.TB, path string) (id, secret string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("root credentials: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			id = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		}
	}
	if id == "" || secret == "" {
		t.Fatalf("%s holds no access key", path)
	}
	return id, secret
}

// waitFor polls cond until it holds or timeout passes (then fails).
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v: %s", what, timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newCacheKey(t testing.TB) string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

const agentToken = "drill-token"

// read is one Lambda-extension read through an agent.
type read struct {
	status  int
	value   string
	version int64
	age     string
	stale   bool
	err     error
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

func lambdaGet(agentURL, name string, decrypt bool) read {
	u := agentURL + "/systemsmanager/parameters/get?name=" + url.QueryEscape(name)
	if decrypt {
		u += "&withDecryption=true"
	}
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("X-Aws-Parameters-Secrets-Token", agentToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		return read{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := read{status: resp.StatusCode, stale: resp.Header.Get("X-Paramstore-Stale") == "true", age: resp.Header.Get("X-Paramstore-Age")}
	if resp.StatusCode != 200 {
		r.err = fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		return r
	}
	var out struct {
		Parameter struct {
			Value   string
			Version int64
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		r.err = err
	}
	r.value, r.version = out.Parameter.Value, out.Parameter.Version
	return r
}

type health struct {
	Status string
	Cache  struct {
		State, Error    string
		Loaded, Pending int
	}
	Upstreams []struct {
		URL               string
		State             string
		Breaker           string
		LastError         string     `json:"last_error"`
		ServingStaleSince *time.Time `json:"serving_stale_since"`
	}
}

func getHealth(t testing.TB, agentURL string) health {
	t.Helper()
	resp, err := httpClient.Get(agentURL + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("healthz: %v", err)
	}
	return h
}
