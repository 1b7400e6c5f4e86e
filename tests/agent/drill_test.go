package agent_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/testproc"
)

// TestOutageDrill: warm an agent's cache, kill the server, read through the
// outage, restart the agent during it, bring the server back, and watch the
// agent recover.
func TestOutageDrill(t *testing.T) {
	srv := startServer(t)
	const n = 10
	names := make([]string, 0, n+1)
	want := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("/drill/p%d", i)
		srv.put(name, "String", fmt.Sprintf("value-%d", i))
		names = append(names, name)
		want[name] = fmt.Sprintf("value-%d", i)
	}
	srv.put("/drill/secret", "SecureString", "s3cret")
	names = append(names, "/drill/secret")
	want["/drill/secret"] = "s3cret"
	srv.put("/exec/app/db-url", "String", "postgres://db")
	srv.put("/exec/app/api.key", "SecureString", "k-123")

	cacheDir := t.TempDir()
	key := newCacheKey(t)
	// A 1ms TTL makes every read after the warm-up past its TTL, so during
	// the outage each one tries the upstream and must fall back to the cache.
	agentArgs := []string{"agent", "--upstream", srv.URL(), "--listen", "127.0.0.1:0",
		"--cache-dir", cacheDir, "--cache-key", "env:DRILL_CACHE_KEY", "--ttl", "1ms", "--token", agentToken}
	env := srv.signingEnv("DRILL_CACHE_KEY=" + key)
	ag := start(t, "agent", env, agentArgs...)

	for _, name := range names {
		r := lambdaGet(ag.URL(), name, true)
		if r.err != nil || r.value != want[name] || r.stale {
			t.Fatalf("warm %s: got %+v, want %q fresh", name, r, want[name])
		}
	}
	// exec warms its own persistent cache while the server is up.
	execDir := t.TempDir()
	runExec := func() (string, int) {
		t.Helper()
		cmd := testproc.Command(t, "exec", "--upstream", srv.URL(), "--cache-dir", execDir, "--cache-key", "env:DRILL_CACHE_KEY",
			"--path", "/exec/app", "--", "sh", "-c", `printf '%s|%s' "$DB_URL" "$API_KEY"; exit 7`)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("paramstore exec: %v\n%s", err, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Logf("exec stderr: %s", stderr.String())
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	if out, code := runExec(); out != "postgres://db|k-123" || code != 7 {
		t.Fatalf("exec with the server up: got %q exit %d, want %q exit 7", out, code, "postgres://db|k-123")
	}

	// Outage: the server dies.
	srv.Kill()
	outageStart := time.Now()
	attempted, succeeded, stale := 0, 0, 0
	for round := 0; round < 3; round++ {
		for _, name := range names {
			attempted++
			r := lambdaGet(ag.URL(), name, true)
			if r.err != nil || r.value != want[name] {
				t.Errorf("outage read %s: got %+v, want %q", name, r, want[name])
				continue
			}
			succeeded++
			if r.stale {
				stale++
			}
		}
	}
	if stale != succeeded {
		t.Errorf("outage: %d of %d reads marked stale, want all", stale, succeeded)
	}
	h := getHealth(t, ag.URL())
	if h.Status != "degraded" || len(h.Upstreams) != 1 || h.Upstreams[0].ServingStaleSince == nil || h.Upstreams[0].State == "healthy" {
		t.Errorf("healthz during the outage: got %+v, want degraded, serving stale", h)
	}
	t.Logf("DRILL outage: %d reads attempted, %d succeeded, %d marked stale (%v)", attempted, succeeded, stale, time.Since(outageStart).Round(time.Millisecond))

	if out, code := runExec(); out != "postgres://db|k-123" || code != 7 {
		t.Errorf("exec during the outage (persistent cache): got %q exit %d, want %q exit 7", out, code, "postgres://db|k-123")
	}

	// The agent restarts during the outage and serves from its persistent cache.
	if code, err := ag.Terminate(testproc.StopTimeout); err != nil || code != 0 {
		t.Errorf("agent exit code after SIGTERM: got %d, want 0 (%v)", code, err)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "cache.db")); err != nil {
		t.Errorf("persistent cache: %v", err)
	}
	ag = start(t, "agent", env, agentArgs...)
	attempted2, succeeded2, stale2 := 0, 0, 0
	for _, name := range names {
		attempted2++
		r := lambdaGet(ag.URL(), name, true)
		if r.err != nil || r.value != want[name] {
			t.Errorf("read after agent restart %s: got %+v, want %q", name, r, want[name])
			continue
		}
		succeeded2++
		if r.stale {
			stale2++
		}
	}
	if stale2 != succeeded2 {
		t.Errorf("after agent restart: %d of %d reads marked stale, want all", stale2, succeeded2)
	}
	t.Logf("DRILL agent restart during outage: %d reads attempted, %d succeeded, %d marked stale", attempted2, succeeded2, stale2)

	// The server comes back on the same port with the same data.
	srv.restart()
	back := time.Now()
	waitFor(t, 30*time.Second, "fresh read after the server came back", func() (bool, string) {
		r := lambdaGet(ag.URL(), names[0], true)
		return r.err == nil && !r.stale && r.value == want[names[0]], fmt.Sprintf("%+v", r)
	})
	freshAfter := time.Since(back)
	waitFor(t, 30*time.Second, "healthz healthy with the breaker closed", func() (bool, string) {
		h := getHealth(t, ag.URL())
		return h.Status == "ok" && len(h.Upstreams) == 1 && h.Upstreams[0].Breaker == "closed" && h.Upstreams[0].ServingStaleSince == nil, fmt.Sprintf("%+v", h)
	})
	t.Logf("DRILL recovery: first fresh read %v after the server was ready again, healthz ok with breaker closed after %v",
		freshAfter.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
	// Every name comes fresh from the server again. A read waits for the
	// upstream at most the refresh budget (100 ms) and is then served from
	// the cache, marked stale, while the refresh goes on: on a loaded
	// machine a round trip can take longer, so each name is read until
	// its refresh has landed, not once.
	for _, name := range names {
		waitFor(t, 30*time.Second, "fresh read of "+name+" after recovery", func() (bool, string) {
			r := lambdaGet(ag.URL(), name, true)
			if r.err != nil || r.value != want[name] {
				t.Fatalf("after recovery %s: got %+v, want %q", name, r, want[name])
			}
			return !r.stale, fmt.Sprintf("%+v", r)
		})
	}
}
