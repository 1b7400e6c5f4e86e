// Package api serves the SSM Parameter Store API over HTTP with the AWS JSON
// 1.1 protocol: routing by X-Amz-Target, size limits, decoding, AWS-shaped
// errors, request IDs, metrics and logs. It also serves the operational
// endpoints of DESIGN.md §3 (/healthz, /readyz, /metrics, dev reset).
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/auth"
	"github.com/paramstore/paramstore/internal/events"
	"github.com/paramstore/paramstore/internal/fault"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/sigv4"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/throttle"
)

// MaxBodyBytes is the request size limit (spec §3.6).
const MaxBodyBytes = 1 << 20

// consistencyHeader selects the read consistency of a request: "stale"
// (this node's local state, bounded by --max-staleness) or "linearizable".
const consistencyHeader = "X-Paramstore-Consistency"

const contentType = "application/x-amz-json-1.1"

// contentTypeHeader is the Content-Type of every API answer, shared by
// them (nothing changes a header value in place).
var contentTypeHeader = []string{contentType}

// Config configures the handler.
type Config struct {
	Service *service.Service
	// Account is the account of every caller until authentication assigns
	// one per access key. Required.
	Account string
	// DefaultRegion is used for unsigned requests. Required.
	DefaultRegion string
	// Dev enables POST /_paramstore/reset.
	Dev bool
	// Auth authenticates callers and runs the admin API. Required.
	Auth *auth.Authenticator
	// NoAuth accepts any signature (dev mode): the region is still taken
	// from the credential scope, and every action is allowed.
	NoAuth bool
	// Throttle limits request rates per access key; nil means unlimited.
	Throttle *throttle.Limiter
	// Audit receives one record per API call; nil means no audit trail.
	Audit audit.Sink
	// IntentsInLog says the store carries the intent records of the
	// calls that write parameters in the raft log (store.WithIntent,
	// raftstore.Node.CarriesIntents): their intent is then not made
	// durable on the trail before they run, but with their change. Audit
	// must then be an IntentSink.
	IntentsInLog bool
	// WriteGuard, if set, is asked before a call that may change state
	// runs (before its audit intent record): an error refuses the call
	// with InternalServerError, logged with the cause. The server's disk
	// floor (--min-free-space).
	WriteGuard func() error
	// Degraded, if set, gives the reason this node refuses writes while
	// it still serves reads ("" when it does not): /readyz stays 200 but
	// says can_write false and why.
	Degraded func() string
	// AuditEvents selects the calls recorded ("" is audit.EventsAll);
	// with audit.EventsWrite, read-only operations leave no record.
	AuditEvents audit.Events
	// Cluster is the raft node: readiness, membership, cluster RPCs,
	// snapshots. Nil (in tests of the API alone) leaves them out.
	Cluster Cluster
	// StaleReads makes reads on this node local (stale) unless a request
	// asks for X-Paramstore-Consistency: linearizable.
	StaleReads bool
	// Registry receives the metrics; nil means a private registry.
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// Faults, if set (--enable-fault-injection), applies injected faults
	// to SSM calls at the edge and serves the admin operations InjectFault
	// and ClearFault.
	Faults *fault.Injector
	// Incidents, if set, answers the admin operation ListIncidents.
	Incidents func(ctx context.Context) (any, error)
	Now       func() time.Time
	// Notify runs the webhook subscriptions' admin operations
	// (PutNotification, ...); nil leaves them out.
	Notify *events.Manager
	// AuditPath is the audit trail's file, read back by the admin
	// operation LookupAuditEvents; "" leaves it out.
	AuditPath string
	// ConsoleSessions is the web console's session table file; "" keeps
	// sessions in memory.
	ConsoleSessions string
	// PeerClient, with peer TLS (--peer-tls-*), is how this node reaches
	// the other members' API ports (the console's cluster screen reads
	// their /readyz with it); nil without peer TLS. PeerTransition is
	// --peer-tls-transition.
	PeerClient     *http.Client
	PeerTransition bool
	// MaxWatchers bounds the change stream's waiting long polls on this
	// node (--max-watchers); past it they are answered ServiceUnavailable.
	// 0 means no bound.
	MaxWatchers int
	// Mirrors, if set, returns the status of the mirrors of
	// --mirror-config, shown by /readyz under "mirrors" (a stale mirror
	// does not make the node unready: it still serves what it holds).
	Mirrors func() any
}

