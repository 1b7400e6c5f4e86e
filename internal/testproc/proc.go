package testproc

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
const StopTimeout = 30 * time.Second

// ErrExited is wrapped by the errors of waits that ended because the
// process exited.
var ErrExited = errors.New("testproc: the process exited")

// Config describes a process to start.
type Config struct {
	// Name prefixes its lines in the test log and names it in failures.
	Name string
	// Args are the binary's arguments (the subcommand first).
	Args []string
	// Env is its environment; nil means this process's (see Env).
	Env []string
	// LogFile, when set, receives its output (appended, after a header
	// line naming the command) instead of the test log.
	LogFile string
	// TLS, when set, is how a client reaches the process: its URL is
	// https, and WaitReady verifies it with this configuration.
	TLS *tls.Config
}

// Proc is one running (or exited) process of the binary.
type Proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	tls  *tls.Config

	exited    chan struct{} // closed when cmd.Wait returned
	waitErr   error         // cmd.Wait's result, set before exited closes
	done      chan struct{} // closed when exited and its output is read to EOF
	listening chan struct{} // closed at the first "listening" line
	addr      string        // that line's addr, set before listening closes

	mu       sync.Mutex
	output   bytes.Buffer // everything it printed
	watchers []watcher
}

// watcher is closed at the first future line that match accepts.
type watcher struct {
	match func(line, msg string) bool
	ch    chan struct{}
}

// Start runs the binary as cfg says, copying its output (stdout and
// stderr) to the test log or cfg.LogFile and keeping it for Output. The
// process is stopped (Stop) when the test ends.
func Start(t testing.TB, cfg Config) *Proc {
	t.Helper()
	touchSources(t)
	var logf *os.File
	if cfg.LogFile != "" {
		var err error
		if logf, err = os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(logf, "=== %s: %s %s\n", cfg.Name, bin, strings.Join(cfg.Args, " "))
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, cfg.Args...)
	cmd.Env = cfg.Env
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		if logf != nil {
			logf.Close()
		}
		t.Fatalf("start %s: %v", cfg.Name, err)
	}
	pw.Close()
	p := &Proc{
		t:         t,
		name:      cfg.Name,
		cmd:       cmd,
		tls:       cfg.TLS,
		exited:    make(chan struct{}),
		done:      make(chan struct{}),
		listening: make(chan struct{}),
	}
	copied := make(chan struct{})
	go p.readOutput(pr, logf, copied)
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
		<-copied
		close(p.done)
	}()
	t.Cleanup(p.Stop)
	return p
}

// StartListening is Start, then WaitListening: it fails the test if the
// process exits or stays silent for 30s instead.
func StartListening(t testing.TB, cfg Config) *Proc {
	t.Helper()
	p := Start(t, cfg)
	if _, err := p.WaitListening(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return p
}

// readOutput copies the output line by line, notes the "listening" line
// and wakes the watchers.
func (p *Proc) readOutput(r io.ReadCloser, logf *os.File, copied chan<- struct{}) {
	defer close(copied)
	defer r.Close()
	if logf != nil {
		defer logf.Close()
	}
	pid := p.cmd.Process.Pid
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if logf != nil {
			fmt.Fprintln(logf, line)
		} else {
			p.t.Logf("%s[%d]: %s", p.name, pid, line)
		}
		var rec struct{ Msg, Addr string }
		json.Unmarshal([]byte(line), &rec)
		if rec.Msg == "listening" && rec.Addr != "" && p.addr == "" {
			p.addr = rec.Addr
			close(p.listening)
		}
		p.mu.Lock()
		p.output.WriteString(line + "\n")
		kept := p.watchers[:0]
		for _, w := range p.watchers {
			if w.match(line, rec.Msg) {
				close(w.ch)
			} else {
				kept = append(kept, w)
			}
		}
		p.watchers = kept
		p.mu.Unlock()
	}
	// A line longer than the buffer ends the scan: drain the rest so the
	// process never blocks on a full pipe.
	io.Copy(io.Discard, r)
}

// Name is the name it was started with.
func (p *Proc) Name() string { return p.name }

// Pid is its process ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Addr is the address of its "listening" log line ("" before it).
func (p *Proc) Addr() string {
	select {
	case <-p.listening:
		return p.addr
	default:
		return ""
	}
}

// URL is http:// (https:// with Config.TLS) and Addr.
func (p *Proc) URL() string {
	if p.tls != nil {
		return "https://" + p.Addr()
	}
	return "http://" + p.Addr()
}

// Done is closed when the process has exited and its output is read.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process is gone (and its output read).
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is what waiting for the process returned (after Done).
func (p *Proc) Err() error {
	<-p.exited
	return p.waitErr
}

