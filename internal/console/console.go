// Package console serves the web console at /console/: a dependency-free
// front end embedded in the binary, and a small JSON API behind it that
// hands each call, unsigned, to the server's own API handler in-process
// (Config.Serve), to run as the signed-in access key. The console therefore
// has no authority of its own: the same identities, IAM policies,
// throttling and audit records apply as to any SDK call, with
// "paramstore-console" in the user agent.
//
// Sign-in verifies an access key's secret (or temporary credentials) once
// (Config.CheckSecret) and forgets it. The browser then holds a random
// session ID in an HttpOnly, SameSite=Strict cookie (Secure under TLS); the
// server keeps only the ID's hash, the access key ID, the region, the
// expiry and the hash of the session's CSRF token, in memory and in
// Config.SessionFile, so sessions survive a restart and a copy of the file
// signs nobody in (session.go). A session ends after SessionTTL, when its
// temporary credentials expire if sooner, at sign-out, or as soon as its
// key is deleted or disabled. Every call also needs the session's CSRF
// token in X-Csrf-Token, which only the console's own page can read, and a
// same-origin Origin header when the browser sends one.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/paramstore/paramstore/internal/incident"
	"github.com/paramstore/paramstore/internal/ssm"
)

//go:embed assets
var assets embed.FS

// SessionTTL is the longest a console session lasts after sign-in.
const SessionTTL = 15 * time.Minute

// CookieName is the session cookie.
const CookieName = "paramstore_console"

// UserAgent names the console in the API calls it makes (and so in the
// audit trail).
const UserAgent = "paramstore-console/1"

// DefaultMaxSessions bounds the session table: a sign-in beyond it ends the
// oldest session.
const DefaultMaxSessions = 1000

// actions are the operations the console may call on a user's behalf, by
// the name the page uses, with their X-Amz-Target.
var actions = map[string]string{
	"DescribeParameters":      "AmazonSSM.DescribeParameters",
	"GetParameter":            "AmazonSSM.GetParameter",
	"GetParameterHistory":     "AmazonSSM.GetParameterHistory",
	"GetParametersByPath":     "AmazonSSM.GetParametersByPath",
	"PutParameter":            "AmazonSSM.PutParameter",
	"DeleteParameter":         "AmazonSSM.DeleteParameter",
	"LabelParameterVersion":   "AmazonSSM.LabelParameterVersion",
	"UnlabelParameterVersion": "AmazonSSM.UnlabelParameterVersion",
	"ListTagsForResource":     "AmazonSSM.ListTagsForResource",
	"AddTagsToResource":       "AmazonSSM.AddTagsToResource",
	"RemoveTagsFromResource":  "AmazonSSM.RemoveTagsFromResource",
	"ListNodes":               "Paramstore.ListNodes",
	"ListIncidents":           "Paramstore.ListIncidents",
	"ListNotifications":       "Paramstore.ListNotifications",
	"LookupAuditEvents":       "Paramstore.LookupAuditEvents",
}

// Principal is who a console call acts as: an access key, in a region.
type Principal struct {
	AccessKeyID string
	Region      string
}

