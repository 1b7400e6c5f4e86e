package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Runner runs one configured mirror (a Spec): a sync of each of its paths
// every Interval while Run's context lasts. Run may be called again after
// it returned (a node that regains leadership): the counters go on, and
// the first sync of each Run re-reads everything. Status may be called at
// any time.
type Runner struct {
	spec           Spec
	source, target API
	log            *slog.Logger
	now            func() time.Time

	mu sync.Mutex
	st Status
	// since is when the current Run began: the stale clock starts there
	// when no sync succeeded in it.
	since time.Time
}

// Status is what a Runner did, for /readyz, metrics and incidents.
type Status struct {
	Name   string   `json:"name"`
	Source string   `json:"source"`
	Paths  []string `json:"paths"`
	// Running says this node runs the mirror (it is the raft leader).
	Running     bool       `json:"running"`
	LastSuccess *time.Time `json:"last_success"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	// Stale says no sync succeeded for StaleAfter intervals while running.
	Stale bool `json:"stale"`
	// Drift is the parameters the last successful sync found different
	// (and corrected); DriftSyncs the consecutive syncs that found some.
	Drift      int `json:"drift"`
	DriftSyncs int `json:"drift_syncs"`
	// Parameters is the source's count at the last successful sync.
	Parameters int `json:"parameters"`
	// Counters since the process started.
	Syncs       int64 `json:"syncs"`
	Errors      int64 `json:"errors"`
	SourceCalls int64 `json:"source_calls"`
	// LastStats is the last successful sync's (summed over the paths).
	LastStats Stats `json:"-"`
}

// NewRunner returns the Runner of spec (validated, as ParseFile leaves it)
// reading source and writing target.
func NewRunner(spec Spec, source, target API, log *slog.Logger, now func() time.Time) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Runner{spec: spec, source: source, target: target, log: log.With("mirror", spec.Name), now: now,
		st: Status{Name: spec.Name, Source: spec.SourceName(), Paths: spec.Paths}}
}

// Spec returns the runner's configuration.
func (r *Runner) Spec() Spec { return r.spec }

// Status returns the runner's status now.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	if st.Running {
		last := r.since
		if st.LastSuccess != nil && st.LastSuccess.After(last) {
			last = *st.LastSuccess
		}
		st.Stale = r.now().Sub(last) >= time.Duration(r.spec.StaleAfter)*r.spec.Interval
	}
	return st
}

// Run syncs every Interval until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	mirrors := make([]*Mirror, 0, len(r.spec.Paths))
	for _, p := range r.spec.Paths {
		// The runner logs each sync (the Mirror's own log would repeat it).
		m, err := New(Config{Source: r.source, Target: r.target, Path: p, NoDelete: r.spec.NoDelete, KeyMap: r.spec.KeyMap,
			SourceRate: r.spec.Rate, FullEvery: r.spec.FullEvery})
		if err != nil { // ParseFile validated the spec
			r.log.Error("mirror not started", "error", err)
			return
		}
		mirrors = append(mirrors, m)
	}
	r.mu.Lock()
	r.st.Running, r.since = true, r.now()
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.st.Running = false
		r.mu.Unlock()
	}()
	r.log.Info("mirror started", "source", r.spec.SourceName(), "paths", r.spec.Paths, "interval", r.spec.Interval)
	for {
		r.syncOnce(ctx, mirrors)
		select {
		case <-ctx.Done():
			r.log.Info("mirror stopped")
			return
		case <-time.After(r.spec.Interval):
		}
	}
}

// syncTimeout bounds one sync, so that a silent source cannot hold the
// runner: the next sync starts afresh.
func (r *Runner) syncTimeout() time.Duration {
	return max(time.Duration(r.spec.StaleAfter)*r.spec.Interval, 5*time.Second)
}

func (r *Runner) syncOnce(ctx context.Context, mirrors []*Mirror) {
	sctx, cancel := context.WithTimeout(ctx, r.syncTimeout())
	defer cancel()
	var total Stats
	var err error
	for _, m := range mirrors {
		var st Stats
		st, err = m.Sync(sctx)
		total = total.add(st)
		if err != nil {
			err = fmt.Errorf("%s: %w", m.cfg.Path, err)
			break
		}
	}
	if ctx.Err() != nil {
		return // stopped (leadership lost): not a failure of the source
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Syncs++
	r.st.SourceCalls += int64(total.SourceCalls)
	r.st.LastAttempt = &now
	if err != nil {
		r.st.Errors++
		r.st.LastError = err.Error()
		r.log.Warn("mirror sync failed", "error", err)
		return
	}
	recovered := r.st.LastError != ""
	r.st.LastSuccess, r.st.LastError = &now, ""
	r.st.Drift, r.st.Parameters, r.st.LastStats = total.Drift, total.Source, total
	if total.Drift > 0 {
		r.st.DriftSyncs++
	} else {
		r.st.DriftSyncs = 0
	}
	if total.Drift > 0 || recovered {
		r.log.Info("mirror synced", "stats", total.String())
	} else {
		r.log.Debug("mirror synced", "stats", total.String())
	}
}

func (s Stats) add(o Stats) Stats {
	return Stats{Source: s.Source + o.Source, Created: s.Created + o.Created, Updated: s.Updated + o.Updated,
		Tagged: s.Tagged + o.Tagged, Labeled: s.Labeled + o.Labeled, Deleted: s.Deleted + o.Deleted,
		Unchanged: s.Unchanged + o.Unchanged, Drift: s.Drift + o.Drift, SourceCalls: s.SourceCalls + o.SourceCalls,
		TargetWrites: s.TargetWrites + o.TargetWrites}
}
