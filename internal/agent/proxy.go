package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/awsreq"
	"github.com/paramstore/paramstore/internal/ssm"
)

const (
	jsonContentType = awsreq.ContentType
	targetPrefix    = "AmazonSSM."
	maxBody         = 8 << 20
)

// wireParameter is a parameter in the SSM JSON protocol.
type wireParameter struct {
	ARN              string  `json:"ARN,omitempty"`
	DataType         string  `json:"DataType,omitempty"`
	LastModifiedDate float64 `json:"LastModifiedDate"`
	Name             string  `json:"Name"`
	Selector         string  `json:"Selector,omitempty"`
	Type             string  `json:"Type"`
	Value            string  `json:"Value"`
	Version          int64   `json:"Version"`
}

func toWire(r client.Result) wireParameter {
	return wireParameter{
		ARN:              r.ARN,
		DataType:         r.DataType,
		LastModifiedDate: float64(r.LastModifiedDate.UnixMilli()) / 1e3,
		Name:             r.Name,
		Selector:         r.Selector,
		Type:             r.Type,
		Value:            r.Value,
		Version:          r.Version,
	}
}

// writeNames returns the parameter names a successful write touches, for
// invalidation; ok is false for operations that are not parameter writes.
func writeNames(op string, body []byte) (names []string, ok bool) {
	var in struct {
		Name         string
		Names        []string
		ResourceType string
		ResourceId   string
	}
	switch op {
	case "PutParameter", "DeleteParameter", "DeleteParameters",
		"LabelParameterVersion", "UnlabelParameterVersion",
		"AddTagsToResource", "RemoveTagsFromResource":
	default:
		return nil, false
	}
	if json.Unmarshal(body, &in) != nil {
		return nil, true
	}
	switch op {
	case "DeleteParameters":
		return in.Names, true
	case "AddTagsToResource", "RemoveTagsFromResource":
		if in.ResourceType == "Parameter" && in.ResourceId != "" {
			return []string{in.ResourceId}, true
		}
		return nil, true
	}
	if in.Name == "" {
		return nil, true
	}
	return []string{in.Name}, true
}

// proxy serves the SSM JSON API on POST /.
func (h *Handler) proxy(w http.ResponseWriter, r *http.Request) {
	if !h.tokenMatches(r.Header.Get(HeaderSecurityToken)) {
		h.metrics.refused.WithLabelValues("token").Inc()
		h.writeError(w, "unknown", ssm.NewError(codeUnrecognizedClient, msgBadToken))
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	if !ok || opLabel(op) == "unknown" {
		h.writeError(w, "unknown", ssm.Bare(ssm.CodeUnknownOperation))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		h.writeError(w, op, ssm.NewError(ssm.CodeSerialization, "could not read the request body"))
		return
	}
	if len(body) > maxBody {
		h.writeError(w, op, &ssm.Error{Code: ssm.CodeRequestTooLarge, Message: "Request entity too large"})
		return
	}
	ctx := r.Context()
	switch op {
	case "GetParameter":
		h.getParameter(ctx, w, body)
		return
	case "GetParameters":
		h.getParameters(ctx, w, body)
		return
	case "GetParametersByPath":
		if h.getParametersByPath(ctx, w, body) {
			return
		}
	}
	if writeOperations[op] && !h.cfg.AllowWrites {
		h.metrics.refused.WithLabelValues("write").Inc()
		h.writeError(w, op, ssm.NewError(ssm.CodeAccessDenied, msgNoWrites))
		return
	}
	h.forward(ctx, w, op, body)
}

func decode(body []byte, v any) *ssm.Error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return ssm.NewError(ssm.CodeSerialization, "the request body is not valid JSON for this operation")
	}
	return nil
}

func (h *Handler) getParameter(ctx context.Context, w http.ResponseWriter, body []byte) {
	const op = "GetParameter"
	var in struct {
		Name           string
		WithDecryption bool
	}
	if e := decode(body, &in); e != nil {
		h.writeError(w, op, e)
		return
	}
	if in.Name == "" {
		h.writeError(w, op, ssm.NewError(ssm.CodeValidation, "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"))
		return
	}
	res, err := h.cfg.Source.Get(ctx, in.Name, in.WithDecryption)
	if err != nil {
		h.writeSourceError(w, op, err)
		return
	}
	h.markStale(w, res)
	h.writeJSON(w, op, struct {
		Parameter wireParameter
	}{toWire(res)})
}

