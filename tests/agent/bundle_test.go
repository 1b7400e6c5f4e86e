package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/internal/testproc"
)

// TestBundleColdStart: a bundle made while the server is up serves every
// bundled name through an agent started, with an empty cache dir, after
// the server died: the Lambda path, the SSM proxy and exec. The bundle
// file holds no SecureString plaintext; a wrong key and a truncated
// bundle are refused at start with a clear error.
func TestBundleColdStart(t *testing.T) {
	srv := startServer(t)
	const marker = "SECRET-MARKER-7f3a"
	params := map[string][2]string{
		"/cold/db/url":      {"String", "postgres://db:5432/app"},
		"/cold/db/password": {"SecureString", marker},
		"/cold/hosts":       {"StringList", "a,b,c"},
		"/cold/flag":        {"String", "on"},
	}
	for n, tv := range params {
		srv.put(n, tv[0], tv[1])
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "bundle.key")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	bundleFile := filepath.Join(dir, "cold.bundle")
	env := srv.signingEnv()
	if code, out := testproc.RunToExit(t, cliTimeout, env, "bundle", "create", "--endpoint", srv.URL(), "--path", "/cold",
		"--key-file", keyFile, "--out", bundleFile); code != 0 {
		t.Fatalf("bundle create: exit %d: %s", code, out)
	}
	raw, err := os.ReadFile(bundleFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{marker, "postgres://", "/cold/db"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("bundle file holds plaintext %q", s)
		}
	}
	code, out := testproc.RunToExit(t, cliTimeout, env, "bundle", "inspect", bundleFile, "--key-file", keyFile)
	if code != 0 || !strings.Contains(out, "4 parameters") || !strings.Contains(out, "/cold/db/password") || strings.Contains(out, marker) || strings.Contains(out, "postgres://") {
		t.Fatalf("bundle inspect: exit %d, want the 4 names and no value:\n%s", code, out)
	}

	srv.Stop()
	upstream := srv.URL()
	cacheDir := t.TempDir()
	agentEnv := srv.signingEnv("COLD_KEY="+base64.StdEncoding.EncodeToString(key), "CACHE_KEY="+newCacheKey(t))
	ag := start(t, "agent", agentEnv, "agent", "--upstream", upstream, "--listen", "127.0.0.1:0", "--token", agentToken,
		"--cache-dir", cacheDir, "--cache-key", "env:CACHE_KEY", "--bundle", bundleFile, "--bundle-key", "file:"+keyFile,
		"--max-attempts", "1", "--watch-path", "", "--require", "/cold/db/password", "--require-path", "/cold")
	for n, tv := range params {
		r := lambdaGet(ag.URL(), n, true)
		if r.err != nil || r.value != tv[1] || !r.stale || r.age == "" {
			t.Errorf("lambda %s: %+v, want %q stale with an age", n, r, tv[1])
		}
		t.Logf("COLD START READ (server down): lambda %s -> status %d stale=%v age=%ss version %d", n, r.status, r.stale, r.age, r.version)
	}
	// The agent's incident counts the reads the bundle answered: its report
	// says what kept the application running.
	var inc incidentJSON
	waitFor(t, 30*time.Second, "an incident counting the bundle's reads", func() (bool, string) {
		incs := getIncidents(t, ag.URL())
		if len(incs) == 0 {
			return false, "no incident"
		}
		inc = incs[0]
		return inc.Impact.FromBundle >= int64(len(params)), fmt.Sprintf("%+v", inc.Impact)
	})
	rep, err := testproc.Command(t, "incidents", "report", inc.ID, "--endpoint", ag.URL(), "--token", agentToken).CombinedOutput()
	if err != nil || !strings.Contains(string(rep), fmt.Sprintf("- %d reads answered from a bundle", inc.Impact.FromBundle)) {
		t.Errorf("incident report: %v\n%s", err, rep)
	}
	// Required parameters held from the bundle make the agent ready.
	waitFor(t, 60*time.Second, "/readyz 200 from the bundle", func() (bool, string) {
		resp, err := httpClient.Get(ag.URL() + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200, fmt.Sprintf("%d %s", resp.StatusCode, b)
	})
	// The SSM proxy: headers on a raw call, values through the SDK.
	req, _ := http.NewRequest("POST", ag.URL()+"/", strings.NewReader(`{"Name":"/cold/db/url"}`))
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Security-Token", agentToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Paramstore-Source") != "bundle" || resp.Header.Get("X-Paramstore-Stale") != "true" {
		t.Errorf("proxy GetParameter: %d %v, want 200 from the bundle", resp.StatusCode, resp.Header)
	}
	got, err := proxySDK(ag.URL(), agentToken).GetParametersByPath(context.Background(), &ssm.GetParametersByPathInput{
		Path: aws.String("/cold"), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("proxy GetParametersByPath: %v", err)
	}
	seen := map[string]string{}
	for _, p := range got.Parameters {
		seen[aws.ToString(p.Name)] = aws.ToString(p.Value)
	}
	for n, tv := range params {
		if seen[n] != tv[1] {
			t.Errorf("proxy GetParametersByPath %s = %q, want %q", n, seen[n], tv[1])
		}
	}
	t.Logf("COLD START READ (server down): proxy GetParametersByPath /cold -> %d parameters", len(got.Parameters))
	metrics := must(t, func(u string) ([]byte, error) { return httpGet(u) }, ag.URL()+"/metrics")
	if !bytes.Contains(metrics, []byte("paramstore_agent_bundle_responses_total")) {
		t.Error("no paramstore_agent_bundle_responses_total in /metrics")
	}

	// exec: a fresh process, no cache, server down.
	cmd := testproc.Command(t, "exec", "--upstream", upstream, "--max-attempts", "1", "--bundle", bundleFile,
		"--bundle-key", "env:COLD_KEY", "--path", "/cold", "--", "env")
	cmd.Env = agentEnv
	execOut, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("exec: %v\n%s", err, execOut)
	}
	for _, want := range []string{"DB_URL=postgres://db:5432/app", "DB_PASSWORD=" + marker, "HOSTS=a,b,c", "FLAG=on"} {
		if !bytes.Contains(execOut, []byte(want+"\n")) {
			t.Errorf("exec env lacks %s", strings.SplitN(want, "=", 2)[0])
		}
	}

	// Refusals: a wrong key, a truncated file.
	wrongKey := filepath.Join(dir, "wrong.key")
	os.WriteFile(wrongKey, bytes.Repeat([]byte{1}, 32), 0o600)
	truncated := filepath.Join(dir, "truncated.bundle")
	os.WriteFile(truncated, raw[:len(raw)-7], 0o600)
	for _, tc := range []struct{ name, file, key string }{
		{"wrong key", bundleFile, wrongKey},
		{"truncated", truncated, keyFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"agent", "--upstream", upstream, "--listen", "127.0.0.1:0", "--bundle", tc.file, "--bundle-key", "file:" + tc.key},
				{"exec", "--upstream", upstream, "--bundle", tc.file, "--bundle-key", "file:" + tc.key, "--path", "/cold", "--", "env"},
				{"bundle", "inspect", tc.file, "--key-file", tc.key},
			} {
				code, out := testproc.RunToExit(t, cliTimeout, agentEnv, args...)
				if code == 0 || !strings.Contains(out, "authentication failed: wrong key, or the file is damaged or truncated") || strings.Contains(out, marker) {
					t.Errorf("%s: exit %d, want a refusal naming the cause:\n%s", args[0], code, out)
				}
			}
		})
	}
}

func must[A, R any](t *testing.T, f func(A) (R, error), a A) R {
	t.Helper()
	r, err := f(a)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func httpGet(u string) ([]byte, error) {
	resp, err := httpClient.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return b.Bytes(), err
}

// cliTimeout bounds a command that runs to its end.
const cliTimeout = 2 * time.Minute
