package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

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
	// The restarted server compresses the files the kills left rotated
	// but uncompressed (in the background: a stop cuts it short, and the
	// next start finishes it), so wait for that before the clean stop.
	srv := startServer(t, data, args...)
	compressed := func() bool {
		files, err := audit.ListFiles(trail)
		if err != nil || len(files) < 2 {
			return false
		}
		for _, f := range files[:len(files)-1] {
			if !f.Compressed {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(time.Minute); !compressed(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the restarted server did not compress the rotated files within a minute")
		}
	}
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
	// The file in both forms, if a stop cut its compression short.
	middle := files[len(files)/2].Path
	if err := os.Remove(middle); err != nil {
		t.Fatal(err)
	}
	os.Remove(strings.TrimSuffix(middle, ".gz"))
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
// every parameter. raft.db is the log of a directory made with --raft-log
// bolt (or before the WAL); the WAL frees its segments itself.
func TestCompact(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "--raft-log", "bolt", "--snapshot-threshold", "256", "--trailing-logs", "64", "--snapshot-interval", "100ms")
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
	c = srv.SSM()
	got := 0
	for i := 0; i < n; i += 10 {
		var names []string
		for j := i; j < i+10 && j < n; j++ {
			names = append(names, fmt.Sprintf("/compact/p%04d", j))
		}
		out, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: names})
		if err != nil {
			t.Fatal(err)
		}
		got += len(out.Parameters)
	}
	if got != n {
		t.Fatalf("%d parameters after compaction and restart, want %d", got, n)
	}
}

// freeBytes is the space available on the file system of dir.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// TestDiskFloorTmpfs runs a server whose whole data dir is on a 64 MiB
// tmpfs with --min-free-space 16MiB, fills the file system to below the
// floor (not to full), and checks that writes are refused with
// InternalServerError before the disk is full, reads are served, /readyz
// stays 200 saying why writes are refused, writes resume once the space
// returns, and after a restart every acknowledged write is there and the
// audit trail verifies.
func TestDiskFloorTmpfs(t *testing.T) {
	disk := mountTmpfs(t, "64m")
	data := filepath.Join(disk, "data")
	srv := startServer(t, data, "--min-free-space", "16MiB")
	c := srv.SSM()
	ctx := t.Context()
	var acked []string
	// Every call is answered: a write the state machine cannot apply for
	// lack of disk is refused, not left waiting for space.
	put := func(name string) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("value of " + name),
			Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
		if err == nil {
			acked = append(acked, name)
		}
		return err
	}
	for i := range 20 {
		if err := put(fmt.Sprintf("/disk/before/%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Fill to 8 MiB free: below the floor, far from full.
	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for freeBytes(t, disk) > 8<<20+int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
	f.Close()
	free := freeBytes(t, disk)
	t.Logf("filled: %d bytes free on the tmpfs", free)
	// A statfs that found plenty of space answers for 100 ms (freeHold),
	// and filling can take less: wait until the server has seen the
	// floor (/readyz can_write false), then write.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(srv.URL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var ready map[string]any
		json.NewDecoder(resp.Body).Decode(&ready)
		resp.Body.Close()
		if ready["can_write"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz 30 s after filling below the floor: %v", ready)
		}
		time.Sleep(20 * time.Millisecond)
	}

	err = put("/disk/during")
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InternalServerError" || httpStatus(err) != 500 {
		t.Fatalf("PutParameter below the floor: %v (status %d), want InternalServerError 500", err, httpStatus(err))
	}
	if got := freeBytes(t, disk); got < 4<<20 {
		t.Errorf("only %d bytes free after the refusal: the disk was not kept from filling", got)
	}
	if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/disk/before/3")}); err != nil {
		t.Errorf("GetParameter below the floor: %v, want it served", err)
	}
	resp, err := http.Get(srv.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready map[string]any
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != 200 || ready["can_write"] != false || !strings.Contains(fmt.Sprint(ready["degraded"]), "min-free-space") {
		t.Errorf("/readyz below the floor: %d %v; want 200, can_write false and the reason", resp.StatusCode, ready)
	}
	t.Logf("/readyz below the floor: %d %v", resp.StatusCode, ready)
	if m := metricsText(t, srv.URL()); !strings.Contains(m, "paramstore_disk_writes_refused 1") {
		t.Errorf("metrics below the floor lack paramstore_disk_writes_refused 1")
	}
	if !strings.Contains(srv.Output(), "disk space below --min-free-space") {
		t.Errorf("no log line naming the floor")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := put(fmt.Sprintf("/disk/after/%d", i)); err != nil {
			t.Fatalf("PutParameter after the space returned: %v", err)
		}
	}
	srv.Stop()
	srv = startServer(t, data, "--min-free-space", "16MiB")
	c = srv.SSM()
	for _, name := range acked {
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		if err != nil || aws.ToString(out.Parameter.Value) != "value of "+name {
			t.Fatalf("acknowledged %s after the restart: %v", name, err)
		}
	}
	srv.Stop()
	if code, out := testproc.RunToExit(t, time.Minute, nil, "audit", "verify", data); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
	t.Logf("%d acknowledged writes present after the restart", len(acked))
}

