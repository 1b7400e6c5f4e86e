package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// lambdaParameter is a parameter as the Lambda extension serializes it.
type lambdaParameter struct {
	ARN              string  `json:"ARN"`
	DataType         *string `json:"DataType"`
	LastModifiedDate string  `json:"LastModifiedDate"`
	Name             string  `json:"Name"`
	Selector         *string `json:"Selector"`
	SourceResult     *string `json:"SourceResult"`
	Type             string  `json:"Type"`
	Value            string  `json:"Value"`
	Version          int64   `json:"Version"`
}

type lambdaResponse struct {
	Parameter      lambdaParameter `json:"Parameter"`
	ResultMetadata struct{}        `json:"ResultMetadata"`
}

// lambdaQuery is the parsed query of /systemsmanager/parameters/get.
type lambdaQuery struct {
	name           string // with the selector, if any
	withDecryption bool
}

// parseLambdaQuery parses the raw query string. Of version and label, only
// the first one in the query is used, as the extension documents.
func parseLambdaQuery(raw string) (lambdaQuery, error) {
	var q lambdaQuery
	var name, selector string
	haveName, haveSelector := false, false
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return q, fmt.Errorf("malformed query key %q", k)
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return q, fmt.Errorf("malformed value of %s", key)
		}
		switch key {
		case "name":
			if !haveName {
				name, haveName = val, true
			}
		case "version":
			if haveSelector {
				continue
			}
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 1 {
				return q, fmt.Errorf("version must be a positive integer, got %q", val)
			}
			selector, haveSelector = ":"+strconv.FormatInt(n, 10), true
		case "label":
			if haveSelector {
				continue
			}
			if val == "" {
				return q, errors.New("label must not be empty")
			}
			selector, haveSelector = ":"+val, true
		case "withDecryption":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return q, fmt.Errorf("withDecryption must be true or false, got %q", val)
			}
			q.withDecryption = b
		}
	}
	if name == "" {
		return q, errors.New("the name query parameter is required")
	}
	q.name = name + selector
	return q, nil
}

func (h *Handler) lambdaText(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if code != "" {
		w.Header().Set(HeaderErrorCode, code)
		msg = code + ": " + msg
	}
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
	h.metrics.requests.WithLabelValues("lambda", "GetParameter", strconv.Itoa(status)).Inc()
}

func (h *Handler) lambdaGet(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		h.lambdaText(w, http.StatusMethodNotAllowed, "", "method not allowed")
		return
	}
	if !h.tokenOK(r) {
		h.lambdaText(w, http.StatusUnauthorized, "", "missing or invalid "+HeaderToken+" header")
		return
	}
	q, err := parseLambdaQuery(r.URL.RawQuery)
	if err != nil {
		h.lambdaText(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	res, err := h.cfg.Source.Get(r.Context(), q.name, q.withDecryption)
	if err != nil {
		f := h.failureOf(err)
		if f.status >= 500 || f.status == http.StatusTooManyRequests {
			h.logFailure("lambda get failed", "GetParameter", f, err)
		}
		setRetryAfter(w, f)
		h.lambdaText(w, f.status, f.code, f.msg)
		return
	}
	h.markStale(w, res)
	p := lambdaParameter{
		ARN:              res.ARN,
		LastModifiedDate: res.LastModifiedDate.UTC().Format(time.RFC3339Nano),
		Name:             res.Name,
		Type:             res.Type,
		Value:            res.Value,
		Version:          res.Version,
	}
	if res.DataType != "" {
		p.DataType = &res.DataType
	}
	if res.Selector != "" {
		p.Selector = &res.Selector
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(lambdaResponse{Parameter: p})
	h.metrics.requests.WithLabelValues("lambda", "GetParameter", "200").Inc()
}

func (h *Handler) lambdaSecret(w http.ResponseWriter, r *http.Request) {
	if !h.tokenOK(r) {
		h.lambdaText(w, http.StatusUnauthorized, "", "missing or invalid "+HeaderToken+" header")
		return
	}
	h.lambdaText(w, http.StatusNotImplemented, "", "Secrets Manager is not supported by the paramstore agent")
}
