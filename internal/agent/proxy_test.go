package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/paramstore/paramstore/client"
)

// fakeUpstream is an SSM endpoint that records what it is sent.
type fakeUpstream struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []upstreamCall
	status int // answer status; 0 means 200
}

type upstreamCall struct {
	Target, Authorization, Body string
}

func newFakeUpstream(t *testing.T) *fakeUpstream {
	u := &fakeUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.calls = append(u.calls, upstreamCall{r.Header.Get("X-Amz-Target"), r.Header.Get("Authorization"), string(body)})
		status := u.status
		u.mu.Unlock()
		w.Header().Set("Content-Type", jsonContentType)
		w.Header().Set("x-amzn-RequestId", "upstream-request")
		if status != 0 && status != 200 {
			w.Header().Set("X-Amzn-ErrorType", "ParameterAlreadyExists")
			w.WriteHeader(status)
			io.WriteString(w, `{"__type":"ParameterAlreadyExists","message":"exists"}`)
			return
		}
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonSSM.PutParameter":
			io.WriteString(w, `{"Tier":"Standard","Version":7}`)
		default:
			io.WriteString(w, `{}`)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *fakeUpstream) recorded() []upstreamCall {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upstreamCall(nil), u.calls...)
}

var agentCreds = credentials.NewStaticCredentialsProvider("AKIDAGENT", "agent-secret", "")

