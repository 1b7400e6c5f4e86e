package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/paramstore/paramstore/internal/incident"
	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/store/raftstore"
)

// leaderLossGrace is how long a node must see no leader before it opens
// an incident: an election takes a moment.
const leaderLossGrace = 3 * time.Second

// incidentMonitor records this node's view of the cluster's incidents
// (loss of leader or quorum, leadership changes, a failing audit trail,
// injected faults). The node keeps them in <data-dir>/incidents.json at
// once, and proposes each into the replicated state as soon as the
// cluster can write (a quorum loss is written once quorum is back), so
// any node lists the cluster's history.
type incidentMonitor struct {
	node         *raftstore.Node
	rec          *incident.Recorder
	log          *slog.Logger
	auditFailing func() error // nil without an audit trail

	mu sync.Mutex
	// extra are other recorders whose incidents this node publishes and
	// lists: the mirrors' (one each, attached while this node leads).
	extra       []*incident.Recorder
	lostSince   time.Time // when this node last saw a leader go, or zero
	lastLeader  string
	auditFailed bool
	unpublished []string // incident IDs changed since their last proposal
}

func newIncidentMonitor(node *raftstore.Node, dataDir string, auditFailing func() error, log *slog.Logger) (*incidentMonitor, error) {
	m := &incidentMonitor{node: node, log: log, auditFailing: auditFailing}
	var st incident.Store
	if dataDir != "" {
		st = incident.FileStore{Path: filepath.Join(dataDir, "incidents.json")}
	}
	rec, err := incident.New(incident.Config{Source: incident.SourceServer, Store: st, Logger: log,
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

// faultChanged is the fault injector's onChange: a fault is a drill.
func (m *incidentMonitor) faultChanged(ev string, active bool) {
	if active {
		m.rec.Begin(incident.KindDrill, ev+" (node "+m.node.Status().NodeID+")")
		return
	}
	if cur, ok := m.rec.Current(); ok && cur.Kind == incident.KindDrill {
		m.rec.End(ev)
	} else {
		m.rec.Note(ev)
	}
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
		m.rec.BeginAt(began, incident.KindQuorum, begin)
		m.rec.Note(noticed)
		m.log.Warn("incident opened", "kind", incident.KindQuorum)
	}
	if end != "" {
		m.rec.End(end)
		m.log.Info("incident ended", "kind", incident.KindQuorum)
	}
	if note != "" {
		m.rec.Note(note)
	}
	if auditBegan {
		m.rec.Begin(incident.KindAudit, "audit trail failing: writes refused")
	}
	if auditEnded {
		if cur, ok := m.rec.Current(); ok && cur.Kind == incident.KindAudit {
			m.rec.End("audit trail writing again")
		} else {
			m.rec.Note("audit trail writing again")
		}
	}
	if st.CanWrite {
		m.publish(ctx)
	}
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
		raw, err := json.Marshal(inc)
		if err != nil {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = m.node.Apply(actx, &store.Command{Op: store.OpIncident, ID: store.NewCommandID(time.Now()), Name: id, Incident: raw})
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
