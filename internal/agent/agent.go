package agent

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/awsreq"
	"github.com/paramstore/paramstore/internal/bundle"
	"github.com/paramstore/paramstore/internal/fault"
)

// Header names the agent adds to its responses.
const (
	HeaderToken     = "X-Aws-Parameters-Secrets-Token"
	HeaderStale     = "X-Paramstore-Stale"
	HeaderAge       = "X-Paramstore-Age"
	HeaderErrorCode = "X-Paramstore-Error-Code"
)

// Slog attribute keys.
const (
	logKeyOperation = "operation"
	logKeyUpstream  = "upstream"
	logKeyError     = "error"
	logKeyStatus    = "status"
	logKeyTemplate  = "template"
)

// Config configures a Handler.
type Config struct {
	// Source serves reads. Required.
	Source Source
	// Token is the value X-Aws-Parameters-Secrets-Token (Lambda paths) and
	// X-Amz-Security-Token (SSM proxy) must carry; empty accepts any
	// non-empty value (see the package doc).
	Token string
	// ListenAddr is the address the agent listens on: besides loopback
	// names, its host is the only Host header accepted (every IP literal
	// when it is unspecified, as 0.0.0.0).
	ListenAddr string
	// AllowWrites lets the SSM proxy forward write operations.
	AllowWrites bool
	// Upstreams are the SSM endpoints forwarded calls go to, in order; empty
	// means AWS's regional endpoint.
	Upstreams []string
	// Region and Credentials sign forwarded calls.
	Region      string
	Credentials aws.CredentialsProvider
	// HTTPClient sends forwarded calls; nil means a client with a 30s timeout.
	HTTPClient *http.Client
	// Registerer receives the agent's own metrics, and Gatherer is what
	// /metrics serves. Either may be nil.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Bundles answer what Source cannot (no upstream answered, the cache
	// lacks the name): cold start during an outage. May be nil.
	Bundles *bundle.Set
	// Monitor, if set, records incidents and answers readiness: reads are
	// counted through it, /readyz names the required parameters not held,
	// and GET /incidents lists what it recorded.
	Monitor *Monitor
	// Faults, if set (--enable-fault-injection), is the injector of the
	// agent's upstream calls, driven over POST and DELETE /fault; the
	// HTTPClient of the Source must send through a fault.Transport of it.
	Faults *fault.Injector
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.Source == nil {
		return errors.New("agent: Config.Source is required")
	}
	if c.Region == "" {
		return errors.New("agent: Config.Region is required")
	}
	return nil
}

// Handler is the agent's http.Handler.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	mux     http.Handler
	metrics *metrics
	signer  *awsreq.Signer // of forwarded calls

	lastWarn atomic.Int64 // unix nanoseconds of the last failure logged as a warning

	listenHost string // lower-cased host of ListenAddr
	anyIP      bool   // ListenAddr is unspecified: accept IP literals
}

var _ http.Handler = (*Handler)(nil)

// New builds the handler.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if len(cfg.Upstreams) == 0 {
		cfg.Upstreams = []string{"https://ssm." + cfg.Region + ".amazonaws.com"}
	}
	cfg.Source = WithBundles(cfg.Source, cfg.Bundles)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	if cfg.Monitor != nil {
		cfg.Source = cfg.Monitor.Wrap(cfg.Source)
	}
	h := &Handler{cfg: cfg, log: log, metrics: m, signer: awsreq.NewSigner(cfg.Credentials, cfg.Region, cfg.Now)}
	h.listenHost, h.anyIP = listenHost(cfg.ListenAddr)
	mux := http.NewServeMux()
	mux.HandleFunc("/systemsmanager/parameters/get", h.lambdaGet)
	mux.HandleFunc("/secretsmanager/get", h.lambdaSecret)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.HandleFunc("GET /incidents", h.incidents)
	mux.HandleFunc("GET /incidents/{id}", h.incident)
	mux.HandleFunc("POST /fault", h.faultInject)
	mux.HandleFunc("DELETE /fault", h.faultClear)
	if cfg.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("POST /{$}", h.proxy)
	h.mux = h.guard(mux)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// tokenOK checks the Lambda extension token header.
func (h *Handler) tokenOK(r *http.Request) bool {
	return h.tokenMatches(r.Header.Get(HeaderToken))
}

// markStale adds the stale headers when any result is stale.
func (h *Handler) markStale(w http.ResponseWriter, rs ...client.Result) bool {
	stale, bundled := false, false
	var oldest time.Time
	for _, r := range rs {
		if !r.Stale {
			continue
		}
		stale = true
		bundled = bundled || fromBundle(h.cfg.Bundles, r)
		if oldest.IsZero() || (!r.FetchedAt.IsZero() && r.FetchedAt.Before(oldest)) {
			oldest = r.FetchedAt
		}
	}
	if !stale {
		return false
	}
	w.Header().Set(HeaderStale, "true")
	if bundled {
		w.Header().Set(HeaderSource, "bundle")
		h.metrics.bundleServes.Inc()
	}
	if !oldest.IsZero() {
		age := h.cfg.Now().Sub(oldest)
		if age < 0 {
			age = 0
		}
		w.Header().Set(HeaderAge, strconv.FormatInt(int64(age/time.Second), 10))
	}
	h.metrics.staleServes.Inc()
	return true
}