func post(t *testing.T, h http.Handler, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Content-Type", jsonContentType)
	req.Header.Set(HeaderSecurityToken, testToken)
	if target != "" {
		req.Header.Set("X-Amz-Target", "AmazonSSM."+target)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestProxyWritesInvalidate(t *testing.T) {
	tests := []struct {
		name     string
		target   string
		body     string
		status   int
		wantInv  []string
		wantCode int
	}{
		{name: "put", target: "PutParameter", body: `{"Name":"/app/url","Value":"x","Overwrite":true}`, wantInv: []string{"/app/url"}, wantCode: 200},
		{name: "delete", target: "DeleteParameter", body: `{"Name":"/app/url"}`, wantInv: []string{"/app/url"}, wantCode: 200},
		{name: "delete many", target: "DeleteParameters", body: `{"Names":["/a","/b"]}`, wantInv: []string{"/a", "/b"}, wantCode: 200},
		{name: "label", target: "LabelParameterVersion", body: `{"Name":"/app/url","Labels":["prod"]}`, wantInv: []string{"/app/url"}, wantCode: 200},
		{name: "unlabel", target: "UnlabelParameterVersion", body: `{"Name":"/app/url","ParameterVersion":1,"Labels":["prod"]}`, wantInv: []string{"/app/url"}, wantCode: 200},
		{name: "tag", target: "AddTagsToResource", body: `{"ResourceType":"Parameter","ResourceId":"/app/url","Tags":[]}`, wantInv: []string{"/app/url"}, wantCode: 200},
		{name: "untag", target: "RemoveTagsFromResource", body: `{"ResourceType":"Parameter","ResourceId":"/app/url","TagKeys":["k"]}`, wantInv: []string{"/app/url"}, wantCode: 200},
		{name: "tag other resource", target: "AddTagsToResource", body: `{"ResourceType":"Document","ResourceId":"doc","Tags":[]}`, wantCode: 200},
		{name: "read-only call", target: "DescribeParameters", body: `{}`, wantCode: 200},
		{name: "failed write", target: "PutParameter", body: `{"Name":"/app/url","Value":"x"}`, status: 400, wantCode: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newFakeSource()
			up := newFakeUpstream(t)
			up.status = tc.status
			h := newTestHandler(t, src, func(c *Config) {
				c.Upstreams = []string{up.URL}
				c.Credentials = agentCreds
				c.AllowWrites = true
			})
			rec := post(t, h, tc.target, tc.body)
			if rec.Code != tc.wantCode {
				t.Fatalf("status: got %d, want %d: %s", rec.Code, tc.wantCode, rec.Body)
			}
			if got := src.invalidations(); !slices.Equal(got, tc.wantInv) {
				t.Errorf("invalidated: got %q, want %q", got, tc.wantInv)
			}
			calls := up.recorded()
			if len(calls) != 1 {
				t.Fatalf("upstream calls: got %d, want 1", len(calls))
			}
			c := calls[0]
			if c.Target != "AmazonSSM."+tc.target || c.Body != tc.body {
				t.Errorf("forwarded: got %s %s, want %s %s", c.Target, c.Body, tc.target, tc.body)
			}
			if !strings.Contains(c.Authorization, "Credential=AKIDAGENT/") || !strings.Contains(c.Authorization, "/us-east-1/ssm/aws4_request") {
				t.Errorf("forwarded call not signed with the agent's credentials: %q", c.Authorization)
			}
			if got := rec.Header().Get("X-Amzn-RequestId"); got != "upstream-request" {
				t.Errorf("request id: got %q, want the upstream's", got)
			}
		})
	}
}

func TestProxyFailover(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	up := newFakeUpstream(t)
	second := newFakeUpstream(t)
	src := newFakeSource()
	h := newTestHandler(t, src, func(c *Config) {
		c.Upstreams = []string{deadURL, up.URL, second.URL}
		c.Credentials = agentCreds
	})
	if rec := post(t, h, "DescribeParameters", `{}`); rec.Code != 200 {
		t.Fatalf("failover: got status %d: %s", rec.Code, rec.Body)
	}
	if n := len(up.recorded()); n != 1 {
		t.Errorf("first live upstream: got %d calls, want 1", n)
	}
	// An upstream whose breaker is open goes last.
	src.health = []client.UpstreamHealth{{URL: deadURL, Breaker: "closed"}, {URL: up.URL, Breaker: "open"}, {URL: second.URL, Breaker: "closed"}}
	post(t, h, "DescribeParameters", `{}`)
	if n := len(second.recorded()); n != 1 {
		t.Errorf("upstream after an open breaker: got %d calls, want 1", n)
	}
	src.health = nil
	h2 := newTestHandler(t, src, func(c *Config) { c.Upstreams = []string{deadURL} })
	rec := post(t, h2, "DescribeParameters", `{}`)
	if rec.Code != 503 || rec.Header().Get("X-Amzn-ErrorType") != "ServiceUnavailable" || rec.Header().Get("Retry-After") == "" {
		t.Errorf("no upstream: got %d %s, want 503 ServiceUnavailable with Retry-After", rec.Code, rec.Header().Get("X-Amzn-ErrorType"))
	}
}

func TestProxyReads(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	src.put("/app/prod/a", "String", "1")
	src.put("/app/prod/b", "String", "2")
	src.put("/app/prod/c/d", "String", "3")
	h := newTestHandler(t, src, nil)
	tests := []struct {
		name, target, body string
		wantStatus         int
		want               string // substring of the body
	}{
		{"get", "GetParameter", `{"Name":"/app/url"}`, 200, `"Parameter":{"ARN":"arn:aws:ssm:us-east-1:123456789012:parameter/app/url","DataType":"text","LastModifiedDate":1714979289.123,"Name":"/app/url","Type":"String","Value":"https://v3","Version":3}`},
		{"get selector", "GetParameter", `{"Name":"/app/url:prod"}`, 200, `"Selector":":prod"`},
		{"get decrypted", "GetParameter", `{"Name":"/app/pass","WithDecryption":true}`, 200, `"Value":"hunter2"`},
		{"get not found", "GetParameter", `{"Name":"/nope"}`, 400, `{"__type":"ParameterNotFound"}`},
		{"get no name", "GetParameter", `{}`, 400, `"__type":"ValidationException"`},
		{"get bad json", "GetParameter", `{`, 400, `"__type":"SerializationException"`},
		{"get many", "GetParameters", `{"Names":["/app/url","/nope"]}`, 200, `"InvalidParameters":["/nope"]`},
		{"by path", "GetParametersByPath", `{"Path":"/app/prod"}`, 200, `"Name":"/app/prod/b"`},
		{"by path page", "GetParametersByPath", `{"Path":"/app/prod","Recursive":true,"MaxResults":2}`, 200, `"NextToken":"`},
		{"by path too many", "GetParametersByPath", `{"Path":"/app/prod","MaxResults":11}`, 400, `ValidationException`},
		{"unknown target", "", `{}`, 400, `{"__type":"UnknownOperationException"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(t, h, tc.target, tc.body)
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("got %d %s, want %d containing %s", rec.Code, rec.Body, tc.wantStatus, tc.want)
			}
		})
	}
	src.stale = true
	src.fetchedAt = testNow.Add(-5 * 60e9)
	rec := post(t, h, "GetParameters", `{"Names":["/app/url"]}`)
	if rec.Header().Get(HeaderStale) != "true" || rec.Header().Get(HeaderAge) != "300" {
		t.Errorf("stale GetParameters: got headers %v", rec.Header())
	}
	src.setDown(true)
	if rec := post(t, h, "GetParameter", `{"Name":"/app/url"}`); rec.Code != 503 {
		t.Errorf("down, nothing cached: got %d, want 503", rec.Code)
	}
}

// TestProxyBoto3 points boto3 at the agent (endpoint_url) as an application
// would: cached reads, paging, and a write forwarded to the upstream that
// invalidates the name.
func TestProxyBoto3(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	for _, n := range []string{"a", "b", "c"} {
		src.put("/app/prod/"+n, "String", "value-"+n)
	}
	up := newFakeUpstream(t)
	srv := httptest.NewServer(newTestHandler(t, src, func(c *Config) {
		c.Upstreams = []string{up.URL}
		c.Credentials = agentCreds
		c.AllowWrites = true
	}))
	defer srv.Close()
	script := `
import json, sys, boto3
ssm = boto3.client("ssm", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="AKIDCALLER", aws_secret_access_key="caller-secret",
                   aws_session_token=sys.argv[2])
out = {}
out["get"] = ssm.get_parameter(Name="/app/pass", WithDecryption=True)["Parameter"]["Value"]
out["version"] = ssm.get_parameter(Name="/app/url:1")["Parameter"]["Value"]
r = ssm.get_parameters(Names=["/app/url", "/missing"])
out["many"] = [p["Value"] for p in r["Parameters"]]
out["invalid"] = r["InvalidParameters"]
pages = ssm.get_paginator("get_parameters_by_path").paginate(Path="/app/prod", PaginationConfig={"PageSize": 2})
out["pages"] = [[p["Name"] for p in page["Parameters"]] for page in pages]
out["put"] = ssm.put_parameter(Name="/app/url", Value="v4", Type="String", Overwrite=True)["Version"]
try:
    ssm.get_parameter(Name="/missing")
except ssm.exceptions.ParameterNotFound:
    out["notfound"] = True
print(json.dumps(out))
`
	dir := t.TempDir()
	path := filepath.Join(dir, "client.py")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", path, srv.URL, testToken)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"))
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("boto3: %v\n%s", err, stderr)
	}
	var got struct {
		Get, Version string
		Many         []string
		Invalid      []string
		Pages        [][]string
		Put          int
		Notfound     bool
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("boto3 output %s: %v", out, err)
	}
	if got.Get != "hunter2" || got.Version != "https://v1" {
		t.Errorf("get: got %q, %q; want hunter2, https://v1", got.Get, got.Version)
	}
	if !slices.Equal(got.Many, []string{"https://v3"}) || !slices.Equal(got.Invalid, []string{"/missing"}) {
		t.Errorf("get_parameters: got %q invalid %q", got.Many, got.Invalid)
	}
	if want := [][]string{{"/app/prod/a", "/app/prod/b"}, {"/app/prod/c"}}; len(got.Pages) != 2 || !slices.Equal(got.Pages[0], want[0]) || !slices.Equal(got.Pages[1], want[1]) {
		t.Errorf("paginator: got %q, want %q", got.Pages, want)
	}
	if got.Put != 7 || !got.Notfound {
		t.Errorf("put version %d (want 7 from upstream), notfound %v", got.Put, got.Notfound)
	}
	if inv := src.invalidations(); !slices.Equal(inv, []string{"/app/url"}) {
		t.Errorf("invalidated after boto3 put: got %q", inv)
	}
	calls := up.recorded()
	if len(calls) != 1 || calls[0].Target != "AmazonSSM.PutParameter" || !strings.Contains(calls[0].Authorization, "AKIDAGENT") {
		t.Errorf("upstream saw %+v, want one PutParameter signed by AKIDAGENT", calls)
	}
}
