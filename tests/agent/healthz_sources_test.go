package agent_test

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/testproc"
)

// requiredHealth is /healthz's "required".
type requiredHealth struct {
	Required []struct {
		Name       string   `json:"name"`
		Held       bool     `json:"held"`
		ServedFrom string   `json:"served_from"`
		Upstream   string   `json:"upstream"`
		Bundle     string   `json:"bundle"`
		Stale      bool     `json:"stale"`
		AgeSeconds *float64 `json:"age_seconds"`
	} `json:"required"`
}

// TestHealthzRequiredSources: /healthz says where each required parameter
// is served from, and how old it is: the upstream (its URL) while the
// server is up; with the server down, a restarted agent serves one name
// from its disk cache and another, never read before, from the bundle
// (its file, its age since the bundle was made); and fresh values from the
// upstream again (an upstream answer, or the memory cache within its TTL)
// once the server is back.
func TestHealthzRequiredSources(t *testing.T) {
	srv := startServer(t)
	srv.put("/hz/live", "String", "live-1")
	srv.put("/hzb/cold", "String", "cold-1")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "bundle.key")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	bundleFile := filepath.Join(dir, "hz.bundle")
	env := srv.signingEnv("CACHE_KEY=" + newCacheKey(t))
	if code, out := testproc.RunToExit(t, cliTimeout, env, "bundle", "create", "--endpoint", srv.URL(), "--path", "/hzb",
		"--key-file", keyFile, "--out", bundleFile); code != 0 {
		t.Fatalf("bundle create: exit %d: %s", code, out)
	}
	cacheDir := t.TempDir()
	agentArgs := func(require ...string) []string {
		args := []string{"agent", "--upstream", srv.URL(), "--listen", "127.0.0.1:0", "--token", agentToken, "--cache-dir", cacheDir,
			"--cache-key", "env:CACHE_KEY", "--bundle", bundleFile, "--bundle-key", "file:" + keyFile, "--max-attempts", "1",
			"--watch-path", "", "--health-check-interval", "500ms"}
		for _, r := range require {
			args = append(args, "--require", r)
		}
		return args
	}
	// sources polls /healthz until want (name -> served_from) holds.
	sources := func(agentURL, what string, want map[string]string) requiredHealth {
		t.Helper()
		var h requiredHealth
		waitFor(t, 90*time.Second, what, func() (bool, string) {
			raw, err := httpGet(agentURL + "/healthz")
			if err != nil {
				return false, err.Error()
			}
			h = requiredHealth{}
			if err := json.Unmarshal(raw, &h); err != nil {
				return false, err.Error()
			}
			got := 0
			for _, r := range h.Required {
				// "fresh" is an upstream answer, or a value an upstream
				// answered since, served from memory within its TTL.
				if want[r.Name] == r.ServedFrom || want[r.Name] == "fresh" && (r.ServedFrom == "upstream" || r.ServedFrom == "memory-cache") && !r.Stale {
					got++
				}
			}
			return got == len(want), string(raw)
		})
		raw, _ := httpGet(agentURL + "/healthz")
		t.Logf("HEALTHZ %s: %s", what, raw)
		return h
	}

	a := start(t, "agent-1", env, agentArgs("/hz/live")...)
	if r := lambdaGet(a.URL(), "/hz/live", false); r.err != nil || r.value != "live-1" {
		t.Fatalf("read through the agent: %+v", r)
	}
	h := sources(a.URL(), "server up", map[string]string{"/hz/live": "upstream"})
	if r := h.Required[0]; r.Upstream != srv.URL() || r.AgeSeconds == nil || r.Stale || !r.Held {
		t.Errorf("server up: %+v, want held, fresh, from %s", r, srv.URL())
	}
	a.Stop() // the cache is on disk
	srv.Stop()

	b := start(t, "agent-2", env, agentArgs("/hz/live", "/hzb/cold")...)
	h = sources(b.URL(), "server down, restarted agent", map[string]string{"/hz/live": "disk-cache", "/hzb/cold": "bundle"})
	for _, r := range h.Required {
		if !r.Held || !r.Stale || r.AgeSeconds == nil {
			t.Errorf("server down: %+v, want held, stale, with an age", r)
		}
		if r.Name == "/hzb/cold" && r.Bundle != bundleFile {
			t.Errorf("/hz/cold served from bundle %q, want %s", r.Bundle, bundleFile)
		}
	}

	srv.restart()
	h = sources(b.URL(), "server back", map[string]string{"/hz/live": "fresh", "/hzb/cold": "fresh"})
	for _, r := range h.Required {
		if r.Upstream != srv.URL() || r.Stale {
			t.Errorf("server back: %+v, want fresh from %s", r, srv.URL())
		}
	}
}
