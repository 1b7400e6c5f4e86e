package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paramstore/paramstore/internal/api"
)

// TestWritesInFlight: the handler counts the calls in flight that may
// change state (the change stream's answer writers step aside while there
// are any): a write is counted while it runs, whether it succeeds or
// fails; a read is not; and none is left counted once answered (a count
// that leaked would slow every later fan-out).
func TestWritesInFlight(t *testing.T) {
	var (
		h    *api.Handler
		seen []int64
	)
	h = newFuzzHandler(t, func(c *api.Config) {
		// Called for writes only, after routing, before the operation.
		c.WriteGuard = func() error { seen = append(seen, api.WritesInFlight(h)); return nil }
	})
	call := func(op, body string, want int) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(body)))
		req.Header.Set("X-Amz-Target", "AmazonSSM."+op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("Authorization", goldenAuth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("%s %s: status %d, want %d: %s", op, body, rec.Code, want, rec.Body)
		}
		if n := api.WritesInFlight(h); n != 0 {
			t.Fatalf("after %s %s: %d writes counted in flight, want 0", op, body, n)
		}
	}
	call("PutParameter", `{"Name": "/w/a", "Value": "v", "Type": "String"}`, http.StatusOK)
	call("PutParameter", `{"Name": "/w/a", "Value": "v", "Type": "String"}`, http.StatusBadRequest) // exists, no Overwrite
	call("PutParameter", `{"Name": "/w/b", "Value": "v", "Type": "Nope"}`, http.StatusBadRequest)   // invalid
	call("DeleteParameter", `{"Name": "/w/missing"}`, http.StatusBadRequest)
	call("GetParameter", `{"Name": "/w/a"}`, http.StatusOK)
	call("GetParametersByPath", `{"Path": "/w"}`, http.StatusOK)
	call("SendCommand", `{}`, http.StatusBadRequest) // not an operation: never routed
	if len(seen) != 4 {
		t.Fatalf("the write guard ran %d times, want 4 (the writes)", len(seen))
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("write %d: %d writes counted in flight while it ran, want 1", i+1, n)
		}
	}
}
