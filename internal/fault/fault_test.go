package fault

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"blackhole", Spec{Kind: "blackhole", Duration: "30s"}, ""},
		{"latency default", Spec{Kind: "latency", Duration: "1m"}, ""},
		{"bad kind", Spec{Kind: "fire", Duration: "1s"}, "kind"},
		{"no duration", Spec{Kind: "error"}, "duration"},
		{"too long", Spec{Kind: "error", Duration: "25h"}, "duration"},
		{"rate", Spec{Kind: "error", Duration: "1s", Rate: 1.5}, "rate"},
		{"latency", Spec{Kind: "latency", Duration: "1s", Latency: "-1s"}, "latency"},
		{"operation", Spec{Kind: "error", Duration: "1s", Operations: []string{"a,b"}}, "operations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.spec)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Parse(%+v): got %v, want error naming %q", tc.spec, err, tc.wantErr)
			}
		})
	}
}

// TestMiddleware: each kind at a server's edge, only on the operations
// named, and the fault ends by itself.
func TestMiddleware(t *testing.T) {
	now := time.Now()
	var events []string
	in := New(func(ev string, _ bool) { events = append(events, ev) }, func() time.Time { return now })
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	h := in.Middleware(next)
	call := func(target string) *httptest.ResponseRecorder {
		rr := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", target)
		h.ServeHTTP(rr, req)
		return rr
	}
	for kind, want := range map[string]struct {
		status int
		code   string
	}{"throttle": {400, "ThrottlingException"}, "error": {500, "InternalServerError"}} {
		if _, err := in.Inject(Spec{Kind: kind, Duration: "1m", Operations: []string{"GetParameter"}}); err != nil {
			t.Fatal(err)
		}
		rr := call("AmazonSSM.GetParameter")
		var body struct {
			Type string `json:"__type"`
		}
		json.Unmarshal(rr.Body.Bytes(), &body)
		if rr.Code != want.status || body.Type != want.code {
			t.Errorf("%s: got %d %s, want %d %s", kind, rr.Code, rr.Body, want.status, want.code)
		}
		if rr := call("AmazonSSM.PutParameter"); rr.Code != 200 {
			t.Errorf("%s: an operation not named was affected: %d", kind, rr.Code)
		}
	}
	now = now.Add(2 * time.Minute) // past the fault's end
	if rr := call("AmazonSSM.GetParameter"); rr.Code != 200 {
		t.Errorf("after the fault's end: %d", rr.Code)
	}
	if _, ok := in.Status(); ok {
		t.Error("Status reports a fault past its end")
	}
}

// FuzzSpec: a fault arrives as JSON over the local or admin API.
func FuzzSpec(f *testing.F) {
	f.Add([]byte(`{"kind":"latency","latency":"2s","rate":0.5,"operations":["GetParameter"],"duration":"30s"}`))
	f.Add([]byte(`{"kind":"blackhole","duration":"1h"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s Spec
		if json.Unmarshal(raw, &s) != nil {
			return
		}
		p, err := Parse(s)
		if err != nil {
			return
		}
		if p.duration <= 0 || p.duration > MaxDuration || p.spec.Rate <= 0 || p.spec.Rate > 1 || p.latency < 0 {
			t.Fatalf("Parse accepted %+v as %+v", s, p)
		}
	})
}
