package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/client"
)

const testToken = "session-token-123"

// testNow is the injected clock of every handler in these tests.
var testNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func newTestHandler(t *testing.T, src *fakeSource, mod func(*Config)) *Handler {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := Config{
		Source:     src,
		Token:      testToken,
		ListenAddr: "example.com:2773", // the Host of httptest.NewRequest
		Region:     "us-east-1",
		Registerer: reg,
		Gatherer:   reg,
		Now:        func() time.Time { return testNow },
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func seedLambda(src *fakeSource) {
	src.put("/app/url", "String", "https://v1")
	src.put("/app/url", "String", "https://v2")
	src.put("/app/url", "String", "https://v3")
	src.label("/app/url", "prod", 2)
	src.put("/app/pass", "SecureString", "hunter2")
}

func TestLambdaGet(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	h := newTestHandler(t, src, nil)
	tests := []struct {
		name       string
		method     string
		query      string
		token      *string // nil: the right token
		wantStatus int
		wantValue  string
		wantSel    any // nil or the selector string
		wantCode   string
	}{
		{name: "latest", query: "name=%2Fapp%2Furl", wantStatus: 200, wantValue: "https://v3"},
		{name: "unencoded slashes", query: "name=/app/url", wantStatus: 200, wantValue: "https://v3"},
		{name: "version", query: "name=%2Fapp%2Furl&version=1", wantStatus: 200, wantValue: "https://v1", wantSel: ":1"},
		{name: "label", query: "name=%2Fapp%2Furl&label=prod", wantStatus: 200, wantValue: "https://v2", wantSel: ":prod"},
		{name: "version before label wins", query: "name=%2Fapp%2Furl&version=1&label=prod", wantStatus: 200, wantValue: "https://v1", wantSel: ":1"},
		{name: "label before version wins", query: "label=prod&name=%2Fapp%2Furl&version=1", wantStatus: 200, wantValue: "https://v2", wantSel: ":prod"},
		{name: "secure without decryption", query: "name=%2Fapp%2Fpass", wantStatus: 200, wantValue: "ciphertext-of-/app/pass"},
		{name: "secure withDecryption=false", query: "name=%2Fapp%2Fpass&withDecryption=false", wantStatus: 200, wantValue: "ciphertext-of-/app/pass"},
		{name: "secure withDecryption=true", query: "name=%2Fapp%2Fpass&withDecryption=true", wantStatus: 200, wantValue: "hunter2"},
		{name: "missing token", query: "name=%2Fapp%2Furl", token: ptr(""), wantStatus: 401},
		{name: "wrong token", query: "name=%2Fapp%2Furl", token: ptr("other"), wantStatus: 401},
		{name: "no name", query: "version=1", wantStatus: 400, wantCode: "ValidationException"},
		{name: "version zero", query: "name=%2Fapp%2Furl&version=0", wantStatus: 400, wantCode: "ValidationException"},
		{name: "version not a number", query: "name=%2Fapp%2Furl&version=x", wantStatus: 400, wantCode: "ValidationException"},
		{name: "bad withDecryption", query: "name=%2Fapp%2Furl&withDecryption=maybe", wantStatus: 400, wantCode: "ValidationException"},
		{name: "not found", query: "name=%2Fnope", wantStatus: 400, wantCode: "ParameterNotFound"},
		{name: "version not found", query: "name=%2Fapp%2Furl&version=9", wantStatus: 400, wantCode: "ParameterVersionNotFound"},
		{name: "label not found", query: "name=%2Fapp%2Furl&label=nope", wantStatus: 400, wantCode: "ParameterVersionNotFound"},
		{name: "POST", method: "POST", query: "name=%2Fapp%2Furl", wantStatus: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req := httptest.NewRequest(method, "/systemsmanager/parameters/get?"+tc.query, nil)
			tok := testToken
			if tc.token != nil {
				tok = *tc.token
			}
			if tok != "" {
				req.Header.Set(HeaderToken, tok)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status: got %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if got := rec.Header().Get(HeaderErrorCode); got != tc.wantCode {
				t.Errorf("%s: got %q, want %q", HeaderErrorCode, got, tc.wantCode)
			}
			if tc.wantStatus != 200 {
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("error Content-Type: got %q, want text/plain", ct)
				}
				return
			}
			var body map[string]map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			p := body["Parameter"]
			if p["Value"] != tc.wantValue {
				t.Errorf("Value: got %v, want %q", p["Value"], tc.wantValue)
			}
			if p["Selector"] != tc.wantSel {
				t.Errorf("Selector: got %v, want %v", p["Selector"], tc.wantSel)
			}
			if _, ok := body["ResultMetadata"]; !ok {
				t.Errorf("no ResultMetadata in %s", rec.Body)
			}
			for _, k := range []string{"ARN", "Name", "Type", "DataType", "Version"} {
				if _, ok := p[k]; !ok {
					t.Errorf("no %s in %s", k, rec.Body)
				}
			}
			if got, want := p["LastModifiedDate"], "2024-05-06T07:08:09.123Z"; got != want {
				t.Errorf("LastModifiedDate: got %v, want %q", got, want)
			}
			if rec.Header().Get(HeaderStale) != "" {
				t.Errorf("fresh value marked stale")
			}
		})
	}
}

func TestLambdaTokenNotConfigured(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	h := newTestHandler(t, src, func(c *Config) { c.Token = "" })
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {"anything", 200}} {
		req := httptest.NewRequest("GET", "/systemsmanager/parameters/get?name=%2Fapp%2Furl", nil)
		if tc.token != "" {
			req.Header.Set(HeaderToken, tc.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("token %q: got status %d, want %d", tc.token, rec.Code, tc.want)
		}
	}
}

func TestLambdaStaleAndDown(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	src.stale = true
	src.fetchedAt = testNow.Add(-90 * time.Second)
	h := newTestHandler(t, src, nil)
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/systemsmanager/parameters/get?name=%2Fapp%2Furl", nil)
		req.Header.Set(HeaderToken, testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := get()
	if rec.Code != 200 || rec.Header().Get(HeaderStale) != "true" || rec.Header().Get(HeaderAge) != "90" {
		t.Errorf("stale read: got status %d, %s=%q, %s=%q; want 200, true, 90", rec.Code,
			HeaderStale, rec.Header().Get(HeaderStale), HeaderAge, rec.Header().Get(HeaderAge))
	}
	src.setDown(true)
	if rec := get(); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("nothing cached and no upstream: got status %d, want 503 with Retry-After", rec.Code)
	}
	req := httptest.NewRequest("GET", "/secretsmanager/get?secretId=x", nil)
	req.Header.Set(HeaderToken, testToken)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotImplemented {
		t.Errorf("secretsmanager: got status %d, want 501", rec.Code)
	}
}

// TestLambdaCurl runs the request exactly as extension users write it with
// curl, against a real listener.
func TestLambdaCurl(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	srv := httptest.NewServer(newTestHandler(t, src, nil))
	defer srv.Close()
	curl := func(args ...string) (string, string) {
		t.Helper()
		args = append([]string{"-sS", "-o", "-", "-w", "\n%{http_code}"}, args...)
		out, err := exec.Command("curl", args...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v", args, err)
		}
		s := string(out)
		i := strings.LastIndexByte(s, '\n')
		return strings.TrimSpace(s[:i]), s[i+1:]
	}
	body, code := curl("-H", "X-Aws-Parameters-Secrets-Token: "+testToken,
		srv.URL+"/systemsmanager/parameters/get?name=%2Fapp%2Fpass&withDecryption=true")
	if code != "200" {
		t.Fatalf("curl: got status %s, want 200: %s", code, body)
	}
	var resp struct{ Parameter struct{ Name, Value string } }
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("curl body %q: %v", body, err)
	}
	if resp.Parameter.Value != "hunter2" || resp.Parameter.Name != "/app/pass" {
		t.Errorf("curl: got %+v, want /app/pass = hunter2", resp.Parameter)
	}
	if _, code := curl(srv.URL + "/systemsmanager/parameters/get?name=%2Fapp%2Fpass"); code != "401" {
		t.Errorf("curl without token: got status %s, want 401", code)
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	since := testNow.Add(-time.Minute)
	src.health = []client.UpstreamHealth{
		{URL: "http://a", State: "healthy", Breaker: "closed", ObservedAt: testNow.Add(-1500 * time.Millisecond)},
		{URL: "http://b", State: "down", Breaker: "open", LastError: "connection refused", ServingStaleSince: since},
	}
	h := newTestHandler(t, src, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("healthz: got status %d", rec.Code)
	}
	var rep healthReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Status != "degraded" || len(rep.Upstreams) != 2 {
		t.Fatalf("healthz: got %+v, want degraded with 2 upstreams", rep)
	}
	b := rep.Upstreams[1]
	if b.Breaker != "open" || b.LastError != "connection refused" || b.ServingStaleSince == nil || !b.ServingStaleSince.Equal(since) {
		t.Errorf("upstream b: got %+v", b)
	}
	if rep.Upstreams[0].ServingStaleSince != nil {
		t.Errorf("healthy upstream has serving_stale_since")
	}
	if a := rep.Upstreams[0]; a.ObservationAge == nil || *a.ObservationAge != 1.5 || a.ObservedAt == nil {
		t.Errorf("upstream a: observation age %v at %v, want 1.5s", a.ObservationAge, a.ObservedAt)
	}
	if b := rep.Upstreams[1]; b.ObservationAge != nil {
		t.Errorf("upstream b, never observed: observation age %v, want none", *b.ObservationAge)
	}
	// An unreadable persistent cache alone makes the agent degraded.
	src.health = []client.UpstreamHealth{{URL: "http://a", State: "healthy", Breaker: "closed"}}
	src.cache = client.CacheStatus{Path: "/c/cache.db", State: "unreadable", Error: "written with another key"}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	rep = healthReport{}
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Status != "degraded" || rep.Cache.State != "unreadable" || rep.Cache.Error == "" {
		t.Errorf("healthz with an unreadable cache: got %+v", rep)
	}

	req := httptest.NewRequest("GET", "/systemsmanager/parameters/get?name=%2Fapp%2Furl", nil)
	req.Header.Set(HeaderToken, testToken)
	h.ServeHTTP(httptest.NewRecorder(), req)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if want := `paramstore_agent_requests_total{interface="lambda",operation="GetParameter",status="200"} 1`; !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %q:\n%s", want, body)
	}
}
