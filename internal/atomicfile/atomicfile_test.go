package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// checkFile fails unless path holds want, and dir holds only the names in
// only (no temporary file left behind).
func checkFile(t *testing.T, path, want string, only ...string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if string(got) != want {
		t.Errorf("%s holds %.40q (%d bytes), want %q", path, got, len(got), want)
	}
	if names := entries(t, filepath.Dir(path)); !slices.Equal(names, only) {
		t.Errorf("directory holds %q, want only %q", names, only)
	}
}

func TestWriteFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  *string // nil: the file does not exist yet
		perm os.FileMode
	}{
		{name: "new file", perm: 0o600},
		{name: "replaces", old: ptr("old contents, longer than the new"), perm: 0o600},
		{name: "mode", old: ptr("old"), perm: 0o640},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tc.old != nil {
				if err := os.WriteFile(path, []byte(*tc.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(path, []byte("new"), tc.perm); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			checkFile(t, path, "new", "f")
			if runtime.GOOS == "windows" {
				return
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.perm {
				t.Errorf("mode %v, want %v", got, tc.perm)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestDirMissing: nothing to write into, nothing written.
func TestDirMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "f")
	for name, write := range map[string]func() error{
		"WriteFile": func() error { return WriteFile(path, []byte("x"), 0o600) },
		"WriteNew":  func() error { return WriteNew(path, []byte("x"), 0o600) },
		"Create": func() error {
			_, err := Create(path, 0o600)
			return err
		},
	} {
		err := write()
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s into a missing directory = %v, want an error matching os.ErrNotExist", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("%s error %q does not name %s", name, err, path)
		}
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %q, want nothing", names)
	}
}

// TestRenameFails: the destination is a directory that is not empty, so
// the rename fails; it is left as it was and the temporary file removed.
func TestRenameFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, []byte("new"), 0o600)
	var le *os.LinkError
	if !errors.As(err, &le) || le.Op != "rename" {
		t.Fatalf("WriteFile over a directory = %v, want a rename error", err)
	}
	if !strings.Contains(err.Error(), "replace "+path) {
		t.Errorf("error %q does not say what it replaced", err)
	}
	if names := entries(t, dir); !slices.Equal(names, []string{"f"}) {
		t.Errorf("directory holds %q, want only f (no temporary file)", names)
	}
	if names := entries(t, path); !slices.Equal(names, []string{"inside"}) {
		t.Errorf("the destination directory now holds %q", names)
	}
}

// TestReadOnlyDir: no temporary file can be created; the file stays.
func TestReadOnlyDir(t *testing.T) {
	dir := readOnlyDir(t, map[string]string{"f": "old"})
	path := filepath.Join(dir, "f")
	for name, write := range map[string]func() error{
		"WriteFile": func() error { return WriteFile(path, []byte("new"), 0o600) },
		"WriteNew":  func() error { return WriteNew(filepath.Join(dir, "g"), []byte("new"), 0o600) },
	} {
		err := write()
		if err == nil {
			t.Fatalf("%s in a read-only directory succeeded", name)
		}
		if !errors.Is(err, os.ErrPermission) && !isReadOnlyFS(err) {
			t.Errorf("%s in a read-only directory = %v, want a permission or read-only file system error", name, err)
		}
	}
	checkFile(t, path, "old", "f")
}

// TestWriteFails: the file system fills up during the write; the old file
// is intact and the temporary file gone.
func TestWriteFails(t *testing.T) {
	dir := smallDir(t, map[string]string{"f": "old"})
	path := filepath.Join(dir, "f")
	big := bytes.Repeat([]byte("x"), 4<<20) // more than smallDir holds
	if err := WriteFile(path, big, 0o600); err == nil {
		t.Fatal("WriteFile of more than the file system holds succeeded")
	} else if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
	checkFile(t, path, "old", "f")

	// The same through a File: Commit reports the failure and leaves the
	// destination alone.
	f, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Cleanup()
	if _, err := io.Copy(f, bytes.NewReader(big)); err == nil {
		t.Fatal("copying more than the file system holds succeeded")
	}
	if err := f.Commit(); err == nil {
		t.Fatal("Commit after a failed write succeeded")
	}
	if err := f.Cleanup(); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
	checkFile(t, path, "old", "f")
}

func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := WriteNew(path, []byte("first"), 0o600); err != nil {
		t.Fatalf("WriteNew: %v", err)
	}
	checkFile(t, path, "first", "key")
	err := WriteNew(path, []byte("second"), 0o600)
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("WriteNew over an existing file = %v, want an error matching os.ErrExist", err)
	}
	checkFile(t, path, "first", "key")
}

// TestFile: the new contents can be read by name between Close and Commit,
// and the destination changes only at Commit.
func TestFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Cleanup()
	if filepath.Dir(f.Name()) != dir {
		t.Errorf("temporary file %s is not in %s", f.Name(), dir)
	}
	if _, err := io.Copy(f, strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Write([]byte("more")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if got, err := os.ReadFile(f.Name()); err != nil || string(got) != "new" {
		t.Errorf("temporary file holds %q, %v; want \"new\"", got, err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("destination holds %q before Commit, want \"old\"", got)
	}
	if err := f.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := f.Cleanup(); err != nil {
		t.Errorf("Cleanup after Commit: %v", err)
	}
	checkFile(t, path, "new", "db")
}

// TestCleanup: without Commit the destination stays and nothing is left.
func TestCleanup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := f.Cleanup(); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if err := f.Commit(); err == nil {
		t.Error("Commit after Cleanup succeeded")
	}
	checkFile(t, path, "old", "f")
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if err := SyncDir(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SyncDir(missing) = %v, want an error matching os.ErrNotExist", err)
	}
}

// TestRemoveTemps: what a crash left of a write goes, and nothing else.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	for name, data := range map[string]string{"state.db": "state", "other": "x", ".other.tmp-1": "y"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		f, err := Create(path, 0o600) // never committed nor cleaned up: a crash
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("half")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(entries(t, dir)); n != 5 {
		t.Fatalf("directory holds %d names, want 5", n)
	}
	if err := RemoveTemps(path); err != nil {
		t.Fatalf("RemoveTemps: %v", err)
	}
	checkFile(t, path, "state", ".other.tmp-1", "other", "state.db")
	if err := RemoveTemps(path); err != nil {
		t.Errorf("RemoveTemps with nothing to remove: %v", err)
	}
}
