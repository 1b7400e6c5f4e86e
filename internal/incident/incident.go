package incident

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
)

// Sources of incidents.
const (
	SourceAgent  = "agent"
	SourceServer = "server"
)

// Kinds of incidents.
const (
	// KindUpstream: an agent could not reach its upstreams (stale serves,
	// failed reads, open breakers).
	KindUpstream = "upstream-unavailable"
	// KindRequiredMissing: a required parameter is not held.
	KindRequiredMissing = "required-missing"
	// KindDrill: a fault was injected on purpose.
	KindDrill = "drill"
	// KindQuorum: a server cluster lost its leader or quorum.
	KindQuorum = "quorum-lost"
	// KindStorage: storage errors (ENOSPC, fsync failures).
	KindStorage = "storage"
	// KindThrottling: a throttling storm.
	KindThrottling = "throttling"
	// KindAudit: the audit trail is failing.
	KindAudit = "audit-failing"
	// KindNodeDown: a cluster member is unreachable.
	KindNodeDown = "node-unreachable"
	// KindMirrorStale: a mirror of --mirror-config had no successful sync
	// for its stale_after intervals.
	KindMirrorStale = "mirror-stale"
	// KindMirrorDrift: a mirror found drift at drift_syncs consecutive
	// syncs (something keeps changing the copy, or the source churns).
	KindMirrorDrift = "mirror-drift"
)

// Impact is what an incident did to the callers, in numbers.
type Impact struct {
	// Requests is every read answered while the incident was open.
	Requests int64 `json:"requests"`
	// Failed is the reads that got an error because no upstream answered
	// and nothing usable was held (on a server: calls answered with a
	// server error or dropped).
	Failed int64 `json:"failed"`
	// Throttled is the calls a server answered ThrottlingException.
	Throttled int64 `json:"throttled,omitempty"`
	// ServedStale is the reads answered with a value past its TTL.
	ServedStale int64 `json:"served_stale"`
	// MaxStalenessSeconds is the oldest value served, by the time since it
	// was fetched.
	MaxStalenessSeconds float64 `json:"max_staleness_seconds"`
	// FromCache is the reads answered from a fresh cached value (no
	// upstream needed); FromDisk the entries the cache restored from disk
	// at start; FromBundle the reads answered from a bundle (counted in
	// ServedStale too: a bundle's values are stale).
	FromCache  int64 `json:"from_cache"`
	FromDisk   int64 `json:"from_disk"`
	FromBundle int64 `json:"from_bundle"`
	// Parameters are the names that were served stale, failed or missing
	// (at most MaxNames); Upstreams the upstreams that failed.
	Parameters []string `json:"parameters,omitempty"`
	Upstreams  []string `json:"upstreams,omitempty"`
}

// Event is one timeline entry.
type Event struct {
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
}

// Incident is one outage (DESIGN.md §3 "Incidents").
type Incident struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Kind   string `json:"kind"`
	// Node is the server node that recorded it (empty for an agent).
	Node     string     `json:"node,omitempty"`
	Started  time.Time  `json:"started"`
	Ended    *time.Time `json:"ended"`
	Impact   Impact     `json:"impact"`
	Timeline []Event    `json:"timeline"`
	// TimelineDropped counts the entries past the timeline's bound (the
	// first ones and the last one are kept).
	TimelineDropped int `json:"timeline_dropped,omitempty"`
}

// Open reports whether the incident has not ended.
func (i Incident) Open() bool { return i.Ended == nil }

// Duration is how long the incident lasted, or has lasted by now.
func (i Incident) Duration(now time.Time) time.Duration {
	if i.Ended != nil {
		return i.Ended.Sub(i.Started)
	}
	return now.Sub(i.Started)
}

func (i Incident) clone() Incident {
	c := i
	c.Timeline = slices.Clone(i.Timeline)
	c.Impact.Parameters = slices.Clone(i.Impact.Parameters)
	c.Impact.Upstreams = slices.Clone(i.Impact.Upstreams)
	if i.Ended != nil {
		e := *i.Ended
		c.Ended = &e
	}
	return c
}