// Handler is the HTTP handler of the server.
type Handler struct {
	cfg     Config
	svc     *service.Service
	log     *slog.Logger
	ops     map[string]*operation // by X-Amz-Target (operations.go)
	reg     *prometheus.Registry
	mux     *http.ServeMux
	metrics *metrics

	// stopping is closed by BeginShutdown: long polls answer at once.
	stopping chan struct{}
	stopOnce sync.Once

	// hub parks the change stream's long polls (nil without a notifier:
	// they answer at once); listener, set by Listener, takes back the
	// connections of the answered ones.
	hub      *service.Hub
	listener *parkListener
	lagging  atomic.Int64 // streams whose pages wait for their client (parkedConn.slow)
	// writing counts the calls in flight that may change state: the
	// change stream's answer writers step aside while there are any
	// (parkListener.pace).
	writing writeGate
}

// BeginShutdown makes pending long polls (the change stream) return, so
// that draining in-flight requests does not wait for them.
func (h *Handler) BeginShutdown() {
	h.stopOnce.Do(func() {
		close(h.stopping)
		if h.hub != nil {
			h.hub.Close()
		}
	})
}

// New builds the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Service == nil || cfg.Auth == nil {
		return nil, errors.New("api: Config.Service and Config.Auth are required")
	}
	// Their defaults are the server's (server.Default).
	if cfg.Account == "" || cfg.DefaultRegion == "" {
		return nil, errors.New("api: Config.Account and Config.DefaultRegion are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := cfg.Service
	h := &Handler{cfg: cfg, svc: s, log: cfg.Logger, reg: cfg.Registry, stopping: make(chan struct{})}
	ops := h.operations()
	h.ops = make(map[string]*operation, len(ops))
	for i := range ops {
		h.ops[ops[i].target()] = &ops[i]
	}
	m, err := newMetrics(h.reg)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	if h.hub, err = service.NewHub(s, cfg.MaxWatchers); err == nil {
		for _, c := range watchersCollectors(h.hub, cfg.MaxWatchers, &h.lagging) {
			if err := h.reg.Register(c); err != nil {
				return nil, err
			}
		}
	} else {
		h.hub = nil // no notifier: long polls answer at once
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	h.mux.HandleFunc("GET /readyz", h.readyz)
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{}))
	h.mux.HandleFunc("POST /_paramstore/reset", h.reset)
	h.mux.HandleFunc("GET /_paramstore/changes", h.changes)
	if cfg.Cluster != nil {
		h.mux.Handle("/_paramstore/cluster/", cfg.Cluster.Handler())
		h.mux.HandleFunc("GET /_paramstore/snapshot", h.snapshot)
	}
	con, err := h.newConsole()
	if err != nil {
		return nil, err
	}
	h.mux.Handle("/console/", con)
	h.mux.HandleFunc("/", h.serveAPI)
	return h, nil
}

// ServeHTTP routes a request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// SDK requests always carry X-Amz-Target; route them to the API whatever
	// the path (botocore posts to an endpoint URL's path verbatim).
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if h.cfg.Faults != nil && strings.HasPrefix(t, "AmazonSSM.") {
			h.cfg.Faults.Middleware(http.HandlerFunc(h.serveAPI)).ServeHTTP(w, r)
			return
		}
		h.serveAPI(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, text)
}