// healthReport is the body of GET /healthz.
type healthReport struct {
	// Status is "ok" when every upstream is healthy, else "degraded".
	Status    string           `json:"status"`
	Upstreams []upstreamReport `json:"upstreams"`
	Cache     cacheReport      `json:"cache"`
	// Bundles are the cold-start bundles loaded (--bundle), newest first.
	Bundles []bundleReport `json:"bundles,omitempty"`
	// Required says where each required parameter (--require,
	// --require-path) is served from, as of its last check.
	Required []RequiredStatus `json:"required,omitempty"`
}

// bundleReport is a loaded bundle in /healthz.
type bundleReport struct {
	File       string    `json:"file,omitempty"`
	Source     string    `json:"source"`
	Created    time.Time `json:"created"`
	AgeSeconds float64   `json:"age_seconds"`
	Parameters int       `json:"parameters"`
}

// cacheReport is the persistent cache in /healthz. State is "off", "ok",
// "unreadable" (left untouched, nothing saved this run), "locked" (another
// process has it) or "failing" (writes fail, retried).
type cacheReport struct {
	Path      string     `json:"path,omitempty"`
	State     string     `json:"state"`
	Error     string     `json:"error,omitempty"`
	Loaded    int        `json:"loaded"`
	Pending   int        `json:"pending"`
	LastFlush *time.Time `json:"last_flush,omitempty"`
}

type upstreamReport struct {
	URL        string     `json:"url"`
	State      string     `json:"state"`
	Breaker    string     `json:"breaker"`
	LastError  string     `json:"last_error,omitempty"`
	ObservedAt *time.Time `json:"observed_at,omitempty"`
	// ObservationAge is how old the state is, in seconds (absent before
	// the first call to the upstream).
	ObservationAge    *float64   `json:"observation_age_seconds,omitempty"`
	ServingStaleSince *time.Time `json:"serving_stale_since,omitempty"`
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	rep := healthReport{Status: "ok", Upstreams: []upstreamReport{}}
	for _, u := range h.cfg.Source.Health() {
		ur := upstreamReport{URL: u.URL, State: u.State, Breaker: u.Breaker, LastError: u.LastError}
		if !u.ObservedAt.IsZero() {
			t := u.ObservedAt.UTC()
			age := max(0, h.cfg.Now().Sub(u.ObservedAt)).Seconds()
			ur.ObservedAt, ur.ObservationAge = &t, &age
		}
		if !u.ServingStaleSince.IsZero() {
			t := u.ServingStaleSince.UTC()
			ur.ServingStaleSince = &t
		}
		if u.State != "healthy" || !u.ServingStaleSince.IsZero() {
			rep.Status = "degraded"
		}
		rep.Upstreams = append(rep.Upstreams, ur)
	}
	cs := h.cfg.Source.CacheStatus()
	rep.Cache = cacheReport{Path: cs.Path, State: cs.State, Error: cs.Error, Loaded: cs.Loaded, Pending: cs.Pending}
	if !cs.LastFlush.IsZero() {
		t := cs.LastFlush.UTC()
		rep.Cache.LastFlush = &t
	}
	if cs.State != "ok" && cs.State != "off" {
		rep.Status = "degraded"
	}
	for _, b := range h.cfg.Bundles.Bundles() {
		rep.Bundles = append(rep.Bundles, bundleReport{File: b.File, Source: b.Source, Created: b.Created.UTC(),
			AgeSeconds: max(0, h.cfg.Now().Sub(b.Created)).Seconds(), Parameters: len(b.Parameters)})
	}
	if h.cfg.Monitor != nil {
		rep.Required = h.cfg.Monitor.Required()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

// metrics are the agent's own series; the Source registers its own (hits,
// misses, upstream calls, breaker state, refresh lag) on the same registry.
type metrics struct {
	requests    *prometheus.CounterVec
	staleServes prometheus.Counter
	// bundleServes counts responses with a value from a cold-start bundle.
	bundleServes prometheus.Counter
	forwarded    *prometheus.CounterVec
	refused      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paramstore_agent_requests_total",
			Help: "Requests answered by the agent, by interface, operation and status.",
		}, []string{"interface", "operation", "status"}),
		staleServes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paramstore_agent_stale_responses_total",
			Help: "Responses that carried at least one stale value.",
		}),
		bundleServes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paramstore_agent_bundle_responses_total",
			Help: "Responses that carried at least one value from a cold-start bundle (--bundle).",
		}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paramstore_agent_forwarded_total",
			Help: "SSM calls forwarded to an upstream, by operation and status.",
		}, []string{"operation", "status"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paramstore_agent_refused_total",
			Help: "Local API requests refused before any work, by reason (host, token, write).",
		}, []string{"reason"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.staleServes, m.bundleServes, m.forwarded, m.refused} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
