package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// others returns the nodes of c other than n.
func (c *cluster) others(n *node) []*node {
	var out []*node
	for _, o := range c.nodes {
		if o != n {
			out = append(out, o)
		}
	}
	return out
}

// TestLeaderKills kills the leader with SIGKILL while clients write and read
// through every node, measures how long the survivors take to accept a
// write again, restarts the killed node on its data dir, and finally checks
// the whole history for linearizability, every acknowledged write on every
// node, and the replicas for equality.
func TestLeaderKills(t *testing.T) {
	kills := envInt(t, "PARAMSTORE_CLUSTER_KILLS", pick(3, 15))
	c := startCluster(t, 3)
	w := startLinWorkload(c, "/lin/kills", 3, 2)
	t.Cleanup(w.halt)
	time.Sleep(pick(time.Second, 3*time.Second))

	var failovers []time.Duration
	survived := 0
	for round := 1; round <= kills; round++ {
		l := c.leader(30 * time.Second)
		start := time.Now()
		at := time.Duration(w.rec.clk.now())
		l.kill()
		_, err := c.probeWrite(t, c.others(l), "/_cluster/probe", 30*time.Second)
		if err != nil {
			t.Fatalf("round %d: after SIGKILL of leader %s: %v", round, l.id, err)
		}
		d := time.Since(start)
		failovers = append(failovers, d)
		t.Logf("round %d: SIGKILL leader %s at t=%v (history clock); first acknowledged write through the survivors after %v", round, l.id, at, d.Round(time.Millisecond))
		time.Sleep(pick(500*time.Millisecond, 2*time.Second)) // run with a node down
		l.start()
		c.converge(60 * time.Second)
		survived++
		time.Sleep(pick(500*time.Millisecond, 2*time.Second))
	}
	w.halt()
	c.converge(60 * time.Second)
	w.verify(t)
	params, equal := c.compareReplicas(t)
	t.Logf("leader kills survived: %d of %d; failover p50 %v, max %v; replicas equal on %d parameters: %v",
		survived, kills, percentile(failovers, 50).Round(time.Millisecond), percentile(failovers, 100).Round(time.Millisecond), params, equal)
}

// TestPartitions isolates the leader, then a follower, from the other nodes
// (raft traffic both ways, see the package doc) while clients use every
// node, heals, and checks as TestLeaderKills does. While the old leader is
// cut off, a default (linearizable) read through it must not return a value
// older than one the majority has acknowledged.
func TestPartitions(t *testing.T) {
	rounds := envInt(t, "PARAMSTORE_CLUSTER_PARTITIONS", pick(1, 6))
	hold := pick(2*time.Second, 5*time.Second)
	c := startCluster(t, 3)
	w := startLinWorkload(c, "/lin/partitions", 3, 2)
	t.Cleanup(w.halt)
	time.Sleep(pick(time.Second, 3*time.Second))

	var failovers []time.Duration
	survived := 0
	for round := 1; round <= rounds; round++ {
		// The leader, alone on its side.
		l := c.leader(30 * time.Second)
		start := time.Now()
		at := time.Duration(w.rec.clk.now())
		c.isolate(l)
		if _, err := c.probeWrite(t, c.others(l), "/_cluster/probe", 30*time.Second); err != nil {
			t.Fatalf("round %d: leader %s isolated: the majority %s: %v", round, l.id, nodeIDs(c.others(l)), err)
		}
		d := time.Since(start)
		failovers = append(failovers, d)
		t.Logf("round %d: leader %s isolated at t=%v (history clock); first acknowledged write through the majority after %v", round, l.id, at, d.Round(time.Millisecond))
		c.checkNoStaleRead(t, l, c.others(l), fmt.Sprintf("/_cluster/stale/r%d-leader", round))
		time.Sleep(hold)
		c.heal()
		c.converge(60 * time.Second)
		survived++

		// A follower, alone on its side.
		l = c.leader(30 * time.Second)
		f := c.others(l)[rand.Intn(2)]
		at = time.Duration(w.rec.clk.now())
		c.isolate(f)
		if _, err := c.probeWrite(t, c.others(f), "/_cluster/probe", 30*time.Second); err != nil {
			t.Fatalf("round %d: follower %s isolated: the majority %s: %v", round, f.id, nodeIDs(c.others(f)), err)
		}
		t.Logf("round %d: follower %s isolated at t=%v", round, f.id, at)
		time.Sleep(hold / 2) // let the follower's contact with the leader go stale
		c.checkNoStaleRead(t, f, c.others(f), fmt.Sprintf("/_cluster/stale/r%d-follower", round))
		time.Sleep(hold / 2)
		c.heal()
		c.converge(60 * time.Second)
		survived++

		if longMode() {
			// Slow links: 30ms each way on every raft connection.
			c.slowLinks(30 * time.Millisecond)
			time.Sleep(hold)
			c.heal()
			c.converge(60 * time.Second)
		}
	}
	w.halt()
	c.converge(60 * time.Second)
	w.verify(t)
	params, equal := c.compareReplicas(t)
	t.Logf("partitions survived: %d (%d rounds of leader and follower isolation); failover after isolating the leader p50 %v, max %v; replicas equal on %d parameters: %v",
		survived, rounds, percentile(failovers, 50).Round(time.Millisecond), percentile(failovers, 100).Round(time.Millisecond), params, equal)
}