// readyz reports, as JSON, which kinds of requests this node can serve:
// 200 when it can serve its default kind of read, 503 otherwise.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	var fst *fault.Status
	if h.cfg.Faults != nil {
		if st, ok := h.cfg.Faults.Status(); ok {
			fst = &st
		}
	}
	var mirrors any
	if h.cfg.Mirrors != nil {
		mirrors = h.cfg.Mirrors()
	}
	if h.cfg.Cluster == nil {
		if fst != nil || mirrors != nil {
			body := map[string]any{}
			if fst != nil {
				body["fault"] = fst
			}
			if mirrors != nil {
				body["mirrors"] = mirrors
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(body)
			return
		}
		writeText(w, http.StatusOK, "ready\n")
		return
	}
	st := h.cfg.Cluster.Status()
	status := http.StatusServiceUnavailable
	if st.CanReadLinearizable || (h.cfg.StaleReads && st.CanReadStale) {
		status = http.StatusOK
	}
	var degraded string
	if h.cfg.Degraded != nil {
		degraded = h.cfg.Degraded()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if fst == nil && degraded == "" && mirrors == nil {
		json.NewEncoder(w).Encode(st)
		return
	}
	// The cluster's status with the injected fault, the reason writes are
	// refused and the mirrors beside it.
	raw, _ := json.Marshal(st)
	var body map[string]any
	json.Unmarshal(raw, &body)
	if fst != nil {
		body["fault"] = fst
	}
	if degraded != "" {
		body["can_write"] = false
		body["degraded"] = degraded
	}
	if mirrors != nil {
		body["mirrors"] = mirrors
	}
	json.NewEncoder(w).Encode(body)
}

func (h *Handler) reset(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Dev {
		writeText(w, http.StatusNotFound, "reset is only available with --dev\n")
		return
	}
	if err := h.svc.ResetAll(r.Context()); err != nil {
		h.log.Error("reset failed", "error", err)
		writeText(w, http.StatusInternalServerError, "reset failed\n")
		return
	}
	h.log.Info("store reset")
	writeText(w, http.StatusOK, "reset\n")
}

// call is one API request in flight.
type call struct {
	reqID    string
	op       string     // the operation's name, "unknown" until routed
	o        *operation // nil until routed
	start    time.Time
	body     []byte // what the operation decoded (and the audit records)
	region   string
	sourceIP string
	identity audit.UserIdentity
	out      any
	err      error
	// intent says the call's intent record was queued: its result record
	// is owed to the trail whatever happens (audit.Applied).
	intent bool
	// bodyValid caches json.Valid(body) for the records: 1 valid, -1 not,
	// 0 not yet known. bodyCompact says that body is valid and holds no
	// JSON whitespace (decodeFast parsed it): the records take it as is
	// (audit.Compact), with no json.Compact.
	bodyValid   int8
	bodyCompact bool
	// authz is the caller's authorization request (identified), and
	// reqIDHeader the X-Amzn-RequestId header's value: here rather than
	// allocated on their own.
	authz        auth.Request
	reqIDHeader  [1]string
	lengthHeader [1]string
	// memo redacts the request once for the call's records (intent and
	// result).
	memo audit.Memo
	// writing says the call counts in Handler.writing.
	writing bool
	// slot is the intent record that travels with the call's command
	// (logIntent, store.WithIntent), nil if none does.
	slot *store.IntentSlot
}

// callPool holds the calls of serveAPI: every API request has one, and
// nothing keeps it once its answer is written (finish) but the memory of
// its memo, reused.
var callPool = sync.Pool{New: func() any { return new(call) }}

// newCall returns a call from callPool, zeroed but for its memo's memory;
// put it back with release once finish has returned.
func newCall() *call {
	c := callPool.Get().(*call)
	*c = call{memo: c.memo.Reset()}
	return c
}

func (c *call) release() { callPool.Put(c) }

// serveAPI handles one SSM API call.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request) {
	c := newCall()
	c.reqID, c.op, c.start, c.sourceIP = audit.NewID(), "unknown", h.cfg.Now(), sourceIP(r)
	defer c.release()
	defer func() {
		// A panic in an operation is a bug: answer InternalServerError and
		// keep serving, rather than dropping the connection.
		if p := recover(); p != nil {
			perr, ok := p.(error)
			if !ok {
				perr = fmt.Errorf("%v", p)
			}
			c.out, c.err = nil, ssm.Wrap(fmt.Errorf("api: panic in %s: %w", c.op, perr))
			h.log.Error("panic", "request_id", c.reqID, "operation", c.op, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
		h.finish(w, r, c)
		if c.writing {
			h.writing.end()
		}
	}()
	c.out, c.err = h.run(r, c)
}

func (h *Handler) run(r *http.Request, c *call) (any, error) {
	presigned := strings.Contains(r.URL.RawQuery, "X-Amz-Signature") && r.URL.Query().Has("X-Amz-Signature")
	if r.Method != http.MethodPost && !(presigned && r.Method == http.MethodGet) {
		return nil, &ssm.Error{Code: ssm.CodeUnknownOperation, NoMessage: true, Status: http.StatusNotFound}
	}
	body, err := readBody(r)
	if err != nil {
		return nil, ssm.NewError(ssm.CodeSerialization, "Unable to read the request body.")
	}
	if len(body) > MaxBodyBytes {
		return nil, ssm.NewError(ssm.CodeRequestTooLarge, fmt.Sprintf("Request size exceeds %d bytes", MaxBodyBytes))
	}
	c.body = body
	caller, accessKey, err := h.authenticate(r, c)
	if err != nil {
		return nil, err
	}
	if presigned && len(trimJSONSpace(body)) == 0 {
		// botocore's generate_presigned_url puts a JSON operation's
		// parameters in the query string.
		body = queryBody(r.URL.Query())
		c.body, c.bodyValid = body, 0
	}
	o := h.ops[r.Header.Get("X-Amz-Target")]
	if o == nil {
		return nil, ssm.Bare(ssm.CodeUnknownOperation)
	}
	c.op, c.o = o.name, o
	if !o.readOnly() {
		h.writing.begin()
		c.writing = true
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	if h.cfg.Throttle != nil {
		if err := h.cfg.Throttle.Allow(accessKey, o.class); err != nil {
			return nil, ssm.NewError(ssm.CodeThrottling, "Rate exceeded")
		}
	}
	ctx := r.Context()
	switch r.Header.Get(consistencyHeader) {
	case "stale":
		if o.readOnly() {
			ctx = store.WithStale(ctx)
		} else {
			ctx = store.WithWritePlan(ctx)
		}
	case "linearizable":
	default:
		// Writes plan against local state, which a follower first brings
		// up to the leader's read index (store.WithWritePlan): their
		// compare-and-set commit catches a change made in between. Reads
		// follow the node's default.
		if !o.readOnly() {
			ctx = store.WithWritePlan(ctx)
		} else if h.cfg.StaleReads {
			ctx = store.WithStale(ctx)
		}
	}
	if h.cfg.WriteGuard != nil && !o.readOnly() {
		if err := h.cfg.WriteGuard(); err != nil {
			return nil, ssm.Wrap(fmt.Errorf("api: %s refused before it ran: %w", c.op, err))
		}
	}
	out, err := o.run(ctx, caller, body, prepare{h: h, r: r, c: c})
	if slot := c.slot; slot != nil {
		// The intent travelled with a command: the result is owed to the
		// trail once one took it (it is in the log, and on the trail when
		// applied); a call refused before it proposed anything has none.
		c.intent = slot.Used()
	}
	return out, err
}

// prepare readies a call once its body is decoded, before its operation
// runs (opFunc): a call that may change state leaves its intent record
// then. A body that cannot decode changes nothing and needs no intent:
// the call is refused with its decoding error, and leaves only its result
// record.
type prepare struct {
	h *Handler
	r *http.Request
	c *call
}

// ready is called with the call's context once the body decoded (fast:
// by decodeFast, then the body is valid JSON of plain members, which the
// records take as it is), and returns the context the operation runs in.
func (p prepare) ready(ctx context.Context, fast bool) (context.Context, error) {
	c := p.c
	if fast && c.bodyValid == 0 {
		c.bodyValid = 1 // decodeFast parsed it: the records need not check it
		if !bytes.ContainsAny(c.body, " \t\r\n") {
			c.bodyCompact = true
		}
	}
	if p.h.cfg.Audit == nil || c.o.readOnly() {
		return ctx, nil
	}
	if c.bodyValid == 0 && len(trimJSONSpace(c.body)) > 0 {
		c.bodyValid = 1 // it decoded: it is valid JSON
	}
	ctx, err := p.h.logIntent(ctx, p.r, c)
	c.slot = store.IntentFrom(ctx)
	return ctx, err
}

// readBody reads the request body, at most MaxBodyBytes+1 bytes: into a
// buffer of the declared length when the request declares one within the
// limit (net/http's body reader ends there), which every SDK does; else as
// io.ReadAll does, growing from 512 bytes.
//
// A body read to its end is closed: net/http, which otherwise looks for
// more of it (io.CopyN to io.Discard, with an allocation and a pooled
// buffer) as it writes the answer's header, then skips that.
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= MaxBodyBytes {
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, err
		}
		r.Body.Close()
		return b, nil
	}
	return io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
}

// logIntent writes the intent record of a call that may change state and
// waits until it is durable: nothing changes unless the trail holds the
// request first, so a change is never answered as failed after it was
// applied, whatever happens to the trail afterwards. If the trail cannot
// write (a full disk), the call is refused before it runs.
//
// With IntentsInLog, a PutParameter's intent record travels in the raft
// log instead, in the command that carries out the call (the returned
// context holds it, store.WithIntent): the log's fsync makes it durable
// with the change, and the node appends it to the trail as it applies
// the command (internal/audit/doc.go, "Durability"). While the trail is
// failing, the record is written and waited for as above, which refuses
// the call until the trail writes again.
func (h *Handler) logIntent(ctx context.Context, r *http.Request, c *call) (context.Context, error) {
	rec := h.record(r, c)
	rec.EventType = audit.EventTypeIntent
	if is, ok := h.cfg.Audit.(IntentSink); ok && h.cfg.IntentsInLog && c.op == opPutParameter && is.Failing() == nil {
		body, err := is.EncodeIntent(rec)
		if err != nil {
			return ctx, ssm.Wrap(fmt.Errorf("api: %s refused before it ran: its audit intent record: %w", c.op, err))
		}
		slot := &intentSlot{IntentSlot: store.IntentSlot{Body: body}, h: h, r: r, c: c}
		slot.Durable = slot
		return store.WithIntent(ctx, &slot.IntentSlot), nil
	}
	queued, err := h.logIntentDurable(r, c, rec)
	c.intent = queued
	return ctx, err
}

// logIntentDurable writes rec, the intent record of c, and waits until it
// is durable. queued says it was queued (its result record is owed).
func (h *Handler) logIntentDurable(r *http.Request, c *call, rec audit.Record) (queued bool, err error) {
	err = h.cfg.Audit.Log(r.Context(), rec, audit.Durable)
	var nd *audit.NotDurableError
	queued = err == nil || errors.As(err, &nd)
	if err != nil {
		return queued, ssm.Wrap(fmt.Errorf("api: %s refused before it ran: its audit intent record: %w", c.op, err))
	}
	return true, nil
}

// intentSlot is the intent slot of a call whose record travels in the
// raft log, able to write the record by itself (store.IntentSlot.Durable)
// when the node forwards the command to its leader instead.
type intentSlot struct {
	store.IntentSlot
	h *Handler
	r *http.Request
	c *call
}

func (s *intentSlot) LogIntentDurable() (bool, error) {
	rec := s.h.record(s.r, s.c)
	rec.EventType = audit.EventTypeIntent
	return s.h.logIntentDurable(s.r, s.c, rec)
}

// IntentSink is an audit.Sink that encodes intent records for the raft
// log (audit.FileSink): see Config.IntentsInLog.
type IntentSink interface {
	audit.Sink
	EncodeIntent(rec audit.Record) ([]byte, error)
	// Failing returns the error that keeps the trail from writing.
	Failing() error
}

// opPutParameter is the operation whose intent may travel in the raft log.
const opPutParameter = "PutParameter"

// authenticate verifies the request's signature and returns the caller and
// the key that throttling counts against. With NoAuth, any signature is
// accepted and only the region is read from it.
func (h *Handler) authenticate(r *http.Request, c *call) (service.Caller, string, error) {
	if caller, key, ok := h.internalCaller(r, c); ok {
		return caller, key, nil
	}
	if p, ok := consolePrincipal(r); ok {
		return h.authenticateConsole(r, c, p)
	}
	if h.cfg.NoAuth {
		caller, err := h.caller(r)
		c.region = caller.Tenancy.Region
		c.identity = audit.UserIdentity{Type: audit.IdentityAnonymous, ARN: caller.UserARN, AccountID: h.cfg.Account}
		return caller, caller.UserARN, err
	}
	id, region, err := h.cfg.Auth.Authenticate(r, c.body)
	if err != nil {
		return service.Caller{}, "", toSSMError(err)
	}
	return h.identified(r, c, id, region)
}

// identified is the caller of an authenticated call by id in region.
func (h *Handler) identified(r *http.Request, c *call, id *auth.Identity, region string) (service.Caller, string, error) {
	c.region = region
	c.identity = audit.UserIdentity{Type: identityType(id.Kind), PrincipalID: id.AccessKeyID, ARN: id.ARN,
		AccountID: id.Account, AccessKeyID: id.AccessKeyID, UserName: id.Name}
	c.authz = auth.Request{ID: id, SourceIP: c.sourceIP, Secure: r.TLS != nil, Region: region, Now: c.start}
	caller := service.Caller{
		Tenancy: ssm.Tenancy{Account: h.cfg.Account, Region: region},
		UserARN: id.ARN,
		Authz:   &c.authz,
	}
	return caller, id.AccessKeyID, nil
}

// queryBody turns the non-signature query parameters of a presigned URL into
// a JSON input; booleans and numbers of the Parameter Store inputs are typed.
func queryBody(q url.Values) []byte {
	in := map[string]any{}
	for k, vs := range q {
		if strings.HasPrefix(k, "X-Amz-") || len(vs) == 0 {
			continue
		}
		v := vs[0]
		switch k {
		case "WithDecryption", "Recursive", "Overwrite", "Shared":
			b, err := strconv.ParseBool(v)
			if err != nil {
				in[k] = v
			} else {
				in[k] = b
			}
		case "MaxResults", "ParameterVersion":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				in[k] = v
			} else {
				in[k] = n
			}
		default:
			in[k] = v
		}
	}
	b, _ := json.Marshal(in)
	return b
}

