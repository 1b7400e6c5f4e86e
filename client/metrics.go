package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the client's Prometheus collectors. A nil *metrics (no
// Registry) records nothing.
type metrics struct {
	hits, misses, stale, evictions prometheus.Counter
	calls                          *prometheus.CounterVec // endpoint, op
	errors                         *prometheus.CounterVec // endpoint, op, code
	breaker                        *prometheus.GaugeVec   // endpoint
	lag                            prometheus.Histogram
	budget, flushErrors, probes    prometheus.Counter
	flushSeconds                   prometheus.Histogram
	unreadable                     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		hits: prometheus.NewCounter(prometheus.CounterOpts{Name: "paramstore_client_cache_hits_total",
			Help: "Lookups answered by a fresh cache entry."}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{Name: "paramstore_client_cache_misses_total",
			Help: "Lookups with no fresh cache entry."}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{Name: "paramstore_client_stale_serves_total",
			Help: "Lookups answered by an expired entry because no upstream answered."}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{Name: "paramstore_client_cache_evictions_total",
			Help: "Entries evicted by the LRU bound."}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paramstore_client_upstream_requests_total",
			Help: "Upstream attempts by endpoint and operation."}, []string{"endpoint", "op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paramstore_client_upstream_errors_total",
			Help: "Upstream attempts that returned an error, by endpoint, operation and error code."}, []string{"endpoint", "op", "code"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "paramstore_client_breaker_state",
			Help: "Circuit breaker state per endpoint: 0 closed, 1 half-open, 2 open."}, []string{"endpoint"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "paramstore_client_refresh_lag_seconds",
			Help:    "How long past its refresh time an entry was refreshed.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
	}
	m.budget = prometheus.NewCounter(prometheus.CounterOpts{Name: "paramstore_client_refresh_budget_spent_total",
		Help: "Reads of a cached value served stale because no upstream answered within the refresh budget."})
	m.probes = prometheus.NewCounter(prometheus.CounterOpts{Name: "paramstore_client_breaker_probes_now_total",
		Help: "Probes let through an open breaker at once because every breaker was open and a caller waited with nothing cached."})
	m.flushErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "paramstore_client_cache_flush_errors_total",
		Help: "Writes of the persistent cache that failed (retried)."})
	m.flushSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "paramstore_client_cache_flush_seconds",
		Help: "Duration of writes of the persistent cache (changed entries, fsynced).", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9)})
	m.unreadable = prometheus.NewGauge(prometheus.GaugeOpts{Name: "paramstore_client_cache_unreadable",
		Help: "1 when the persistent cache exists but cannot be read (wrong key, damaged, locked): it is left untouched and nothing is saved."})
	for _, col := range []prometheus.Collector{m.hits, m.misses, m.stale, m.evictions, m.calls, m.errors, m.breaker, m.lag,
		m.budget, m.flushErrors, m.flushSeconds, m.unreadable, m.probes} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("client: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) hit() {
	if m != nil {
		m.hits.Inc()
	}
}

func (m *metrics) miss() {
	if m != nil {
		m.misses.Inc()
	}
}

func (m *metrics) staleServe() {
	if m != nil {
		m.stale.Inc()
	}
}

func (m *metrics) evicted(n int) {
	if m != nil {
		m.evictions.Add(float64(n))
	}
}

func (m *metrics) upstreamCall(endpoint, op string, err error) {
	if m == nil {
		return
	}
	if endpoint == "" {
		endpoint = "aws-default"
	}
	m.calls.WithLabelValues(endpoint, op).Inc()
	if err != nil {
		m.errors.WithLabelValues(endpoint, op, errorCode(err)).Inc()
	}
}

func (m *metrics) breakerState(endpoint, state string) {
	if m == nil {
		return
	}
	v := map[string]float64{BreakerClosed: 0, BreakerHalfOpen: 1, BreakerOpen: 2}[state]
	m.breaker.WithLabelValues(endpoint).Set(v)
}

func (m *metrics) refreshLag(d time.Duration) {
	if m != nil {
		m.lag.Observe(max(d, 0).Seconds())
	}
}

// errorCode is the AWS error code of err, or a coarse class.
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		return fmt.Sprintf("HTTP%d", status.HTTPStatusCode())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "Timeout"
	}
	return "NetworkError"
}

func (m *metrics) budgetSpent() {
	if m != nil {
		m.budget.Inc()
	}
}

func (m *metrics) flushed(d time.Duration, err error) {
	if m == nil {
		return
	}
	m.flushSeconds.Observe(d.Seconds())
	if err != nil {
		m.flushErrors.Inc()
	}
}

func (m *metrics) cacheUnreadable(b bool) {
	if m == nil {
		return
	}
	v := 0.0
	if b {
		v = 1
	}
	m.unreadable.Set(v)
}

func (m *metrics) probeNow() {
	if m != nil {
		m.probes.Inc()
	}
}