// Config configures the console.
type Config struct {
	// Serve serves an API request (X-Amz-Target and a JSON body, without
	// a signature) as p, with the same authorization, throttling and audit
	// as a signed call. Required.
	Serve func(w http.ResponseWriter, r *http.Request, p Principal)
	// CheckSecret verifies sign-in credentials and the region, and returns
	// when temporary credentials expire (zero for a long-term key). A
	// refusal is an *ssm.Error. Required.
	// r is the sign-in request (its source and user agent).
	CheckSecret func(r *http.Request, accessKeyID, secret, sessionToken, region string) (time.Time, error)
	// SessionFile persists the session table; "" keeps it in memory.
	SessionFile string
	// PeerClient reads the members' /readyz for the cluster screen; nil
	// means a client with a 3-second timeout.
	PeerClient *http.Client
	// PeerTLS says PeerClient speaks peer TLS (--peer-tls-*): members are
	// read over https, whatever the scheme of their registered address
	// and of the console's own request (a member's API port takes a
	// peer's TLS beside its own clients). With PeerTransition
	// (--peer-tls-transition), a member that does not speak TLS yet is
	// read in plaintext, as the cluster calls do.
	PeerTLS, PeerTransition bool
	// MaxSessions bounds the table; 0 means DefaultMaxSessions.
	MaxSessions int
	// Now is the clock of sessions; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves /console/.
type Handler struct {
	serve    func(w http.ResponseWriter, r *http.Request, p Principal)
	check    func(r *http.Request, accessKeyID, secret, sessionToken, region string) (time.Time, error)
	now      func() time.Time
	log      *slog.Logger
	static   http.Handler
	mux      *http.ServeMux
	sessions *sessions
	peers    *http.Client
	// peerTLS, peerTransition: Config.PeerTLS, Config.PeerTransition.
	peerTLS, peerTransition bool
}

// New returns the console handler. A session file that cannot be read is
// logged and set aside (everyone signs in again); it never stops the
// server.
func New(cfg Config) (*Handler, error) {
	if cfg.Serve == nil || cfg.CheckSecret == nil {
		return nil, errors.New("console: Config.Serve and Config.CheckSecret are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	table, err := loadSessions(cfg.SessionFile, cfg.MaxSessions, cfg.Now)
	if err != nil {
		cfg.Logger.Error("console sessions not restored: everyone signs in again", "path", cfg.SessionFile, "error", err)
	}
	if cfg.PeerClient == nil {
		cfg.PeerClient = &http.Client{Timeout: 3 * time.Second}
	}
	h := &Handler{serve: cfg.Serve, check: cfg.CheckSecret, now: cfg.Now, log: cfg.Logger, sessions: table, peers: cfg.PeerClient,
		peerTLS: cfg.PeerTLS, peerTransition: cfg.PeerTransition,
		static: http.StripPrefix("/console/", http.FileServerFS(sub))}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /console/", h.serveStatic)
	h.mux.HandleFunc("POST /console/api/signin", h.signin)
	h.mux.HandleFunc("GET /console/api/session", h.whoami)
	h.mux.HandleFunc("POST /console/api/signout", h.signout)
	h.mux.HandleFunc("POST /console/api/call", h.call)
	h.mux.HandleFunc("POST /console/api/incident-report", h.incidentReport)
	h.mux.HandleFunc("POST /console/api/cluster", h.cluster)
	return h, nil
}

// ServeHTTP serves a request under /console/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.static.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// consoleError is the console API's error body, shaped like the SSM API's.
func consoleError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"__type": code, "message": msg})
}

// sameOrigin reports whether r's Origin header, when present, is this
// server: a page of another origin may not drive the console.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return origin == scheme+r.Host
}

// signinRequest is the sign-in form.
type signinRequest struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Region          string
}

// sessionInfo is what the page learns of its session.
type sessionInfo struct {
	AccessKeyID string `json:"AccessKeyId"`
	Region      string
	CsrfToken   string
	Expires     time.Time
}

