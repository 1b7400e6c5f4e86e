package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paramstore/paramstore/internal/incident"
	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/store/raftstore"
)

// leaderLossGrace is how long a node must see no leader before it opens
// an incident: an election takes a moment. A peer must fail heartbeats as
// long before it is reported unreachable.
const leaderLossGrace = 3 * time.Second

// Throttling storms: an incident opens when the throttle refused at least
// stormThreshold calls over the last stormWindow, and closes once fewer
// than half as many were refused over a window.
const (
	stormWindow    = 10 * time.Second
	stormThreshold = 20
)

// incidentMonitor records this node's view of the cluster's incidents
// (loss of leader or quorum, leadership changes, unreachable peers,
// storage errors, throttling storms, a failing audit trail, injected
// faults), with their impact counted by the API edge (calls). The node
// keeps them in <data-dir>/incidents.json at once, and proposes each into
// the replicated state as soon as the cluster can write (a quorum loss is
// written once quorum is back), so any node lists the cluster's history;
// the same proposal puts the incident's events in the outbox (opened,
// closed) for the webhook subscriptions.
type incidentMonitor struct {
	node         *raftstore.Node
	rec          *incident.Recorder
	log          *slog.Logger
	auditFailing func() error // nil without an audit trail
	tenancy      string       // account:region of the incident events
	calls        *callCounts

	mu sync.Mutex
	// extra are other recorders whose incidents this node publishes and
	// lists: the mirrors' (one each, attached while this node leads).
	extra       []*incident.Recorder
	lostSince   time.Time // when this node last saw a leader go, or zero
	lastLeader  string
	auditFailed bool
	unpublished []string // incident IDs changed since their last proposal
	// peerSince is when each unreachable peer was first seen failing;
	// peersOpen names those an incident reported.
	peerSince map[string]time.Time
	peersOpen map[string]bool
	// storageOpen is the storage errors an incident reported, by place.
	storageOpen map[string]string
	storm       bool
	// history holds the counts of the last polls, oldest first: the
	// baseline of an incident's impact and the storm window.
	history []countsAt
	// openedWith is the counts when the open incident (baseID) opened:
	// the baseline of an incident that starts when it is noticed.
	baseID     string
	openedWith callTotals
}

type countsAt struct {
	t time.Time
	c callTotals
}

func newIncidentMonitor(node *raftstore.Node, dataDir, tenancy string, auditFailing func() error, log *slog.Logger) (*incidentMonitor, error) {
	m := &incidentMonitor{node: node, log: log, auditFailing: auditFailing, tenancy: tenancy, calls: &callCounts{},
		peerSince: map[string]time.Time{}, peersOpen: map[string]bool{}, storageOpen: map[string]string{},
		// Nothing was counted before the monitor started.
		history: []countsAt{{t: time.Now()}}}
	var st incident.Store
	if dataDir != "" {
		st = incident.FileStore{Path: filepath.Join(dataDir, "incidents.json")}
	}
	rec, err := incident.New(incident.Config{Source: incident.SourceServer, Node: node.Status().NodeID, Store: st, Logger: log,
		OnChange: func(inc incident.Incident) { m.changed(inc.ID) }})
	if err != nil {
		return nil, err
	}
	m.rec = rec
	return m, nil
}

func (m *incidentMonitor) changed(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.unpublished, id) {
		m.unpublished = append(m.unpublished, id)
	}
}

// attach makes m publish and list rec's incidents too; detach undoes it.
func (m *incidentMonitor) attach(rec *incident.Recorder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.extra = append(m.extra, rec)
}

func (m *incidentMonitor) detach(rec *incident.Recorder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.extra = slices.DeleteFunc(m.extra, func(r *incident.Recorder) bool { return r == rec })
}

// recorders returns this node's recorder and the attached ones.
func (m *incidentMonitor) recorders() []*incident.Recorder {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*incident.Recorder{m.rec}, m.extra...)
}

// get finds incident id in any recorder.
func (m *incidentMonitor) get(id string) (incident.Incident, bool) {
	for _, rec := range m.recorders() {
		if inc, ok := rec.Get(id); ok {
			return inc, true
		}
	}
	return incident.Incident{}, false
}

