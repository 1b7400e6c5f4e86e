package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// clientTimeout bounds every workload call: short, so that calls stuck on
// an isolated or dead node become "unknown outcome" quickly.
const clientTimeout = 2 * time.Second

// maxVersions is where a slot moves on to a fresh parameter, well below the
// 100 versions a parameter keeps, so the final history shows every version.
const maxVersions = 80

// linWorkload runs clients that put and get a few parameters through every
// node and records every call for the linearizability check.
type linWorkload struct {
	c      *cluster
	prefix string
	rec    *recorder
	slots  []*slot
	stop   atomic.Bool
	wg     sync.WaitGroup

	mu   sync.Mutex
	keys map[string]bool // every parameter name used
}

// slot is one of the few parameters the clients contend on; it moves to a
// new name (generation) when its versions approach the retention limit.
type slot struct {
	mu  sync.Mutex
	gen int
}

// startLinWorkload starts clientsPerNode clients on every node.
func startLinWorkload(c *cluster, prefix string, slots, clientsPerNode int) *linWorkload {
	w := &linWorkload{c: c, prefix: prefix, rec: newRecorder(), keys: map[string]bool{}}
	for range slots {
		w.slots = append(w.slots, &slot{})
	}
	id := 0
	for k := range clientsPerNode {
		for _, n := range c.nodes {
			w.wg.Add(1)
			go w.client(id, n, rand.New(rand.NewSource(int64(id*7919+k))))
			id++
		}
	}
	return w
}

func (w *linWorkload) key(i int) string {
	s := w.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	name := fmt.Sprintf("%s/s%d/g%d", w.prefix, i, s.gen)
	w.mu.Lock()
	w.keys[name] = true
	w.mu.Unlock()
	return name
}

// acked moves slot i on to its next generation once key reached maxVersions.
func (w *linWorkload) acked(i int, key string, v int64) {
	if v < maxVersions {
		return
	}
	s := w.slots[i]
	s.mu.Lock()
	if key == fmt.Sprintf("%s/s%d/g%d", w.prefix, i, s.gen) {
		s.gen++
	}
	s.mu.Unlock()
}

func (w *linWorkload) client(id int, n *node, rng *rand.Rand) {
	defer w.wg.Done()
	cl := w.c.client(n, false, clientTimeout)
	for seq := 0; !w.stop.Load(); seq++ {
		i := rng.Intn(len(w.slots))
		key := w.key(i)
		c := call{client: id, node: n.id, key: key, put: rng.Intn(2) == 0}
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		if c.put {
			c.value = fmt.Sprintf("c%d-%d", id, seq)
			c.callAt = w.rec.clk.now()
			out, err := cl.PutParameter(ctx, &ssm.PutParameterInput{
				Name: aws.String(key), Value: aws.String(c.value), Type: types.ParameterTypeString, Overwrite: aws.Bool(true),
			})
			c.retAt = w.rec.clk.now()
			c.err = err
			if err == nil {
				c.version = out.Version
				w.acked(i, key, out.Version)
			}
		} else {
			c.callAt = w.rec.clk.now()
			out, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(key)})
			c.retAt = w.rec.clk.now()
			var nf *types.ParameterNotFound
			switch {
			case errors.As(err, &nf):
			case err != nil:
				c.err = err
			default:
				c.version = out.Parameter.Version
				c.got = aws.ToString(out.Parameter.Value)
			}
		}
		cancel()
		w.rec.add(c)
		// Leave CPU to the servers (2 cores in CI): a starved raft misses
		// heartbeats and elects for no reason. Back off after an error (a
		// node that is down refuses at once).
		pause := time.Duration(1+rng.Intn(3)) * time.Millisecond
		if c.err != nil {
			pause = time.Duration(20+rng.Intn(30)) * time.Millisecond
		}
		time.Sleep(pause)
	}
}

// halt stops the clients and waits for them.
func (w *linWorkload) halt() {
	w.stop.Store(true)
	w.wg.Wait()
}

// keyList returns the parameter names used, sorted.
func (w *linWorkload) keyList() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var keys []string
	for k := range w.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// verifyRead retries a read made to verify the outcome (not part of any
