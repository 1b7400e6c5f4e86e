package server

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPrivateRaftDir: a raft directory written before the server narrowed
// its umask (raft-wal's 0644 segments, raft's 0755 snapshot directories)
// is made private at start, file kinds and owner bits kept; a data dir
// without one yet is fine.
func TestPrivateRaftDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "raft")
	if err := privateRaftDir(dir); err != nil {
		t.Fatalf("a new data dir: %v", err)
	}
	files := map[string]os.FileMode{
		"wal/00000000000000000001-0000000000000000.wal": 0o644,
		"wal/wal-meta.db":             0o600,
		"snapshots/2-183-1/state.bin": 0o644,
		"snapshots/2-183-1/meta.json": 0o640,
	}
	for name, mode := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := privateRaftDir(dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		".": 0o700, "wal": 0o700, "snapshots": 0o700, "snapshots/2-183-1": 0o700,
		"wal/00000000000000000001-0000000000000000.wal": 0o600, "wal/wal-meta.db": 0o600,
		"snapshots/2-183-1/state.bin": 0o600, "snapshots/2-183-1/meta.json": 0o600,
	}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	if fi, err := os.Stat("/etc/hostname"); err == nil && fi.Mode().Perm()&0o044 == 0 {
		t.Errorf("/etc/hostname, the target of a symlink in the raft dir, was changed: %v", fi.Mode().Perm())
	}
}
