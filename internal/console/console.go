// Package console serves the web console at /console/: a dependency-free
// front end embedded in the binary, and a small JSON API behind it that
// signs each call with the signed-in user's access key and hands it to the
// server's own SSM API handler in-process. The console therefore has no
// authority of its own: the same authentication, IAM policies, throttling
// and audit records apply as to any SDK call, with "paramstore-console" in
// the user agent.
//
// Sessions live in memory only (a restart signs everyone out). The browser
// holds a random session ID in an HttpOnly, SameSite=Strict cookie (Secure
// under TLS) that expires after SessionTTL; every call that reaches the API
// also needs the session's CSRF token in X-Csrf-Token, which only the
// console's own page can read, and a same-origin Origin header when the
// browser sends one.
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/paramstore/paramstore/internal/awsreq"
)

//go:embed assets
var assets embed.FS

// SessionTTL is how long a console session lasts after sign-in.
const SessionTTL = 15 * time.Minute

// CookieName is the session cookie.
const CookieName = "paramstore_console"

// UserAgent names the console in the API calls it makes (and so in the
// audit trail).
const UserAgent = "paramstore-console/1"

// maxSessions bounds the session table (sign-ins beyond it evict the
// oldest).
const maxSessions = 10000

// actions are the SSM operations the console may call on a user's behalf.
var actions = map[string]bool{
	"DescribeParameters": true, "GetParameter": true, "GetParameterHistory": true, "GetParametersByPath": true,
	"PutParameter": true,
}

