package agent_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os/exec"
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