func (h *Handler) getParameters(ctx context.Context, w http.ResponseWriter, body []byte) {
	const op = "GetParameters"
	var in struct {
		Names          []string
		WithDecryption bool
	}
	if e := decode(body, &in); e != nil {
		h.writeError(w, op, e)
		return
	}
	if len(in.Names) == 0 {
		h.writeError(w, op, ssm.NewError(ssm.CodeValidation, "1 validation error detected: Value null at 'names' failed to satisfy constraint: Member must not be null"))
		return
	}
	found, invalid, err := h.cfg.Source.GetMany(ctx, in.Names, in.WithDecryption)
	if err != nil {
		h.writeSourceError(w, op, err)
		return
	}
	h.markStale(w, found...)
	out := struct {
		InvalidParameters []string
		Parameters        []wireParameter
	}{InvalidParameters: []string{}, Parameters: []wireParameter{}}
	out.InvalidParameters = append(out.InvalidParameters, invalid...)
	for _, r := range found {
		out.Parameters = append(out.Parameters, toWire(r))
	}
	h.writeJSON(w, op, out)
}

// agentTokenPrefix marks NextTokens the agent issued for cached paging.
const agentTokenPrefix = "paramstore-agent:"

// getParametersByPath answers from the Source; it returns false when the
// call must be forwarded instead (filters, or a token the agent did not
// issue).
func (h *Handler) getParametersByPath(ctx context.Context, w http.ResponseWriter, body []byte) bool {
	const op = "GetParametersByPath"
	var in struct {
		Path             string
		Recursive        bool
		WithDecryption   bool
		ParameterFilters []json.RawMessage
		MaxResults       int
		NextToken        string
	}
	if e := decode(body, &in); e != nil {
		h.writeError(w, op, e)
		return true
	}
	if len(in.ParameterFilters) > 0 {
		return false
	}
	offset := 0
	if in.NextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		s, ok := strings.CutPrefix(string(raw), agentTokenPrefix)
		if err != nil || !ok {
			return false
		}
		if offset, err = strconv.Atoi(s); err != nil || offset < 0 {
			h.writeError(w, op, ssm.NewError(ssm.CodeInvalidNextToken, "The specified token isn't valid."))
			return true
		}
	}
	if in.Path == "" {
		h.writeError(w, op, ssm.NewError(ssm.CodeValidation, "1 validation error detected: Value null at 'path' failed to satisfy constraint: Member must not be null"))
		return true
	}
	if in.MaxResults < 0 || in.MaxResults > 10 {
		h.writeError(w, op, ssm.Errorf(ssm.CodeValidation, "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10", in.MaxResults))
		return true
	}
	rs, err := h.cfg.Source.GetByPath(ctx, in.Path, in.Recursive, in.WithDecryption)
	if err != nil {
		h.writeSourceError(w, op, err)
		return true
	}
	if offset > len(rs) {
		offset = len(rs)
	}
	page := rs[offset:]
	next := ""
	if in.MaxResults > 0 && len(page) > in.MaxResults {
		page = page[:in.MaxResults]
		next = base64.RawURLEncoding.EncodeToString([]byte(agentTokenPrefix + strconv.Itoa(offset+in.MaxResults)))
	}
	h.markStale(w, page...)
	out := struct {
		Parameters []wireParameter
		NextToken  string `json:",omitempty"`
	}{Parameters: []wireParameter{}, NextToken: next}
	for _, r := range page {
		out.Parameters = append(out.Parameters, toWire(r))
	}
	h.writeJSON(w, op, out)
	return true
}

func (h *Handler) writeJSON(w http.ResponseWriter, op string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.writeError(w, op, ssm.Wrap(err))
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", jsonContentType)
	hdr.Set("x-amzn-RequestId", uuid.NewString())
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	h.metrics.requests.WithLabelValues("ssm", opLabel(op), "200").Inc()
}

