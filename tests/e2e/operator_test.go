package e2e_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/paramstore/paramstore/internal/testproc"
)

// TestReadyLine: a server started without --dev prints one "ready" line
// with its URL, the credentials file and an aws CLI command line, and
// that command line, run as printed by a shell with nothing else in its
// environment, answers. Its logs, on a pipe, are JSON.
func TestReadyLine(t *testing.T) {
	dir := t.TempDir()
	s := testproc.StartServer(t, testproc.ServerConfig{DataDir: dir, Env: testproc.Env(), Args: []string{"--no-audit"}})
	ready, err := s.WaitLine("Paramstore ready on ", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	if want := "Paramstore ready on " + s.URL() + " (node node1, data dir " + dir + ")"; strings.TrimSpace(ready) != want {
		t.Errorf("ready line: got %q, want %q", ready, want)
	}
	creds, err := s.WaitLine("  credentials: ", time.Second)
	if want := "  credentials: " + filepath.Join(abs, "root-credentials") + " (profile default)"; err != nil || creds != want {
		t.Errorf("credentials line: got %q (%v), want %q", creds, err, want)
	}
	hint, err := s.WaitLine("  aws CLI:", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cmdline := strings.TrimSpace(strings.TrimPrefix(hint, "  aws CLI:"))
	if !regexp.MustCompile(`^AWS_SHARED_CREDENTIALS_FILE=\S+ AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url http://127\.0\.0\.1:\d+ ssm describe-parameters$`).MatchString(cmdline) {
		t.Fatalf("aws CLI hint: %q", cmdline)
	}
	sh := exec.Command("sh", "-c", cmdline)
	// Only what the line itself sets: no credentials, region or endpoint
	// from this process's environment.
	sh.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := sh.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"Parameters"`) {
		t.Fatalf("the printed aws CLI line: %v\n%s", err, out)
	}
	// Not a terminal: JSON logs.
	line, err := s.WaitLine(`"msg":"listening"`, time.Second)
	var rec map[string]any
	if err != nil || json.Unmarshal([]byte(strings.TrimSpace(line[strings.Index(line, "{"):])), &rec) != nil || rec["level"] != "INFO" {
		t.Errorf("log line on a pipe: %q (%v), want JSON", line, err)
	}
}

// TestLogFormatTerminal: on a terminal (a real pty) the server logs text
// by default (and still JSON with --log-format json).
func TestLogFormatTerminal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		match *regexp.Regexp
	}{
		{"default", nil, regexp.MustCompile(`^time=\S+ level=INFO msg=listening addr=127\.0\.0\.1:\d+`)},
		{"json", []string{"--log-format", "json"}, regexp.MustCompile(`^\{"time":"[^"]+","level":"INFO","msg":"listening"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(testproc.Bin(), append([]string{"server", "--dev", "--listen", "127.0.0.1:0"}, tc.args...)...)
			cmd.Env = testproc.Env()
			tty, err := pty.Start(cmd)
			if err != nil {
				t.Fatalf("start on a pty: %v", err)
			}
			defer tty.Close()
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(30 * time.Second):
					cmd.Process.Kill()
					t.Error("server on a pty did not stop on SIGTERM")
				}
			}()
			lines := make(chan string, 100)
			go func() {
				sc := bufio.NewScanner(tty)
				for sc.Scan() {
					lines <- strings.TrimRight(sc.Text(), "\r")
				}
				close(lines)
			}()
			timeout := time.After(30 * time.Second)
			var seen []string
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("the server closed its terminal before logging listening:\n%s", strings.Join(seen, "\n"))
					}
					seen = append(seen, l)
					if strings.Contains(l, "listening") {
						if !tc.match.MatchString(l) {
							t.Errorf("listening line on a terminal: %q, want %v", l, tc.match)
						}
						return
					}
				case <-timeout:
					t.Fatalf("no listening line in 30s:\n%s", strings.Join(seen, "\n"))
				}
			}
		})
	}
}
