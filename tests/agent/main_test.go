// Package agent_test runs the built paramstore binary as real processes,
// a server and agents in front of it, and drills outages: the server dies,
// the agent restarts, the server comes back.
package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

func TestMain(m *testing.M) { testproc.Main(m) }

// start runs the binary with args and env and waits for its "listening"
// log line; it is stopped (SIGTERM, exit code 0) when the test ends.
func start(t testing.TB, name string, env []string, args ...string) *testproc.Proc {
	t.Helper()
	return testproc.StartListening(t, testproc.Config{Name: name, Args: args, Env: env})
}

// server is a paramstore server on a data dir, restartable on its port.
type server struct {
	*testproc.Server
	t testing.TB
}

func startServer(t testing.TB) *server {
	t.Helper()
	s := &server{t: t, Server: testproc.StartServer(t, testproc.ServerConfig{DataDir: t.TempDir(), Env: testproc.Env(), Args: []string{"--no-audit"}})}
	s.Credentials()
	return s
}

// restart starts the server again on the same data dir and port.
func (s *server) restart() {
	s.t.Helper()
	s.Server = testproc.StartServer(s.t, testproc.ServerConfig{DataDir: s.DataDir, Listen: s.Addr(), Env: testproc.Env(), Args: []string{"--no-audit"}})
}

func (s *server) put(name, typ, value string) {
	s.t.Helper()
	_, err := s.SSM().PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: types.ParameterType(typ), Overwrite: aws.Bool(true),
	})
	if err != nil {
		s.t.Fatalf("put %s: %v", name, err)
	}
}

// signingEnv is the environment of processes that sign with the server's
// root access key.
func (s *server) signingEnv(extra ...string) []string {
	return s.Credentials().Env(s.t, extra...)
}

// waitFor polls cond until it holds or timeout passes (then fails).
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v: %s", what, timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newCacheKey(t testing.TB) string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

const agentToken = "drill-token"

// read is one Lambda-extension read through an agent.
type read struct {
	status  int
	value   string
	version int64
	age     string
	stale   bool
	err     error
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

func lambdaGet(agentURL, name string, decrypt bool) read {
	u := agentURL + "/systemsmanager/parameters/get?name=" + url.QueryEscape(name)
	if decrypt {
		u += "&withDecryption=true"
	}
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("X-Aws-Parameters-Secrets-Token", agentToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		return read{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := read{status: resp.StatusCode, stale: resp.Header.Get("X-Paramstore-Stale") == "true", age: resp.Header.Get("X-Paramstore-Age")}
	if resp.StatusCode != 200 {
		r.err = fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		return r
	}
	var out struct {
		Parameter struct {
			Value   string
			Version int64
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		r.err = err
	}
	r.value, r.version = out.Parameter.Value, out.Parameter.Version
	return r
}

type health struct {
	Status string
	Cache  struct {
		State, Error    string
		Loaded, Pending int
	}
	Upstreams []struct {
		URL               string
		State             string
		Breaker           string
		LastError         string     `json:"last_error"`
		ServingStaleSince *time.Time `json:"serving_stale_since"`
	}
}

func getHealth(t testing.TB, agentURL string) health {
	t.Helper()
	resp, err := httpClient.Get(agentURL + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("healthz: %v", err)
	}
	return h
}
