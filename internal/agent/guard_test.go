package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
)

// TestProxyTokenClients drives the SSM proxy with the three clients
// applications use, each configured through its own AWS_SESSION_TOKEN
// setting: with the agent's token they read a SecureString; without it, or
// with another one, they get UnrecognizedClientException and no value.
func TestProxyTokenClients(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	srv := httptest.NewServer(newTestHandler(t, src, nil))
	defer srv.Close()

	// Each client prints the value, or ERROR <code> when refused.
	clients := []struct {
		name string
		get  func(t *testing.T, token string) string
	}{
		{"aws-sdk-go-v2", func(t *testing.T, token string) string {
			c := ssm.New(ssm.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
				Credentials: credentials.NewStaticCredentialsProvider("AKIDCALLER", "caller-secret", token),
			})
			out, err := c.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/app/pass"), WithDecryption: aws.Bool(true)})
			var api smithy.APIError
			if errors.As(err, &api) {
				return "ERROR " + api.ErrorCode()
			}
			if err != nil {
				t.Fatalf("sdk: %v", err)
			}
			return aws.ToString(out.Parameter.Value)
		}},
		{"boto3", func(t *testing.T, token string) string {
			script := `
import os, sys, boto3, botocore.exceptions
ssm = boto3.client("ssm", endpoint_url=sys.argv[1], region_name="us-east-1")
try:
    print(ssm.get_parameter(Name="/app/pass", WithDecryption=True)["Parameter"]["Value"])
except botocore.exceptions.ClientError as e:
    print("ERROR " + e.response["Error"]["Code"])
`
			return runClient(t, token, "python3", "-c", script, srv.URL)
		}},
		{"aws CLI", func(t *testing.T, token string) string {
			return runClient(t, token, "sh", "-c", `aws --endpoint-url "$1" ssm get-parameter --name /app/pass --with-decryption `+
				`--query Parameter.Value --output text 2>&1 | sed -n 's/.*(\(UnrecognizedClientException\)).*/ERROR \1/p;/^hunter2$/p'`, "sh", srv.URL)
		}},
	}
	cases := []struct {
		name, token, want string
	}{
		{"with the agent's token", testToken, "hunter2"},
		{"without a token", "", "ERROR UnrecognizedClientException"},
		{"with another token", "not-" + testToken, "ERROR UnrecognizedClientException"},
	}
	for _, cl := range clients {
		for _, tc := range cases {
			t.Run(cl.name+"/"+tc.name, func(t *testing.T) {
				if got := cl.get(t, tc.token); got != tc.want {
					t.Errorf("got %q, want %q", got, tc.want)
				}
			})
		}
	}
}