func identityType(kind string) string {
	switch kind {
	case store.KindRoot:
		return audit.IdentityRoot
	case store.KindRole:
		return audit.IdentityAssumedRole
	}
	return audit.IdentityIAMUser
}

// toSSMError turns an authentication failure into the AWS error to send:
// sigv4's errors keep their code and message; others are translated as
// any failure is (service.AWSError).
func toSSMError(err error) *ssm.Error {
	var se *sigv4.Error
	if errors.As(err, &se) {
		e := ssm.NewError(se.Code, se.Message)
		if r := se.Redacted(); r != se.Message {
			e.Redacted = r
		}
		return e
	}
	return service.AWSError(err)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func checkContentType(ct string) *ssm.Error {
	if ct == "" {
		return nil
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	switch mt {
	case "application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json":
		return nil
	}
	return ssm.NewError(ssm.CodeSerialization, "Unsupported Content-Type: "+mt+". Use application/x-amz-json-1.1.")
}

// credentialScope extracts the access key and region of an Authorization
// header's Credential=KEY/DATE/REGION/... (without verifying anything).
func credentialScope(authz string) (key, region string, ok bool) {
	_, rest, found := strings.Cut(authz, "Credential=")
	if !found {
		return "", "", false
	}
	if i := strings.IndexAny(rest, ", \t"); i >= 0 {
		rest = rest[:i]
	}
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 4 || len(parts[1]) != 8 || strings.Trim(parts[1], "0123456789") != "" {
		return "", "", false
	}
	return parts[0], parts[2], true
}

// caller derives the tenancy from the SigV4 credential scope. Signatures
// are not verified (--dev): any signature is accepted, but the region is
// taken from it, and it must be one that a verified request could name, as
// AWS refuses made-up regions whatever the credentials.
func (h *Handler) caller(r *http.Request) (service.Caller, error) {
	c := service.Caller{Tenancy: ssm.Tenancy{Account: h.cfg.Account, Region: h.cfg.DefaultRegion}}
	partition := ssm.Partition(c.Tenancy.Region)
	user := "root"
	if key, region, ok := credentialScope(r.Header.Get("Authorization")); ok {
		if region != c.Tenancy.Region && !h.cfg.Auth.AcceptsRegion(region) {
			return c, ssm.NewError(sigv4.CodeInvalidSignature, "Credential should be scoped to a valid region, not '"+region+"'. ")
		}
		c.Tenancy.Region = region
		partition = ssm.Partition(region)
		if key != "" {
			user = "user/" + key
		}
	}
	c.UserARN = "arn:" + partition + ":iam::" + c.Tenancy.Account + ":" + user
	return c, nil
}

// trimJSONSpace trims the whitespace JSON allows around a value (space,
// tab, CR, LF), and nothing else: AWS refuses a body wrapped in other
// Unicode spaces, and the audit trail must see the bytes that were decoded.
func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

// Errors of bodies that are not JSON objects.
func errMalformedBody() error {
	return ssm.NewError(ssm.CodeSerialization, "Malformed JSON request body.")
}

func errNotAnObject() error {
	return ssm.NewError(ssm.CodeSerialization, "Start of structure or map found where not expected.")
}

func errRepeatedMember() error {
	return ssm.NewError(ssm.CodeSerialization, "Duplicate member name in the request body.")
}

// checkBody returns the error decode returns for a body that is neither
// empty nor a JSON object whose members have distinct names (ignoring
// case), and nil otherwise.
func checkBody(body []byte) error {
	trimmed := trimJSONSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil
	case !json.Valid(trimmed):
		return errMalformedBody()
	case trimmed[0] != '{':
		return errNotAnObject()
	case repeatedMember(trimmed):
		return errRepeatedMember()
	}
	return nil
}

// decode parses a JSON body into an operation input. An empty body is {}.
func decode(body []byte, v any) error {
	_, err := decodeParsed(body, v)
	return err
}

// decodeParsed is decode, and reports whether decodeFast decoded the body
// (then the body, trimmed, is valid JSON).
func decodeParsed(body []byte, v any) (fast bool, err error) {
	trimmed := trimJSONSpace(body)
	if len(trimmed) == 0 {
		return false, nil
	}
	if trimmed[0] != '{' {
		return false, checkBody(trimmed)
	}
	if decodeFast(trimmed, v) {
		return true, nil
	}
	return false, decodeSlow(trimmed, v)
}

// decodeSlow is decode's general path, with encoding/json, for a trimmed
// body that starts an object.
func decodeSlow(trimmed []byte, v any) error {
	if err := json.Unmarshal(trimmed, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return ssm.NewError(ssm.CodeSerialization, "Unexpected value type for member '"+te.Field+"'.")
		}
		return errMalformedBody()
	}
	// Unmarshal matched names case-insensitively, the last one winning:
	// a repeated name would run a value the audit record does not show
	// first.
	if repeatedMember(trimmed) {
		return errRepeatedMember()
	}
	return nil
}

