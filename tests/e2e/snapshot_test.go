package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// TestSnapshotSaveRestore backs up a running server with `paramstore
// snapshot save`, restores the file into a new data dir with `snapshot
// restore`, and starts a new server (a new cluster) on it: parameters,
// versions, SecureStrings and identities come back, and it takes writes.
func TestSnapshotSaveRestore(t *testing.T) {
	ctx := context.Background()
	src := startServer(t, t.TempDir())
	c := src.SSM()
	for i := 1; i <= 3; i++ {
		for _, p := range []struct {
			name string
			typ  types.ParameterType
		}{{"/snap/plain", types.ParameterTypeString}, {"/snap/secret", types.ParameterTypeSecureString}} {
			_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(p.name), Value: aws.String(fmt.Sprintf("%s-v%d", p.name, i)),
				Type: p.typ, Overwrite: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if out, err := paramstoreCLI(t, "snapshot", "--endpoint", src.URL(), "--credentials-file", src.CredentialsFile(), "save", backup); err != nil {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}
	// The wrong credentials are refused.
	if out, err := paramstoreCLI(t, "snapshot", "--endpoint", src.URL(), "save", filepath.Join(t.TempDir(), "x.db")); err == nil {
		t.Fatalf("snapshot save without credentials succeeded:\n%s", out)
	}
	newDir := filepath.Join(t.TempDir(), "restored")
	// A truncated backup is refused with a clear error and leaves nothing
	// behind (restore used to crash in bbolt, leaving a half-written
	// state.db on which the next restore crashed too).
	raw, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.db")
	os.WriteFile(truncated, raw[:len(raw)/2], 0o600)
	for range 2 {
		out, err := paramstoreCLI(t, "snapshot", "restore", truncated, "--data-dir", newDir)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || strings.Contains(out, "panic") || !strings.Contains(out, truncated) || !strings.Contains(out, "not a usable snapshot") {
			t.Fatalf("restore of a truncated backup: got %v, want exit code 1 and an error naming the file:\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(newDir, "raft", "state.db")); err == nil {
			t.Fatal("a failed restore left a state.db behind")
		}
	}
	if out, err := paramstoreCLI(t, "snapshot", "restore", backup, "--data-dir", newDir); err != nil {
		t.Fatalf("snapshot restore: %v\n%s", err, out)
	}
	if out, err := paramstoreCLI(t, "snapshot", "restore", backup, "--data-dir", src.DataDir); err == nil {
		t.Fatalf("restore into a data dir that holds a store succeeded:\n%s", out)
	}
	key, err := os.ReadFile(filepath.Join(src.DataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(newDir, "master.key"), key, 0o600)
	src.Stop()

	dst := startServer(t, newDir)
	// The restored identities include the root key of the original server;
	// the new data dir has no root-credentials file of its own.
	if _, err := os.Stat(filepath.Join(newDir, "root-credentials")); err == nil {
		t.Errorf("the restored server wrote new root credentials")
	}
	c2 := src.Credentials().SSM(dst.URL()) // the original root key

	for _, name := range []string{"/snap/plain", "/snap/secret"} {
		out, err := c2.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Fatalf("GetParameter %s on the restored server: %v", name, err)
		}
		if got, want := aws.ToString(out.Parameter.Value), name+"-v3"; got != want || out.Parameter.Version != 3 {
			t.Errorf("%s: got %q version %d, want %q version 3", name, got, out.Parameter.Version, want)
		}
		h, err := c2.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String(name)})
		if err != nil || len(h.Parameters) != 3 {
			t.Errorf("history of %s: got %v %v, want 3 versions", name, h, err)
		}
	}
	if _, err := c2.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/snap/plain"), Value: aws.String("after"), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
		t.Fatalf("write on the restored server: %v", err)
	}
}

// TestSnapshotDownloadStalled: a backup download whose client stops
// reading must cost only itself. The download used to stream from inside a
// bbolt read transaction, so a client that stopped reading held it open and
// the file's next growth (a remap, which waits for readers) blocked every
// write behind it. Here the client stops reading after the first byte, and
// writes must go on until state.db has doubled (a remap happened), and a
// linearizable read must answer.
func TestSnapshotDownloadStalled(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, t.TempDir())
	// Bounded by contexts, not http.Client.Timeout: with it, this SDK
	// intermittently fails reading a body ("use of closed network
	// connection"), as tests/cluster's client notes.
	cr := srv.Credentials()
	opts := cr.Options(srv.URL())
	opts.HTTPClient = nil
	c := ssm.New(opts)
	state := filepath.Join(srv.DataDir, "raft", "state.db")
	size := func() int64 {
		st, err := os.Stat(state)
		if err != nil {
			return 0
		}
		return st.Size()
	}
	// More than the server's socket send buffer can take (Linux grows it
	// up to net.ipv4.tcp_wmem's 4 MiB), so the server's writes block.
	value := strings.Repeat("v", 8000)
	put := func(ctx context.Context, i int) error {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/stall/p%05d", i)), Value: aws.String(value),
			Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced})
		return err
	}
	n := 0
	for ; size() < 8<<20; n++ {
		if err := put(ctx, n); err != nil {
			t.Fatal(err)
		}
	}

	// A client with a tiny receive buffer, so the server's writes block
	// soon after the client stops reading.
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, ReadBufferSize: 4096}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL()+"/_paramstore/snapshot", nil)
	if err != nil {
		t.Fatal(err)
	}
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: cr.ID, SecretAccessKey: cr.Secret}, req, hex.EncodeToString(empty[:]), "ssm", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("snapshot download: HTTP %d", resp.StatusCode)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing more from here on.

	stalledAt := size()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	writes := 0
	for size() < 2*stalledAt {
		if err := put(wctx, n); err != nil {
			t.Fatalf("write %d while a snapshot download is stalled (state.db %d bytes, %d when the client stopped reading): %v",
				writes, size(), stalledAt, err)
		}
		n++
		writes++
	}
	if _, err := c.GetParameter(wctx, &ssm.GetParameterInput{Name: aws.String("/stall/p00000")}); err != nil {
		t.Fatalf("linearizable read while a snapshot download is stalled: %v", err)
	}
	t.Logf("%d writes grew state.db from %d to %d bytes while the download was stalled", writes, stalledAt, size())
}