// writeSourceError answers an error of the Source as an AWS error, with
// an honest status (see failure).
func (h *Handler) writeSourceError(w http.ResponseWriter, op string, err error) {
	f := h.failureOf(err)
	if f.status >= 500 || f.status == http.StatusTooManyRequests {
		h.logFailure("read failed", op, f, err)
	}
	setRetryAfter(w, f)
	h.writeError(w, op, &ssm.Error{Code: f.code, Message: f.msg, NoMessage: f.noMessage, Status: f.status})
}

// writeError writes an AWS JSON error: {"__type": code, <member>: message}.
func (h *Handler) writeError(w http.ResponseWriter, op string, e *ssm.Error) {
	m := map[string]string{"__type": e.Code}
	if member, ok := e.MessageMember(); ok {
		m[member] = e.Message
	}
	b, _ := json.Marshal(m)
	hdr := w.Header()
	hdr.Set("Content-Type", jsonContentType)
	hdr.Set("x-amzn-RequestId", uuid.NewString())
	hdr.Set("X-Amzn-ErrorType", e.Code)
	status := e.HTTPStatus()
	w.WriteHeader(status)
	w.Write(b)
	h.metrics.requests.WithLabelValues("ssm", opLabel(op), strconv.Itoa(status)).Inc()
}

// upstreamOrder returns the upstreams to forward to: those whose breaker is
// not open first, in configured order, then the rest.
func (h *Handler) upstreamOrder() []string {
	open := map[string]bool{}
	for _, u := range h.cfg.Source.Health() {
		if u.Breaker == "open" {
			open[strings.TrimRight(u.URL, "/")] = true
		}
	}
	var first, last []string
	for _, u := range h.cfg.Upstreams {
		if open[strings.TrimRight(u, "/")] {
			last = append(last, u)
		} else {
			first = append(first, u)
		}
	}
	return append(first, last...)
}

// forward sends the call to the first upstream that answers, signed with
// the agent's credentials, and relays the answer. A successful write
// invalidates the names it touched.
func (h *Handler) forward(ctx context.Context, w http.ResponseWriter, op string, body []byte) {
	var lastErr error
	for _, u := range h.upstreamOrder() {
		resp, err := h.send(ctx, u, op, body)
		if err != nil {
			lastErr = err
			h.log.Warn("forward failed", logKeyOperation, op, logKeyUpstream, u, logKeyError, err)
			continue
		}
		out, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode/100 == 2 {
			if names, ok := writeNames(op, body); ok && len(names) > 0 {
				h.cfg.Source.Invalidate(names...)
			}
		}
		hdr := w.Header()
		for _, k := range []string{"Content-Type", "X-Amzn-Requestid", "X-Amzn-Errortype"} {
			if v := resp.Header.Get(k); v != "" {
				hdr.Set(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(out)
		status := strconv.Itoa(resp.StatusCode)
		h.metrics.forwarded.WithLabelValues(opLabel(op), status).Inc()
		h.metrics.requests.WithLabelValues("ssm", opLabel(op), status).Inc()
		return
	}
	h.log.Warn("no upstream answered", logKeyOperation, op, logKeyError, lastErr)
	h.metrics.forwarded.WithLabelValues(opLabel(op), "unreachable").Inc()
	f := failure{status: http.StatusServiceUnavailable, code: codeServiceUnavailable, msg: "No upstream could be reached.", retryAfter: h.retryAfter()}
	setRetryAfter(w, f)
	h.writeError(w, op, &ssm.Error{Code: f.code, Message: f.msg, Status: f.status})
}

// send signs and sends one call to one upstream.
func (h *Handler) send(ctx context.Context, upstream, op string, body []byte) (*http.Response, error) {
	resp, err := h.signer.Call(ctx, h.cfg.HTTPClient, upstream, targetPrefix+op, body)
	if err != nil {
		return nil, fmt.Errorf("agent: forward %s to %s: %w", op, upstream, err)
	}
	return resp, nil
}
