package cluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

// TestClusterAuditIntents: each node's trail holds the intents of the
// puts it took, once, before their results, and no other node's. The
// leader's travel in the raft log (they carry the entry's raftIndex); a
// follower's are written before it forwards the put (none). The leader is
// killed with SIGKILL after a put of its own committed and before its
// intent reached the trail: restarted, it applies the entry again from its
// log and appends the intent then. No trail, and no file of any data
// directory, holds a SecureString value in plaintext, and every trail
// verifies.
func TestClusterAuditIntents(t *testing.T) {
	b := make([]byte, 8)
	rand.Read(b)
	secret := "plaintext-secret-" + hex.EncodeToString(b)
	const victim = "/audit-cluster/victim"
	cs := &cluster{faults: true}
	cs.nodeEnv = func(n *node, run int) []string {
		if run > 1 {
			return nil
		}
		return []string{"PARAMSTORE_TEST_KILL_AT_INTENT=before:" + victim}
	}
	c := startClusterWith(t, 3, cs, nil)
	l := c.leader(30 * time.Second)
	f := c.others(l)[0]
	put := func(n *node, name string, retries int) error {
		cl := c.client(n, false, 20*time.Second)
		_, err := cl.PutParameter(context.Background(), &ssm.PutParameterInput{
			Name: aws.String(name), Value: aws.String(secret), Type: types.ParameterTypeSecureString, Overwrite: aws.Bool(true),
		}, func(o *ssm.Options) { o.RetryMaxAttempts = retries })
		return err
	}
	if err := put(l, "/audit-cluster/on-leader", 3); err != nil {
		t.Fatal(err)
	}
	if err := put(f, "/audit-cluster/on-follower", 3); err != nil {
		t.Fatal(err)
	}
	if err := put(l, victim, 1); err == nil {
		t.Fatal("the put that kills the leader at its intent was answered")
	}
	select {
	case <-l.server().Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the leader did not die at the victim's intent")
	}
	l.kill()
	l.start()
	l.waitReady(60 * time.Second)
	c.converge(60 * time.Second)
	for _, n := range c.nodes {
		out, err := c.client(n, true, 20*time.Second).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(victim), WithDecryption: aws.Bool(true)})
		if err != nil || aws.ToString(out.Parameter.Value) != secret {
			t.Fatalf("%s: the victim, committed before the kill: %v", n.id, err)
		}
	}
	for _, n := range c.nodes {
		if err := n.terminate(); err != nil {
			t.Fatal(err)
		}
	}

	want := map[*node]map[string]bool{
		l: {"/audit-cluster/on-leader": true, victim: true},
		f: {"/audit-cluster/on-follower": true},
	}
	for _, n := range c.nodes {
		trail := filepath.Join(n.dataDir, "audit.log")
		recs := testproc.TrailPuts(t, trail)
		for _, name := range []string{"/audit-cluster/on-leader", "/audit-cluster/on-follower", victim} {
			ti := recs[name]
			if !want[n][name] {
				if ti != nil && ti.Intents > 0 {
					t.Errorf("%s's trail holds %d intents of %s, a put another node took", n.id, ti.Intents, name)
				}
				continue
			}
			if ti == nil || ti.Intents != 1 || ti.First != "intent" {
				t.Errorf("%s's trail: %s has %+v, want one intent, first", n.id, name, ti)
				continue
			}
			if carried := n == l; carried != (ti.RaftIndex > 0) {
				t.Errorf("%s's trail: the intent of %s has raftIndex %d (carried in the log: %v)", n.id, name, ti.RaftIndex, carried)
			}
		}
		cmd := testproc.Command(t, "audit", "verify", trail)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: audit verify: %v\n%s", n.id, err, out)
		}
		err := filepath.WalkDir(n.dataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s: %s holds the SecureString value in plaintext", n.id, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
