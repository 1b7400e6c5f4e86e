package agent

import (
	"encoding/json"
	"net/http"

	"github.com/paramstore/paramstore/internal/fault"
	"github.com/paramstore/paramstore/internal/incident"
)

// readyReport is the body of GET /readyz.
type readyReport struct {
	// Status is "ready", or "not ready" while a required parameter is
	// missing.
	Status string `json:"status"`
	// Missing are the required names and paths not held.
	Missing []string `json:"missing,omitempty"`
	// Fault is the fault injected into the agent's upstream calls, if any.
	Fault *FaultStatus `json:"fault,omitempty"`
}

// readyz answers 200 when every required parameter is held (fresh, cached
// or bundled), else 503 naming the missing ones. Like /healthz it needs no
// token: it says which names are missing, never a value.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	rep := readyReport{Status: "ready"}
	if h.cfg.Monitor != nil {
		rep.Missing = h.cfg.Monitor.Missing()
	}
	if h.cfg.Faults != nil {
		if st, ok := h.cfg.Faults.Status(); ok {
			rep.Fault = &st
		}
	}
	status := http.StatusOK
	if len(rep.Missing) > 0 {
		rep.Status, status = "not ready", http.StatusServiceUnavailable
	}
	writeJSON(w, status, rep)
}

// localTokenOK accepts the token in either header the local API knows.
func (h *Handler) localTokenOK(r *http.Request) bool {
	return h.tokenMatches(r.Header.Get(HeaderToken)) || h.tokenMatches(r.Header.Get(HeaderSecurityToken))
}

type jsonError struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

func (h *Handler) localGuard(w http.ResponseWriter, r *http.Request) bool {
	if !h.localTokenOK(r) {
		h.metrics.refused.WithLabelValues("token").Inc()
		writeJSON(w, http.StatusUnauthorized, jsonError{codeUnrecognizedClient, msgBadToken})
		return false
	}
	return true
}

// incidents answers GET /incidents: {"incidents":[...]}, newest first.
func (h *Handler) incidents(w http.ResponseWriter, r *http.Request) {
	if !h.localGuard(w, r) {
		return
	}
	list := []incident.Incident{}
	if h.cfg.Monitor != nil {
		list = append(list, h.cfg.Monitor.Recorder().List()...)
	}
	writeJSON(w, http.StatusOK, struct {
		Incidents []incident.Incident `json:"incidents"`
	}{list})
}

// incident answers GET /incidents/{id}.
func (h *Handler) incident(w http.ResponseWriter, r *http.Request) {
	if !h.localGuard(w, r) {
		return
	}
	if h.cfg.Monitor != nil {
		if inc, ok := h.cfg.Monitor.Recorder().Get(r.PathValue("id")); ok {
			writeJSON(w, http.StatusOK, inc)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, jsonError{"ResourceNotFoundException", "No incident has that ID."})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// FaultStatus is the fault injected into the agent's upstream calls.
type FaultStatus = fault.Status

const msgNoFaults = "Fault injection is off; start the agent with --enable-fault-injection to allow it."

// faultInject answers POST /fault: the body is a fault.Spec.
func (h *Handler) faultInject(w http.ResponseWriter, r *http.Request) {
	if !h.localGuard(w, r) {
		return
	}
	if h.cfg.Faults == nil {
		writeJSON(w, http.StatusForbidden, jsonError{"AccessDeniedException", msgNoFaults})
		return
	}
	var spec fault.Spec
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&spec); err != nil {
		writeJSON(w, http.StatusBadRequest, jsonError{"ValidationException", "The body is not a fault: " + err.Error()})
		return
	}
	st, err := h.cfg.Faults.Inject(spec)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, jsonError{"ValidationException", err.Error()})
		return
	}
	h.log.Warn("fault injected", "kind", st.Kind, "rate", st.Rate, "expires", st.Expires)
	writeJSON(w, http.StatusOK, st)
}

// faultClear answers DELETE /fault.
func (h *Handler) faultClear(w http.ResponseWriter, r *http.Request) {
	if !h.localGuard(w, r) {
		return
	}
	if h.cfg.Faults == nil {
		writeJSON(w, http.StatusForbidden, jsonError{"AccessDeniedException", msgNoFaults})
		return
	}
	cleared := h.cfg.Faults.Clear()
	writeJSON(w, http.StatusOK, struct {
		Cleared bool `json:"cleared"`
	}{cleared})
}