// end closes the open incident if it is of kind (its impact counted up to
// now), or notes event in the one open.
func (m *incidentMonitor) end(kind, event string) {
	m.updateImpact()
	if cur, ok := m.rec.Current(); ok && cur.Kind == kind {
		m.rec.End(event)
		m.log.Info("incident ended", "kind", kind, "id", cur.ID)
		return
	}
	m.rec.Note(event)
}

// begin opens an incident of kind (or notes event in the one open).
func (m *incidentMonitor) begin(start time.Time, kind, event string) {
	c := m.calls.load()
	id, opened := m.rec.BeginAt(start, kind, event)
	if opened && start.IsZero() {
		m.mu.Lock()
		m.baseID, m.openedWith = id, c
		m.mu.Unlock()
	}
	if opened {
		m.log.Warn("incident opened", "kind", kind, "id", id, "event", event)
	}
}

// faultChanged is the fault injector's onChange: a fault is a drill.
func (m *incidentMonitor) faultChanged(ev string, active bool) {
	if active {
		m.begin(time.Time{}, incident.KindDrill, ev+" (node "+m.node.Status().NodeID+")")
		return
	}
	m.end(incident.KindDrill, ev)
}

func (m *incidentMonitor) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.poll(ctx)
		}
	}
}

func (m *incidentMonitor) poll(ctx context.Context) {
	st := m.node.Status()
	now := time.Now()
	m.sample(now)
	m.mu.Lock()
	leader := st.LeaderID
	var begin, end, note, noticed string
	var began time.Time
	switch {
	case leader == "" && m.lostSince.IsZero():
		m.lostSince = now
	case leader == "" && now.Sub(m.lostSince) >= leaderLossGrace:
		if cur, ok := m.rec.Current(); !ok || cur.Kind != incident.KindQuorum {
			what := "no leader elected"
			if m.lastLeader != "" {
				what = "leader " + m.lastLeader + " lost"
			}
			begin, began = fmt.Sprintf("%s (seen by node %s)", what, st.NodeID), m.lostSince
			noticed = fmt.Sprintf("node %s still sees no leader after %s (%s): quorum lost, writes fail", st.NodeID, leaderLossGrace, st.State)
		}
	case leader != "":
		if cur, ok := m.rec.Current(); ok && cur.Kind == incident.KindQuorum {
			end = fmt.Sprintf("leader %s elected: quorum regained, writes accepted", leader)
		} else if m.lastLeader != "" && leader != m.lastLeader {
			note = fmt.Sprintf("leadership moved from %s to %s", m.lastLeader, leader)
		}
		m.lostSince = time.Time{}
		m.lastLeader = leader
	}
	failing := m.auditFailing != nil && m.auditFailing() != nil
	auditBegan, auditEnded := failing && !m.auditFailed, !failing && m.auditFailed
	m.auditFailed = failing
	m.mu.Unlock()

	if begin != "" {
		m.begin(began, incident.KindQuorum, begin)
		m.rec.Note(noticed)
	}
	if end != "" {
		m.end(incident.KindQuorum, end)
	}
	if note != "" {
		m.rec.Note(note)
	}
	if auditBegan {
		m.begin(time.Time{}, incident.KindAudit, "audit trail failing: writes refused")
	}
	if auditEnded {
		m.end(incident.KindAudit, "audit trail writing again")
	}
	m.pollPeers(now, st)
	m.pollStorage()
	m.pollStorm(now)
	m.updateImpact()
	m.rec.Flush()
	if st.CanWrite {
		m.publish(ctx)
	}
}