// Store keeps the history durable. Save receives every incident, oldest
// first; Load returns what the last Save stored (nil, nil when nothing).
type Store interface {
	Load() ([]Incident, error)
	Save([]Incident) error
}

// Config configures a Recorder.
type Config struct {
	// Source is SourceAgent or SourceServer. Required.
	Source string
	// Node names the server node recording (Incident.Node).
	Node string
	// Store keeps the history; nil keeps it in memory only.
	Store Store
	// MaxIncidents bounds the history (oldest dropped first; default 100).
	MaxIncidents int
	// MaxTimeline bounds each timeline (default 200).
	MaxTimeline int
	// MaxNames bounds Impact.Parameters and Impact.Upstreams (default 50).
	MaxNames int
	// OnChange, if set, is called (outside the lock) with a copy of an
	// incident when it opens and when it ends.
	OnChange func(Incident)
	// Logger receives Store failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Source != SourceAgent && c.Source != SourceServer {
		return fmt.Errorf("incident: Config.Source: want %q or %q, got %q", SourceAgent, SourceServer, c.Source)
	}
	if c.MaxIncidents < 0 || c.MaxTimeline < 0 || c.MaxNames < 0 {
		return errors.New("incident: Config.MaxIncidents, MaxTimeline, MaxNames: must not be negative")
	}
	return nil
}

// Recorder records incidents.
type Recorder struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	incidents []Incident // oldest first; at most one open, the last
	dirty     bool       // counters changed since the last save
}

// New loads the history from cfg.Store and returns a Recorder. An incident
// left open by a process that died stays open: the next End closes it
// (the outage may well have gone on while the process was down).
func New(cfg Config) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxIncidents == 0 {
		cfg.MaxIncidents = 100
	}
	if cfg.MaxTimeline == 0 {
		cfg.MaxTimeline = 200
	}
	if cfg.MaxNames == 0 {
		cfg.MaxNames = 50
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{cfg: cfg, log: log}
	if cfg.Store != nil {
		incs, err := cfg.Store.Load()
		if err != nil {
			return nil, fmt.Errorf("incident: load: %w", err)
		}
		sort.SliceStable(incs, func(i, j int) bool { return incs[i].Started.Before(incs[j].Started) })
		// Only the last may be open.
		for i := range incs {
			if i < len(incs)-1 && incs[i].Ended == nil {
				e := incs[i+1].Started
				incs[i].Ended = &e
			}
		}
		r.incidents = incs
	}
	return r, nil
}

// openLocked returns the open incident, or nil.
func (r *Recorder) openLocked() *Incident {
	if n := len(r.incidents); n > 0 && r.incidents[n-1].Ended == nil {
		return &r.incidents[n-1]
	}
	return nil
}