// Config configures the console.
type Config struct {
	// API is the server's SSM API handler; console calls are signed and
	// served by it in-process. Required.
	API http.Handler
	// Now is the clock of sessions and signatures; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves /console/.
type Handler struct {
	api    http.Handler
	now    func() time.Time
	log    *slog.Logger
	static http.Handler
	mux    *http.ServeMux

	mu       sync.Mutex
	sessions map[string]*session // by session ID
}

// session is a signed-in user.
type session struct {
	id, csrf string
	keyID    string
	region   string
	signer   *awsreq.Signer
	expires  time.Time
}

// New returns the console handler.
func New(cfg Config) (*Handler, error) {
	if cfg.API == nil {
		return nil, errors.New("console: Config.API is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	h := &Handler{api: cfg.API, now: cfg.Now, log: cfg.Logger, sessions: map[string]*session{},
		static: http.StripPrefix("/console/", http.FileServerFS(sub))}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /console/", h.serveStatic)
	h.mux.HandleFunc("POST /console/api/signin", h.signin)
	h.mux.HandleFunc("GET /console/api/session", h.whoami)
	h.mux.HandleFunc("POST /console/api/signout", h.signout)
	h.mux.HandleFunc("POST /console/api/call", h.call)
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

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// signinRequest is the sign-in form.
type signinRequest struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Region          string
}

// signin verifies an access key by making a signed API call with it: any
// answer but an authentication failure (an unknown key, a wrong secret,
// an expired token) proves the key, and the policies decide the rest.
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
	s := &session{id: randomID(), csrf: randomID(), keyID: in.AccessKeyID, region: in.Region,
		signer:  awsreq.NewSigner(credentials.NewStaticCredentialsProvider(in.AccessKeyID, in.SecretAccessKey, in.SessionToken), in.Region, h.now),
		expires: h.now().Add(SessionTTL)}
	rec := h.forward(r, s, "DescribeParameters", []byte(`{"MaxResults":1}`))
	if rec.Code != http.StatusOK {
		var e struct {
			Type string `json:"__type"`
		}
		json.Unmarshal(rec.Body.Bytes(), &e)
		if e.Type != "AccessDeniedException" {
			h.log.Info("console sign-in refused", "access_key_id", in.AccessKeyID, "code", e.Type)
			consoleError(w, http.StatusUnauthorized, "UnrecognizedClientException", "The access key ID or secret access key is not valid.")
			return
		}
	}
	h.mu.Lock()
	h.sweepLocked()
	h.sessions[s.id] = s
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: s.id, Path: "/console/", MaxAge: int(SessionTTL / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	h.log.Info("console sign-in", "access_key_id", in.AccessKeyID)
	writeJSON(w, http.StatusOK, map[string]any{"AccessKeyId": s.keyID, "Region": s.region, "CsrfToken": s.csrf, "Expires": s.expires.UTC()})
}

// sweepLocked drops expired sessions, and the oldest when the table is full.
func (h *Handler) sweepLocked() {
	now := h.now()
	var oldest *session
	for id, s := range h.sessions {
		if now.After(s.expires) {
			delete(h.sessions, id)
			continue
		}
		if oldest == nil || s.expires.Before(oldest.expires) {
			oldest = s
		}
	}
	if len(h.sessions) >= maxSessions && oldest != nil {
		delete(h.sessions, oldest.id)
	}
}

// lookup is the live session of r's cookie, or nil.
func (h *Handler) lookup(r *http.Request) *session {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[c.Value]
	if s == nil {
		return nil
	}
	if h.now().After(s.expires) {
		delete(h.sessions, s.id)
		return nil
	}
	return s
}

// checked is the session of a state-changing request: a live session, a
// same-origin request and the session's CSRF token. It writes the refusal
// and returns nil otherwise.
func (h *Handler) checked(w http.ResponseWriter, r *http.Request) *session {
	if !sameOrigin(r) {
		consoleError(w, http.StatusForbidden, "AccessDeniedException", "Cross-origin request refused.")
		return nil
	}
	s := h.lookup(r)
	if s == nil {
		consoleError(w, http.StatusUnauthorized, "SessionExpired", "Sign in to continue.")
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Csrf-Token")), []byte(s.csrf)) != 1 {
		consoleError(w, http.StatusForbidden, "AccessDeniedException", "Missing or wrong CSRF token.")
		return nil
	}
	return s
}

// whoami returns the session's identity and CSRF token to the console's
// own page (a page of another origin cannot read it).
func (h *Handler) whoami(w http.ResponseWriter, r *http.Request) {
	s := h.lookup(r)
	if s == nil {
		consoleError(w, http.StatusUnauthorized, "SessionExpired", "Sign in to continue.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"AccessKeyId": s.keyID, "Region": s.region, "CsrfToken": s.csrf, "Expires": s.expires.UTC()})
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	s := h.checked(w, r)
	if s == nil {
		return
	}
	h.mu.Lock()
	delete(h.sessions, s.id)
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/console/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{})
}

// callRequest is one SSM call from the page.
type callRequest struct {
	Action string
	Input  json.RawMessage
}

// call signs an SSM call with the session's key and serves it through the
// API handler, answering with the API's status and body.
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
	if !actions[in.Action] {
		consoleError(w, http.StatusBadRequest, "InvalidAction", "The console does not call "+in.Action+".")
		return
	}
	body := []byte(in.Input)
	if len(body) == 0 {
		body = []byte("{}")
	}
	rec := h.forward(r, s, in.Action, body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// forward serves AmazonSSM.<action> with body, signed by s, through the
// API handler, as if the browser's connection had sent it.
func (h *Handler) forward(r *http.Request, s *session, action string, body []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	req, err := s.signer.Post(ctx, scheme+r.Host, "AmazonSSM."+action, body)
	if err != nil {
		h.log.Error("console: sign", "error", err)
		rec.Code = http.StatusInternalServerError
		rec.Body = bytes.NewBufferString(`{"__type":"InternalServerError","message":"The console could not sign the request."}`)
		return rec
	}
	req.RemoteAddr = r.RemoteAddr
	req.TLS = r.TLS
	req.Header.Set("User-Agent", UserAgent+" "+r.UserAgent())
	h.api.ServeHTTP(rec, req)
	return rec
}