// signin verifies an access key and starts a session that acts as it. The
// secret is not kept.
func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		consoleError(w, http.StatusForbidden, "AccessDeniedException", "Cross-origin request refused.")
		return
	}
	var in signinRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil || in.AccessKeyID == "" || in.SecretAccessKey == "" {
		consoleError(w, http.StatusBadRequest, "ValidationException", "Enter an access key ID and its secret access key.")
		return
	}
	if in.Region == "" {
		in.Region = "us-east-1"
	}
	credsExpire, err := h.check(r, in.AccessKeyID, in.SecretAccessKey, in.SessionToken, in.Region)
	if err != nil {
		var e *ssm.Error
		if !errors.As(err, &e) || e.HTTPStatus() >= 500 {
			h.log.Error("console sign-in failed", "access_key_id", in.AccessKeyID, "error", err)
			consoleError(w, http.StatusInternalServerError, "InternalServerError", "The sign-in could not be checked; try again.")
			return
		}
		h.log.Info("console sign-in refused", "access_key_id", in.AccessKeyID, "code", e.Code)
		msg := "The access key ID or secret access key is not valid."
		if e.Code != "UnrecognizedClientException" {
			msg = e.Message
		}
		consoleError(w, http.StatusUnauthorized, e.Code, msg)
		return
	}
	now := h.now()
	expires := now.Add(SessionTTL)
	if !credsExpire.IsZero() && credsExpire.Before(expires) {
		expires = credsExpire
	}
	id := newSessionID()
	csrf := csrfToken(id)
	s := &session{IDHash: sha256Hex(id), CSRFHash: sha256Hex(csrf), AccessKeyID: in.AccessKeyID, Region: in.Region,
		Created: now, Expires: expires}
	if err := h.sessions.add(s); err != nil {
		// A session that would not survive a restart, or whose sign-out
		// might not, is refused rather than half kept.
		h.sessions.remove(id)
		h.log.Error("console sign-in not recorded", "access_key_id", in.AccessKeyID, "error", err)
		consoleError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The session could not be recorded on the server; try again.")
		return
	}
	h.setCookie(w, r, id, expires.Sub(now))
	h.log.Info("console sign-in", "access_key_id", in.AccessKeyID, "expires", expires)
	writeJSON(w, http.StatusOK, sessionInfo{AccessKeyID: s.AccessKeyID, Region: s.Region, CsrfToken: csrf, Expires: expires.UTC()})
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, value string, ttl time.Duration) {
	maxAge := int(ttl / time.Second)
	if ttl <= 0 {
		maxAge = -1
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: value, Path: "/console/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// cookie is r's session cookie value, or "".
func cookie(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

// checked is the session of a request that acts: a live session, a
// same-origin request and the session's CSRF token. It writes the refusal
// and returns nil otherwise.
func (h *Handler) checked(w http.ResponseWriter, r *http.Request) *session {
	if !sameOrigin(r) {
		consoleError(w, http.StatusForbidden, "AccessDeniedException", "Cross-origin request refused.")
		return nil
	}
	s := h.sessions.lookup(cookie(r))
	if s == nil {
		consoleError(w, http.StatusUnauthorized, "SessionExpired", "Sign in to continue.")
		return nil
	}
	if !s.csrfOK(r.Header.Get("X-Csrf-Token")) {
		consoleError(w, http.StatusForbidden, "AccessDeniedException", "Missing or wrong CSRF token.")
		return nil
	}
	return s
}

// whoami returns the session's identity and CSRF token to the console's
// own page (a page of another origin cannot read it).
func (h *Handler) whoami(w http.ResponseWriter, r *http.Request) {
	id := cookie(r)
	s := h.sessions.lookup(id)
	if s == nil {
		consoleError(w, http.StatusUnauthorized, "SessionExpired", "Sign in to continue.")
		return
	}
	writeJSON(w, http.StatusOK, sessionInfo{AccessKeyID: s.AccessKeyID, Region: s.Region, CsrfToken: csrfToken(id), Expires: s.Expires.UTC()})
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	if h.checked(w, r) == nil {
		return
	}
	h.setCookie(w, r, "", 0)
	if err := h.sessions.remove(cookie(r)); err != nil {
		// Signed out of this process; the file may still name the session
		// until it expires or the next write succeeds.
		h.log.Error("console sign-out not recorded", "error", err)
		consoleError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "Signed out, but the server could not record it; the session ends at its expiry.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{})
}

// callRequest is one API call from the page.
type callRequest struct {
	Action string
	Input  json.RawMessage
}

// call serves an API call as the session's access key, answering with the
// API's status and body.
func (h *Handler) call(w http.ResponseWriter, r *http.Request) {
	s := h.checked(w, r)
	if s == nil {
		return
	}
	var in callRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		consoleError(w, http.StatusBadRequest, "ValidationException", "The request is not valid JSON.")
		return
	}
	target, ok := actions[in.Action]
	if !ok {
		consoleError(w, http.StatusBadRequest, "InvalidAction", "The console does not call "+in.Action+".")
		return
	}
	rec := h.forward(r, s, target, in.Input)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// forward serves target with body as s's principal through the API
// handler, as if the browser's connection had sent it.
func (h *Handler) forward(r *http.Request, s *session, target string, body []byte) *httptest.ResponseRecorder {
	if len(body) == 0 {
		body = []byte("{}")
	}
	rec := httptest.NewRecorder()
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		rec.Code = http.StatusInternalServerError
		rec.Body = bytes.NewBufferString(`{"__type":"InternalServerError","message":"The console could not make the request."}`)
		return rec
	}
	req.Host = r.Host
	req.RemoteAddr = r.RemoteAddr
	req.TLS = r.TLS
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("User-Agent", UserAgent+" "+r.UserAgent())
	h.serve(rec, req, Principal{AccessKeyID: s.AccessKeyID, Region: s.Region})
	return rec
}

// incidentReport answers the markdown report of one incident, read with
// ListIncidents as the session's principal (so its policy decides).
func (h *Handler) incidentReport(w http.ResponseWriter, r *http.Request) {
	s := h.checked(w, r)
	if s == nil {
		return
	}
	var in struct{ Id string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil || in.Id == "" {
		consoleError(w, http.StatusBadRequest, "ValidationException", "Name an incident (Id).")
		return
	}
	rec := h.forward(r, s, actions["ListIncidents"], nil)
	if rec.Code != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	var list struct {
		Incidents []incident.Incident `json:"incidents"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		consoleError(w, http.StatusInternalServerError, "InternalServerError", "The incidents could not be read.")
		return
	}
	for _, inc := range list.Incidents {
		if inc.ID == in.Id {
			var b bytes.Buffer
			incident.Report(&b, inc, h.now())
			writeJSON(w, http.StatusOK, map[string]string{"Report": b.String()})
			return
		}
	}
	consoleError(w, http.StatusNotFound, "IncidentNotFound", "No incident "+in.Id+".")
}
