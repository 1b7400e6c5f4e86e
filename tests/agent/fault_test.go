package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/paramstore/paramstore/internal/testproc"
)

func faultCLI(t *testing.T, agentURL string, args ...string) string {
	t.Helper()
	out, err := testproc.Command(t, append(append([]string{"fault"}, args...), "--endpoint", agentURL, "--token", agentToken)...).CombinedOutput()
	if err != nil {
		t.Fatalf("paramstore fault %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestAgentFaultKinds: each fault kind injected into an agent's upstream
// calls reaches an SDK reading through the agent as AWS-shaped behaviour,
// shows in /readyz, and a fault expires by itself.
func TestAgentFaultKinds(t *testing.T) {
	srv := startServer(t)
	for _, n := range []string{"/f/throttle", "/f/error", "/f/blackhole", "/f/latency", "/f/after"} {
		srv.put(n, "String", "v")
	}
	ag := start(t, "agent", srv.signingEnv(), "agent", "--upstream", srv.URL(), "--listen", "127.0.0.1:0",
		"--token", agentToken, "--enable-fault-injection", "--breaker-failures", "1000", "--max-attempts", "1")
	sdk := ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(ag.URL()), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", agentToken)})
	get := func(name string) error {
		_, err := sdk.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
		return err
	}
	for _, tc := range []struct {
		kind, name, wantCode string
		extra                []string
	}{
		{"throttle", "/f/throttle", "ThrottlingException", nil},
		{"error", "/f/error", "InternalServerError", nil},
		{"blackhole", "/f/blackhole", "ServiceUnavailable", nil},
		{"latency", "/f/latency", "", []string{"--latency", "200ms"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			faultCLI(t, ag.URL(), append([]string{"inject", "--kind", tc.kind, "--duration", "10m"}, tc.extra...)...)
			if r := getReady(t, ag.URL()); r.Fault == nil || r.Fault.Kind != tc.kind {
				t.Errorf("/readyz fault: got %+v, want kind %s", r.Fault, tc.kind)
			}
			err := get(tc.name)
			var api smithy.APIError
			switch {
			case tc.wantCode == "" && err != nil:
				t.Errorf("read under %s: %v, want success", tc.kind, err)
			case tc.wantCode != "" && (!errors.As(err, &api) || api.ErrorCode() != tc.wantCode):
				t.Errorf("read under %s: got %v, want AWS error %s", tc.kind, err, tc.wantCode)
			}
			if out := faultCLI(t, ag.URL(), "clear"); !strings.Contains(out, "fault cleared") {
				t.Errorf("fault clear: %q", out)
			}
		})
	}
	incs := getIncidents(t, ag.URL())
	if len(incs) == 0 || incs[len(incs)-1].Kind != "drill" {
		t.Errorf("incidents: want the first to be a drill, got %+v", incs)
	}

	// A fault expires by itself.
	faultCLI(t, ag.URL(), "inject", "--kind", "blackhole", "--duration", "1s")
	waitFor(t, 30*time.Second, "the fault expired", func() (bool, string) {
		r := getReady(t, ag.URL())
		return r.Fault == nil, "still active"
	})
	if err := get("/f/after"); err != nil {
		t.Errorf("read after the fault expired: %v", err)
	}
	if !bytes.Contains(metrics(t, ag.URL()), []byte("paramstore_agent_fault_active 0")) {
		t.Errorf("metrics: paramstore_agent_fault_active is not 0 after expiry")
	}
}

func metrics(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.Bytes()
}

// TestDrillRun: `paramstore drill run` passes against a healthy agent with
// a cache, and fails (exit non-zero) against one whose cache cannot serve.
func TestDrillRun(t *testing.T) {
	srv := startServer(t)
	srv.put("/drill/db-url", "String", "postgres://db")
	common := []string{"agent", "--upstream", srv.URL(), "--listen", "127.0.0.1:0", "--token", agentToken,
		"--enable-fault-injection", "--ttl", "1ms", "--breaker-open-for", "300ms", "--health-check-interval", "200ms"}
	drill := func(agentURL string) (string, error) {
		out, err := testproc.Command(t, "drill", "run", "--agent", agentURL, "--server", srv.URL(), "--duration", "2s",
			"--require", "/drill/db-url", "--token", agentToken, "--recovery-timeout", "30s").CombinedOutput()
		return string(out), err
	}
	t.Run("pass", func(t *testing.T) {
		ag := start(t, "agent", srv.signingEnv(), common...)
		out, err := drill(ag.URL())
		t.Logf("drill report:\n%s", out)
		if err != nil || !strings.Contains(out, "# Drill: PASS") || !strings.Contains(out, "- Kind: drill") {
			t.Fatalf("drill against a cached agent: %v, want PASS with a drill incident", err)
		}
	})
	t.Run("fail without a cache", func(t *testing.T) {
		ag := start(t, "agent", srv.signingEnv(), append(common, "--max-stale", "1ms")...)
		out, err := drill(ag.URL())
		t.Logf("drill report:\n%s", out)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(out, "# Drill: FAIL") {
			t.Fatalf("drill against an agent that cannot serve from cache: %v, want exit non-zero and FAIL", err)
		}
	})
}

// TestDrillScenario: `drill run --scenario` chains steps through real
// processes: a slow server, then a failing one (server faults over the
// signed admin API), an agent restart during the outage by a command (the
// drill owns no process), a blackhole injected into the restarted agent,
// and a clear; the agent serves every read from its persistent cache, so
// the drill PASSes, and its report lists each step. A scenario whose file
// is invalid is refused with the line of the step.
func TestDrillScenario(t *testing.T) {
	s := &server{t: t, Server: testproc.StartServer(t, testproc.ServerConfig{DataDir: t.TempDir(), Env: testproc.Env(),
		Args: []string{"--no-audit", "--enable-fault-injection"}})}
	s.put("/drill/db-url", "String", "postgres://db")
	dir := t.TempDir()
	addr := testproc.FreeAddr(t)
	agentArgs := []string{"agent", "--upstream", s.URL(), "--listen", addr, "--token", agentToken,
		"--cache-dir", filepath.Join(dir, "cache"), "--cache-key", "env:DRILL_CACHE_KEY", "--enable-fault-injection",
		"--ttl", "1ms", "--breaker-open-for", "300ms", "--health-check-interval", "200ms"}
	env := s.signingEnv("DRILL_CACHE_KEY=" + newCacheKey(t))
	first := start(t, "agent", env, agentArgs...)
	if r := lambdaGet(first.URL(), "/drill/db-url", false); r.err != nil || r.value != "postgres://db" {
		t.Fatalf("warm read: %+v", r)
	}

	// The restart command: stop the running agent, start another on the
	// same address and cache, in the background.
	pidFile, logFile := filepath.Join(dir, "agent.pid"), filepath.Join(dir, "agent2.log")
	quoted := make([]string, len(agentArgs))
	for i, a := range agentArgs {
		quoted[i] = "'" + a + "'"
	}
	script := filepath.Join(dir, "restart-agent.sh")
	body := fmt.Sprintf(`#!/bin/sh
set -e
kill -TERM %d
i=0; while kill -0 %d 2>/dev/null; do i=$((i+1)); [ $i -lt 400 ] || { echo "old agent did not stop"; exit 1; }; sleep 0.05; done
nohup '%s' %s </dev/null >'%s' 2>&1 &
echo $! >'%s'
echo restarted
`, first.Pid(), first.Pid(), testproc.Bin(), strings.Join(quoted, " "), logFile, pidFile)
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if raw, err := os.ReadFile(pidFile); err == nil {
			var pid int
			fmt.Sscan(string(raw), &pid)
			if p, err := os.FindProcess(pid); err == nil && pid > 0 {
				p.Signal(os.Interrupt)
			}
		}
		if raw, err := os.ReadFile(logFile); err == nil {
			t.Logf("restarted agent's log:\n%s", raw[max(0, len(raw)-4000):])
		}
	})
	scenario := filepath.Join(dir, "outage.yaml")
	if err := os.WriteFile(scenario, []byte(`# a slow server, then a failing one; the agent restarts meanwhile
require: [/drill/db-url]
recovery-timeout: 30s
steps:
  - name: slow server
    server-fault: {kind: latency, latency: 100ms, duration: 1m}
  - wait: 1s
  - name: server fails
    server-fault: {kind: error, duration: 1m}
  - wait: 1s
  - name: agent restart during the outage
    run: [sh, `+script+`]
    timeout: 30s
  - agent-fault: {kind: blackhole, duration: 1m}
  - wait: 1s
  - clear: both
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := testproc.Command(t, "drill", "run", "--agent", "http://"+addr, "--server", s.URL(), "--scenario", scenario,
		"--token", agentToken, "--credentials-file", s.CredentialsFile())
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	t.Logf("drill scenario report:\n%s", out)
	if err != nil || !strings.Contains(string(out), "# Drill: PASS") {
		t.Fatalf("drill scenario: %v, want PASS", err)
	}
	for _, want := range []string{"## Steps", "| slow server: server fault injected: latency 100ms for 1m | ok |",
		"| agent restart during the outage: run sh " + script + " | ok |", "agent fault injected: blackhole for 1m | ok |",
		"| clear the faults of the agent and the server | ok |", "reads while the agent restarted (not counted as failed)",
		// The restarted agent goes on with the incident it left open.
		"agent started; cache restored from disk"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(string(out), "- 0 cache entries restored from disk at start") {
		t.Error("the report counts no entries restored from disk, though the agent restarted from its cache")
	}
	if raw, err := os.ReadFile(pidFile); err != nil || len(raw) == 0 {
		t.Errorf("the restart command did not run: %v", err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("steps:\n  - wait: 1s\n  - agent-fault: {kind: flood, duration: 1s}\n"), 0o600)
	out, err = testproc.Command(t, "drill", "run", "--agent", "http://"+addr, "--scenario", bad, "--require", "/drill/db-url").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "line 3: step 2: agent-fault: kind") {
		t.Errorf("invalid scenario: %v\n%s", err, out)
	}
}
