package agent

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/bundle"
)

func testBundles() *bundle.Set {
	return bundle.NewSet(&bundle.Bundle{
		Created: testNow.Add(-90 * time.Second),
		Parameters: []bundle.Parameter{
			{Name: "/app/url", Type: "String", Value: "https://bundled", Version: 4},
			{Name: "/app/pass", Type: "SecureString", Value: "bundled-secret", Version: 2},
			{Name: "/app/sub/x", Type: "String", Value: "x", Version: 1},
		},
	})
}

// TestBundleColdStart: with the source down and nothing cached, bundled
// names are answered stale from the bundle, marked as such, on the Lambda
// path and the SSM proxy; a name no bundle holds still fails.
func TestBundleColdStart(t *testing.T) {
	src := newFakeSource()
	src.setDown(true)
	h := newTestHandler(t, src, func(c *Config) { c.Bundles = testBundles() })

	lambda := func(query string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/systemsmanager/parameters/get?"+query, nil)
		req.Header.Set(HeaderToken, testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		name, query, want string
		status            int
	}{
		{"string", "name=/app/url", "https://bundled", 200},
		{"secure decrypted", "name=/app/pass&withDecryption=true", "bundled-secret", 200},
		{"secure without decryption", "name=/app/pass", "", 502},
		{"not bundled", "name=/other", "", 502},
		{"version selector", "name=/app/url:4", "https://bundled", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := lambda(tc.query)
			if tc.status == 200 {
				if rec.Code != 200 {
					t.Fatalf("status %d, want 200: %s", rec.Code, rec.Body)
				}
				var out struct{ Parameter struct{ Value string } }
				json.Unmarshal(rec.Body.Bytes(), &out)
				if out.Parameter.Value != tc.want {
					t.Errorf("value %q, want %q", out.Parameter.Value, tc.want)
				}
				for k, v := range map[string]string{HeaderStale: "true", HeaderAge: "90", HeaderSource: "bundle"} {
					if got := rec.Header().Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
				return
			}
			if rec.Code == 200 {
				t.Fatalf("status 200, want a failure: %s", rec.Body)
			}
			if rec.Header().Get(HeaderSource) != "" {
				t.Errorf("%s set on a failure", HeaderSource)
			}
		})
	}

	rec := post(t, h, "GetParametersByPath", `{"Path":"/app","Recursive":true,"WithDecryption":true}`)
	if rec.Code != http.StatusOK || rec.Header().Get(HeaderSource) != "bundle" {
		t.Fatalf("proxy GetParametersByPath: %d %q %s", rec.Code, rec.Header().Get(HeaderSource), rec.Body)
	}
	var byPath struct {
		Parameters []struct{ Name, Value string }
	}
	json.Unmarshal(rec.Body.Bytes(), &byPath)
	if len(byPath.Parameters) != 3 {
		t.Errorf("proxy GetParametersByPath: %d parameters, want 3", len(byPath.Parameters))
	}
	rec = post(t, h, "GetParameters", `{"Names":["/app/url","/app/sub/x"]}`)
	if rec.Code != http.StatusOK || rec.Header().Get(HeaderSource) != "bundle" {
		t.Fatalf("proxy GetParameters: %d %s", rec.Code, rec.Body)
	}
	rec = post(t, h, "GetParameters", `{"Names":["/app/url","/missing"]}`)
	if rec.Code == http.StatusOK {
		t.Fatalf("proxy GetParameters with an unbundled name: 200 %s", rec.Body)
	}

	req := httptest.NewRequest("GET", "/healthz", nil)
	hrec := httptest.NewRecorder()
	h.ServeHTTP(hrec, req)
	var health struct {
		Bundles []struct {
			AgeSeconds float64 `json:"age_seconds"`
			Parameters int
		}
	}
	json.Unmarshal(hrec.Body.Bytes(), &health)
	if len(health.Bundles) != 1 || health.Bundles[0].Parameters != 3 || health.Bundles[0].AgeSeconds != 90 {
		t.Errorf("/healthz bundles: %s", hrec.Body)
	}

	// Upstream back: the source wins, no bundle header.
	src.setDown(false)
	src.put("/app/url", "String", "https://live")
	rec = lambda("name=/app/url")
	if rec.Code != 200 || rec.Header().Get(HeaderSource) != "" || rec.Header().Get(HeaderStale) != "" {
		t.Fatalf("upstream up: %d source=%q stale=%q", rec.Code, rec.Header().Get(HeaderSource), rec.Header().Get(HeaderStale))
	}
}
