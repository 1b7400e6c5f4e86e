package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// snapshotDirs lists the finished raft snapshots in a data dir.
func snapshotDirs(t *testing.T, data string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(data, "raft", "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	return out
}

// privateTree fails the test for any file or directory under dir that its
// group or others may read, write or enter: a data dir holds the raft log,
// snapshots and state (SecureStrings encrypted, names and String values in
// the clear), and raft-wal and raft's snapshot store create theirs with
// 0644/0755 of their own (the server's umask narrows them).
func privateTree(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if path != dir && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want no access for group or others", path, fi.Mode().Perm())
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files and directories under %s checked", n, dir)
}

// TestSnapshotsRetain: --snapshots-retain N keeps the N newest raft
// snapshots on disk however many are taken (1 and 3 here; the default is
// 2), and the server refuses 0 with a message naming the flag. Every file
// and directory the server made in its data dir is its own alone.
func TestSnapshotsRetain(t *testing.T) {
	for _, retain := range []int{1, 3} {
		t.Run(fmt.Sprint(retain), func(t *testing.T) {
			data := t.TempDir()
			srv := startServer(t, data, append(append([]string{}, recoveryFlags...), "--snapshots-retain", fmt.Sprint(retain))...)
			c := srv.SSM()
			seen := map[string]bool{}
			deadline := time.Now().Add(2 * time.Minute)
			for i := 0; len(seen) < retain+2; i++ {
				if _, err := c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/snap/%d", i%20)),
					Value: aws.String("v"), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
				for _, d := range snapshotDirs(t, data) {
					seen[d] = true
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d snapshots taken after %d writes, want %d", len(seen), i, retain+2)
				}
			}
			srv.Stop()
			kept := snapshotDirs(t, data)
			if len(kept) != retain {
				t.Fatalf("%d snapshots taken, %d kept (%v); want --snapshots-retain %d", len(seen), len(kept), kept, retain)
			}
			t.Logf("--snapshots-retain %d: %d snapshots taken, kept %v", retain, len(seen), kept)
			privateTree(t, data)
		})
	}
	srv := startServerOrExit(t, t.TempDir(), "--snapshots-retain", "0")
	if !srv.Exited() || srv.ExitCode() == 0 || !strings.Contains(srv.Output(), "--snapshots-retain") {
		t.Fatalf("--snapshots-retain 0: exited %v code %d, output %q; want a refusal naming the flag", srv.Exited(), srv.ExitCode(), srv.Output())
	}
}
