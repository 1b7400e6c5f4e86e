package e2e_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/paramstore/paramstore/internal/testproc"
)

// mountTmpfs mounts a tmpfs of the given size on a new directory for the
// test and unmounts it at the end. It skips the test only where mounting
// is not allowed (not root, or no CAP_SYS_ADMIN in a container); CI runs
// as root.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs to fill needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("skipped: mount -t tmpfs is not permitted here: %v", err)
		}
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes path until the file system has no space left, and
// returns how many bytes it wrote.
func fillDisk(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte("f"), 64<<10)
	var n int64
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			return n
		}
		if err != nil {
			t.Fatalf("fill %s: %v", path, err)
		}
	}
}

// trailRecord is the part of an audit record these tests look at.
type trailRecord struct {
	EventName         string         `json:"eventName"`
	EventType         string         `json:"eventType"`
	ErrorCode         string         `json:"errorCode"`
	RequestParameters map[string]any `json:"requestParameters"`
}

func readTrail(t *testing.T, path string) []trailRecord {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []trailRecord
	for _, line := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		var r trailRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line is not a record: %v\n%s", err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

// find returns the records of calls on parameter name with eventType typ.
func find(recs []trailRecord, typ, op, name string) []trailRecord {
	var out []trailRecord
	for _, r := range recs {
		if r.EventType == typ && r.EventName == op && r.RequestParameters["Name"] == name {
			out = append(out, r)
		}
	}
	return out
}

// httpStatus returns the HTTP status of an SDK error, 0 if none.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// TestAuditFullDisk is issue 10 item 8 with a real full disk: the audit
// trail on an 8 MiB tmpfs, filled by another file. Before the fix, the
// PutParameter that hit ENOSPC was answered 500 but applied, the trail kept
// a partial line, and every later request was 500 until a restart. Now a
// write is refused before it runs while the trail cannot record its
// intent, reads are served meanwhile, no partial line stays in the file,
// and the first write after space returns heals the trail.
func TestAuditFullDisk(t *testing.T) {
	disk := mountTmpfs(t, "8m")
	trail := filepath.Join(disk, "audit.log")
	srv := startServer(t, t.TempDir(), "--audit-file", trail)
	c := srv.SSM()
	ctx := t.Context()
	put := func(name string) error {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"),
			Type: types.ParameterTypeString, Description: aws.String(strings.Repeat("d", 1000)), Overwrite: aws.Bool(true)})
		return err
	}
	get := func(name string) error {
		_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		return err
	}
	if err := put("/full/before"); err != nil {
		t.Fatal(err)
	}

	filled := fillDisk(t, filepath.Join(disk, "filler"))
	t.Logf("filled the tmpfs with %d bytes", filled)
	// The first records may still fit in the trail's last page; the first
	// write that does not fit is refused, and nothing of it is applied.
	var refused string
	for i := range 50 {
		name := fmt.Sprintf("/full/w%d", i)
		err := put(name)
		if err == nil {
			continue
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InternalServerError" || httpStatus(err) != 500 {
			t.Fatalf("PutParameter %s on a full audit disk: %v, want 500 InternalServerError", name, err)
		}
		refused = name
		t.Logf("PutParameter %s refused: %v", name, err)
		break
	}
	if refused == "" {
		t.Fatal("50 PutParameter calls succeeded on a full audit disk")
	}
	var nf *types.ParameterNotFound
	if err := get(refused); !errors.As(err, &nf) {
		t.Fatalf("GetParameter %s after its PutParameter was answered 500: %v, want ParameterNotFound (a failed write must not be applied)", refused, err)
	}
	// Reads are served while their records fit in memory.
	if err := get("/full/before"); err != nil {
		t.Errorf("GetParameter on a full audit disk: %v, want it served", err)
	}
	if err := put("/full/refused-too"); httpStatus(err) != 500 {
		t.Errorf("second PutParameter on a full disk: %v, want 500", err)
	}
	// No partial line stays in the trail while the disk is full. (It may
	// hold no line at all: the intents of the puts before travelled in the
	// raft log, and wait in memory for the trail with their results.)
	if raw, err := os.ReadFile(trail); err != nil || len(raw) > 0 && raw[len(raw)-1] != '\n' {
		t.Errorf("trail while the disk is full: %d bytes, ending %q (%v); want complete lines only", len(raw), tail(raw), err)
	}
	if out, err := paramstoreCLI(t, "audit", "verify", trail); err != nil {
		t.Errorf("audit verify while the disk is full: %v\n%s", err, out)
	}
	if m := metric(t, srv, "paramstore_audit_failing"); m != "1" {
		t.Errorf("paramstore_audit_failing = %q while the disk is full, want 1", m)
	}

	// Space returns: the next write heals the trail, without a restart.
	healed := srv.WatchLog("audit: trail healed; the records kept in memory are written")
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	if err := put("/full/after"); err != nil {
		t.Fatalf("PutParameter after space returned: %v, want success without a restart", err)
	}
	select {
	case <-healed: // logged before the write was answered; the test reads the logs asynchronously
	case <-time.After(30 * time.Second):
		t.Error(`no "audit: trail healed" log line once the write succeeded`)
	}
	if err := get("/full/after"); err != nil {
		t.Errorf("GetParameter /full/after: %v", err)
	}
	if m := metric(t, srv, "paramstore_audit_failing"); m != "0" {
		t.Errorf("paramstore_audit_failing = %q after healing, want 0", m)
	}

	if code, err := srv.Terminate(timeout); err != nil || code != 0 {
		t.Fatalf("stop: exit %d, %v", code, err)
	}
	out, err := paramstoreCLI(t, "audit", "verify", trail)
	if err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("audit verify of the healed trail: %v\n%s", err, out)
	}
	recs := readTrail(t, trail)
	for name, want := range map[string]struct{ intents, results int }{
		"/full/before": {1, 1}, "/full/after": {1, 1},
	} {
		in, res := find(recs, "AwsApiCallIntent", "PutParameter", name), find(recs, "AwsApiCall", "PutParameter", name)
		if len(in) != want.intents || len(res) != want.results || res[0].ErrorCode != "" {
			t.Errorf("%s: %d intent and %d result records %+v, want one of each, succeeded", name, len(in), len(res), res)
		}
	}
	// The refused write: its intent reached the trail once it healed, and
	// its result says it failed.
	res := find(recs, "AwsApiCall", "PutParameter", refused)
	if len(res) != 1 || res[0].ErrorCode != "InternalServerError" {
		t.Errorf("result records of the refused %s: %+v, want one with errorCode InternalServerError", refused, res)
	}
	if got := find(recs, "AwsApiCall", "GetParameter", "/full/before"); len(got) != 1 {
		t.Errorf("%d records of the read served while the disk was full, want 1 (kept in memory, written once healed)", len(got))
	}
}