// TestDiskFullTmpfs runs a server with no free-space floor
// (--min-free-space 0) on a 64 MiB tmpfs, leaves it 6 MiB, and overwrites
// one 4 KB parameter until the disk is full (the log's spare segment
// cannot be written again, then the trail or the log runs out). Writes are
// refused with InternalServerError, none acknowledged is lost, reads go
// on, and once the space returns writes resume without a restart. After a
// restart every acknowledged write is there and the audit trail verifies.
//
// The state file keeps one name's last 100 versions, so it stays the same
// size, yet the state machine may be the first to meet the full disk: it
// then waits for the disk with the committed entries it could not write
// (TestStateMachineFullDisk), while writes are refused and linearizable
// reads answered ServiceUnavailable at once (TestNodeWritesWaitNotForFullDisk).
// The log's own case, a segment that cannot be made, is
// TestWALSpareFullDisk.
func TestDiskFullTmpfs(t *testing.T) {
	disk := mountTmpfs(t, "64m")
	data := filepath.Join(disk, "data")
	srv := startServer(t, data, "--min-free-space", "0")
	c := srv.SSM()
	ctx := t.Context()
	value := strings.Repeat("v", 4000)
	acked := map[string]bool{}
	// Every call is answered: a write the state machine cannot apply for
	// lack of disk is refused, not left waiting for space.
	put := func(name string) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value),
			Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
		if err == nil {
			acked[name] = true
		}
		return err
	}
	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the server's: a test that fails on the full disk
	// frees it before the server is stopped.
	t.Cleanup(func() { os.Remove(filler) })
	chunk := make([]byte, 1<<20)
	for freeBytes(t, disk) > 6<<20+int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
	f.Close()
	t.Logf("filled: %d bytes free on the tmpfs", freeBytes(t, disk))
	// A 4 KB value: a log segment holds ~1,900 writes; the state file
	// keeps the last 100 versions.
	refused := 0
	var firstRefusal error
	for i := 0; i < 8000 && refused < 20; i++ {
		if err := put("/full/p"); err != nil {
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "InternalServerError" {
				t.Fatalf("write %d on a full disk: %v, want InternalServerError", i, err)
			}
			if firstRefusal == nil {
				firstRefusal = err
				t.Logf("write %d refused: %v (%d bytes free)", i, err, freeBytes(t, disk))
			}
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("8,000 writes of 4 KB on a tmpfs with 6 MiB free were all acknowledged")
	}
	// A linearizable read is served, or, when the state machine waits
	// for the disk with committed entries it could not write, refused
	// with a retryable ServiceUnavailable at once; a stale read is served.
	if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/full/p")}); err != nil {
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" {
			t.Errorf("GetParameter on a full disk: %v, want it served or ServiceUnavailable", err)
		}
		t.Logf("linearizable GetParameter on a full disk: %v", err)
	}
	if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/full/p")}, func(o *ssm.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("X-Paramstore-Consistency", "stale"))
	}); err != nil {
		t.Errorf("stale GetParameter on a full disk: %v, want it served", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The first write after the space returns may meet a leader still
	// being elected again (a single node steps down when its log refuses
	// an append); from then on every write is acknowledged.
	deadline := time.Now().Add(time.Minute)
	for put("/full/after/0") != nil {
		if time.Now().After(deadline) {
			t.Fatalf("no write acknowledged within a minute of the space returning\n%s", srv.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 1; i <= 50; i++ {
		if err := put(fmt.Sprintf("/full/after/%d", i)); err != nil {
			t.Fatalf("write %d after the space returned: %v", i, err)
		}
	}
	srv.Stop()
	srv = startServer(t, data)
	c = srv.SSM()
	for name := range acked {
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		if err != nil || aws.ToString(out.Parameter.Value) != value {
			t.Fatalf("acknowledged %s after the restart: %v", name, err)
		}
	}
	srv.Stop()
	if code, out := testproc.RunToExit(t, time.Minute, nil, "audit", "verify", data); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
	t.Logf("%d writes refused on the full disk; %d names acknowledged, all present after the restart", refused, len(acked))
}

func metricsText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestAuditOnRotate: the server hands each rotated, compressed file to
// --audit-on-rotate, and retention keeps --audit-retain of them.
func TestAuditOnRotate(t *testing.T) {
	data, out := t.TempDir(), t.TempDir()
	srv := startServer(t, data, "--audit-max-size", "16KiB", "--audit-retain", "2",
		"--audit-on-rotate", `cp "$1" `+out+`/`)
	c := srv.SSM()
	ctx := t.Context()
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; ; i++ {
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/ship/%d", i%10)),
			Value: aws.String("v"), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		shipped, _ := filepath.Glob(filepath.Join(out, "audit.log.*.gz"))
		if len(shipped) >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d files shipped after %d writes", len(shipped), i)
		}
	}
	// Retention removes a file only once --audit-on-rotate took it, and
	// the rotator ships at its own pace: on a loaded machine the writes
	// rotate files faster than it ships them. With the writes over, it
	// catches up to --audit-retain.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		files, err := audit.ListFiles(filepath.Join(data, "audit.log"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files)-1 <= 2 || time.Now().After(deadline) {
			break
		}
	}
	srv.Stop()
	files, err := audit.ListFiles(filepath.Join(data, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if rotated := len(files) - 1; rotated > 3 {
		t.Errorf("%d rotated files kept, want at most --audit-retain 2 (+1 rotated at the stop)", rotated)
	}
	// What was shipped is a valid compressed part of the chain.
	shipped, _ := filepath.Glob(filepath.Join(out, "audit.log.*.gz"))
	for _, f := range shipped {
		rc, err := audit.TrailFile{Path: f, Compressed: true}.Open()
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n == 0 {
			t.Errorf("shipped %s: %d bytes, %v", f, n, err)
		}
	}
	if code, out := testproc.RunToExit(t, time.Minute, nil, "audit", "verify", data); code != 0 || !strings.Contains(out, "removed by retention") {
		t.Errorf("audit verify: exit %d, want 0 with notes of files removed by retention\n%s", code, out)
	}
}
