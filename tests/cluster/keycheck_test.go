package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

// wantKeyRefusal asserts the refusal of a node with the wrong master key.
func wantKeyRefusal(t *testing.T, code int, out string) {
	t.Helper()
	if code != 1 || strings.Contains(out, "panic") {
		t.Fatalf("got exit code %d, want 1 (a refusal):\n%s", code, out)
	}
	for _, want := range []string{"master key", "is not the cluster's", "--master-key-file"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
}

// TestMasterKeyMismatch: a node that joins without the cluster's master
// key used to join, then answer every request with a 500 "internal error".
// Now the cluster refuses it and it exits, saying how to pass the key; a
// member restarted with another key refuses to start; with the right key it
// comes back.
func TestMasterKeyMismatch(t *testing.T) {
	c := startCluster(t, 2)
	ctx := context.Background()
	cl := c.client(c.nodes[0], false, clientTimeout)
	if _, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/kc/secret"), Value: aws.String("s3cret"), Type: types.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}

	// A new node without --master-key-file: it creates a key of its own.
	n3 := filepath.Join(c.dir, "n3-data")
	code, out := testproc.RunToExit(t, time.Minute, nil, "server", "--node-id", "n3", "--listen", testproc.FreeAddr(t), "--raft-listen", testproc.FreeAddr(t),
		"--data-dir", n3, "--cluster-key-file", c.keyFile, "--join", c.nodes[0].endpoint())
	wantKeyRefusal(t, code, out)

	// The cluster did not take it in, and still takes writes.
	listing, err := testproc.Command(t, "cluster", "list", "--endpoint", c.nodes[0].endpoint(),
		"--credentials-file", filepath.Join(c.nodes[0].dataDir, "root-credentials")).CombinedOutput()
	if err != nil {
		t.Fatalf("cluster list: %v\n%s", err, listing)
	}
	if strings.Contains(string(listing), "n3") || !strings.Contains(string(listing), "n2") {
		t.Fatalf("cluster members after the refused join:\n%s", listing)
	}
	if _, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/kc/after"), Value: aws.String("v"), Type: types.ParameterTypeString}); err != nil {
		t.Fatalf("write after the refused join: %v", err)
	}

	// A member restarted with another master key.
	n2 := c.nodes[1]
	if err := n2.terminate(); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	other := filepath.Join(c.dir, "other.key")
	if err := os.WriteFile(other, []byte("paramstore-master-key-v1:"+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = testproc.RunToExit(t, time.Minute, nil, "server", "--node-id", n2.id, "--listen", n2.apiAddr, "--raft-listen", n2.raftAddr,
		"--data-dir", n2.dataDir, "--cluster-key-file", c.keyFile,
		"--join", n2.join, "--master-key-file", other)
	wantKeyRefusal(t, code, out)

	// With the cluster's key it serves again, SecureStrings included. (The
	// cluster of two had no quorum while n2 was down: n2 can answer
	// /readyz before the re-elected leader serves linearizable reads.)
	n2.start()
	c.leader(30 * time.Second)
	got, err := c.client(n2, false, clientTimeout).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/kc/secret"), WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(got.Parameter.Value) != "s3cret" {
		t.Fatalf("SecureString through the restarted member: got %v, %v", got, err)
	}
}