// checked history): on this SDK, bodies sent in chunks occasionally fail
// mid-read with "use of closed network connection" on the client side.
func verifyRead[T any](read func() (T, error)) (T, error) {
	var v T
	var err error
	// Until the node serves it, 30 s at most: a node that knows no leader
	// refuses even stale reads (503) for as long as an election takes,
	// and on a loaded machine a starved leader steps down now and then
	// (TestLeaderKills failed when 5 tries 100 ms apart all fell in one).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if v, err = read(); err == nil || time.Now().After(deadline) {
			return v, err
		}
	}
}

// parameterHistory reads a parameter's whole history through cl.
func parameterHistory(ctx context.Context, cl *ssm.Client, name string) ([]types.ParameterHistory, error) {
	return verifyRead(func() ([]types.ParameterHistory, error) { return parameterHistoryOnce(ctx, cl, name) })
}

func parameterHistoryOnce(ctx context.Context, cl *ssm.Client, name string) ([]types.ParameterHistory, error) {
	var all []types.ParameterHistory
	var token *string
	for {
		out, err := cl.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{
			Name: aws.String(name), NextToken: token, MaxResults: aws.Int32(50), WithDecryption: aws.Bool(true),
		})
		var nf *types.ParameterNotFound
		if errors.As(err, &nf) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("GetParameterHistory %s: %w", name, err)
		}
		all = append(all, out.Parameters...)
		if aws.ToString(out.NextToken) == "" {
			return all, nil
		}
		token = out.NextToken
	}
}

// verify reads the final history of every parameter on every node (stale
// reads after converge), reports diverging replicas, resolves the calls
// and runs the linearizability check. It logs the figures and returns them.
func (w *linWorkload) verify(t *testing.T) resolution {
	t.Helper()
	ctx := context.Background()
	finals := map[string]finalHistory{}
	for _, key := range w.keyList() {
		var first []types.ParameterHistory
		for i, n := range w.c.nodes {
			h, err := parameterHistory(ctx, w.c.client(n, true, 10*time.Second), key)
			if err != nil {
				t.Fatalf("%s: %v", n.id, err)
			}
			if i == 0 {
				first = h
				continue
			}
			if a, b := historyString(first), historyString(h); a != b {
				t.Errorf("replicas diverge on %s: %s has\n%s\n%s has\n%s", key, w.c.nodes[0].id, a, n.id, b)
			}
		}
		var fh finalHistory
		for _, p := range first {
			fh.versions = append(fh.versions, version{version: p.Version, value: aws.ToString(p.Value)})
		}
		if len(first) > 0 && first[0].Version != 1 {
			fh.truncated = true
		}
		finals[key] = fh
	}
	calls := w.rec.snapshot()
	res := resolve(calls, finals)
	for _, p := range res.problems {
		t.Error(p)
	}
	start := time.Now()
	result, err := checkLinearizable(res.ops, w.c.dir, pick(2*time.Minute, 10*time.Minute))
	t.Logf("porcupine: %d operations checked on %d parameters in %v: %s (acknowledged puts %d, unknown-outcome puts %d: %d applied, %d never applied; reads %d, failed reads %d)",
		len(res.ops), len(finals), time.Since(start).Round(time.Millisecond), result, res.acked, res.unknown, res.applied, res.dropped, res.reads, res.readErrs)
	t.Logf("acknowledged writes lost: %d", res.lost)
	if err != nil {
		t.Error(err)
	}
	if res.acked == 0 || res.reads == 0 {
		t.Errorf("the workload made no progress: %d acknowledged puts, %d reads", res.acked, res.reads)
	}
	return res
}

func historyString(h []types.ParameterHistory) string {
	var b strings.Builder
	for _, p := range h {
		fmt.Fprintf(&b, "v%d %q labels=%q modified=%s\n", p.Version, aws.ToString(p.Value), p.Labels, aws.ToTime(p.LastModifiedDate).UTC().Format(time.RFC3339Nano))
	}
	return b.String()
}

// replicaState is everything a node holds about the parameters of the
// region, read with stale (local) reads.
type replicaState struct {
	Parameters []replicaParameter
}

type replicaParameter struct {
	Current types.Parameter
	History []types.ParameterHistory
	Tags    []types.Tag
}

