// Package e2e_test runs the built paramstore binary as a subprocess and
// drives it with the real aws CLI, boto3 and aws-sdk-go-v2 clients.
package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
)

const modulePath = "github.com/paramstore/paramstore"

// binPath is the paramstore binary built by TestMain.
var binPath string

// moduleRoot is the directory holding the module's go.mod.
var moduleRoot string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := findModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	moduleRoot = root
	dir, err := os.MkdirTemp("", "paramstore-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "paramstore")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/paramstore")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/paramstore in %s: %v\n%s", root, err, out)
		return 1
	}
	return m.Run()
}

// findModuleRoot walks up from the working directory (tests/e2e under
// `go test`) to the go.mod of this module.
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

// touchSources opens every source file of the module. The binary under test
// is built by a subprocess, so `go test` does not know these files are
// inputs of this package; opening them while tests run (the test log starts
// after TestMain's setup) records them, and a change to any of them
// invalidates a cached test result.
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
		case ".go", ".py", ".mod", ".sum":
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			f.Close()
		}
		return nil
	})
}

// serverProc is one `paramstore server` subprocess.
type serverProc struct {
	t        testing.TB
	cmd      *exec.Cmd
	dataDir  string
	addr     string
	endpoint string

	exited     chan struct{} // closed when cmd.Wait returned
	waitErr    error         // cmd.Wait's result, set before exited closes
	stderrDone chan struct{} // closed when the log pipe reached EOF

	mu       sync.Mutex
	watchers []logWatcher
	output   strings.Builder // everything the server printed
}

// logs returns everything the server printed so far (stdout and stderr).
func (p *serverProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

type logWatcher struct {
	msg string
	ch  chan struct{}
}

// startServer runs `paramstore server` on a free loopback port with its
// data in dataDir, waits for /readyz, copies its logs to the test log, and
// stops it (SIGTERM, then wait) when the test ends.
// startServer runs the binary on dataDir; extra are more server flags.
func startServer(t testing.TB, dataDir string, extra ...string) *serverProc {
	t.Helper()
	p := startServerOrExit(t, dataDir, extra...)
	if p.hasExited() {
		t.Fatalf("paramstore server exited before it was ready: %v", p.waitErr)
	}
	return p
}

// hasExited reports whether the process is gone.
func (p *serverProc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// startServerOrExit is startServer for a server that may refuse to start:
// it returns once the server is ready or has exited (then hasExited is
// true, and logs holds its whole output).
func startServerOrExit(t testing.TB, dataDir string, extra ...string) *serverProc {
	t.Helper()
	touchOnce.Do(func() { touchErr = touchSources(moduleRoot) })
	if touchErr != nil {
		t.Fatalf("list module sources: %v", touchErr)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Port 0: the kernel picks a free port, which the server reports in its
	// "listening" log line; this cannot race with other processes.
	cmd := exec.Command(binPath, append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, extra...)...)
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		t.Fatalf("start %s: %v", binPath, err)
	}
	pw.Close()
	p := &serverProc{
		t:          t,
		cmd:        cmd,
		dataDir:    dataDir,
		exited:     make(chan struct{}),
		stderrDone: make(chan struct{}),
	}
	listening := make(chan string, 1)
	go p.readLogs(pr, listening)
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.stop)

	select {
	case p.addr = <-listening:
	case <-p.exited:
		<-p.stderrDone
		return p
	case <-time.After(30 * time.Second):
		t.Fatal("paramstore server did not log \"listening\" within 30s")
	}
	p.endpoint = "http://" + p.addr
	if !p.waitReady(30 * time.Second) {
		<-p.stderrDone
	}
	return p
}

// readLogs copies the server's output to the test log line by line and
// reports the address of the "listening" line.
func (p *serverProc) readLogs(r io.ReadCloser, listening chan<- string) {
	defer close(p.stderrDone)
	defer r.Close()
	pid := p.cmd.Process.Pid
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		p.t.Logf("server[%d]: %s", pid, line)
		p.mu.Lock()
		p.output.WriteString(line + "\n")
		p.mu.Unlock()
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec.Msg == "listening" && rec.Addr != "" && !sent {
			listening <- rec.Addr
			sent = true
		}
		p.mu.Lock()
		kept := p.watchers[:0]
		for _, w := range p.watchers {
			if w.msg == rec.Msg {
				close(w.ch)
			} else {
				kept = append(kept, w)
			}
		}
		p.watchers = kept
		p.mu.Unlock()
	}
}

// watchLog returns a channel closed when a log line with msg appears next.
func (p *serverProc) watchLog(msg string) <-chan struct{} {
	ch := make(chan struct{})
	p.mu.Lock()
	p.watchers = append(p.watchers, logWatcher{msg: msg, ch: ch})
	p.mu.Unlock()
	return ch
}

// waitReady polls /readyz until it answers 200 (true) or the server exits
// (false).
func (p *serverProc) waitReady(timeout time.Duration) bool {
	p.t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return false
		default:
		}
		resp, err := client.Get(p.endpoint + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("paramstore server at %s not ready after %v: %s", p.endpoint, timeout, last)
	return false
}

// terminate sends SIGTERM and waits for the process to exit, returning its
// exit code.
func (p *serverProc) terminate(timeout time.Duration) (int, error) {
	select {
	case <-p.exited:
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return -1, err
		}
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.exited
		<-p.stderrDone
		return -1, fmt.Errorf("paramstore server did not exit within %v of SIGTERM; killed", timeout)
	}
	<-p.stderrDone
	return p.cmd.ProcessState.ExitCode(), nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serverProc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
	<-p.stderrDone
}

// stop is the cleanup: SIGTERM, then wait.
func (p *serverProc) stop() {
	select {
	case <-p.exited:
		<-p.stderrDone
		return
	default:
	}
	code, err := p.terminate(30 * time.Second)
	if err != nil {
		p.t.Errorf("stop paramstore server: %v", err)
		return
	}
	if code != 0 {
		p.t.Errorf("paramstore server exited with code %d after SIGTERM, want 0", code)
	}
}

// rootCredentials reads the root access key the server wrote, on the first
// start of its data dir, to <data-dir>/root-credentials (DESIGN.md §3: AWS
// shared-credentials format, profile default, mode 0600).
func (p *serverProc) rootCredentials() (id, secret string) {
	p.t.Helper()
	path := p.credentialsFile()
	info, err := os.Stat(path)
	if err != nil {
		p.t.Fatalf("root credentials: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		p.t.Errorf("%s has mode %o, want 600", path, mode)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		p.t.Fatalf("root credentials: %v", err)
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
			id = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		}
	}
	if id == "" || secret == "" {
		p.t.Fatalf("%s has no access key in profile default", path)
	}
	return id, secret
}

func (p *serverProc) credentialsFile() string {
	return filepath.Join(p.dataDir, "root-credentials")
}

// sdkClient is an aws-sdk-go-v2 SSM client for the server, signing with its
// root access key, without retries (tests see every error as sent).
func (p *serverProc) sdkClient() *ssm.Client {
	p.t.Helper()
	id, secret := p.rootCredentials()
	return ssm.New(ssm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(p.endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	})
}

// cleanEnv returns the environment without AWS_* variables, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "BOTO_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// awsEnv is the environment for aws CLI / boto3 subprocesses: no config or
// credentials from the host (an empty credentials file, no config file),
// plus extra, whose entries override those.
func awsEnv(t testing.TB, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return cleanEnv(append([]string{
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "no-such-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	}, extra...)...)
}
