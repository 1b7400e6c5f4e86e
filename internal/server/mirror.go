package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/internal/api"
	"github.com/paramstore/paramstore/internal/incident"
	"github.com/paramstore/paramstore/internal/mirror"
	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/store/raftstore"
)

// mirrorManager runs the mirrors of --mirror-config on the raft leader
// only: it starts them when this node gains leadership and stops them when
// it loses it, so exactly one node of a cluster mirrors. Their writes go
// through the API handler in-process (api.Internal, identity
// mirror/NAME): the replicated write path, audited like any call. Each
// mirror has an incident recorder while this node leads: a stale mirror
// or a persistent drift opens an incident, recovery closes it, and a new
// leader picks up the incident its predecessor left open from the
// replicated state.
type mirrorManager struct {
	runners []*mirror.Runner
	leader  func() bool
	node    *raftstore.Node
	mon     *incidentMonitor
	log     *slog.Logger

	// Owned by run's goroutine.
	cancel context.CancelFunc
	wg     sync.WaitGroup
	recs   []*incident.Recorder // by runner, while leading
	conds  []string             // the kind of condition each open incident last noted
	errs   []string             // the sync error each open incident last noted
}

// mirrorTag marks a mirror's incidents (in Impact.Upstreams), so that a
// new leader finds the one left open.
func mirrorTag(name string) string { return "mirror/" + name }

// openMirrors builds the runners of Config.Mirrors (failing the start on a
// source whose credentials cannot be loaded) and starts the leadership
// loop.
func (s *Server) openMirrors(ctx context.Context) error {
	if len(s.cfg.Mirrors) == 0 {
		return nil
	}
	mm := &mirrorManager{leader: s.node.Ready, node: s.node, mon: s.incidents, log: s.log}
	for _, spec := range s.cfg.Mirrors {
		if spec.Region == "" {
			spec.Region = s.cfg.DefaultRegion
		}
		if !s.authn.AcceptsRegion(spec.Region) {
			return fmt.Errorf("server: --mirror-config: mirror %q: region %q is not accepted by this server (--region-allow)", spec.Name, spec.Region)
		}
		src, err := mirror.SourceClient(ctx, spec.Source)
		if err != nil {
			return fmt.Errorf("server: --mirror-config: mirror %q: %w", spec.Name, err)
		}
		target := ssm.New(ssm.Options{
			Region:       spec.Region,
			BaseEndpoint: aws.String("http://paramstore.internal"),
			Credentials:  aws.AnonymousCredentials{},
			AppID:        "paramstore-mirror",
			HTTPClient:   &http.Client{Transport: s.handler.Transport(api.Internal{Name: mirrorTag(spec.Name), Region: spec.Region})},
		})
		mm.runners = append(mm.runners, mirror.NewRunner(spec, src, target, s.log, s.cfg.Now))
	}
	s.mirrors = mm
	s.reg.MustRegister(mirrorCollector{mm})
	lctx, stop := context.WithCancel(context.Background())
	s.spawn(func() error { stop(); return nil }, func() { mm.run(lctx) })
	s.log.Info("mirrors configured; the raft leader runs them", "count", len(mm.runners))
	return nil
}

