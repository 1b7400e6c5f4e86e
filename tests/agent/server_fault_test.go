package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/paramstore/paramstore/internal/testproc"
)

// TestServerFaultKinds: faults injected into a server over the signed
// admin API reach the SDK as AWS-shaped errors at the API edge, show in
// /readyz, and expire by themselves.
func TestServerFaultKinds(t *testing.T) {
	s := &server{t: t, Server: testproc.StartServer(t, testproc.ServerConfig{DataDir: t.TempDir(), Env: testproc.Env(),
		Args: []string{"--no-audit", "--enable-fault-injection"}})}
	creds := s.CredentialsFile()
	s.put("/sf/a", "String", "v")
	cli := func(args ...string) string {
		t.Helper()
		out, err := testproc.Command(t, append(append([]string{"fault"}, args...), "--endpoint", s.URL(), "--credentials-file", creds)...).CombinedOutput()
		if err != nil {
			t.Fatalf("paramstore fault %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	readyz := func() string {
		resp, err := http.Get(s.URL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	sdk := s.SSM(func(o *ssm.Options) {
		o.Retryer = aws.NopRetryer{}
		o.HTTPClient = &http.Client{Timeout: 2 * time.Second}
	})
	for _, tc := range []struct {
		kind, wantCode string
		extra          []string
	}{
		{"throttle", "ThrottlingException", nil},
		{"error", "InternalServerError", nil},
		{"blackhole", "", nil},
		{"latency", "", []string{"--latency", "100ms"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			cli(append([]string{"inject", "--kind", tc.kind, "--duration", "10m", "--operations", "GetParameter"}, tc.extra...)...)
			if body := readyz(); !strings.Contains(body, `"kind":"`+tc.kind+`"`) {
				t.Errorf("/readyz does not show the fault: %s", body)
			}
			_, err := sdk.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/sf/a")})
			var api smithy.APIError
			switch tc.kind {
			case "latency":
				if err != nil {
					t.Errorf("read under latency: %v", err)
				}
			case "blackhole":
				if err == nil || errors.As(err, &api) {
					t.Errorf("read under blackhole: got %v, want a transport error (timeout or dropped connection)", err)
				}
			default:
				if !errors.As(err, &api) || api.ErrorCode() != tc.wantCode {
					t.Errorf("read under %s: got %v, want %s", tc.kind, err, tc.wantCode)
				}
			}
			// Other operations are untouched.
			if _, err := sdk.GetParameters(context.Background(), &ssm.GetParametersInput{Names: []string{"/sf/a"}}); err != nil {
				t.Errorf("GetParameters under a GetParameter fault: %v", err)
			}
			cli("clear")
		})
	}
	cli("inject", "--kind", "error", "--duration", "1s")
	waitFor(t, 30*time.Second, "the server's fault expired", func() (bool, string) {
		body := readyz()
		return !strings.Contains(body, `"fault"`), body
	})
	if _, err := sdk.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/sf/a")}); err != nil {
		t.Errorf("read after the fault expired: %v", err)
	}
}

// TestThrottlingStormIncident: the server's real throttle (--throttle-reads
// 1:1) refusing a burst of reads opens a throttling incident whose impact
// counts the calls it refused, and closes it once the storm is over; the
// server incident's report shows the counts.
func TestThrottlingStormIncident(t *testing.T) {
	s := &server{t: t, Server: testproc.StartServer(t, testproc.ServerConfig{DataDir: t.TempDir(), Env: testproc.Env(),
		Args: []string{"--no-audit", "--throttle-reads", "1:1"}})}
	s.put("/storm/a", "String", "v")
	sdk := s.SSM(func(o *ssm.Options) { o.Retryer = aws.NopRetryer{} })
	const calls = 40
	var throttled int64
	for range calls {
		_, err := sdk.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/storm/a")})
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "ThrottlingException" {
			throttled++
		} else if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	if throttled < 20 {
		t.Fatalf("%d of %d reads throttled at 1/s: want at least 20 (the storm threshold)", throttled, calls)
	}
	list := func() []incidentJSON {
		out, err := testproc.Command(t, "incidents", "list", "--json", "--endpoint", s.URL(), "--credentials-file", s.CredentialsFile()).Output()
		if err != nil {
			t.Fatalf("incidents list: %v", err)
		}
		var l struct{ Incidents []incidentJSON }
		if err := json.Unmarshal(out, &l); err != nil {
			t.Fatal(err)
		}
		return l.Incidents
	}
	var inc incidentJSON
	waitFor(t, 60*time.Second, "a closed throttling incident", func() (bool, string) {
		for _, i := range list() {
			if i.Kind == "throttling" {
				inc = i
				return i.Ended != nil, fmt.Sprintf("%+v", i)
			}
		}
		return false, "none"
	})
	if inc.Impact.Throttled != throttled || inc.Impact.Requests < throttled {
		t.Errorf("impact %+v: want throttled %d (what the SDK saw) of at least as many requests", inc.Impact, throttled)
	}
	if first := inc.Timeline[0].Event; !strings.Contains(first, "throttling storm") || !strings.Contains(inc.Timeline[len(inc.Timeline)-1].Event, "throttling subsided") {
		t.Errorf("timeline: %+v", inc.Timeline)
	}
	out, err := testproc.Command(t, "incidents", "report", inc.ID, "--endpoint", s.URL(), "--credentials-file", s.CredentialsFile()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("| throttled | %d |", throttled)) {
		t.Fatalf("incidents report: %v\n%s", err, out)
	}
	t.Logf("throttling incident report:\n%s", out)
}
