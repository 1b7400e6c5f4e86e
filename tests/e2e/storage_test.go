package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go/middleware"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"

	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/testproc"
)

// trailRequests reads every record of the trail at path, across its
// rotated files (audit.ListFiles), and returns the requestIDs by eventType.
func trailRequests(t *testing.T, path string) map[string]map[string]bool {
	t.Helper()
	files, err := audit.ListFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, f := range files {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r struct {
				EventType string `json:"eventType"`
				RequestID string `json:"requestID"`
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			if out[r.EventType] == nil {
				out[r.EventType] = map[string]bool{}
			}
			out[r.EventType][r.RequestID] = true
		}
		rc.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
	}
	return out
}

// requestIDOf returns the request ID of an SDK result.
func requestIDOf(md middleware.Metadata) string {
	id, _ := awsmiddleware.GetRequestIDMetadata(md)
	return id
}

// TestAuditRotationUnderLoadKill9 writes under load to a server whose trail
// rotates every 32 KiB, kills it with SIGKILL while rotations go on, three
// times, and checks after each restart that the trail verifies as one chain
// across its files (audit verify DIR, exit 0) and that the intent record of
// every acknowledged write is in it; then it deletes a middle file and
// checks that verify names it, with exit 1.
func TestAuditRotationUnderLoadKill9(t *testing.T) {
	data := t.TempDir()
	trail := filepath.Join(data, "audit.log")
	args := []string{"--audit-max-size", "32KiB", "--audit-retain", "0"}
	var acked []string // request IDs of acknowledged writes
	for round := range 3 {
		srv := startServer(t, data, args...)
		c := srv.SSM()
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		var n atomic.Int64
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					out, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/rot/%d/%d", w, i%50)),
						Value: aws.String("v"), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
					if err != nil {
						continue // the kill
					}
					n.Add(1)
					mu.Lock()
					acked = append(acked, requestIDOf(out.ResultMetadata))
					mu.Unlock()
				}
			})
		}
		// Kill once the trail has rotated a few times in this round.
		deadline := time.After(2 * time.Minute)
		for rotated := 0; rotated < 3*(round+1); {
			select {
			case <-deadline:
				t.Fatalf("round %d: the trail did not rotate under load", round)
			case <-time.After(20 * time.Millisecond):
			}
			files, _ := audit.ListFiles(trail)
			rotated = len(files) - 1
		}
		srv.Kill()
		cancel()
		wg.Wait()
		t.Logf("round %d: %d writes acknowledged, killed with SIGKILL", round, n.Load())
	}
	srv := startServer(t, data, args...)
	srv.Stop()
	code, out := testproc.RunToExit(t, time.Minute, nil, "audit", "verify", data)
	if code != 0 || !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify after three kill -9 under rotation: exit %d\n%s", code, out)
	}
	recs := trailRequests(t, trail)
	missing := 0
	for _, id := range acked {
		if !recs[audit.EventTypeIntent][id] {
			missing++
		}
	}
	if missing > 0 || len(acked) == 0 {
		t.Fatalf("%d of %d acknowledged writes have no intent record in the trail", missing, len(acked))
	}
	files, err := audit.ListFiles(trail)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("%d trail files, want several rotations", len(files))
	}
	for _, f := range files[:len(files)-1] {
		if !f.Compressed {
			t.Errorf("%s: rotated file not compressed after a clean stop", f.Path)
		}
	}
	middle := files[len(files)/2].Path
	if err := os.Remove(middle); err != nil {
		t.Fatal(err)
	}
	code, out = testproc.RunToExit(t, time.Minute, nil, "audit", "verify", data)
	if code != 1 || !strings.Contains(out, "missing records") {
		t.Fatalf("audit verify with %s deleted: exit %d, want 1 and \"missing records\"\n%s", filepath.Base(middle), code, out)
	}
}

// TestAuditEventsWrite: with --audit-events write, reads leave no record
// and writes leave their intent and outcome.
func TestAuditEventsWrite(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "--audit-events", "write")
	c := srv.SSM()
	ctx := t.Context()
	put, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/ev/a"), Value: aws.String("v"), Type: types.ParameterTypeString})
	if err != nil {
		t.Fatal(err)
	}
	get, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ev/a")})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	recs := trailRequests(t, filepath.Join(data, "audit.log"))
	if id := requestIDOf(put.ResultMetadata); !recs[audit.EventTypeIntent][id] || !recs[audit.EventType][id] {
		t.Errorf("PutParameter %s: intent %v, outcome %v; want both recorded", id, recs[audit.EventTypeIntent][id], recs[audit.EventType][id])
	}
	if id := requestIDOf(get.ResultMetadata); recs[audit.EventType][id] {
		t.Errorf("GetParameter %s recorded with --audit-events write", id)
	}
}

// TestCompact: paramstore compact refuses a running server's data dir,
// shrinks raft.db after the log was truncated, and the node restarts with
// every parameter.
func TestCompact(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "--snapshot-threshold", "256", "--trailing-logs", "64", "--snapshot-interval", "100ms")
	c := srv.SSM()
	ctx := t.Context()
	const n = 1500
	for i := range n {
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/compact/p%04d", i)),
			Value: aws.String(strings.Repeat("v", 200)), Type: types.ParameterTypeString}); err != nil {
			t.Fatal(err)
		}
	}
	code, out := testproc.RunToExit(t, time.Minute, nil, "compact", "--data-dir", data)
	if code == 0 || !strings.Contains(out, "the data directory is in use") {
		t.Fatalf("compact on a running server: exit %d, want a refusal naming the lock\n%s", code, out)
	}
	srv.Stop()
	raftDB := filepath.Join(data, "raft", "raft.db")
	before, err := os.Stat(raftDB)
	if err != nil {
		t.Fatal(err)
	}
	code, out = testproc.RunToExit(t, time.Minute, nil, "compact", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "ok: compacted and verified") {
		t.Fatalf("compact: exit %d\n%s", code, out)
	}
	after, err := os.Stat(raftDB)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() >= before.Size() {
		t.Errorf("raft.db %d bytes after compaction, %d before: want smaller (the log was truncated to 64 entries)", after.Size(), before.Size())
	}
	srv = startServer(t, data)
	got := 0
	p := ssm.NewGetParametersByPathPaginator(srv.SSM(), &ssm.GetParametersByPathInput{Path: aws.String("/compact")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got += len(page.Parameters)
	}
	if got != n {
		t.Fatalf("%d parameters after compaction and restart, want %d", got, n)
	}
}
