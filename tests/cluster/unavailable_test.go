package cluster_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const msgUnavailable = "The request has failed due to a temporary failure of the server."

// TestFollowerWithoutLeader partitions a follower until it knows no leader:
// linearizable reads and writes through it answer ServiceUnavailable with
// status 503, not InternalServerError, and its log says why, while stale
// reads keep answering from its state (its --max-staleness is an hour
// here: the bound is on the time since its last contact with a leader, not
// on whether it knows one now; raftstore's TestStaleReadsWithoutLeader
// checks the refusal past the bound); then aws-sdk-go-v2 with its standard
// retryer reads through it, the partition heals when the SDK's first
// attempt has failed, and the SDK retries until the node has a leader
// again and succeeds.
func TestFollowerWithoutLeader(t *testing.T) {
	c := startClusterOpts(t, 3, true, "--max-staleness", "1h")
	ctx := context.Background()
	// Through any node until acknowledged: an election on a loaded machine
	// can take a single write's time.
	if _, err := c.writeThrough(c.nodes, "/unavailable/p", func(int) string { return "before" }, 60*time.Second); err != nil {
		t.Fatalf("PutParameter before the partition: %v", err)
	}
	c.converge(30 * time.Second) // every node holds "before"
	l := c.leader(30 * time.Second)
	f := c.others(l)[0]
	c.isolate(f)
	waitNoLeader(t, f, 30*time.Second)

	// A write waits up to 10 s for a leader before giving up: run it
	// meanwhile.
	var wg sync.WaitGroup
	var putErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, putErr = c.client(f, false, 30*time.Second).PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String("/unavailable/p"), Value: aws.String("during"), Overwrite: aws.Bool(true),
		})
	}()
	_, err := c.client(f, false, 10*time.Second).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/unavailable/p")})
	wantUnavailable(t, err, "GetParameter")
	if g, err := c.client(f, true, 10*time.Second).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/unavailable/p")}); err != nil ||
		aws.ToString(g.Parameter.Value) != "before" {
		t.Errorf("stale GetParameter on %s with no leader, within --max-staleness: %v, %+v", f.id, err, g)
	}
	wg.Wait()
	wantUnavailable(t, putErr, "PutParameter")
	line := waitLogLine(t, f, `"msg":"unavailable"`, 10*time.Second)
	if !strings.Contains(line, "raftstore: no leader") && !strings.Contains(line, "no contact with a leader") {
		t.Errorf("%s logged %q, want the cause (no leader)", f.id, line)
	}
	t.Logf("%s log: %s", f.id, line)

	// The SDK as applications use it: the standard retryer, more attempts
	// and a short backoff cap so that the retries span the healing.
	var attempts, healed atomic.Int32
	var codes sync.Map
	opts := c.credentials().Options(f.endpoint())
	opts.HTTPClient = nil
	opts.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 60
		o.MaxBackoff = time.Second
	})
	cl := ssm.New(opts, func(o *ssm.Options) {
		// Runs once per attempt, after the retry middleware.
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("countAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					attempts.Add(1)
					out, md, err := next.HandleFinalize(ctx, in)
					var ae smithy.APIError
					if errors.As(err, &ae) {
						codes.Store(ae.ErrorCode(), true)
						if healed.CompareAndSwap(0, 1) {
							c.heal() // once the first attempt has failed
						}
					}
					return out, md, err
				}), middleware.After)
		})
	})
	rctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	out, err := cl.GetParameter(rctx, &ssm.GetParameterInput{Name: aws.String("/unavailable/p")})
	var seen []string
	codes.Range(func(k, _ any) bool { seen = append(seen, k.(string)); return true })
	if err != nil {
		t.Fatalf("GetParameter through %s with the SDK's retries after the partition healed: %v (attempts %d, codes %q)", f.id, err, attempts.Load(), seen)
	}
	if v := aws.ToString(out.Parameter.Value); v != "before" {
		t.Errorf("got value %q, want %q", v, "before")
	}
	if attempts.Load() < 2 || healed.Load() != 1 {
		t.Errorf("got %d attempts (healed %v), want a failed first attempt and a retry", attempts.Load(), healed.Load() == 1)
	}
	if len(seen) != 1 || seen[0] != "ServiceUnavailable" {
		t.Errorf("the failed attempts answered %q, want only ServiceUnavailable", seen)
	}
	t.Logf("aws-sdk-go-v2 GetParameter through %s: succeeded after %d attempts (failed attempts answered %q)", f.id, attempts.Load(), seen)
}

// wantUnavailable checks that err is ServiceUnavailable with status 503.
func wantUnavailable(t *testing.T, err error, what string) {
	t.Helper()
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Errorf("%s: got %v, want ServiceUnavailable", what, err)
		return
	}
	if ae.ErrorCode() != "ServiceUnavailable" || ae.ErrorMessage() != msgUnavailable || re.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Errorf("%s: got %d %s %q, want 503 ServiceUnavailable %q", what, re.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage(), msgUnavailable)
		return
	}
	t.Logf("%s: %d %s %q", what, re.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage())
}

// waitNoLeader waits until n reports that it knows no leader.
func waitNoLeader(t *testing.T, n *node, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, err := n.ready()
		if err == nil && r.LeaderID == "" && r.State != "Leader" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still knows a leader after %v of isolation: %+v, %v", n.id, timeout, r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLogLine returns the first line of n's log that contains substr,
// waiting for it.
func waitLogLine(t *testing.T, n *node, substr string, timeout time.Duration) string {
	t.Helper()
	srv := n.server()
	if srv == nil {
		t.Fatalf("%s is not running", n.id)
	}
	line, err := srv.WaitLine(substr, timeout)
	if err != nil {
		t.Fatalf("%s (log %s): %v", n.id, n.logPath, err)
	}
	return line
}