// pollPeers opens a node-unreachable incident when, on the leader, a peer
// has failed heartbeats for leaderLossGrace, and closes it when every peer
// it named answers again.
func (m *incidentMonitor) pollPeers(now time.Time, st raftstore.Status) {
	failing := m.node.UnreachablePeers()
	for id, last := range failing {
		if _, ok := m.peerSince[id]; !ok {
			m.peerSince[id] = now
		}
		if m.peersOpen[id] || now.Sub(m.peerSince[id]) < leaderLossGrace {
			continue
		}
		m.peersOpen[id] = true
		since := "never heard from"
		start := m.peerSince[id]
		if !last.IsZero() {
			since = "last heard from at " + last.UTC().Format("15:04:05.000")
			start = last
		}
		m.begin(start, incident.KindNodeDown, fmt.Sprintf("node %s unreachable: its heartbeats fail (%s; seen by leader %s)", id, since, st.NodeID))
	}
	for _, id := range slices.Sorted(maps.Keys(m.peerSince)) {
		if _, still := failing[id]; still {
			continue
		}
		delete(m.peerSince, id)
		if !m.peersOpen[id] {
			continue
		}
		delete(m.peersOpen, id)
		what := fmt.Sprintf("node %s answers heartbeats again", id)
		if st.State != "Leader" {
			what = fmt.Sprintf("node %s is no longer the leader, so no longer watches node %s (the new leader does)", st.NodeID, id)
		}
		if len(m.peersOpen) == 0 {
			m.end(incident.KindNodeDown, what)
		} else {
			m.rec.Note(what)
		}
	}
}

// pollStorage opens a storage incident when a write of the raft log or of
// the state machine fails, with the error's class, and closes it once
// every place it named writes again.
func (m *incidentMonitor) pollStorage() {
	h := m.node.Storage()
	now := map[string]bool{}
	for _, e := range h.Failing {
		now[e.Where] = true
		if m.storageOpen[e.Where] == e.Class {
			continue
		}
		m.storageOpen[e.Where] = e.Class
		ev := fmt.Sprintf("storage error: %s write failed: %s (%v)", e.Where, e.Class, e.Err)
		m.log.Error("storage error", "where", e.Where, "class", e.Class, "error", e.Err)
		m.begin(e.Time, incident.KindStorage, ev)
	}
	for _, where := range slices.Sorted(maps.Keys(m.storageOpen)) {
		if now[where] {
			continue
		}
		delete(m.storageOpen, where)
		what := where + " writes succeed again"
		if len(m.storageOpen) == 0 {
			m.end(incident.KindStorage, what)
		} else {
			m.rec.Note(what)
		}
	}
}

// pollStorm opens a throttling incident when the throttle refused
// stormThreshold calls or more over the last stormWindow. The incident
// starts at the last poll before the refusals began, so its impact counts
// the storm from its start.
func (m *incidentMonitor) pollStorm(now time.Time) {
	base, began := m.countsAt(now.Add(-stormWindow)), now
	cur := m.calls.load()
	throttled, requests := cur.throttled-base.throttled, cur.requests-base.requests
	switch {
	case !m.storm && throttled >= stormThreshold:
		m.storm = true
		m.mu.Lock()
		for _, h := range m.history {
			if h.c.throttled > base.throttled {
				break
			}
			if !h.t.Before(now.Add(-stormWindow)) {
				began = h.t
			}
		}
		m.mu.Unlock()
		m.begin(began, incident.KindThrottling, fmt.Sprintf("throttling storm: %d of %d calls refused with ThrottlingException in the last %s",
			throttled, requests, stormWindow))
	case m.storm && throttled < stormThreshold/2:
		m.storm = false
		m.end(incident.KindThrottling, fmt.Sprintf("throttling subsided: %d calls refused in the last %s", throttled, stormWindow))
	}
}

// sample records the call counts of this poll.
func (m *incidentMonitor) sample(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.history = append(m.history, countsAt{now, m.calls.load()})
	// Keep a window's worth and a little more; an incident older than the
	// history counts from the oldest sample it holds (its baseline is
	// kept in the incident's impact by then).
	if len(m.history) > 600 {
		m.history = slices.Delete(m.history, 0, len(m.history)-600)
	}
}

// countsAt returns the counts of the last sample at or before t (the
// oldest sample when none is that old, zero when there is none).
func (m *incidentMonitor) countsAt(t time.Time) callTotals {
	m.mu.Lock()
	defer m.mu.Unlock()
	var c callTotals
	for i, h := range m.history {
		if i > 0 && h.t.After(t) {
			break
		}
		c = h.c
	}
	return c
}

