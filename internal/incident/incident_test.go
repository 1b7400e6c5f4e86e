package incident

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }

func TestRecorderLifecycle(t *testing.T) {
	clk := &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "incidents.json")
	var changes []Incident
	r, err := New(Config{Source: SourceAgent, Store: FileStore{Path: path}, Now: clk.now, OnChange: func(i Incident) { changes = append(changes, i) }})
	if err != nil {
		t.Fatal(err)
	}
	if r.Note("nothing open") || r.End("nothing open") {
		t.Fatal("Note/End with no incident open reported true")
	}
	clk.add(time.Second)
	id, opened := r.Begin(KindUpstream, "first stale serve", Event{Time: clk.t.Add(-time.Second), Event: "cache restored from disk"})
	if !opened {
		t.Fatal("Begin did not open")
	}
	clk.add(time.Second)
	if id2, opened := r.Begin(KindRequiredMissing, "breaker open"); opened || id2 != id {
		t.Fatalf("second Begin: got %q opened=%v, want %q not opened", id2, opened, id)
	}
	r.Update(func(im *Impact) {
		im.Requests += 3
		im.ServedStale++
		im.Parameters = AddName(AddName(im.Parameters, "/a"), "/a")
	})
	clk.add(time.Second)
	r.End("recovered")
	if r.Update(func(*Impact) {}) {
		t.Fatal("Update after End reported true")
	}
	if len(changes) != 2 || !changes[0].Open() || changes[1].Open() {
		t.Fatalf("OnChange calls: got %d (%+v), want open then ended", len(changes), changes)
	}

	// A new recorder on the same file sees the same history.
	r2, err := New(Config{Source: SourceAgent, Store: FileStore{Path: path}, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := r2.Get(id)
	if !ok {
		t.Fatalf("incident %s not reloaded", id)
	}
	if got.Kind != KindUpstream || got.Ended == nil || got.Impact.Requests != 3 || len(got.Impact.Parameters) != 1 {
		t.Fatalf("reloaded incident: got %+v", got)
	}
	var events []string
	for i, e := range got.Timeline {
		events = append(events, e.Event)
		if i > 0 && e.Time.Before(got.Timeline[i-1].Time) {
			t.Errorf("timeline out of order at %d: %v", i, got.Timeline)
		}
	}
	if want := "cache restored from disk|first stale serve|breaker open|recovered"; strings.Join(events, "|") != want {
		t.Errorf("timeline: got %q, want %q", strings.Join(events, "|"), want)
	}
	var rep strings.Builder
	if err := Report(&rep, got, clk.t); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Incident " + id, "## Impact", "| served stale | 1 |", "## Timeline", "recovered", "## Root cause", "## Actions", "`/a`"} {
		if !strings.Contains(rep.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, rep.String())
		}
	}
}

func TestRecorderBounds(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	r, err := New(Config{Source: SourceServer, MaxIncidents: 3, MaxTimeline: 4, MaxNames: 2, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		clk.add(time.Second)
		r.Begin(KindDrill, "start")
		for range 10 {
			r.Note("more")
		}
		r.Update(func(im *Impact) {
			for _, n := range []string{"/a", "/b", "/c"} {
				im.Parameters = AddName(im.Parameters, n)
			}
		})
		if i < 4 {
			r.End("end")
		}
	}
	list := r.List()
	if len(list) != 3 {
		t.Fatalf("history: got %d incidents, want 3", len(list))
	}
	if !list[0].Open() || list[1].Open() {
		t.Errorf("newest first: got open=%v,%v, want true,false", list[0].Open(), list[1].Open())
	}
	for _, inc := range list {
		if len(inc.Timeline) > 4 || len(inc.Impact.Parameters) > 2 {
			t.Errorf("incident %s: %d timeline entries, %d names; want at most 4 and 2", inc.ID, len(inc.Timeline), len(inc.Impact.Parameters))
		}
	}
	if last := list[1].Timeline[len(list[1].Timeline)-1].Event; last != "end" || list[1].TimelineDropped == 0 {
		t.Errorf("bounded timeline: last %q dropped %d, want \"end\" and some dropped", last, list[1].TimelineDropped)
	}
}

func TestNewClosesStaleOpenIncidents(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	path := filepath.Join(t.TempDir(), "i.json")
	a, b := Incident{ID: "a", Source: SourceAgent, Started: clk.t}, Incident{ID: "b", Source: SourceAgent, Started: clk.t.Add(time.Minute)}
	if err := (FileStore{Path: path}).Save([]Incident{b, a}); err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Source: SourceAgent, Store: FileStore{Path: path}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.Get("a")
	if got.Ended == nil || !got.Ended.Equal(b.Started) {
		t.Errorf("older open incident: ended %v, want %v", got.Ended, b.Started)
	}
	if cur, ok := r.Current(); !ok || cur.ID != "b" {
		t.Errorf("current: got %v %v, want b open", cur.ID, ok)
	}
}

// TestDetail: an event's detail carries counts and the last timeline
// entries; the open event of an incident already ended describes it as it
// was before it ended.
func TestDetail(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(90 * time.Second)
	inc := Incident{ID: "server-x", Source: SourceServer, Kind: KindQuorum, Node: "n2", Started: start, Ended: &end,
		Impact: Impact{Requests: 7, Failed: 2, Throttled: 1, Parameters: []string{"/secret/name"}}}
	for i := range 8 {
		inc.Timeline = append(inc.Timeline, Event{Time: start.Add(time.Duration(i) * time.Second), Event: "step " + string(rune('a'+i))})
	}
	inc.Timeline[len(inc.Timeline)-1].Event = "leader n1 elected: quorum regained"
	open, closed := NewDetail(inc, StateOpen), NewDetail(inc, StateClosed)
	if open.Ended != nil || open.State != "open" || open.Summary != "quorum-lost incident opened: step a" ||
		len(open.Timeline) != DetailTimeline || open.Timeline[DetailTimeline-1].Event != "step g" {
		t.Errorf("open detail: %+v", open)
	}
	if closed.Ended == nil || !closed.Ended.Equal(end) || closed.Summary != "quorum-lost incident closed after 1m30s: leader n1 elected: quorum regained" ||
		closed.Impact != (DetailImpact{Requests: 7, Failed: 2, Throttled: 1}) || closed.Node != "n2" {
		t.Errorf("closed detail: %+v", closed)
	}
	raw, _ := MarshalDetail(inc, StateClosed)
	if strings.Contains(string(raw), "/secret/name") {
		t.Errorf("detail names a parameter: %s", raw)
	}
}