// runClient runs a client process with caller credentials and
// AWS_SESSION_TOKEN set to token (unset when empty), and returns its
// trimmed output.
func runClient(t *testing.T, token string, name string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_ACCESS_KEY_ID=AKIDCALLER", "AWS_SECRET_ACCESS_KEY=caller-secret", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
		"AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard")
	if token != "" {
		env = append(env, "AWS_SESSION_TOKEN="+token)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// TestHostHeader refuses requests whose Host names neither a loopback name
// nor the listen address, on every endpoint: a browser tricked by DNS
// rebinding sends the attacker's name.
func TestHostHeader(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	cases := []struct {
		listen, host string
		want         bool
	}{
		{"127.0.0.1:2773", "127.0.0.1:2773", true},
		{"127.0.0.1:2773", "localhost:2773", true},
		{"127.0.0.1:2773", "LOCALHOST", true},
		{"127.0.0.1:2773", "localhost.", true},
		{"127.0.0.1:2773", "[::1]:2773", true},
		{"127.0.0.1:2773", "127.0.0.2:2773", true},
		{"127.0.0.1:2773", "evil.example:2773", false},
		{"127.0.0.1:2773", "localhost.evil.example", false},
		{"127.0.0.1:2773", "10.1.2.3:2773", false},
		{"0.0.0.0:2773", "10.1.2.3:2773", true},
		{"0.0.0.0:2773", "evil.example:2773", false},
		{":2773", "[fd00::1]:2773", true},
		{"agent.internal:2773", "Agent.Internal:2773", true},
		{"agent.internal:2773", "other.internal:2773", false},
	}
	for _, tc := range cases {
		h := newTestHandler(t, src, func(c *Config) { c.ListenAddr = tc.listen })
		for _, ep := range []struct{ method, path, header, value string }{
			{"GET", "/healthz", "", ""},
			{"GET", "/systemsmanager/parameters/get?name=%2Fapp%2Fpass&withDecryption=true", HeaderToken, testToken},
			{"POST", "/", HeaderSecurityToken, testToken},
		} {
			req := httptest.NewRequest(ep.method, ep.path, strings.NewReader(`{"Name":"/app/pass","WithDecryption":true}`))
			req.Host = tc.host
			if ep.header != "" {
				req.Header.Set(ep.header, ep.value)
			}
			req.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if tc.want && rec.Code != 200 {
				t.Errorf("listen %s, Host %s, %s %s: got %d %s, want 200", tc.listen, tc.host, ep.method, ep.path, rec.Code, body)
			}
			if !tc.want && (rec.Code != 403 || strings.Contains(body, "hunter2")) {
				t.Errorf("listen %s, Host %s, %s %s: got %d %s, want 403 without the value", tc.listen, tc.host, ep.method, ep.path, rec.Code, body)
			}
			if !tc.want && ep.method == "POST" && rec.Header().Get("X-Amzn-ErrorType") != "AccessDeniedException" {
				t.Errorf("listen %s, Host %s, proxy: error type %q, want AccessDeniedException", tc.listen, tc.host, rec.Header().Get("X-Amzn-ErrorType"))
			}
		}
	}
}

// TestProxyWritesNeedAllowWrites: without AllowWrites a write is refused
// with AccessDeniedException and never reaches the upstream; reads are
// still forwarded.
func TestProxyWritesNeedAllowWrites(t *testing.T) {
	for _, op := range []string{"PutParameter", "DeleteParameter", "DeleteParameters", "LabelParameterVersion",
		"UnlabelParameterVersion", "AddTagsToResource", "RemoveTagsFromResource", "UpdateServiceSetting", "ResetServiceSetting"} {
		up := newFakeUpstream(t)
		h := newTestHandler(t, newFakeSource(), func(c *Config) { c.Upstreams = []string{up.URL}; c.Credentials = agentCreds })
		rec := post(t, h, op, `{"Name":"/app/url","Value":"x"}`)
		if rec.Code != 400 || rec.Header().Get("X-Amzn-ErrorType") != "AccessDeniedException" || !strings.Contains(rec.Body.String(), "--allow-writes") {
			t.Errorf("%s: got %d %s %s, want 400 AccessDeniedException naming --allow-writes", op, rec.Code, rec.Header().Get("X-Amzn-ErrorType"), rec.Body)
		}
		if n := len(up.recorded()); n != 0 {
			t.Errorf("%s: upstream got %d calls, want 0", op, n)
		}
	}
	up := newFakeUpstream(t)
	h := newTestHandler(t, newFakeSource(), func(c *Config) { c.Upstreams = []string{up.URL}; c.Credentials = agentCreds })
	if rec := post(t, h, "DescribeParameters", `{}`); rec.Code != 200 || len(up.recorded()) != 1 {
		t.Errorf("DescribeParameters: got %d and %d upstream calls, want 200 and 1", rec.Code, len(up.recorded()))
	}
}

// TestMetricLabelsBounded: caller-chosen X-Amz-Target values never become
// label values; they are refused as unknown operations and counted under
// operation="unknown".
func TestMetricLabelsBounded(t *testing.T) {
	up := newFakeUpstream(t)
	h := newTestHandler(t, newFakeSource(), func(c *Config) { c.Upstreams = []string{up.URL}; c.Credentials = agentCreds })
	for _, target := range []string{"Evil1", "Evil2", "SendCommand", "GetParameter\x00x", strings.Repeat("A", 300)} {
		rec := post(t, h, target, `{}`)
		if rec.Code != 400 || rec.Header().Get("X-Amzn-ErrorType") != "UnknownOperationException" {
			t.Errorf("%.20q: got %d %s, want 400 UnknownOperationException", target, rec.Code, rec.Header().Get("X-Amzn-ErrorType"))
		}
	}
	if n := len(up.recorded()); n != 0 {
		t.Errorf("unknown operations reached the upstream %d times", n)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, bad := range []string{"Evil", "SendCommand", "AAAA"} {
		if strings.Contains(string(body), bad) {
			t.Errorf("metrics carry caller-chosen %q", bad)
		}
	}
	if want := `paramstore_agent_requests_total{interface="ssm",operation="unknown",status="400"} 5`; !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %s", want)
	}
}
