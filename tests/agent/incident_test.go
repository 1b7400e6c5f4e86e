package agent_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/testproc"
	"github.com/paramstore/paramstore/internal/webhook"
)

// incidentJSON is the contract shape of DESIGN.md §3 "Incidents".
type incidentJSON struct {
	ID      string     `json:"id"`
	Source  string     `json:"source"`
	Kind    string     `json:"kind"`
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended"`
	Impact  struct {
		Requests            int64    `json:"requests"`
		Failed              int64    `json:"failed"`
		Throttled           int64    `json:"throttled"`
		FromBundle          int64    `json:"from_bundle"`
		ServedStale         int64    `json:"served_stale"`
		MaxStalenessSeconds float64  `json:"max_staleness_seconds"`
		Parameters          []string `json:"parameters"`
	} `json:"impact"`
	Timeline []struct {
		Time  time.Time `json:"time"`
		Event string    `json:"event"`
	} `json:"timeline"`
}

func getIncidents(t testing.TB, agentURL string) []incidentJSON {
	t.Helper()
	req, _ := http.NewRequest("GET", agentURL+"/incidents", nil)
	req.Header.Set("X-Aws-Parameters-Secrets-Token", agentToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET /incidents: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /incidents: %s", resp.Status)
	}
	var out struct{ Incidents []incidentJSON }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET /incidents: %v", err)
	}
	return out.Incidents
}

type readiness struct {
	status  int
	Status  string
	Missing []string
	Fault   *struct{ Kind string }
}

