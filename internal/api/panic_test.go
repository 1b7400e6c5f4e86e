package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/throttle"
)

// TestPanicCauseLoggedNotSent: an operation that panics is answered with
// the generic InternalServerError, and the server's log line of the error
// carries the panic's value, which the caller never sees.
func TestPanicCauseLoggedNotSent(t *testing.T) {
	var logs bytes.Buffer
	h := &Handler{
		cfg:      Config{NoAuth: true, Account: "123456789012", DefaultRegion: "us-east-1", Now: time.Now},
		log:      slog.New(slog.NewJSONHandler(&logs, nil)),
		stopping: make(chan struct{}),
	}
	var err error
	if h.metrics, err = newMetrics(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	h.ops = map[string]*operation{"AmazonSSM.GetParameter": {
		family: ssmAPI, name: "GetParameter", effect: readsOnly, class: throttle.Reads,
		run: func(context.Context, service.Caller, []byte, prepare) (any, error) {
			var versions []int
			return versions[3], nil
		},
	}}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"Name":"/p"}`))
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	const value = "index out of range [3] with length 0"
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("got status %d, want 500", rec.Code)
	}
	if got, want := rec.Body.String(), `{"Message":"An internal error occurred.","__type":"InternalServerError"}`; got != want {
		t.Errorf("got body %s, want %s", got, want)
	}
	var logged string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l struct{ Msg, Error string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l.Msg == "internal error" {
			logged = l.Error
		}
	}
	if want := "ssm: InternalServerError: An internal error occurred. (cause: api: panic in GetParameter: runtime error: " + value + ")"; logged != want {
		t.Errorf("got the internal error logged as %q, want %q", logged, want)
	}
}
