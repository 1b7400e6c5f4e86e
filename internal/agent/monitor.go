package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/bundle"
	"github.com/paramstore/paramstore/internal/fault"
	"github.com/paramstore/paramstore/internal/incident"
)

// MonitorConfig configures a Monitor.
type MonitorConfig struct {
	// Source is what the agent reads through. Required.
	Source Source
	// Bundles are the cold-start bundles Source serves from (WithBundles),
	// so that the reads they answer are counted as such, and /healthz
	// names the file a required parameter is served from; nil: none.
	Bundles *bundle.Set
	// Recorder records the agent's incidents. Required.
	Recorder *incident.Recorder
	// Require and RequirePaths are the parameters (names, and paths that
	// must hold at least one parameter) the application cannot start
	// without: the agent is not ready until each is held.
	Require, RequirePaths []string
	// PollInterval is how often upstream health is looked at (default 1s).
	PollInterval time.Duration
	// CheckInterval is how often the required parameters are read again
	// (default 10s).
	CheckInterval time.Duration
	// Registerer receives the monitor's metrics; nil means none.
	Registerer prometheus.Registerer
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Monitor turns what the agent sees (reads served stale or failing,
// breakers, failover, required parameters) into incidents, and answers
// readiness. Wrap the Source the Handler serves from with Wrap so reads
// are counted; Run polls health and re-checks required parameters.
//
// Lock order: Monitor.mu, then the Recorder's.
type Monitor struct {
	cfg MonitorConfig
	log *slog.Logger
	m   *monitorMetrics

	mu         sync.Mutex
	lastBad    time.Time            // last stale serve, failed read or breaker opening
	sawStale   bool                 // the open incident noted its first stale serve
	sawFailed  bool                 // ... its first failed read
	breakers   map[string]string    // upstream URL -> last breaker state seen
	failedOver string               // upstream serving instead of the first, or ""
	pending    []incident.Event     // happened before any incident and before an upstream answered
	diskLoaded int                  // entries the cache restored from disk at start
	required   map[string]reqStatus // name or path -> last check
	checked    bool                 // every required parameter was checked once
	drill      func() (active bool, what string)
}

// reqStatus is the last check of one required name or path.
type reqStatus struct {
	held      bool
	source    string // "upstream", "cache", "stale" or "none"
	fetchedAt time.Time
	reason    string
	// from is where the value is served from (see RequiredStatus), and
	// origin the upstream URL or bundle file behind it.
	from, origin string
	checkedAt    time.Time
}

// RequiredStatus is the last check of one required name or path, for
// /healthz.
type RequiredStatus struct {
	Name string `json:"name"`
	Held bool   `json:"held"`
	// ServedFrom is "upstream" (an upstream answered the check),
	// "memory-cache" (a value fetched earlier, within its TTL, or past it
	// while no upstream answers: Stale), "disk-cache" (restored from the
	// persistent cache at start, not yet confirmed), "bundle" (a
	// cold-start bundle), or "none".
	ServedFrom string `json:"served_from"`
	// Upstream is the upstream that answered when the value was fetched;
	// Bundle the bundle file it is served from.
	Upstream string `json:"upstream,omitempty"`
	Bundle   string `json:"bundle,omitempty"`
	Stale    bool   `json:"stale"`
	// AgeSeconds is the time since the value was fetched (for a bundle:
	// since the bundle was made); for a path, of its oldest parameter.
	AgeSeconds *float64  `json:"age_seconds,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	CheckedAt  time.Time `json:"checked_at"`
}

// Required returns the last check of each required name and path, in the
// order configured (none before the first check).
func (m *Monitor) Required() []RequiredStatus {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []RequiredStatus
	for _, n := range slices.Concat(m.cfg.Require, m.cfg.RequirePaths) {
		st, ok := m.required[n]
		if !ok {
			continue
		}
		rs := RequiredStatus{Name: n, Held: st.held, ServedFrom: st.from, Stale: st.source == "stale", Reason: st.reason, CheckedAt: st.checkedAt.UTC()}
		if st.from == "bundle" {
			rs.Bundle = st.origin
		} else {
			rs.Upstream = st.origin
		}
		if st.held && !st.fetchedAt.IsZero() {
			age := max(0, now.Sub(st.fetchedAt)).Seconds()
			rs.AgeSeconds = &age
		}
		out = append(out, rs)
	}
	return out
}

// servedFrom names where r came from: the RequiredStatus.ServedFrom and
// the upstream or bundle file behind it.
func (m *Monitor) servedFrom(r client.Result) (from, origin string) {
	switch {
	case fromBundle(m.cfg.Bundles, r):
		if b := m.cfg.Bundles.Origin(r.Name); b != nil {
			origin = b.File
		}
		return "bundle", origin
	case r.FromDisk:
		return "disk-cache", ""
	case r.FromCache:
		return "memory-cache", r.Upstream
	}
	return "upstream", r.Upstream
}

// NewMonitor returns a Monitor; Run starts it.
func NewMonitor(cfg MonitorConfig) (*Monitor, error) {
	if cfg.Source == nil || cfg.Recorder == nil {
		return nil, errors.New("agent: MonitorConfig.Source and Recorder are required")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mm, err := newMonitorMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	m := &Monitor{cfg: cfg, log: log, m: mm, breakers: map[string]string{}, required: map[string]reqStatus{}}
	if n := cfg.Source.CacheStatus().Loaded; n > 0 {
		m.diskLoaded = n
		m.pending = append(m.pending, incident.Event{Time: cfg.Now(), Event: fmt.Sprintf("agent started; cache restored from disk: %d entries", n)})
	}
	if _, open := cfg.Recorder.Current(); open {
		mm.open.Set(1)
		// An agent restarted during the outage goes on with the incident
		// it left open: the restore from disk is part of it.
		if n := m.diskLoaded; n > 0 {
			cfg.Recorder.Note(m.pending[len(m.pending)-1].Event)
			cfg.Recorder.Update(func(im *incident.Impact) { im.FromDisk += int64(n) })
			m.pending = nil
		}
	}
	return m, nil
}

// Recorder returns the monitor's recorder.
func (m *Monitor) Recorder() *incident.Recorder { return m.cfg.Recorder }

// setDrill installs what reports an injected fault: while one is active
// no incident closes.
func (m *Monitor) setDrill(f func() (bool, string)) {
	m.mu.Lock()
	m.drill = f
	m.mu.Unlock()
}

// Wrap returns s with every read counted against the open incident, and
// stale serves and failed reads opening one.
func (m *Monitor) Wrap(s Source) Source { return monitored{Source: s, m: m} }

type monitored struct {
	Source
	m *Monitor
}

func (s monitored) Get(ctx context.Context, name string, withDecryption bool) (client.Result, error) {
	r, err := s.Source.Get(ctx, name, withDecryption)
	if err != nil {
		s.m.observe([]string{name}, nil, err)
	} else {
		s.m.observe([]string{name}, []client.Result{r}, nil)
	}
	return r, err
}

func (s monitored) GetMany(ctx context.Context, names []string, withDecryption bool) ([]client.Result, []string, error) {
	found, invalid, err := s.Source.GetMany(ctx, names, withDecryption)
	s.m.observe(names, found, err)
	return found, invalid, err
}

func (s monitored) GetByPath(ctx context.Context, path string, recursive, withDecryption bool) ([]client.Result, error) {
	rs, err := s.Source.GetByPath(ctx, path, recursive, withDecryption)
	s.m.observe([]string{path}, rs, err)
	return rs, err
}

// observe accounts for one read of names that returned rs and err.
func (m *Monitor) observe(names []string, rs []client.Result, err error) {
	now := m.cfg.Now()
	failed := err != nil && unavailable(err)
	var stale []client.Result
	fromCache := err == nil && len(rs) > 0
	for _, r := range rs {
		if r.Stale {
			stale = append(stale, r)
		}
		fromCache = fromCache && r.FromCache
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if failed || len(stale) > 0 {
		m.lastBad = now
		var ev string
		switch {
		case failed && !m.sawFailed:
			m.sawFailed = true
			ev = fmt.Sprintf("first failed read: %s (%s)", strings.Join(names, ", "), errSummary(err))
		case len(stale) > 0 && !m.sawStale:
			m.sawStale = true
			ev = fmt.Sprintf("first stale serve: %s (value %s old)", stale[0].Name, now.Sub(stale[0].FetchedAt).Round(time.Second))
		}
		if ev != "" {
			m.beginLocked(incident.KindUpstream, ev)
		} else if _, open := m.cfg.Recorder.Current(); !open {
			m.beginLocked(incident.KindUpstream, "reads served stale or failing")
		}
	}
	m.cfg.Recorder.Update(func(im *incident.Impact) {
		im.Requests++
		if failed {
			im.Failed++
			for _, n := range names {
				im.Parameters = incident.AddName(im.Parameters, n)
			}
		}
		for _, r := range stale {
			if fromBundle(m.cfg.Bundles, r) {
				im.FromBundle++
			}
			im.ServedStale++
			im.MaxStalenessSeconds = max(im.MaxStalenessSeconds, now.Sub(r.FetchedAt).Seconds())
			im.Parameters = incident.AddName(im.Parameters, r.Name)
		}
		if fromCache && len(stale) == 0 {
			im.FromCache++
		}
	})
}

// beginLocked opens an incident (or adds ev to the open one); mu is held.
func (m *Monitor) beginLocked(kind, ev string) {
	_, opened := m.cfg.Recorder.Begin(kind, ev, m.pending...)
	if opened {
		m.pending = nil
		m.m.open.Set(1)
		m.m.total.WithLabelValues(kind).Inc()
		m.log.Warn("incident opened", "kind", kind, "event", ev)
		if m.diskLoaded > 0 {
			n := int64(m.diskLoaded)
			m.cfg.Recorder.Update(func(im *incident.Impact) { im.FromDisk = n })
		}
	}
}

// errSummary names the failure behind err without its text (which may
// hold request details): the upstream's error code, or the network cause.
func errSummary(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() > 0 {
		return fmt.Sprintf("HTTP %d", status.HTTPStatusCode())
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "circuit breaker open"):
		return "circuit breaker open"
	}
	return "no upstream answered"
}

// Run polls health and re-checks the required parameters until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	poll := time.NewTicker(m.cfg.PollInterval)
	defer poll.Stop()
	checks := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	if len(m.cfg.Require)+len(m.cfg.RequirePaths) > 0 {
		wg.Go(func() {
			for {
				m.check(ctx)
				select {
				case checks <- struct{}{}:
				default:
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(m.cfg.CheckInterval):
				}
			}
		})
	}
	for {
		select {
		case <-ctx.Done():
			m.cfg.Recorder.Flush()
			return
		case <-poll.C:
			m.poll()
		case <-checks:
			m.poll()
		}
	}
}

// poll looks at upstream health: breaker transitions, failover, recovery.
func (m *Monitor) poll() {
	hs := m.cfg.Source.Health()
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.cfg.Recorder
	for _, u := range hs {
		prev := m.breakers[u.URL]
		if prev == "" {
			prev = "closed"
		}
		if u.Breaker == prev {
			continue
		}
		m.breakers[u.URL] = u.Breaker
		switch u.Breaker {
		case "open":
			m.lastBad = now
			ev := "breaker open: " + u.URL
			if u.LastError != "" {
				ev += " (" + errSummary(errors.New(u.LastError)) + ")"
			}
			m.beginLocked(incident.KindUpstream, ev)
			rec.Update(func(im *incident.Impact) { im.Upstreams = incident.AddName(im.Upstreams, u.URL) })
		case "half-open":
			rec.Note("breaker half-open: probing " + u.URL)
		default:
			rec.Note("breaker closed: " + u.URL + " answered")
		}
	}
	if len(hs) > 1 {
		if hs[0].State != "healthy" {
			for _, u := range hs[1:] {
				if u.State == "healthy" && !u.ObservedAt.IsZero() {
					if m.failedOver != u.URL {
						m.failedOver = u.URL
						rec.Note("failover to " + u.URL)
					}
					break
				}
			}
		} else if m.failedOver != "" {
			m.failedOver = ""
			rec.Note("back on " + hs[0].URL)
		}
	}
	answered, stale := "", false
	for _, u := range hs {
		if u.State == "healthy" && u.ObservedAt.After(m.lastBad) && answered == "" {
			answered = u.URL
		}
		if !u.ServingStaleSince.IsZero() {
			stale = true
		}
	}
	if answered != "" {
		m.pending = nil // what happened at start is no longer news
	}
	drill, _ := false, ""
	if m.drill != nil {
		drill, _ = m.drill()
	}
	if cur, open := rec.Current(); open && answered != "" && !stale && !drill && len(m.missingLocked()) == 0 {
		ev := "recovered: " + answered + " answered, nothing served stale"
		if cur.Kind == incident.KindRequiredMissing {
			ev = "recovered: every required parameter held"
		}
		rec.End(ev)
		m.sawStale, m.sawFailed = false, false
		m.m.open.Set(0)
		m.log.Info("incident ended", "id", cur.ID, "kind", cur.Kind)
	}
	rec.Flush()
}

// check reads every required name and path once.
func (m *Monitor) check(ctx context.Context) {
	for _, name := range m.cfg.Require {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		r, err := m.cfg.Source.Get(cctx, name, true)
		cancel()
		if ctx.Err() != nil {
			return
		}
		st := reqStatus{source: "none", from: "none", checkedAt: m.cfg.Now()}
		if err == nil {
			st = reqStatus{held: true, source: sourceOf(r), fetchedAt: r.FetchedAt, checkedAt: st.checkedAt}
			st.from, st.origin = m.servedFrom(r)
		} else {
			st.reason = errSummary(err)
		}
		m.setRequired(name, st)
	}
	for _, path := range m.cfg.RequirePaths {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		rs, err := m.cfg.Source.GetByPath(cctx, path, true, true)
		cancel()
		if ctx.Err() != nil {
			return
		}
		st := reqStatus{source: "none", from: "none", checkedAt: m.cfg.Now()}
		switch {
		case err != nil:
			st.reason = errSummary(err)
		case len(rs) == 0:
			st.reason = "no parameter under the path"
		default:
			st = reqStatus{held: true, source: "upstream", fetchedAt: rs[0].FetchedAt, checkedAt: st.checkedAt}
			st.from, st.origin = m.servedFrom(rs[0])
			for _, r := range rs {
				if r.FetchedAt.Before(st.fetchedAt) {
					st.fetchedAt = r.FetchedAt
					st.from, st.origin = m.servedFrom(r)
				}
				if s := sourceOf(r); s == "stale" || (s == "cache" && st.source == "upstream") {
					st.source = s
				}
			}
		}
		m.setRequired(path, st)
	}
	m.mu.Lock()
	m.checked = true
	m.mu.Unlock()
}

func sourceOf(r client.Result) string {
	switch {
	case r.Stale:
		return "stale"
	case r.FromCache:
		return "cache"
	}
	return "upstream"
}

var requiredSources = []string{"upstream", "cache", "stale", "none"}

func (m *Monitor) setRequired(name string, st reqStatus) {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, seen := m.required[name]
	m.required[name] = st
	if !st.held && (!seen || prev.held) {
		m.lastBad = now
		m.beginLocked(incident.KindRequiredMissing, fmt.Sprintf("required parameter unavailable: %s (%s)", name, st.reason))
		m.cfg.Recorder.Update(func(im *incident.Impact) { im.Parameters = incident.AddName(im.Parameters, name) })
	} else if st.held && seen && !prev.held {
		m.cfg.Recorder.Note(fmt.Sprintf("required parameter held again: %s (%s)", name, st.source))
	}
	avail, age := 0.0, 0.0
	if st.held {
		avail = 1
		if !st.fetchedAt.IsZero() {
			age = max(0, now.Sub(st.fetchedAt).Seconds())
		}
	}
	m.m.available.WithLabelValues(name).Set(avail)
	m.m.age.WithLabelValues(name).Set(age)
	for _, s := range requiredSources {
		v := 0.0
		if s == st.source {
			v = 1
		}
		m.m.source.WithLabelValues(name, s).Set(v)
	}
	m.m.missing.Set(float64(len(m.missingLocked())))
}

// Missing returns the required names and paths not held (all of them
// until the first check ends), sorted.
func (m *Monitor) Missing() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.missingLocked()
}

func (m *Monitor) missingLocked() []string {
	var out []string
	for _, n := range slices.Concat(m.cfg.Require, m.cfg.RequirePaths) {
		if st, ok := m.required[n]; !ok || !st.held {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

type monitorMetrics struct {
	open      prometheus.Gauge
	total     *prometheus.CounterVec
	missing   prometheus.Gauge
	available *prometheus.GaugeVec
	age       *prometheus.GaugeVec
	source    *prometheus.GaugeVec
	fault     prometheus.Gauge
}

func newMonitorMetrics(reg prometheus.Registerer) (*monitorMetrics, error) {
	m := &monitorMetrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{Name: "paramstore_agent_incident_open",
			Help: "1 while the agent has an incident open (reads stale or failing, breaker open, required parameter missing, drill)."}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paramstore_agent_incidents_total",
			Help: "Incidents the agent opened, by kind."}, []string{"kind"}),
		missing: prometheus.NewGauge(prometheus.GaugeOpts{Name: "paramstore_agent_required_missing",
			Help: "Required parameters (--require, --require-path) the agent does not hold."}),
		available: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "paramstore_agent_required_parameter_available",
			Help: "1 when the required parameter is held (fresh, cached or stale), else 0."}, []string{"name"}),
		age: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "paramstore_agent_required_parameter_age_seconds",
			Help: "Age of the held value of a required parameter at its last check (since it was fetched from an upstream)."}, []string{"name"}),
		source: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "paramstore_agent_required_parameter_source",
			Help: "Where the last check of a required parameter got it: 1 for the current source (upstream, cache, stale, none)."}, []string{"name", "source"}),
		fault: prometheus.NewGauge(prometheus.GaugeOpts{Name: "paramstore_agent_fault_active",
			Help: "1 while a fault injected on purpose (paramstore fault inject) affects the agent's upstream calls."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.open, m.total, m.missing, m.available, m.age, m.source, m.fault} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// FaultChanged records a fault starting (an incident of kind drill opens,
// or the open incident notes it) or ending. It is the fault.Injector's
// onChange.
func (m *Monitor) FaultChanged(event string, active bool) {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if active {
		m.lastBad = now
		m.beginLocked(incident.KindDrill, event)
		m.m.fault.Set(1)
		return
	}
	m.lastBad = now // recovery is an upstream answering after the fault
	m.cfg.Recorder.Note(event)
	m.m.fault.Set(0)
}

// UseFaults keeps incidents open while in has a fault active.
func (m *Monitor) UseFaults(in *fault.Injector) {
	m.setDrill(func() (bool, string) {
		st, ok := in.Status()
		return ok, st.Kind
	})
}
