package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	c := src.sdkClient()
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
	if out, err := paramstoreCLI(t, "snapshot", "--endpoint", src.endpoint, "--credentials-file", src.credentialsFile(), "save", backup); err != nil {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}
	// The wrong credentials are refused.
	if out, err := paramstoreCLI(t, "snapshot", "--endpoint", src.endpoint, "save", filepath.Join(t.TempDir(), "x.db")); err == nil {
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
	if out, err := paramstoreCLI(t, "snapshot", "restore", backup, "--data-dir", src.dataDir); err == nil {
		t.Fatalf("restore into a data dir that holds a store succeeded:\n%s", out)
	}
	key, err := os.ReadFile(filepath.Join(src.dataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(newDir, "master.key"), key, 0o600)
	src.stop()

	dst := startServer(t, newDir)
	// The restored identities include the root key of the original server;
	// the new data dir has no root-credentials file of its own.
	if _, err := os.Stat(filepath.Join(newDir, "root-credentials")); err == nil {
		t.Errorf("the restored server wrote new root credentials")
	}
	dst.dataDir = src.dataDir // sign with the original root-credentials
	c2 := dst.sdkClient()
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