// timeout bounds a server's shutdown in these tests.
const timeout = 30 * time.Second

// metric returns the value of an unlabelled metric of the server.
func metric(t *testing.T, srv *testproc.Server, name string) string {
	t.Helper()
	resp, err := http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

func tail(b []byte) []byte {
	if len(b) > 40 {
		return b[len(b)-40:]
	}
	return b
}

// TestAuditTornLastLine is issue 10 item 8's partial line: a record cut by
// a crash in the middle of its write. `audit verify` reports it; at the
// next start the server no longer cuts it silently: it moves the bytes to
// audit.log.torn-<time>, chains a record saying so, and verify warns about
// it while the chain verifies.
func TestAuditTornLastLine(t *testing.T) {
	dataDir := t.TempDir()
	trail := filepath.Join(dataDir, "audit.log")
	srv := startServer(t, dataDir)
	c := srv.SSM()
	for _, name := range []string{"/torn/a", "/torn/b"} {
		if _, err := c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"),
			Type: types.ParameterTypeString}); err != nil {
			t.Fatal(err)
		}
	}
	if code, err := srv.Terminate(timeout); err != nil || code != 0 {
		t.Fatalf("stop: exit %d, %v", code, err)
	}

	// A crash in the middle of the last record's write.
	raw, err := os.ReadFile(trail)
	if err != nil {
		t.Fatal(err)
	}
	last := bytes.LastIndexByte(raw[:len(raw)-1], '\n') + 1
	cut := last + (len(raw)-last)/2
	torn := raw[last:cut]
	if err := os.Truncate(trail, int64(cut)); err != nil {
		t.Fatal(err)
	}
	out, err := paramstoreCLI(t, "audit", "verify", trail)
	if err == nil || !strings.Contains(out, "truncated last line") {
		t.Fatalf("audit verify of a trail cut in its last record: %v\n%s\nwant exit 1 and \"truncated last line\"", err, out)
	}

	srv = startServer(t, dataDir)
	if !strings.Contains(srv.Output(), "audit: the last line was torn") {
		t.Error("the server did not say, at start, that the trail's last line was torn")
	}
	if _, err := srv.SSM().PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String("/torn/after"),
		Value: aws.String("v"), Type: types.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	if code, err := srv.Terminate(timeout); err != nil || code != 0 {
		t.Fatalf("stop: exit %d, %v", code, err)
	}

	saved, _ := filepath.Glob(trail + ".torn-*")
	if len(saved) != 1 {
		t.Fatalf("torn files %v, want one", saved)
	}
	if got, err := os.ReadFile(saved[0]); err != nil || !bytes.Equal(got, torn) {
		t.Errorf("%s holds %q (%v), want the torn bytes %q", saved[0], got, err, torn)
	}
	out, err = paramstoreCLI(t, "audit", "verify", trail)
	if err != nil || !strings.Contains(out, "ok: ") ||
		!strings.Contains(out, "warning: line ") || !strings.Contains(out, filepath.Base(saved[0])) ||
		!strings.Contains(out, fmt.Sprintf("%d bytes", len(torn))) {
		t.Errorf("audit verify after the restart: %v\n%s\nwant ok with a warning naming %s and %d bytes", err, out, filepath.Base(saved[0]), len(torn))
	}
	if out, err := paramstoreCLI(t, "audit", "verify", saved[0]); err == nil || !strings.Contains(out, "truncated last line") {
		t.Errorf("audit verify of the torn file: %v\n%s\nwant it flagged", err, out)
	}
	if got := find(readTrail(t, trail), "AwsApiCall", "PutParameter", "/torn/after"); len(got) != 1 {
		t.Errorf("%d records of the write after the restart, want 1", len(got))
	}
}