// readReplica reads every parameter of n (GetParametersByPath recursive from
// "/"), each one's history and tags, all with stale reads on n.
func (c *cluster) readReplica(t *testing.T, n *node) replicaState {
	t.Helper()
	ctx := context.Background()
	cl := c.client(n, true, 10*time.Second)
	var st replicaState
	current, err := verifyRead(func() ([]types.Parameter, error) {
		var all []types.Parameter
		var token *string
		for {
			out, err := cl.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{
				Path: aws.String("/"), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true), NextToken: token, MaxResults: aws.Int32(10),
			})
			if err != nil {
				return nil, err
			}
			all = append(all, out.Parameters...)
			if aws.ToString(out.NextToken) == "" {
				return all, nil
			}
			token = out.NextToken
		}
	})
	if err != nil {
		t.Fatalf("%s: GetParametersByPath: %v", n.id, err)
	}
	for _, p := range current {
		st.Parameters = append(st.Parameters, replicaParameter{Current: p})
	}
	sort.Slice(st.Parameters, func(i, j int) bool {
		return aws.ToString(st.Parameters[i].Current.Name) < aws.ToString(st.Parameters[j].Current.Name)
	})
	for i := range st.Parameters {
		p := &st.Parameters[i]
		name := aws.ToString(p.Current.Name)
		h, err := parameterHistory(ctx, cl, name)
		if err != nil {
			t.Fatalf("%s: %v", n.id, err)
		}
		p.History = h
		tags, err := verifyRead(func() (*ssm.ListTagsForResourceOutput, error) {
			return cl.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String(name)})
		})
		if err != nil {
			t.Fatalf("%s: ListTagsForResource %s: %v", n.id, name, err)
		}
		sort.Slice(tags.TagList, func(a, b int) bool {
			return aws.ToString(tags.TagList[a].Key) < aws.ToString(tags.TagList[b].Key)
		})
		p.Tags = tags.TagList
	}
	return st
}

// compareReplicas reads every running node's state and fails if any differs
// from the first node's; the states are written to the artifacts dir. It
// returns the number of parameters compared and whether all were equal.
func (c *cluster) compareReplicas(t *testing.T) (int, bool) {
	t.Helper()
	var want []byte
	var wantNode string
	count := 0
	equal := true
	for _, n := range c.nodes {
		st := c.readReplica(t, n)
		got, err := json.MarshalIndent(st, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(c.dir, "replica-"+n.id+".json")
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want, wantNode, count = got, n.id, len(st.Parameters)
			continue
		}
		if string(got) != string(want) {
			equal = false
			t.Errorf("replica %s differs from %s (%d vs %d parameters): first difference %s; states in %s",
				n.id, wantNode, len(st.Parameters), count, firstDiff(string(want), string(got)), c.dir)
		}
	}
	return count, equal
}

// firstDiff describes the first differing line of two texts.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("at line %d: %q vs %q", i+1, strings.TrimSpace(x), strings.TrimSpace(y))
		}
	}
	return "none"
}

// maxProbeAttempt bounds one attempt of probeWrite.
const maxProbeAttempt = 8 * time.Second

// probeWrite puts a value through any of nodes, in turn, until one
// acknowledges it, and returns how long that took.
func (c *cluster) probeWrite(t *testing.T, nodes []*node, name string, timeout time.Duration) (time.Duration, error) {
	return c.writeThrough(nodes, name, func(i int) string { return fmt.Sprintf("probe-%d", i) }, timeout)
}

// writeThrough puts value(i) in attempt i through any of nodes, in turn,
// with Overwrite, until one acknowledges it, and returns how long that
// took.
func (c *cluster) writeThrough(nodes []*node, name string, value func(i int) string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	var lastErr error
	clients := make([]*ssm.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = c.client(n, false, maxProbeAttempt)
	}
	// Attempts start short, to see the failover soon after it happens,
	// and double after each one that timed out: on a loaded machine one
	// write can take longer than a second, and a probe whose every
	// attempt is cut short never succeeds.
	attempt := time.Second
	for i := 0; time.Since(start) < timeout; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), attempt)
		_, err := clients[i%len(clients)].PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(name), Value: aws.String(value(i)), Type: types.ParameterTypeString, Overwrite: aws.Bool(true),
		})
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil {
			return time.Since(start), nil
		}
		lastErr = err
		if timedOut {
			attempt = min(2*attempt, maxProbeAttempt)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start), fmt.Errorf("no write acknowledged through %s within %v: %w", nodeIDs(nodes), timeout, lastErr)
}

func nodeIDs(nodes []*node) string {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.id
	}
	return strings.Join(ids, ",")
}

// percentile returns the p-th percentile (0-100) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, (len(s)*p)/100)]
}
