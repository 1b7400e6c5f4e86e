package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// mount mounts a tmpfs of size on a new directory holding files, read-only
// if readOnly, and unmounts it at the end of the test.
func mount(t *testing.T, size string, readOnly bool, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("skipped: mount -t tmpfs is not permitted here (CI runs as root): %v", err)
		}
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if readOnly {
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatalf("remount %s read-only: %v", dir, err)
		}
	}
	return dir
}

// readOnlyDir is a directory holding files in which no file can be
// created: mode 0500 for an ordinary user; for root, whom modes do not
// stop, a read-only tmpfs.
func readOnlyDir(t *testing.T, files map[string]string) string {
	t.Helper()
	if os.Geteuid() == 0 {
		return mount(t, "1m", true, files)
	}
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	return dir
}

func isReadOnlyFS(err error) bool { return errors.Is(err, syscall.EROFS) }

// smallDir is a directory holding files on a file system of 1 MiB.
func smallDir(t *testing.T, files map[string]string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs to fill needs root (CI runs as root)")
	}
	return mount(t, "1m", false, files)
}
