package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// snapshotIndex is the highest index of the raft snapshots in a node's
// data dir (0 without any).
func snapshotIndex(t *testing.T, n *node) uint64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(n.dataDir, "raft", "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var best uint64
	for _, e := range entries {
		// term-index-time; ".tmp" while one is being written.
		parts := strings.Split(e.Name(), "-")
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") || len(parts) < 3 {
			continue
		}
		if idx, err := strconv.ParseUint(parts[1], 10, 64); err == nil {
			best = max(best, idx)
		}
	}
	return best
}

// TestFollowerBackFromSnapshot: a follower killed while the others write
// on and truncate their logs past everything it holds comes back through
// the leader's snapshot, which empties its log (a WAL, which refuses a
// gap), takes the writes after it, and does so again after a second
// SIGKILL right after the catch-up: its emptied-then-refilled log and its
// state restart as any other.
func TestFollowerBackFromSnapshot(t *testing.T) {
	c := startClusterOpts(t, 3, false, "--snapshot-interval", "200ms", "--snapshot-threshold", "64", "--trailing-logs", "16")
	l := c.leader(30 * time.Second)
	f := c.others(l)[0]
	put := func(name, value string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := c.client(c.leader(30*time.Second), false, 20*time.Second).PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(name), Value: aws.String(value), Type: "String", Overwrite: aws.Bool(true),
		}); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
	}
	put("/snap/before", "1")
	c.converge(60 * time.Second)
	f.kill()
	for i := range 300 {
		put(fmt.Sprintf("/snap/missed/%03d", i%40), strconv.Itoa(i))
	}
	// Both running nodes snapshot past the entries the follower lacks and
	// keep only 16 after it.
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range c.others(f) {
		for snapshotIndex(t, n) < 250 {
			if time.Now().After(deadline) {
				t.Fatalf("%s took no snapshot past index 250 within a minute (latest %d)", n.id, snapshotIndex(t, n))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	check := func(round string) {
		t.Helper()
		out, err := c.client(f, true, 10*time.Second).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/snap/missed/019")})
		if err != nil || aws.ToString(out.Parameter.Value) != "299" {
			t.Fatalf("%s: the follower's /snap/missed/019: %v, %v; want 299", round, out, err)
		}
	}
	f.start()
	c.converge(90 * time.Second)
	check("back from the snapshot")
	if snapshotIndex(t, f) < 250 {
		t.Errorf("the follower holds no snapshot past index 250 (latest %d): it did not catch up from one", snapshotIndex(t, f))
	}
	f.kill()
	put("/snap/missed/019", "300")
	f.start()
	c.converge(90 * time.Second)
	out, err := c.client(f, true, 10*time.Second).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/snap/missed/019")})
	if err != nil || aws.ToString(out.Parameter.Value) != "300" {
		t.Fatalf("after the second kill: the follower's /snap/missed/019: %v, %v; want 300", out, err)
	}
}
