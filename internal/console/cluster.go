package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paramstore/paramstore/internal/tlsconf"
)

// nodeHealth is a member of the cluster as the cluster screen shows it:
// what ListNodes says, and what the member's own /readyz answers.
type nodeHealth struct {
	NodeID      string          `json:"NodeId"`
	RaftAddress string          `json:"RaftAddress"`
	ApiAddress  string          `json:"ApiAddress,omitempty"`
	Suffrage    string          `json:"Suffrage"`
	Leader      bool            `json:"Leader"`
	Ready       bool            `json:"Ready"`
	Status      json.RawMessage `json:"Status,omitempty"` // the member's /readyz JSON
	Error       string          `json:"Error,omitempty"`  // why it could not be read
}

// cluster answers the members (ListNodes, made as the session's principal,
// so its policy decides) with each member's readiness, read from its
// /readyz by this server, all at once and each within the peer client's
// timeout.
func (h *Handler) cluster(w http.ResponseWriter, r *http.Request) {
	s := h.checked(w, r)
	if s == nil {
		return
	}
	rec := h.forward(r, s, actions["ListNodes"], nil)
	if rec.Code != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	var list struct{ Members []nodeHealth }
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		consoleError(w, http.StatusInternalServerError, "InternalServerError", "The members could not be read.")
		return
	}
	scheme := "http://"
	if r.TLS != nil || h.peerTLS {
		scheme = "https://"
	}
	var wg sync.WaitGroup
	for i := range list.Members {
		m := &list.Members[i]
		addr := m.ApiAddress
		if addr == "" && len(list.Members) == 1 {
			// A single node registers no API address: it is this server.
			addr = r.Host
		}
		if addr == "" {
			m.Error = "no API address registered"
			continue
		}
		if _, hostport, ok := strings.Cut(addr, "://"); ok && h.peerTLS {
			addr = scheme + hostport // a peer's port over peer TLS
		} else if !ok {
			addr = scheme + addr // a host:port
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.readyz(r.Context(), strings.TrimSuffix(addr, "/")+"/readyz", m)
		}()
	}
	wg.Wait()
	if list.Members == nil {
		list.Members = []nodeHealth{}
	}
	writeJSON(w, http.StatusOK, list)
}

// plainClient reads a member's /readyz in plaintext in the peer-TLS
// transition window.
var plainClient = &http.Client{Timeout: 3 * time.Second}

// readyz reads a member's /readyz into m.
func (h *Handler) readyz(ctx context.Context, url string, m *nodeHealth) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		m.Error = err.Error()
		return
	}
	resp, err := h.peers.Do(req)
	if err != nil && h.peerTransition && !tlsconf.IsCertificateError(err) && ctx.Err() == nil {
		// A member that does not speak peer TLS yet (the transition
		// window): its plaintext API port.
		plain := req.Clone(ctx)
		plain.URL.Scheme = "http"
		resp, err = plainClient.Do(plain)
	}
	if err != nil {
		m.Error = "unreachable: " + err.Error()
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		m.Error = "unreadable answer: " + err.Error()
		return
	}
	m.Ready = resp.StatusCode == http.StatusOK
	if json.Valid(body) {
		m.Status = body
	}
}