func getReady(t testing.TB, agentURL string) readiness {
	t.Helper()
	resp, err := httpClient.Get(agentURL + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	r := readiness{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	return r
}

// TestIncidentServerKilled: the server is SIGKILLed for a while and
// restarted; the agent in front of it records one incident with start,
// end, impact and an ordered timeline, its report renders, and /readyz
// stays 200 because the required parameter was cached.
func TestIncidentServerKilled(t *testing.T) {
	srv := startServer(t)
	srv.put("/inc/db-url", "String", "postgres://db")
	srv.put("/inc/api-key", "SecureString", "not-in-any-incident")
	// The agent's incidents also go to a webhook, signed.
	hook := newIncidentReceiver(t, "agent-hook-secret")
	secretFile := filepath.Join(t.TempDir(), "hook.secret")
	os.WriteFile(secretFile, []byte("agent-hook-secret\n"), 0o600)
	ag := start(t, "agent", srv.signingEnv("INC_CACHE_KEY="+newCacheKey(t)), "agent", "--upstream", srv.URL(),
		"--listen", "127.0.0.1:0", "--cache-dir", t.TempDir(), "--cache-key", "env:INC_CACHE_KEY", "--token", agentToken,
		"--ttl", "1ms", "--breaker-open-for", "300ms", "--health-check-interval", "200ms", "--require", "/inc/db-url",
		"--incident-webhook", hook.srv.URL, "--incident-webhook-secret-file", secretFile)
	waitFor(t, 30*time.Second, "agent ready", func() (bool, string) {
		r := getReady(t, ag.URL())
		return r.status == 200, r.Status + " " + strings.Join(r.Missing, ",")
	})
	for _, n := range []string{"/inc/db-url", "/inc/api-key"} {
		if r := lambdaGet(ag.URL(), n, true); r.err != nil || r.stale {
			t.Fatalf("warm %s: %+v", n, r)
		}
	}
	if incs := getIncidents(t, ag.URL()); len(incs) != 0 {
		t.Fatalf("before the outage: %d incidents, want 0", len(incs))
	}

	readyDuring := func() {
		t.Helper()
		if r := getReady(t, ag.URL()); r.status != 200 {
			t.Fatalf("agent /readyz during the outage: %d %v, want 200 (the value is cached)", r.status, r.Missing)
		}
	}
	srv.Kill()
	waitFor(t, 30*time.Second, "an incident open with stale serves", func() (bool, string) {
		for _, n := range []string{"/inc/db-url", "/inc/api-key"} {
			if r := lambdaGet(ag.URL(), n, true); r.err != nil {
				t.Fatalf("read %s during the outage: %v", n, r.err)
			}
		}
		readyDuring()
		incs := getIncidents(t, ag.URL())
		if len(incs) == 0 || incs[0].Ended != nil {
			return false, "no open incident"
		}
		return incs[0].Impact.ServedStale >= 2 && hasEvent(incs[0], "breaker open"), incs[0].Timeline[len(incs[0].Timeline)-1].Event
	})
	srv.restart()
	waitFor(t, 30*time.Second, "the incident ended", func() (bool, string) {
		if r := lambdaGet(ag.URL(), "/inc/db-url", true); r.err != nil {
			t.Fatalf("read after restart: %v", r.err)
		}
		readyDuring()
		incs := getIncidents(t, ag.URL())
		return incs[0].Ended != nil, "still open"
	})
	incs := getIncidents(t, ag.URL())
	if len(incs) != 1 {
		t.Fatalf("incidents: got %d, want 1: %+v", len(incs), incs)
	}
	inc := incs[0]
	if inc.Source != "agent" || inc.Kind != "upstream-unavailable" || !inc.Ended.After(inc.Started) {
		t.Errorf("incident: source %q kind %q started %v ended %v", inc.Source, inc.Kind, inc.Started, inc.Ended)
	}
	if inc.Impact.Requests < inc.Impact.ServedStale || inc.Impact.ServedStale < 2 || inc.Impact.Failed != 0 || inc.Impact.MaxStalenessSeconds <= 0 {
		t.Errorf("impact: %+v", inc.Impact)
	}
	for i := 1; i < len(inc.Timeline); i++ {
		if inc.Timeline[i].Time.Before(inc.Timeline[i-1].Time) {
			t.Errorf("timeline out of order at %d: %+v", i, inc.Timeline)
		}
	}
	for _, want := range []string{"first stale serve", "breaker open", "recovered"} {
		if !hasEvent(inc, want) {
			t.Errorf("timeline lacks %q: %+v", want, inc.Timeline)
		}
	}
	if last := inc.Timeline[len(inc.Timeline)-1].Event; !strings.HasPrefix(last, "recovered") {
		t.Errorf("last timeline entry: %q, want recovered", last)
	}

	cmd := testproc.Command(t, "incidents", "report", inc.ID, "--endpoint", ag.URL(), "--token", agentToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("incidents report: %v\n%s", err, out)
	}
	for _, want := range []string{"# Incident " + inc.ID, "## Impact", "## Timeline", "## What kept applications running", "## Root cause", "recovered"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(string(out), "not-in-any-incident") || strings.Contains(string(out), "postgres://db") {
		t.Errorf("report holds a parameter value:\n%s", out)
	}
	t.Logf("report:\n%s", out)

	// The webhook got the incident opened, then closed, signed, no value.
	evs := hook.await(t, 2)
	for i, want := range []string{"open", "closed"} {
		var d struct {
			ID, Kind, State, Source string
			Impact                  struct {
				ServedStale int64 `json:"served_stale"`
			}
		}
		json.Unmarshal(evs[i].Detail, &d)
		if evs[i].DetailType != "Paramstore Incident" || d.ID != inc.ID || d.State != want || d.Source != "agent" || d.Kind != "upstream-unavailable" {
			t.Errorf("webhook event %d: %+v detail %+v, want %s of %s", i, evs[i], d, want, inc.ID)
		}
		if i == 1 && d.Impact.ServedStale < 2 {
			t.Errorf("closed event impact: %+v", d.Impact)
		}
	}
	if hook.badSignatures() != 0 || strings.Contains(hook.bodies(), "not-in-any-incident") || strings.Contains(hook.bodies(), "postgres://db") {
		t.Errorf("webhook: %d bad signatures; bodies %s", hook.badSignatures(), hook.bodies())
	}
	list, err := testproc.Command(t, "incidents", "list", "--endpoint", ag.URL(), "--token", agentToken).CombinedOutput()
	if err != nil || !strings.Contains(string(list), inc.ID) {
		t.Errorf("incidents list: %v\n%s", err, list)
	}
}

func hasEvent(inc incidentJSON, prefix string) bool {
	for _, e := range inc.Timeline {
		if strings.HasPrefix(e.Event, prefix) {
			return true
		}
	}
	return false
}

// TestRequireColdAgentServerDown: an agent that starts with nothing cached
// while the server is down is not ready, and says which parameter it
// misses.
func TestRequireColdAgentServerDown(t *testing.T) {
	srv := startServer(t)
	srv.put("/cold/db-url", "String", "postgres://db")
	env := srv.signingEnv()
	srv.Kill()
	ag := start(t, "agent", env, "agent", "--upstream", srv.URL(), "--listen", "127.0.0.1:0", "--token", agentToken,
		"--require", "/cold/db-url")
	r := getReady(t, ag.URL())
	if r.status != 503 || len(r.Missing) != 1 || r.Missing[0] != "/cold/db-url" {
		t.Fatalf("cold agent /readyz: got %d %+v, want 503 naming /cold/db-url", r.status, r)
	}
	waitFor(t, 30*time.Second, "a required-missing incident", func() (bool, string) {
		incs := getIncidents(t, ag.URL())
		return len(incs) == 1 && incs[0].Kind == "required-missing" && hasEvent(incs[0], "required parameter unavailable: /cold/db-url"), "none yet"
	})
	if r := getReady(t, ag.URL()); r.status != 503 {
		t.Fatalf("cold agent /readyz after the check: %d, want 503", r.status)
	}
}

// incidentReceiver is a real webhook receiver that verifies signatures.
type incidentReceiver struct {
	secret []byte
	srv    *httptest.Server
	got    chan webhook.Event

	mu   sync.Mutex
	bad  int
	body strings.Builder
}

func newIncidentReceiver(t *testing.T, secret string) *incidentReceiver {
	r := &incidentReceiver{secret: []byte(secret), got: make(chan webhook.Event, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if !webhook.Verify(r.secret, b, req.Header.Get("X-Paramstore-Signature")) {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if json.Unmarshal(b, &ev) != nil || ev.ID != req.Header.Get("X-Paramstore-Event-Id") {
			r.bad++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.body.Write(b)
		r.got <- ev
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *incidentReceiver) await(t *testing.T, n int) []webhook.Event {
	t.Helper()
	var out []webhook.Event
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case ev := <-r.got:
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("webhook: %d of %d events", len(out), n)
		}
	}
	return out
}

func (r *incidentReceiver) badSignatures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

func (r *incidentReceiver) bodies() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.String()
}
