package agent_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/internal/testproc"
)

// servedRead is one value an agent served, when the reader received it.
type servedRead struct {
	at      time.Time
	name    string
	version int64
}

// TestAgentCrash (issue 17): values rotate at the source (moto_server,
// standing in for AWS SSM) while an agent serves them; the agent is
// SIGKILLed at a random moment; the upstream goes down; paramstore exec
// and the restarted agent must serve every parameter at a version at
// least as new as the one the agent served 1s before the kill (the flush
// window), from a cache file that always opens. PARAMSTORE_AGENT_CRASH_ROUNDS
// sets the rounds (default 3; make crash runs 20).
func TestAgentCrash(t *testing.T) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("PARAMSTORE_AGENT_CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	m := startMoto(t)
	sw := newSwitch(t, m.url)
	const n = 5
	names := make([]string, n)
	var vmu sync.Mutex
	versions := map[string]int64{}
	for i := range names {
		names[i] = fmt.Sprintf("/crash/p%d", i)
		versions[names[i]] = m.put(names[i], "v1")
	}
	cacheDir, key := t.TempDir(), newCacheKey(t)
	env := motoEnv(t, "CRASH_CACHE_KEY="+key)
	agentArgs := []string{"agent", "--upstream", sw.URL, "--listen", "127.0.0.1:0", "--cache-dir", cacheDir,
		"--cache-key", "env:CRASH_CACHE_KEY", "--ttl", "100ms", "--token", agentToken,
		// After each restart with the upstream down, the next round starts
		// once a breaker probe finds it back: keep that short.
		"--breaker-open-for", "300ms"}
	ag := start(t, "agent", env, agentArgs...)

	// The source rotates values all along; value "vN" is version N.
	ctx, stopRotating := context.WithCancel(context.Background())
	var rot sync.WaitGroup
	rot.Go(func() {
		for ctx.Err() == nil {
			name := names[rand.IntN(n)]
			vmu.Lock()
			next := versions[name] + 1
			vmu.Unlock()
			if v := m.put(name, "v"+strconv.FormatInt(next, 10)); v != next {
				t.Errorf("moto put %s: version %d, want %d", name, v, next)
			}
			vmu.Lock()
			versions[name] = next
			vmu.Unlock()
			time.Sleep(30 * time.Millisecond)
		}
	})
	defer func() { stopRotating(); rot.Wait() }()

	regressions := 0
	for round := 1; round <= rounds; round++ {
		sw.set(modeUp)
		// The round starts once the agent serves fresh values again.
		waitFor(t, 30*time.Second, "fresh reads through the agent", func() (bool, string) {
			r := lambdaGet(ag.URL(), names[0], true)
			return r.err == nil && !r.stale, fmt.Sprintf("%+v", r)
		})
		proxy := proxySDK(ag.URL(), agentToken)
		var served, pathServed []servedRead
		killAt := time.Now().Add(1200*time.Millisecond + rand.N(1500*time.Millisecond))
		for time.Now().Before(killAt) {
			for _, name := range names {
				r := lambdaGet(ag.URL(), name, true)
				if r.err == nil {
					if r.value != "v"+strconv.FormatInt(r.version, 10) {
						t.Fatalf("round %d: %s served value %q at version %d", round, name, r.value, r.version)
					}
					served = append(served, servedRead{time.Now(), name, r.version})
				}
			}
			out, err := proxy.GetParametersByPath(context.Background(), &ssm.GetParametersByPathInput{
				Path: aws.String("/crash"), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true)})
			if err == nil {
				now := time.Now()
				for _, p := range out.Parameters {
					pathServed = append(pathServed, servedRead{now, aws.ToString(p.Name), p.Version})
				}
			}
		}
		ag.Kill()
		killed := time.Now()
		sw.set(modeDown)
		before, last := newestBefore(served, killed.Add(-time.Second)), newestBefore(served, killed)
		pathBefore := newestBefore(pathServed, killed.Add(-time.Second))

		// exec, started right after the kill with the upstream down, reads
		// the agent's cache (it has the path as the proxy served it).
		execOut := runExecEnv(t, env, sw.URL, cacheDir)
		ag = start(t, "agent", env, agentArgs...)
		h := getHealth(t, ag.URL())
		if h.Cache.State != "ok" || h.Cache.Loaded == 0 {
			t.Fatalf("round %d: the cache file did not open after SIGKILL: %+v", round, h.Cache)
		}
		var row []string
		for _, name := range names {
			r := lambdaGet(ag.URL(), name, true)
			if r.err != nil {
				t.Errorf("round %d: %s after restart, upstream down: %v", round, name, r.err)
				regressions++
				continue
			}
			if !r.stale {
				t.Errorf("round %d: %s loaded from disk served without X-Paramstore-Stale", round, name)
			}
			if r.version < before[name] {
				t.Errorf("round %d: %s served v%d after the restart, but v%d 1s before the kill", round, name, r.version, before[name])
				regressions++
			}
			envName := strings.ToUpper(filepath.Base(name))
			ev, _ := strconv.ParseInt(strings.TrimPrefix(execOut[envName], "v"), 10, 64)
			if ev < pathBefore[name] {
				t.Errorf("round %d: exec got %s=%q, but the agent served v%d 1s before the kill", round, envName, execOut[envName], pathBefore[name])
				regressions++
			}
			row = append(row, fmt.Sprintf("%s v%d/v%d->v%d exec v%d", filepath.Base(name), before[name], last[name], r.version, ev))
		}
		t.Logf("CRASH round %2d: killed after %d reads; <=kill-1s/last -> after restart: %s", round, len(served), strings.Join(row, ", "))
	}
	t.Logf("CRASH %d rounds, %d regressions", rounds, regressions)

	t.Run("wrong key leaves the cache untouched", func(t *testing.T) {
		if _, err := ag.Terminate(testproc.StopTimeout); err != nil {
			t.Error(err)
		}
		before := dirHashes(t, cacheDir)
		wrong := start(t, "agent", motoEnv(t, "CRASH_CACHE_KEY="+newCacheKey(t)), agentArgs...)
		h := getHealth(t, wrong.URL())
		if h.Status != "degraded" || h.Cache.State != "unreadable" || !strings.Contains(h.Cache.Error, "another key") {
			t.Errorf("healthz with the wrong key: got %+v, want degraded, cache unreadable", h)
		}
		if code, err := wrong.Terminate(testproc.StopTimeout); err != nil || code != 0 {
			t.Errorf("agent with the wrong key exited %d (%v)", code, err)
		}
		if after := dirHashes(t, cacheDir); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("cache dir changed by a run with the wrong key:\nbefore %v\nafter  %v", before, after)
		}
		right := start(t, "agent", env, agentArgs...)
		if r := lambdaGet(right.URL(), names[0], true); r.err != nil || !r.stale {
			t.Errorf("with the right key again, upstream down: got %+v, want the cached value, stale", r)
		}
	})
}

// newestBefore returns, per name, the newest version served at or before t.
func newestBefore(rs []servedRead, t time.Time) map[string]int64 {
	out := map[string]int64{}
	for _, r := range rs {
		if !r.at.After(t) && r.version > out[r.name] {
			out[r.name] = r.version
		}
	}
	return out
}

// proxySDK is an SDK client of an agent's SSM proxy, with the agent's
// token as its session token (as AWS_SESSION_TOKEN would give it).
func proxySDK(agentURL, token string) *ssm.Client {
	return ssm.New(ssm.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(agentURL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", token),
	})
}

// runExecEnv runs paramstore exec over /crash against the cache dir and
// returns the environment the command saw (names starting with P).
func runExecEnv(t *testing.T, env []string, upstream, cacheDir string) map[string]string {
	t.Helper()
	cmd := testproc.Command(t, "exec", "--upstream", upstream, "--cache-dir", cacheDir, "--cache-key", "env:CRASH_CACHE_KEY",
		"--path", "/crash", "--", "env")
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("paramstore exec: %v\n%s", err, stderr.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "P") {
			got[k] = v
		}
	}
	return got
}

func dirHashes(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(raw)
	}
	return out
}
