package agent_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// lambdaRaw is a Lambda-extension read with its status and headers.
func lambdaRaw(t *testing.T, agentURL, name string) (int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", agentURL+"/systemsmanager/parameters/get?withDecryption=true&name="+url.QueryEscape(name), nil)
	req.Header.Set("X-Aws-Parameters-Secrets-Token", agentToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestAgentRecovery (issue 21) through real processes, moto_server as AWS
// behind two switchable endpoints: a cold agent whose breakers are open
// for an hour serves as soon as the upstreams answer again, because the
// waiting read probes at once (counted in /metrics); /healthz returns to
// ok for both upstreams, including the one no read used; and the status of
// each failure says whose fault it is.
func TestAgentRecovery(t *testing.T) {
	m := startMoto(t)
	m.put("/recover/a", "v")
	m.put("/recover/b", "v")
	a, b := newSwitch(t, m.url), newSwitch(t, m.url)
	ag := start(t, "agent", motoEnv(t), "agent", "--upstream", a.URL, "--upstream", b.URL, "--listen", "127.0.0.1:0",
		"--token", agentToken, "--breaker-failures", "1", "--breaker-open-for", "1h", "--health-check-interval", "200ms",
		"--max-attempts", "1")

	statusCases := []struct {
		mode, name string
		want       int
		code       string
	}{
		{modeDown, "/recover/a", 503, "ServiceUnavailable"},
		{modeError, "/recover/a", 502, "InternalServerError"},
		{modeThrottle, "/recover/a", 429, "ThrottlingException"},
		{modeUp, "/recover/missing", 400, "ParameterNotFound"},
	}
	for _, tc := range statusCases {
		a.set(tc.mode)
		b.set(tc.mode)
		status, hdr := lambdaRaw(t, ag.URL(), tc.name)
		if status != tc.want || hdr.Get("X-Paramstore-Error-Code") != tc.code || (status >= 429) != (hdr.Get("Retry-After") != "") {
			t.Errorf("upstreams %s: got %d %s Retry-After %q, want %d %s", tc.mode, status, hdr.Get("X-Paramstore-Error-Code"), hdr.Get("Retry-After"), tc.want, tc.code)
		}
	}

	// Outage: both breakers open (for an hour).
	a.set(modeDown)
	b.set(modeDown)
	waitFor(t, 30*time.Second, "both breakers open", func() (bool, string) {
		if status, _ := lambdaRaw(t, ag.URL(), "/recover/b"); status != 503 {
			t.Fatalf("during the outage: got %d, want 503", status)
		}
		h := getHealth(t, ag.URL())
		open := 0
		for _, u := range h.Upstreams {
			if u.Breaker == "open" {
				open++
			}
		}
		return open == 2, fmt.Sprintf("%+v", h.Upstreams)
	})
	probesBefore := metricValue(t, ag.URL(), "paramstore_client_breaker_probes_now_total")
	a.set(modeUp)
	b.set(modeUp)
	if r := lambdaGet(ag.URL(), "/recover/b", true); r.err != nil || r.stale || r.value != "v" {
		t.Fatalf("first read after the upstreams came back (breakers open for 1h): got %+v, want the value", r)
	}
	if after := metricValue(t, ag.URL(), "paramstore_client_breaker_probes_now_total"); after <= probesBefore {
		t.Errorf("probes triggered by waiting callers: %v before, %v after; want more", probesBefore, after)
	}
	waitFor(t, 30*time.Second, "/healthz ok with both upstreams healthy", func() (bool, string) {
		h := getHealth(t, ag.URL())
		ok := h.Status == "ok" && len(h.Upstreams) == 2
		for _, u := range h.Upstreams {
			ok = ok && u.State == "healthy" && u.Breaker == "closed"
		}
		return ok, h.Status
	})
}

func metricValue(t *testing.T, agentURL, name string) float64 {
	t.Helper()
	resp, err := httpClient.Get(agentURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