// updateImpact sets the open incident's impact to the calls this node
// answered since it started.
func (m *incidentMonitor) updateImpact() {
	cur, ok := m.rec.Current()
	if !ok {
		return
	}
	base := m.countsAt(cur.Started)
	m.mu.Lock()
	if m.baseID == cur.ID {
		base = m.openedWith
	}
	m.mu.Unlock()
	c := m.calls.load()
	m.rec.Update(func(im *incident.Impact) {
		im.Requests = c.requests - base.requests
		im.Failed = c.failed - base.failed
		im.Throttled = c.throttled - base.throttled
	})
}

// publish proposes the incidents changed since their last proposal.
func (m *incidentMonitor) publish(ctx context.Context) {
	m.mu.Lock()
	ids := slices.Clone(m.unpublished)
	m.mu.Unlock()
	for _, id := range ids {
		inc, ok := m.get(id)
		if !ok {
			continue
		}
		cmd, err := m.command(inc)
		if err != nil {
			m.log.Error("incident not replicated: encode", "id", id, "error", err)
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = m.node.Apply(actx, cmd)
		cancel()
		if err != nil {
			m.log.Debug("incident not replicated yet", "id", id, "error", err)
			return
		}
		m.mu.Lock()
		m.unpublished = slices.DeleteFunc(m.unpublished, func(s string) bool { return s == id })
		m.mu.Unlock()
	}
}

// command is the proposal of inc: the record and the details of its
// events (the apply emits each on its transition only).
func (m *incidentMonitor) command(inc incident.Incident) (*store.Command, error) {
	now := time.Now()
	cmd := &store.Command{Op: store.OpIncident, ID: store.NewCommandID(now), Name: inc.ID, Tenancy: m.tenancy, Time: now.UnixMilli()}
	var err error
	if cmd.Incident, err = json.Marshal(inc); err != nil {
		return nil, err
	}
	if cmd.IncidentOpened, err = incident.MarshalDetail(inc, incident.StateOpen); err != nil {
		return nil, err
	}
	if inc.Ended != nil {
		if cmd.IncidentClosed, err = incident.MarshalDetail(inc, incident.StateClosed); err != nil {
			return nil, err
		}
	}
	return cmd, nil
}

// callCounts counts the SSM API calls this node answered, at the edge
// (injected faults included): the impact of its incidents.
type callCounts struct {
	requests, failed, throttled atomic.Int64
}

type callTotals struct{ requests, failed, throttled int64 }

func (c *callCounts) load() callTotals {
	return callTotals{c.requests.Load(), c.failed.Load(), c.throttled.Load()}
}

// wrap counts the SSM calls (X-Amz-Target AmazonSSM.*) next answers:
// failed are server errors and dropped calls, throttled those answered
// ThrottlingException.
func (c *callCounts) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.") {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			c.requests.Add(1)
			switch {
			case sw.status == 0 || sw.status >= 500:
				c.failed.Add(1)
			case sw.status == http.StatusBadRequest && w.Header().Get("X-Amzn-ErrorType") == "ThrottlingException":
				c.throttled.Add(1)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// list returns the cluster's incidents (replicated) merged with this
// node's own (which may not be replicated yet), newest first.
func (m *incidentMonitor) list(ctx context.Context) ([]incident.Incident, error) {
	byID := map[string]incident.Incident{}
	err := m.node.DB().View(ctx, func(r *store.Reader) error {
		raws, err := r.Incidents()
		for _, raw := range raws {
			var inc incident.Incident
			if json.Unmarshal(raw, &inc) == nil {
				byID[inc.ID] = inc
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, rec := range m.recorders() {
		for _, inc := range rec.List() {
			if old, ok := byID[inc.ID]; !ok || len(inc.Timeline) >= len(old.Timeline) {
				byID[inc.ID] = inc
			}
		}
	}
	out := make([]incident.Incident, 0, len(byID))
	for _, inc := range byID {
		out = append(out, inc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}
