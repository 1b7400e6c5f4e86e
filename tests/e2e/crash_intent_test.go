package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

// TestCrashAtIntent kills the server with SIGKILL while it applies a
// PutParameter whose audit intent record travelled in the raft log
// (docs/audit.md, "Order: intent before the change"): in even rounds after
// the log holds the entry and before the trail holds the intent, in odd
// rounds once the trail made the intent durable and before the state
// machine committed the entry. After the restart the write is there, the
// trail holds its intent exactly once (with the entry's raft index) before
// its result, every other put of the round has its intent once, and
// `audit verify` passes.
func TestCrashAtIntent(t *testing.T) {
	rounds := crashRounds(t)
	dataDir := t.TempDir()
	trail := filepath.Join(dataDir, "audit.log")
	for round := range rounds {
		mode := "before"
		if round%2 == 1 {
			mode = "after"
		}
		victim := fmt.Sprintf("/crash-intent/r%d/victim", round)
		srv := testproc.StartServer(t, testproc.ServerConfig{DataDir: dataDir,
			Env: testproc.Env("PARAMSTORE_TEST_KILL_AT_INTENT=" + mode + ":" + victim)})
		c := srv.SSM(func(o *ssm.Options) { o.RetryMaxAttempts = 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var names []string
		for i := range 5 {
			name := fmt.Sprintf("/crash-intent/r%d/p%d", round, i)
			if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"), Type: types.ParameterTypeSecureString}); err != nil {
				t.Fatalf("round %d: put %s: %v", round, name, err)
			}
			names = append(names, name)
		}
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(victim), Value: aws.String("plaintext-secret-" + victim), Type: types.ParameterTypeSecureString})
		cancel()
		if err == nil {
			t.Fatalf("round %d (%s): the put that kills the server was answered", round, mode)
		}
		select {
		case <-srv.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d (%s): the server did not die at the intent", round, mode)
		}
		srv = startServer(t, dataDir)
		ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
		out, err := srv.SSM().GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(victim), WithDecryption: aws.Bool(true)})
		cancel()
		if err != nil || aws.ToString(out.Parameter.Value) != "plaintext-secret-"+victim {
			t.Fatalf("round %d (%s): the put in the log before the kill: %v, %+v", round, mode, err, out)
		}
		// Stop cleanly: the trail is complete and no longer written.
		if code, err := srv.Terminate(30 * time.Second); err != nil || code != 0 {
			t.Fatalf("round %d: stop: exit %d, %v", round, code, err)
		}
		puts := testproc.TrailPuts(t, trail)
		for _, name := range append(names, victim) {
			if p := puts[name]; p == nil || p.Intents != 1 {
				t.Fatalf("round %d (%s): intent records for %s: %+v, want 1", round, mode, name, p)
			}
		}
		if puts[victim].RaftIndex == 0 {
			t.Fatalf("round %d (%s): the victim's intent has no raft index", round, mode)
		}
		if puts[victim].First != "intent" {
			t.Fatalf("round %d (%s): the victim's records are out of order: %s first", round, mode, puts[victim].First)
		}
		if out, err := paramstoreCLI(t, "audit", "verify", trail); err != nil {
			t.Fatalf("round %d (%s): audit verify: %v\n%s", round, mode, err, out)
		}
		b, err := os.ReadFile(trail)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("plaintext-secret-")) {
			t.Fatalf("round %d: a plaintext value reached the trail", round)
		}
		t.Logf("round %d (%s): killed at the intent of %s (raft index %d); after the restart the trail holds it once, and verifies",
			round, mode, victim, puts[victim].RaftIndex)
	}
}
