package agent_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestChangePropagation: with a 5-minute TTL, a new value reaches readers of
// the agent and its rendered templates only through the server's change
// stream (GET /_paramstore/changes), which the agent follows.
func TestChangePropagation(t *testing.T) {
	srv := startServer(t)
	srv.put("/prop/url", "String", "v1")
	srv.put("/prop/pass", "SecureString", "p1")
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "app.tmpl")
	dest := filepath.Join(dir, "app.conf")
	marker := filepath.Join(dir, "reloaded")
	if err := os.WriteFile(tmpl, []byte(`url={{ param "/prop/url" }} pass={{ secret "/prop/pass" }}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := start(t, "agent", srv.signingEnv(), "agent", "--upstream", srv.URL(), "--listen", "127.0.0.1:0",
		"--ttl", "5m", "--token", agentToken, "--template", tmpl+":"+dest+":touch "+marker)
	if r := lambdaGet(ag.URL(), "/prop/url", false); r.err != nil || r.value != "v1" {
		t.Fatalf("first read: %+v", r)
	}
	waitFor(t, 30*time.Second, "first render", func() (bool, string) {
		b, err := os.ReadFile(dest)
		return err == nil && string(b) == "url=v1 pass=p1", fmt.Sprint(string(b), err)
	})
	if info, err := os.Stat(dest); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("rendered file mode: %v %v, want 0600", info.Mode(), err)
	}
	// The reload command runs right after the file is written.
	waitFor(t, 30*time.Second, "the reload command after the first render", func() (bool, string) {
		_, err := os.Stat(marker)
		return err == nil, fmt.Sprint(err)
	})
	os.Remove(marker)

	srv.put("/prop/url", "String", "v2")
	changed := time.Now()
	waitFor(t, 30*time.Second, "the agent serving v2", func() (bool, string) {
		r := lambdaGet(ag.URL(), "/prop/url", false)
		return r.value == "v2", fmt.Sprintf("%+v", r)
	})
	read := time.Since(changed)
	waitFor(t, 30*time.Second, "the template re-rendered", func() (bool, string) {
		b, _ := os.ReadFile(dest)
		_, err := os.Stat(marker)
		return string(b) == "url=v2 pass=p1" && err == nil, string(b)
	})
	t.Logf("PROPAGATION: new value served by the agent %v after the put, template re-rendered and reloaded after %v",
		read.Round(time.Millisecond), time.Since(changed).Round(time.Millisecond))
	if b, _ := os.ReadFile(dest); strings.Contains(string(b), "v1") {
		t.Errorf("template still holds v1: %s", b)
	}
}

// TestChangePropagationWithoutTemplates: the agent follows the change
// stream on its own (--watch-path, default "/"), so a value read through
// the Lambda path is refreshed long before its 5-minute TTL, with no
// template watching it; with --watch-path "" it keeps the cached value.
func TestChangePropagationWithoutTemplates(t *testing.T) {
	srv := startServer(t)
	srv.put("/solo/url", "String", "v1")
	ag := start(t, "agent", srv.signingEnv(), "agent", "--upstream", srv.URL(), "--listen", "127.0.0.1:0",
		"--ttl", "5m", "--token", agentToken)
	off := start(t, "agent-nowatch", srv.signingEnv(), "agent", "--upstream", srv.URL(), "--listen", "127.0.0.1:0",
		"--ttl", "5m", "--token", agentToken, "--watch-path", "")
	for _, a := range []string{ag.URL(), off.URL()} {
		if r := lambdaGet(a, "/solo/url", false); r.err != nil || r.value != "v1" {
			t.Fatalf("first read: %+v", r)
		}
	}
	srv.put("/solo/url", "String", "v2")
	waitFor(t, 30*time.Second, "the watching agent serving v2", func() (bool, string) {
		r := lambdaGet(ag.URL(), "/solo/url", false)
		return r.value == "v2", fmt.Sprintf("%+v", r)
	})
	if r := lambdaGet(off.URL(), "/solo/url", false); r.value != "v1" {
		t.Errorf("agent with --watch-path '': got %+v, want the cached v1 until its TTL", r)
	}
}