// checkNoStaleRead writes a new value through the majority while isolated
// is cut off, then reads through isolated with the default consistency: the
// read must fail, not return the older value.
func (c *cluster) checkNoStaleRead(t *testing.T, isolated *node, majority []*node, name string) {
	t.Helper()
	ctx := context.Background()
	put := func(value string) error {
		var err error
		for _, n := range majority {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = c.client(n, false, 5*time.Second).PutParameter(cctx, &ssm.PutParameterInput{
				Name: aws.String(name), Value: aws.String(value), Type: types.ParameterTypeString, Overwrite: aws.Bool(true),
			})
			cancel()
			if err == nil {
				return nil
			}
		}
		return err
	}
	// The old value was written before the partition in a real workload;
	// here it is written by the majority too, and the isolated node never
	// saw either value unless it is still connected: then both reads are
	// fine.
	if err := put("old"); err != nil {
		t.Fatalf("write through the majority %s: %v", nodeIDs(majority), err)
	}
	if err := put("new"); err != nil {
		t.Fatalf("write through the majority %s: %v", nodeIDs(majority), err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := c.client(isolated, false, 5*time.Second).GetParameter(cctx, &ssm.GetParameterInput{Name: aws.String(name)})
	var nf *types.ParameterNotFound
	switch {
	case errors.As(err, &nf):
		t.Errorf("stale read: GetParameter %s through the isolated node %s answered ParameterNotFound after the majority acknowledged two writes", name, isolated.id)
	case err != nil:
		// Refused or timed out: correct for a node that cannot reach a quorum.
	case aws.ToString(out.Parameter.Value) != "new":
		t.Errorf("stale read: GetParameter %s through the isolated node %s answered %q (version %d) after the majority acknowledged \"new\"", name, isolated.id, aws.ToString(out.Parameter.Value), out.Parameter.Version)
	default:
		t.Errorf("GetParameter %s through the isolated node %s answered the majority's latest value: the partition did not isolate it", name, isolated.id)
	}
}

// TestReplicasConverge runs a mixed workload (puts of every type, labels,
// tags, deletes) through every node across a leader kill and a follower
// isolation, then compares every replica's full state: parameters, every
// version with its labels and dates, and tags, read locally on each node.
func TestReplicasConverge(t *testing.T) {
	c := startCluster(t, 3)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var okOps, failedOps atomic.Int64
	for i, n := range append(c.nodes, c.nodes...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mixedClient(c.client(n, false, clientTimeout), rand.New(rand.NewSource(int64(i))), &stop, &okOps, &failedOps)
		}()
	}
	halt := func() { stop.Store(true); wg.Wait() }
	t.Cleanup(halt)
	phase := pick(time.Second, 5*time.Second)
	time.Sleep(phase)

	l := c.leader(30 * time.Second)
	l.kill()
	time.Sleep(phase)
	l.start()
	c.converge(60 * time.Second)
	time.Sleep(phase)

	l = c.leader(30 * time.Second)
	f := c.others(l)[0]
	c.isolate(f)
	time.Sleep(phase)
	c.heal()
	time.Sleep(phase)

	halt()
	c.converge(60 * time.Second)
	params, equal := c.compareReplicas(t)
	t.Logf("mixed workload: %d calls acknowledged, %d failed; replicas compared on %d parameters: equal %v", okOps.Load(), failedOps.Load(), params, equal)
	if okOps.Load() == 0 || params < 10 {
		t.Errorf("the workload made too little progress: %d calls acknowledged, %d parameters", okOps.Load(), params)
	}
}

// mixedClient runs random writes of every kind on /conv/p00../conv/p19.
func mixedClient(cl *ssm.Client, rng *rand.Rand, stop *atomic.Bool, ok, failed *atomic.Int64) {
	types3 := []types.ParameterType{types.ParameterTypeString, types.ParameterTypeStringList, types.ParameterTypeSecureString}
	for seq := 0; !stop.Load(); seq++ {
		i := rng.Intn(20)
		name := fmt.Sprintf("/conv/p%02d", i)
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		var err error
		switch r := rng.Intn(10); {
		case r < 5:
			_, err = cl.PutParameter(ctx, &ssm.PutParameterInput{
				Name: aws.String(name), Value: aws.String(fmt.Sprintf("v%d,%d", seq, rng.Intn(1000))),
				Type: types3[i%3], Overwrite: aws.Bool(true), Description: aws.String(fmt.Sprintf("d%d", rng.Intn(5))),
			})
		case r < 7:
			_, err = cl.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{
				Name: aws.String(name), ParameterVersion: aws.Int64(int64(1 + rng.Intn(5))), Labels: []string{fmt.Sprintf("l%d", rng.Intn(4))},
			})
		case r < 8:
			_, err = cl.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{
				ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String(name),
				Tags: []types.Tag{{Key: aws.String(fmt.Sprintf("t%d", rng.Intn(4))), Value: aws.String(fmt.Sprint(seq))}},
			})
		case r < 9:
			_, err = cl.RemoveTagsFromResource(ctx, &ssm.RemoveTagsFromResourceInput{
				ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String(name), TagKeys: []string{fmt.Sprintf("t%d", rng.Intn(4))},
			})
		default:
			if rng.Intn(4) == 0 {
				_, err = cl.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)})
			} else {
				_, err = cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
			}
		}
		cancel()
		if err != nil {
			failed.Add(1)
		} else {
			ok.Add(1)
		}
		time.Sleep(time.Duration(1+rng.Intn(3)) * time.Millisecond)
	}
}