// finish writes the audit record, then the response or the error, and
// records metrics and logs. A call that changes state is answered only
// once its audit record is durable.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, c *call) {
	hdr := w.Header()
	// Set by key, canonical already: Header.Set allocates for each. The
	// Date header is net/http's: it formats it into a buffer of its own,
	// where one more header of the handler's is copied, sorted and
	// checked for newlines on every answer.
	c.reqIDHeader[0] = c.reqID
	hdr["X-Amzn-Requestid"] = c.reqIDHeader[:]
	hdr["Content-Type"] = contentTypeHeader
	status, code := http.StatusOK, ""
	var body []byte
	if c.err == nil {
		buf := bodyPool.Get().(*[]byte)
		defer bodyPool.Put(buf)
		var merr error
		body, merr = encodeResponse((*buf)[:0], c.out)
		if merr != nil {
			c.err = ssm.Wrap(fmt.Errorf("api: encode %s response: %w", c.op, merr))
		}
		*buf = body[:0]
	}
	var e *ssm.Error
	if c.err != nil {
		e = service.AWSError(c.err)
		status, code = e.HTTPStatus(), e.Code
	}
	if h.cfg.Audit != nil {
		if aerr := h.audit(r, c, e, body); aerr != nil {
			h.log.Error("audit record not written", "request_id", c.reqID, "operation", c.op, "error", aerr)
			if e == nil {
				// Only a call without an intent record (a read) can get
				// here: it is refused rather than served unaudited.
				e = ssm.Wrap(aerr)
				status, code = e.HTTPStatus(), e.Code
			}
		}
	}
	if e != nil {
		body = errorBody(e)
		hdr.Set("X-Amzn-ErrorType", e.Code)
		logFailure(h.log, c.reqID, c.op, e)
	}
	if len(body) > netHTTPBuffer {
		// net/http sets the Content-Length of a body that fits the buffer
		// it fills before it sends the header; a larger one it would
		// send chunked (a GetParametersByPath page of 10 is 2-4 KB).
		c.lengthHeader[0] = strconv.Itoa(len(body))
		hdr["Content-Length"] = c.lengthHeader[:]
	}
	w.WriteHeader(status)
	w.Write(body)
	elapsed := h.cfg.Now().Sub(c.start)
	h.metrics.observe(c.op, status, code, elapsed)
	if code != "" {
		h.log.Info("request failed", "request_id", c.reqID, "operation", c.op, "status", status, "code", code, "duration", elapsed)
	} else if h.log.Enabled(r.Context(), slog.LevelDebug) {
		// Checked first: the arguments alone cost allocations on every call.
		h.log.Debug("request", "request_id", c.reqID, "operation", c.op, "status", status, "duration", elapsed)
	}
}