func (mm *mirrorManager) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	defer mm.stop()
	for {
		mm.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (mm *mirrorManager) tick(ctx context.Context) {
	switch leader := mm.leader(); {
	case leader && mm.cancel == nil:
		mm.start(ctx)
	case !leader && mm.cancel != nil:
		mm.log.Info("leadership lost: stopping the mirrors")
		mm.stop()
	}
	if mm.cancel != nil {
		for i := range mm.runners {
			mm.check(i)
		}
	}
}

func (mm *mirrorManager) start(ctx context.Context) {
	mm.log.Info("leadership gained: starting the mirrors", "count", len(mm.runners))
	rctx, cancel := context.WithCancel(ctx)
	mm.cancel = cancel
	mm.recs = make([]*incident.Recorder, len(mm.runners))
	mm.conds = make([]string, len(mm.runners))
	mm.errs = make([]string, len(mm.runners))
	for i, r := range mm.runners {
		rec, err := incident.New(incident.Config{Source: incident.SourceServer, Logger: mm.log,
			Store:    replicatedMirrorIncidents{node: mm.node, tag: mirrorTag(r.Spec().Name)},
			OnChange: func(inc incident.Incident) { mm.mon.changed(inc.ID) }})
		if err != nil {
			mm.log.Error("mirror incidents not recorded", "mirror", r.Spec().Name, "error", err)
		} else {
			mm.recs[i] = rec
			mm.mon.attach(rec)
		}
		mm.wg.Add(1)
		go func() {
			defer mm.wg.Done()
			r.Run(rctx)
		}()
	}
}

func (mm *mirrorManager) stop() {
	if mm.cancel == nil {
		return
	}
	mm.cancel()
	mm.wg.Wait()
	mm.cancel = nil
	for _, rec := range mm.recs {
		if rec != nil {
			mm.mon.detach(rec)
		}
	}
	mm.recs = nil
}

// check opens, notes or closes runner i's incident.
func (mm *mirrorManager) check(i int) {
	rec := mm.recs[i]
	if rec == nil {
		return
	}
	r := mm.runners[i]
	spec, st := r.Spec(), r.Status()
	drift := st.DriftSyncs >= spec.DriftSyncs
	cond, kind := "", ""
	switch {
	case st.Stale:
		kind = incident.KindMirrorStale
		last := "never since this node began leading"
		if st.LastSuccess != nil {
			last = "last at " + st.LastSuccess.UTC().Format(time.RFC3339)
		}
		why := st.LastError
		if why == "" {
			why = "none yet (a sync is still retrying)"
		}
		cond = fmt.Sprintf("mirror %s stale: no successful sync from %s for %d intervals of %s (%s); last error: %s",
			spec.Name, st.Source, spec.StaleAfter, spec.Interval, last, why)
	case drift:
		kind = incident.KindMirrorDrift
		cond = fmt.Sprintf("mirror %s: drift found at %d consecutive syncs (last: %d parameters differed from %s)",
			spec.Name, st.DriftSyncs, st.Drift, st.Source)
	}
	cur, open := rec.Current()
	switch {
	case cond != "" && !open:
		rec.Begin(kind, cond)
		rec.Update(func(im *incident.Impact) {
			im.Upstreams = incident.AddName(incident.AddName(im.Upstreams, mirrorTag(spec.Name)), st.Source)
		})
		mm.conds[i] = kind
		mm.log.Warn("incident opened", "kind", kind, "mirror", spec.Name)
	case cond != "" && kind != mm.conds[i]:
		rec.Note(cond)
		mm.conds[i] = kind
	case open && st.LastError != "" && st.LastError != mm.errs[i]:
		rec.Note("mirror " + spec.Name + " sync failed: " + st.LastError)
		mm.errs[i] = st.LastError
	case cond == "" && open && st.LastSuccess != nil && st.LastSuccess.After(cur.Started):
		rec.End(fmt.Sprintf("mirror %s synced at %s: %d parameters from %s, drift %d",
			spec.Name, st.LastSuccess.UTC().Format(time.RFC3339), st.Parameters, st.Source, st.Drift))
		mm.conds[i], mm.errs[i] = "", ""
		mm.log.Info("incident ended", "kind", cur.Kind, "mirror", spec.Name)
	}
}

// statuses is what /readyz shows under "mirrors".
func (mm *mirrorManager) statuses() []mirror.Status {
	out := make([]mirror.Status, 0, len(mm.runners))
	for _, r := range mm.runners {
		out = append(out, r.Status())
	}
	return out
}

// replicatedMirrorIncidents is the incident.Store of a mirror's recorder:
// it loads the mirror's incidents from the replicated state (so a new
// leader ends the one its predecessor opened) and saves nothing, the
// incident monitor proposing each change.
type replicatedMirrorIncidents struct {
	node *raftstore.Node
	tag  string
}

func (s replicatedMirrorIncidents) Load() ([]incident.Incident, error) {
	var out []incident.Incident
	err := s.node.DB().View(context.Background(), func(r *store.Reader) error {
		raws, err := r.Incidents()
		for _, raw := range raws {
			var inc incident.Incident
			if json.Unmarshal(raw, &inc) == nil && slices.Contains(inc.Impact.Upstreams, s.tag) {
				out = append(out, inc)
			}
		}
		return err
	})
	return out, err
}

func (replicatedMirrorIncidents) Save([]incident.Incident) error { return nil }

// mirrorCollector exports the mirrors' status, labelled by the configured
// mirror name (bounded by mirror.MaxMirrors).
type mirrorCollector struct{ mm *mirrorManager }

var (
	mirrorLabels  = []string{"mirror"}
	descRunning   = prometheus.NewDesc("paramstore_mirror_running", "1 when this node runs the mirror (it is the raft leader).", mirrorLabels, nil)
	descLastSync  = prometheus.NewDesc("paramstore_mirror_last_success_timestamp_seconds", "Unix time of the mirror's last successful sync on this node (0: none).", mirrorLabels, nil)
	descStale     = prometheus.NewDesc("paramstore_mirror_stale", "1 when the running mirror had no successful sync for stale_after intervals.", mirrorLabels, nil)
	descDrift     = prometheus.NewDesc("paramstore_mirror_drift_parameters", "Parameters the last successful sync found different from the source (and corrected).", mirrorLabels, nil)
	descSource    = prometheus.NewDesc("paramstore_mirror_source_parameters", "Parameters at the source at the last successful sync.", mirrorLabels, nil)
	descSyncs     = prometheus.NewDesc("paramstore_mirror_syncs_total", "Syncs attempted by this node.", mirrorLabels, nil)
	descErrors    = prometheus.NewDesc("paramstore_mirror_errors_total", "Syncs that failed on this node.", mirrorLabels, nil)
	descCalls     = prometheus.NewDesc("paramstore_mirror_source_calls_total", "Calls made to the mirror's source by this node.", mirrorLabels, nil)
	mirrorDescers = []*prometheus.Desc{descRunning, descLastSync, descStale, descDrift, descSource, descSyncs, descErrors, descCalls}
)

func (c mirrorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range mirrorDescers {
		ch <- d
	}
}

func (c mirrorCollector) Collect(ch chan<- prometheus.Metric) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, st := range c.mm.statuses() {
		last := 0.0
		if st.LastSuccess != nil {
			last = float64(st.LastSuccess.UnixNano()) / 1e9
		}
		for _, m := range []struct {
			d *prometheus.Desc
			t prometheus.ValueType
			v float64
		}{
			{descRunning, prometheus.GaugeValue, b(st.Running)},
			{descLastSync, prometheus.GaugeValue, last},
			{descStale, prometheus.GaugeValue, b(st.Stale)},
			{descDrift, prometheus.GaugeValue, float64(st.Drift)},
			{descSource, prometheus.GaugeValue, float64(st.Parameters)},
			{descSyncs, prometheus.CounterValue, float64(st.Syncs)},
			{descErrors, prometheus.CounterValue, float64(st.Errors)},
			{descCalls, prometheus.CounterValue, float64(st.SourceCalls)},
		} {
			ch <- prometheus.MustNewConstMetric(m.d, m.t, m.v, st.Name)
		}
	}
}
