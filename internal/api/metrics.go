package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the request metrics. Labels never carry names or values, only
// the operation, the status and the error code, whose sets are bounded.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// ok holds, by operation, the children of its successful calls
	// (*okMetrics), resolved on the first: WithLabelValues hashes the
	// labels and formats the status on every call.
	ok sync.Map
}

// okMetrics are the series of an operation's successful calls.
type okMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paramstore_requests_total",
			Help: "SSM API requests by operation, HTTP status and error code (empty on success).",
		}, []string{"operation", "status", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paramstore_request_duration_seconds",
			Help:    "SSM API request latency by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
	}
	for _, c := range []prometheus.Collector{
		m.requests, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(op string, status int, code string, d time.Duration) {
	if status == http.StatusOK && code == "" {
		om, ok := m.ok.Load(op)
		if !ok {
			om, _ = m.ok.LoadOrStore(op, &okMetrics{
				requests: m.requests.WithLabelValues(op, strconv.Itoa(http.StatusOK), ""),
				latency:  m.latency.WithLabelValues(op),
			})
		}
		o := om.(*okMetrics)
		o.requests.Inc()
		o.latency.Observe(d.Seconds())
		return
	}
	m.requests.WithLabelValues(op, strconv.Itoa(status), code).Inc()
	m.latency.WithLabelValues(op).Observe(d.Seconds())
}
