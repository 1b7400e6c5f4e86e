package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

// gate is a proxy to the mirror's source that can cut it off (every
// connection dropped unanswered).
type gate struct {
	*httptest.Server
	down atomic.Bool
}

func newGate(t *testing.T, target string) *gate {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	g := &gate{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.down.Load() {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

// TestMirrorOnLeaderOnly: every node of a 3-node cluster runs with the same
// --mirror-config (a mirror of moto_server), yet only the leader mirrors:
// the followers make no source call. Killing the leader moves the mirror
// to the new leader, which copies what changed at the source meanwhile,
// under the mirror's identity. A stale-mirror incident opened by one
// leader is closed by the next once the source is back: one incident,
// replicated, with both ends.
func TestMirrorOnLeaderOnly(t *testing.T) {
	ctx := context.Background()
	moto := testproc.StartMoto(t)
	g := newGate(t, moto)
	dir := t.TempDir()
	creds := filepath.Join(dir, "moto-credentials")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "mirrors.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("mirrors:\n  - name: moto\n    source: {endpoint: %q, region: us-east-1, credentials: {file: %q}}\n    paths: [/c]\n    interval: 1s\n    rate: 50\n", g.URL, creds)), 0o600); err != nil {
		t.Fatal(err)
	}
	src := ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto), Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	put := func(name, value string) {
		t.Helper()
		if _, err := src.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Type: types.ParameterTypeString, Value: aws.String(value), Overwrite: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	c := startClusterOpts(t, 3, false, "--mirror-config", cfg)
	// arrives waits until name holds value at node n, written by the mirror.
	arrives := func(n *node, name, value string) {
		t.Helper()
		cl := c.client(n, false, 10*time.Second)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			d, err := cl.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{name}}}})
			g, gerr := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
			if err == nil && gerr == nil && aws.ToString(g.Parameter.Value) == value && len(d.Parameters) == 1 {
				if u := aws.ToString(d.Parameters[0].LastModifiedUser); u != "arn:aws:iam::123456789012:user/paramstore/mirror/moto" {
					t.Fatalf("%s written by %q, want the mirror", name, u)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s=%s did not arrive at %s: %v %v", name, value, n.id, err, gerr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	type view struct {
		running      bool
		syncs, calls int64
	}
	// views returns each running node's view of the mirror.
	views := func() map[*node]view {
		t.Helper()
		out := map[*node]view{}
		for _, n := range c.nodes {
			if !n.running() {
				continue
			}
			r, err := n.ready()
			if err != nil || len(r.Mirrors) != 1 {
				continue // going down, or not serving yet
			}
			out[n] = view{r.Mirrors[0].Running, r.Mirrors[0].Syncs, r.Mirrors[0].SourceCalls}
		}
		return out
	}
	// onlyLeader waits until a stable leader runs the mirror and, over two
	// of its syncs, no other node runs it or calls the source. (A loaded
	// machine may move leadership meanwhile, and the mirrors follow it
	// within a second: then it looks again.)
	onlyLeader := func(what string) *node {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			l := c.leader(60 * time.Second)
			before := views()
			if v := before[l]; v.running {
				for until := time.Now().Add(30 * time.Second); views()[l].syncs < v.syncs+2 && time.Now().Before(until); {
					time.Sleep(100 * time.Millisecond)
				}
				after := views()
				ok := after[l].running && after[l].syncs >= v.syncs+2 && after[l].calls > v.calls && c.leader(60*time.Second) == l
				for n, w := range after {
					if n != l && (w.running || w.calls != before[n].calls) {
						ok = false
					}
				}
				if ok {
					for _, n := range c.nodes {
						if _, up := after[n]; !up {
							continue
						}
						t.Logf("MIRROR CLUSTER %s: %s leader=%v running=%v syncs=%d->%d source_calls=%d->%d", what, n.id, n == l,
							after[n].running, before[n].syncs, after[n].syncs, before[n].calls, after[n].calls)
					}
					return l
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no leader mirroring alone after 2 minutes: %+v", what, views())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	l := c.leader(60 * time.Second)
	put("/c/a", "1")
	arrives(l, "/c/a", "1")
	l = onlyLeader("before the kill")

	l.kill()
	nl := c.leader(60 * time.Second)
	put("/c/b", "2")
	put("/c/a", "1b")
	arrives(nl, "/c/b", "2")
	arrives(nl, "/c/a", "1b")
	nl = onlyLeader("after the kill of " + l.id)

	// The source cut off: the leader opens a stale incident, replicated.
	l.start()
	c.leader(60 * time.Second)
	stale := func(n *node) []clusterIncident {
		t.Helper()
		incs, err := c.listIncidents(t, n)
		if err != nil {
			t.Fatalf("incidents list at %s: %v", n.id, err)
		}
		var out []clusterIncident
		for _, inc := range incs {
			if inc.Kind == "mirror-stale" {
				out = append(out, inc)
			}
		}
		return out
	}
	waitIncident := func(what string, n *node, cond func([]clusterIncident) bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if cond(stale(n)) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s at %s: not after 2 minutes: %+v", what, n.id, stale(n))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	before := len(stale(nl))
	g.down.Store(true)
	l = c.leader(60 * time.Second)
	follower := c.others(l)[0]
	waitIncident("an open mirror-stale incident, replicated", follower, func(incs []clusterIncident) bool {
		return len(incs) == before+1 && incs[0].Ended == nil
	})
	opened := stale(follower)[0]
	l.kill()
	nl = c.leader(60 * time.Second)
	g.down.Store(false)
	waitIncident("the incident closed by the new leader", nl, func(incs []clusterIncident) bool {
		return len(incs) == before+1 && incs[0].ID == opened.ID && incs[0].Ended != nil
	})
	var events []string
	for _, e := range stale(nl)[0].Timeline {
		events = append(events, e.Time.UTC().Format("15:04:05.000")+" "+e.Event)
	}
	t.Logf("MIRROR CLUSTER incident %s opened under %s, closed under %s:\n%s", opened.ID, l.id, nl.id, strings.Join(events, "\n"))
}
