package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
)

// changes serves the change stream that agents follow:
//
//	GET /_paramstore/changes?path=/app&recursive=true&since=N&wait=30
//
// signed with SigV4 like any call (GET, empty body), authorized as
// ssm:GetParametersByPath on the path. It answers {"Index", "Changes",
// "Reset"} at once when there are changes to parameters below path after
// index since, else after up to wait seconds (at most 60). since 0 returns
// the current index.
func (h *Handler) changes(w http.ResponseWriter, r *http.Request) {
	c := &call{reqID: uuid.NewString(), op: "Changes", start: h.cfg.Now()}
	w.Header().Set("x-amzn-RequestId", c.reqID)
	fail := func(e *ssm.Error) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Amzn-ErrorType", e.Code)
		w.WriteHeader(e.HTTPStatus())
		w.Write(errorBody(e))
		h.metrics.observe(c.op, e.HTTPStatus(), e.Code, h.cfg.Now().Sub(c.start))
	}
	caller, _, err := h.authenticate(r, c)
	if err != nil {
		e := service.AWSError(err)
		logFailure(h.log, c.reqID, c.op, e)
		fail(e)
		return
	}
	q := r.URL.Query()
	path := q.Get("path")
	if path == "" {
		path = "/"
	}
	recursive := true
	if v := q.Get("recursive"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail(ssm.ErrValidation("recursive must be true or false"))
			return
		}
		recursive = b
	}
	var since uint64
	if v := q.Get("since"); v != "" {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			fail(ssm.ErrValidation("since must be a raft index (an unsigned integer)"))
			return
		}
	}
	wait := 30 * time.Second
	if v := q.Get("wait"); v != "" {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs < 0 {
			fail(ssm.ErrValidation("wait must be a number of seconds"))
			return
		}
		wait = time.Duration(secs * float64(time.Second))
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-h.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	out, err := h.svc.Changes(ctx, caller, path, recursive, since, wait)
	if err != nil && r.Context().Err() != nil {
		return // the client went away during its long poll
	}
	if err != nil {
		e := service.AWSError(err)
		logFailure(h.log, c.reqID, c.op, e)
		fail(e)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
	h.metrics.observe(c.op, http.StatusOK, "", h.cfg.Now().Sub(c.start))
}