// netHTTPBuffer is the size of the buffer of a response's body that
// net/http fills before it sends the header (bufferBeforeChunkingSize): it
// computes the Content-Length of a body that fits, and sends a larger one
// chunked unless the handler set one.
const netHTTPBuffer = 2048

// bodyPool holds the buffers of response bodies: a body is written, and
// its buffer reused, before finish returns.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// encodeResponse appends the JSON encoding of an operation's output to b:
// by hand for the outputs of the hot reads (encode.go), with encoding/json
// for the others.
func encodeResponse(b []byte, out any) ([]byte, error) {
	if b, ok := appendResponse(b, out); ok {
		return b, nil
	}
	raw, err := json.Marshal(out)
	return append(b, raw...), err
}

// logFailure logs the failures that are the server's, with their cause
// (ssm.Error's Error): internal errors, and unavailability as a warning.
func logFailure(log *slog.Logger, reqID, op string, e *ssm.Error) {
	switch e.Code {
	case ssm.CodeInternal:
		log.Error("internal error", "request_id", reqID, "operation", op, "error", e)
	case ssm.CodeServiceUnavailable:
		log.Warn("unavailable", "request_id", reqID, "operation", op, "error", e)
	}
}

// audit logs the call's result record. The record of a call whose intent
// record was queued is owed to the trail (audit.Applied: never refused,
// kept until the trail can write it); any other record is Buffered, and
// refused only while the trail cannot write and its backlog is full. out is
// the response's body as encoded for the client: the record's
// responseElements are redacted from it (audit.Marshaled), not from c.out
// encoded again.
func (h *Handler) audit(r *http.Request, c *call, e *ssm.Error, out []byte) error {
	if h.cfg.AuditEvents == audit.EventsWrite && c.o != nil && c.o.readOnly() {
		return nil
	}
	rec := h.record(r, c)
	if e != nil {
		rec.ErrorCode, rec.ErrorMessage = e.Code, e.RecordedMessage()
	} else if !rec.ReadOnly {
		rec.ResponseElements = audit.Marshaled(out)
	}
	if c.intent {
		return h.cfg.Audit.Log(context.WithoutCancel(r.Context()), rec, audit.Applied)
	}
	return h.cfg.Audit.Log(r.Context(), rec, audit.Buffered)
}

