// Package atomicfile replaces files so that a reader, or the next start
// after a crash, finds either the old contents or the new ones, never a mix
// and never an empty file.
//
// Every write goes the same way: the new contents are written to a
// temporary file in the destination's directory, fsynced and closed; the
// temporary file is renamed over the destination (or linked to it, for
// WriteNew); and the directory is fsynced, so that the rename itself
// survives a crash. Every step's error is returned, and a failed write
// leaves no temporary file behind.
//
// It is the one way Paramstore replaces a file: the root credentials, the
// master key, rendered templates, a restored or downloaded state machine,
// the clean-shutdown record and the audit trail's torn-line files.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile replaces path with data, with permissions perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, (*File).Commit)
}

// WriteNew creates path with data and permissions perm. It fails with an
// error matching os.ErrExist, and leaves path as it is, when path exists.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, (*File).commitNew)
}

// write writes data to a new File for path and commits it with commit.
func write(path string, data []byte, perm os.FileMode, commit func(*File) error) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return commit(f)
}

// File is the pending new contents of a file: a temporary file in the
// destination's directory, which Commit puts in place of the destination.
// Until then the destination is untouched. A File is not safe for
// concurrent use.
type File struct {
	f    *os.File // nil once closed
	path string   // the destination
	tmp  string   // the temporary file
	// err is the first error of a write or of closing the temporary file:
	// every later Close and Commit returns it.
	err       error
	committed bool // renamed (or linked) into place
	removed   bool // removed by Cleanup
}

// Create starts the replacement of path: it creates an empty temporary file
// with permissions perm in path's directory. Write the new contents to the
// File, then call Commit; defer Cleanup to remove the temporary file when
// Commit is not reached.
func Create(path string, perm os.FileMode) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), tempPattern(path))
	if err != nil {
		return nil, fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if runtime.GOOS != "windows" {
		if err := f.Chmod(perm); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("atomicfile: write %s: %w", path, err)
		}
	}
	return &File{f: f, path: path, tmp: f.Name()}, nil
}

// tempPattern is the os.CreateTemp pattern of path's temporary files:
// hidden, and named after path.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// RemoveTemps removes the temporary files of path that a crash in the
// middle of a write left behind. Call it only when no write of path can be
// under way (at start, under the lock of whatever owns the file).
func RemoveTemps(path string) error {
	old, err := filepath.Glob(filepath.Join(filepath.Dir(path), tempPattern(path)))
	if err != nil {
		return fmt.Errorf("atomicfile: remove the temporary files of %s: %w", path, err)
	}
	var errs []error
	for _, name := range old {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("atomicfile: remove the temporary files of %s: %w", path, err)
	}
	return nil
}

var (
	errClosed  = errors.New("atomicfile: the temporary file is closed")
	errRemoved = errors.New("atomicfile: the temporary file was removed by Cleanup")
)

// Write writes p to the temporary file. After a failed write, Commit
// fails too: the new contents are incomplete.
func (f *File) Write(p []byte) (int, error) {
	if f.f == nil {
		return 0, errClosed
	}
	n, err := f.f.Write(p)
	if err != nil {
		return n, f.fail(err)
	}
	return n, nil
}

// ReadFrom copies r to the temporary file (io.Copy uses it). After a
// failed copy, Commit fails too: the new contents are incomplete.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	if f.f == nil {
		return 0, errClosed
	}
	n, err := f.f.ReadFrom(r)
	if err != nil {
		return n, f.fail(err)
	}
	return n, nil
}

// fail records err, if it is the first, and returns it.
func (f *File) fail(err error) error {
	err = fmt.Errorf("atomicfile: write %s: %w", f.path, err)
	if f.err == nil {
		f.err = err
	}
	return err
}

// Name is the temporary file's name: after Close it can be opened by name,
// to check or change the new contents before Commit.
func (f *File) Name() string { return f.tmp }

// Close fsyncs and closes the temporary file. It does not touch the
// destination: Commit does. It returns the first error of a write, if
// any, and calling it again returns the same.
func (f *File) Close() error {
	if f.f == nil {
		return f.err
	}
	err := f.f.Sync()
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	f.f = nil
	if err != nil {
		f.fail(err)
	}
	return f.err
}

// Commit closes the temporary file (see Close), renames it over the
// destination and fsyncs the directory. When a write, the fsync or the
// rename fails, Commit returns that error and the destination is as it
// was; only a failure to fsync the directory comes after the rename.
func (f *File) Commit() error {
	switch {
	case f.committed:
		return nil
	case f.removed:
		return errRemoved
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.tmp, f.path); err != nil {
		return fmt.Errorf("atomicfile: replace %s: %w", f.path, err)
	}
	f.committed = true
	return SyncDir(filepath.Dir(f.path))
}

// commitNew is Commit for WriteNew: it links the temporary file to the
// destination, which, unlike a rename, fails when the destination exists.
func (f *File) commitNew() error {
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(f.tmp, f.path); err != nil {
		return fmt.Errorf("atomicfile: create %s: %w", f.path, err)
	}
	f.committed = true
	if err := os.Remove(f.tmp); err != nil {
		return fmt.Errorf("atomicfile: create %s: remove the temporary file: %w", f.path, err)
	}
	return SyncDir(filepath.Dir(f.path))
}

// Cleanup closes and removes the temporary file unless Commit put it in
// place; after Commit it does nothing. Defer it right after Create.
func (f *File) Cleanup() error {
	if f.committed || f.removed {
		return nil
	}
	if f.f != nil {
		f.f.Close()
		f.f = nil
	}
	f.removed = true
	if err := os.Remove(f.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("atomicfile: remove %s: %w", f.tmp, err)
	}
	return nil
}

// SyncDir fsyncs the directory dir, so that the creation, removal or
// renaming of a file in it survives a crash. (Windows cannot fsync a
// directory, and needs not: it is a no-op there.)
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("atomicfile: sync directory: %w", err)
	}
	return nil
}