func newID(source string, t time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return source + "-" + t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Begin opens an incident of kind with event as its first timeline entry
// (after prior, entries that happened before it opened, such as a cache
// restored from disk), or, when one is open already, adds event to it. It
// returns the open incident's ID and whether Begin opened it.
func (r *Recorder) Begin(kind, event string, prior ...Event) (string, bool) {
	return r.BeginAt(time.Time{}, kind, event, prior...)
}

// BeginAt is Begin for an incident that started at start (zero: now),
// before it was noticed: a leader lost some seconds before the loss counts
// as an outage. event is recorded at start.
func (r *Recorder) BeginAt(start time.Time, kind, event string, prior ...Event) (string, bool) {
	now := r.cfg.Now()
	if !start.IsZero() && start.Before(now) {
		now = start
	}
	r.mu.Lock()
	if inc := r.openLocked(); inc != nil {
		r.noteLocked(inc, now, event)
		id := inc.ID
		r.saveLocked()
		r.mu.Unlock()
		return id, false
	}
	inc := Incident{ID: newID(r.cfg.Source, now), Source: r.cfg.Source, Kind: kind, Node: r.cfg.Node, Started: now}
	for _, p := range prior {
		r.noteLocked(&inc, p.Time, p.Event)
	}
	r.noteLocked(&inc, now, event)
	r.incidents = append(r.incidents, inc)
	if over := len(r.incidents) - r.cfg.MaxIncidents; over > 0 {
		r.incidents = slices.Delete(r.incidents, 0, over)
	}
	c := inc.clone()
	r.saveLocked()
	r.mu.Unlock()
	if r.cfg.OnChange != nil {
		r.cfg.OnChange(c)
	}
	return c.ID, true
}

// noteLocked appends an entry, keeping the timeline bounded: past the
// bound the last entry is replaced, so the first ones and the latest stay.
func (r *Recorder) noteLocked(inc *Incident, t time.Time, event string) {
	if len(inc.Timeline) >= r.cfg.MaxTimeline {
		inc.TimelineDropped++
		inc.Timeline[len(inc.Timeline)-1] = Event{Time: t, Event: event}
		return
	}
	inc.Timeline = append(inc.Timeline, Event{Time: t, Event: event})
}

// Note adds event to the open incident's timeline; it reports false (and
// records nothing) when none is open.
func (r *Recorder) Note(event string) bool {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	inc := r.openLocked()
	if inc == nil {
		return false
	}
	r.noteLocked(inc, now, event)
	r.saveLocked()
	return true
}

// Update changes the open incident's impact with f; it reports false (and
// calls nothing) when none is open. The change is made durable by the next
// Flush or transition.
func (r *Recorder) Update(f func(*Impact)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	inc := r.openLocked()
	if inc == nil {
		return false
	}
	f(&inc.Impact)
	inc.Impact.Parameters = bound(inc.Impact.Parameters, r.cfg.MaxNames)
	inc.Impact.Upstreams = bound(inc.Impact.Upstreams, r.cfg.MaxNames)
	r.dirty = true
	return true
}

// AddName adds name to list unless it is there; callers of Update use it
// for Impact.Parameters and Impact.Upstreams.
func AddName(list []string, name string) []string {
	if name == "" || slices.Contains(list, name) {
		return list
	}
	return append(list, name)
}

func bound(list []string, n int) []string {
	if len(list) > n {
		return list[:n]
	}
	return list
}

// End closes the open incident with event as its last entry; it reports
// false when none is open.
func (r *Recorder) End(event string) bool {
	now := r.cfg.Now()
	r.mu.Lock()
	inc := r.openLocked()
	if inc == nil {
		r.mu.Unlock()
		return false
	}
	r.noteLocked(inc, now, event)
	inc.Ended = &now
	c := inc.clone()
	r.saveLocked()
	r.mu.Unlock()
	if r.cfg.OnChange != nil {
		r.cfg.OnChange(c)
	}
	return true
}

// Current returns a copy of the open incident.
func (r *Recorder) Current() (Incident, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if inc := r.openLocked(); inc != nil {
		return inc.clone(), true
	}
	return Incident{}, false
}

// List returns copies of every incident, newest first.
func (r *Recorder) List() []Incident {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Incident, 0, len(r.incidents))
	for i := len(r.incidents) - 1; i >= 0; i-- {
		out = append(out, r.incidents[i].clone())
	}
	return out
}

// Get returns a copy of the incident id.
func (r *Recorder) Get(id string) (Incident, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, inc := range r.incidents {
		if inc.ID == id {
			return inc.clone(), true
		}
	}
	return Incident{}, false
}

// Flush saves the impact counters changed since the last save.
func (r *Recorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dirty {
		r.saveLocked()
	}
}

func (r *Recorder) saveLocked() {
	r.dirty = false
	if r.cfg.Store == nil {
		return
	}
	if err := r.cfg.Store.Save(r.incidents); err != nil {
		r.dirty = true
		r.log.Warn("incident: save failed; the history is kept in memory", "error", err)
	}
}