// record returns the audit record of c without its outcome.
// requestParameters are the bytes the operation decoded, and nothing when
// they are not JSON (the call then failed before it ran). The target's
// family decides the redaction (operations.go); a call to an unknown target
// is recorded default deny, as the admin API is: only the members
// adminAuditKeep names keep their values.
func (h *Handler) record(r *http.Request, c *call) audit.Record {
	rec := audit.Record{
		EventTime:          c.start,
		EventName:          c.op,
		AWSRegion:          c.region,
		SourceIPAddress:    c.sourceIP,
		UserAgent:          r.UserAgent(),
		UserIdentity:       c.identity,
		RequestID:          c.reqID,
		ReadOnly:           c.o != nil && c.o.readOnly(),
		RecipientAccountID: h.cfg.Account,
	}
	if c.bodyValid == 0 {
		c.bodyValid = -1
		if json.Valid(c.body) {
			c.bodyValid = 1
		}
	}
	switch {
	case c.bodyCompact:
		rec.RequestParameters = audit.Compact(c.body)
	case c.bodyValid > 0:
		rec.RequestParameters = json.RawMessage(c.body)
	}
	rec.Memo = &c.memo
	rec.Keep = adminAuditKeep
	o := c.o
	if o == nil {
		// Refused before it was routed: the target still decides.
		o = h.ops[r.Header.Get("X-Amz-Target")]
	}
	if o != nil {
		rec.Keep = o.family.keep
	}
	return rec
}

// errorBody renders an AWS JSON error: {"__type": code, <member>: message}.
func errorBody(e *ssm.Error) []byte {
	m := map[string]string{"__type": e.Code}
	if member, ok := e.MessageMember(); ok {
		m[member] = e.Message
	}
	b, _ := json.Marshal(m)
	return b
}

// ErrorBody exposes the error encoding for tests and other listeners.
func ErrorBody(e *ssm.Error) []byte { return errorBody(e) }