// ExitCode is its exit code (after Done; -1 when a signal ended it).
func (p *Proc) ExitCode() int {
	<-p.exited
	return p.cmd.ProcessState.ExitCode()
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Output is everything it printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// Tail is the last n lines it printed.
func (p *Proc) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Output(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WatchLog returns a channel closed when a JSON log line whose "msg" is
// msg appears next.
func (p *Proc) WatchLog(msg string) <-chan struct{} {
	ch := make(chan struct{})
	p.mu.Lock()
	p.watchers = append(p.watchers, watcher{match: func(_, m string) bool { return m == msg }, ch: ch})
	p.mu.Unlock()
	return ch
}

// WaitLine returns the first line it printed, or prints within timeout,
// that contains substr.
func (p *Proc) WaitLine(substr string, timeout time.Duration) (string, error) {
	ch := make(chan struct{})
	p.mu.Lock()
	for _, line := range strings.Split(p.output.String(), "\n") {
		if strings.Contains(line, substr) {
			p.mu.Unlock()
			return line, nil
		}
	}
	p.watchers = append(p.watchers, watcher{match: func(l, _ string) bool { return strings.Contains(l, substr) }, ch: ch})
	p.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
	case <-p.done:
	case <-t.C:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range strings.Split(p.output.String(), "\n") {
		if strings.Contains(line, substr) {
			return line, nil
		}
	}
	return "", fmt.Errorf("%s printed no line with %q within %v; last lines:\n%s", p.name, substr, timeout, p.tailLocked(20))
}

func (p *Proc) tailLocked(n int) string {
	lines := strings.Split(strings.TrimRight(p.output.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitListening waits for its "listening" log line and returns the
// address; an error wraps ErrExited when it exited first.
func (p *Proc) WaitListening(timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.listening:
		return p.addr, nil
	case <-p.done:
		select {
		case <-p.listening:
			return p.addr, nil
		default:
		}
		return "", fmt.Errorf("%w: %s exited before listening: %v; last lines:\n%s", ErrExited, p.name, p.waitErr, p.Tail(30))
	case <-t.C:
		return "", fmt.Errorf("%s did not log \"listening\" within %v", p.name, timeout)
	}
}

var readyClient = &http.Client{Timeout: 2 * time.Second}

// WaitReady polls GET /readyz on its address until it answers 200; an
// error wraps ErrExited when it exited first.
func (p *Proc) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		if p.Exited() {
			return fmt.Errorf("%w: %s exited while waiting for /readyz: %v; last lines:\n%s", ErrExited, p.name, p.waitErr, p.Tail(30))
		}
		hc := readyClient
		if p.tls != nil {
			hc = &http.Client{Timeout: readyClient.Timeout, Transport: &http.Transport{TLSClientConfig: p.tls}}
		}
		resp, err := hc.Get(p.URL() + "/readyz")
		if p.tls != nil {
			hc.CloseIdleConnections()
		}
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s at %s not ready after %v: %s", p.name, p.URL(), timeout, last)
		}
		select {
		case <-p.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Terminate sends SIGTERM and waits up to timeout for the process to exit
// (then SIGKILL, and an error), returning its exit code.
func (p *Proc) Terminate(timeout time.Duration) (int, error) {
	if !p.Exited() {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return -1, fmt.Errorf("SIGTERM %s: %w", p.name, err)
		}
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.Kill()
		return -1, fmt.Errorf("%s did not exit within %v of SIGTERM; killed", p.name, timeout)
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Proc) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// Stop is the cleanup Start registers: unless the process is gone
// already, SIGTERM, and a test failure if it does not exit 0 within
// StopTimeout.
func (p *Proc) Stop() {
	if p.Exited() {
		return
	}
	code, err := p.Terminate(StopTimeout)
	if err != nil {
		p.t.Errorf("stop %s: %v", p.name, err)
		return
	}
	if code != 0 {
		p.t.Errorf("%s exited with code %d after SIGTERM, want 0", p.name, code)
	}
}

// RunToExit runs the binary with args (in env; nil means Env()) and
// expects it to exit by itself within timeout; it returns the exit code
// and the output.
func RunToExit(t testing.TB, timeout time.Duration, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := Command(t, args...)
	if env != nil {
		cmd.Env = env
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("paramstore %s did not exit within %v; output:\n%s", strings.Join(args, " "), timeout, out.String())
	}
	t.Logf("paramstore %s: exit code %d\n%s", strings.Join(args, " "), cmd.ProcessState.ExitCode(), out.String())
	return cmd.ProcessState.ExitCode(), out.String()
}
