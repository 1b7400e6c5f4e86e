package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/fault"
	"github.com/paramstore/paramstore/internal/incident"
)

// TestMonitorLifecycle drives a Monitor by hand (poll and check, no
// goroutine): a stale serve opens an incident, a breaker opening and
// closing go into its timeline, and an upstream answering with nothing
// stale closes it; /readyz and /incidents show it.
func TestMonitorLifecycle(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	src := newFakeSource()
	src.put("/app/db", "String", "v")
	src.health = []client.UpstreamHealth{{URL: "http://s1", State: "healthy", Breaker: "closed", ObservedAt: now}}
	rec, err := incident.New(incident.Config{Source: incident.SourceAgent, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	mon, err := NewMonitor(MonitorConfig{Source: src, Recorder: rec, Require: []string{"/app/db", "/app/missing"}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(t, src, func(c *Config) { c.Monitor = mon })

	// Before the first check every required name is missing.
	if got := mon.Missing(); strings.Join(got, ",") != "/app/db,/app/missing" {
		t.Fatalf("Missing before a check: %v", got)
	}
	mon.check(context.Background())
	if got := mon.Missing(); strings.Join(got, ",") != "/app/missing" {
		t.Fatalf("Missing after a check: %v", got)
	}
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "http://localhost/readyz", nil))
	if rr.Code != 503 || !strings.Contains(rr.Body.String(), `"missing":["/app/missing"]`) {
		t.Fatalf("/readyz: %d %s", rr.Code, rr.Body)
	}
	// The missing name opened an incident; it holds the name, never a value.
	cur, ok := rec.Current()
	if !ok || cur.Kind != incident.KindRequiredMissing {
		t.Fatalf("after a required parameter went missing: %+v %v", cur, ok)
	}
	src.put("/app/missing", "String", "here")
	now = now.Add(time.Second)
	mon.check(context.Background())
	src.health[0].ObservedAt = now.Add(time.Millisecond)
	mon.poll()
	if _, ok := rec.Current(); ok {
		t.Fatalf("incident still open once every required parameter is held")
	}

	// An outage: stale serves, the breaker opens, then recovery.
	now = now.Add(time.Minute)
	src.stale, src.fetchedAt = true, now.Add(-30*time.Second)
	src.health[0] = client.UpstreamHealth{URL: "http://s1", State: "open", Breaker: "open", LastError: "dial tcp: connection refused", ObservedAt: now, ServingStaleSince: now}
	for range 3 {
		rr := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://localhost/systemsmanager/parameters/get?name=/app/db", nil)
		req.Header.Set(HeaderToken, testToken)
		h.ServeHTTP(rr, req)
		if rr.Code != 200 {
			t.Fatalf("stale read: %d %s", rr.Code, rr.Body)
		}
	}
	mon.poll()
	now = now.Add(10 * time.Second)
	src.stale = false
	src.health[0] = client.UpstreamHealth{URL: "http://s1", State: "healthy", Breaker: "closed", ObservedAt: now}
	mon.poll()
	if _, ok := rec.Current(); ok {
		t.Fatal("incident still open after recovery")
	}
	list := rec.List()
	inc := list[0]
	if inc.Kind != incident.KindUpstream || inc.Impact.ServedStale != 3 || inc.Impact.MaxStalenessSeconds != 30 {
		t.Errorf("outage incident: %+v", inc)
	}
	var events []string
	for _, e := range inc.Timeline {
		events = append(events, strings.SplitN(e.Event, ":", 2)[0])
	}
	if got, want := strings.Join(events, "|"), "first stale serve|breaker open|breaker closed|recovered"; got != want {
		t.Errorf("timeline: got %s, want %s", got, want)
	}

	// GET /incidents needs the token.
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "http://localhost/incidents", nil))
	if rr.Code != http.StatusUnauthorized {
		t.Errorf("/incidents without a token: %d, want 401", rr.Code)
	}
	rr = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://localhost/incidents", nil)
	req.Header.Set(HeaderToken, testToken)
	h.ServeHTTP(rr, req)
	var body struct{ Incidents []incident.Incident }
	if rr.Code != 200 || json.Unmarshal(rr.Body.Bytes(), &body) != nil || len(body.Incidents) != 2 {
		t.Errorf("/incidents: %d %s", rr.Code, rr.Body)
	}
	if strings.Contains(rr.Body.String(), `"here"`) || strings.Contains(rr.Body.String(), `"v"`) {
		t.Errorf("/incidents holds a value: %s", rr.Body)
	}
}

// TestMonitorDrill: a fault opens a drill incident that does not close
// while the fault is active.
func TestMonitorDrill(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	src := newFakeSource()
	src.health = []client.UpstreamHealth{{URL: "http://s1", State: "healthy", Breaker: "closed"}}
	rec, _ := incident.New(incident.Config{Source: incident.SourceAgent, Now: clock})
	mon, err := NewMonitor(MonitorConfig{Source: src, Recorder: rec, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	in := fault.New(mon.FaultChanged, nil)
	mon.UseFaults(in)
	if _, err := in.Inject(fault.Spec{Kind: fault.KindBlackhole, Duration: "1h"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	src.health[0].ObservedAt = now
	mon.poll()
	if cur, ok := rec.Current(); !ok || cur.Kind != incident.KindDrill {
		t.Fatalf("during the fault: %+v %v, want a drill open", cur, ok)
	}
	in.Clear()
	now = now.Add(time.Second)
	src.health[0].ObservedAt = now
	mon.poll()
	if _, ok := rec.Current(); ok {
		t.Fatal("drill still open after the fault cleared and the upstream answered")
	}
}
