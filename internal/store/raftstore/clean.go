package raftstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/paramstore/paramstore/internal/atomicfile"
)

// The clean-shutdown record. bbolt checksums only its meta pages, so a
// damaged byte in a page of state.db or raft.db goes unnoticed, or crashes
// the process when a read reaches it. When a node closes cleanly it writes
// the size and CRC-32C of state.db, raft.db and the snapshots' metadata to
// clean-shutdown.json; the next start compares them before opening anything
// and deletes the record, so that it vouches for the files exactly as they
// were closed. A file that differs was damaged (or replaced) while the node
// was stopped, and the node refuses to start on it. Without the record (the
// process was killed, or the machine lost power) the files are checked for
// structural damage instead (checkFiles); a changed byte inside a value is
// then beyond what bbolt's format can reveal.

const cleanFile = "clean-shutdown.json"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type cleanRecord struct {
	Files []fileSum `json:"files"`
	// Sum is the CRC-32C of the JSON encoding of Files: it tells a damaged
	// record from a damaged file.
	Sum uint32 `json:"sum"`
}

type fileSum struct {
	Name string `json:"name"` // relative to the raft directory
	Size int64  `json:"size"`
	CRC  uint32 `json:"crc32c"`
}

func (r *cleanRecord) sum() uint32 {
	raw, _ := json.Marshal(r.Files)
	return crc32.Checksum(raw, castagnoli)
}

// sumFile returns the size and CRC-32C of a file.
func sumFile(path string) (fileSum, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileSum{}, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	if err != nil {
		return fileSum{}, err
	}
	return fileSum{Size: n, CRC: h.Sum32()}, nil
}

// recordedFiles lists the files the record covers that exist in dir.
func recordedFiles(dir string) []string {
	names := []string{stateFile, logFile}
	names = append(names, logFiles(dir, LogWAL)...)
	metas, _ := filepath.Glob(filepath.Join(dir, snapshotsDir, "*", "meta.json"))
	for _, m := range metas {
		if rel, err := filepath.Rel(dir, m); err == nil {
			names = append(names, rel)
		}
	}
	return names
}

// writeCleanShutdown records the files of dir as they are now (closed).
func writeCleanShutdown(dir string) error {
	var rec cleanRecord
	for _, name := range recordedFiles(dir) {
		s, err := sumFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		s.Name = name
		rec.Files = append(rec.Files, s)
	}
	rec.Sum = rec.sum()
	raw, err := json.MarshalIndent(&rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, cleanFile), raw, 0o600)
}

// verifyCleanShutdown compares the files of dir with the clean-shutdown
// record, if there is one, and removes the record. It returns the files the
// record vouches for (intact since the clean shutdown), and an error naming
// a file that changed.
func verifyCleanShutdown(dir string, log *slog.Logger) (map[string]bool, error) {
	path := filepath.Join(dir, cleanFile)
	// Best effort: a write of the record cut by a crash left a temporary
	// file, which vouches for nothing.
	_ = atomicfile.RemoveTemps(path)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("raftstore: read %s: %w", path, err)
	}
	var rec cleanRecord
	if err := json.Unmarshal(raw, &rec); err != nil || rec.sum() != rec.Sum {
		log.Warn("the clean-shutdown record is damaged; checking the files instead", "path", path)
		return nil, removeRecord(dir)
	}
	vouched := map[string]bool{}
	for _, want := range rec.Files {
		got, err := sumFile(filepath.Join(dir, want.Name))
		if errors.Is(err, os.ErrNotExist) {
			// A missing file is the start-up check's business (reconcile).
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("raftstore: read %s: %w", filepath.Join(dir, want.Name), err)
		}
		if got.Size != want.Size || got.CRC != want.CRC {
			what := "its content differs"
			if got.Size != want.Size {
				what = fmt.Sprintf("it is %d bytes, was %d", got.Size, want.Size)
			}
			return nil, &DataDirError{Dir: dir, Files: []string{want.Name},
				Problem: fmt.Sprintf("%s changed after the server last stopped cleanly (%s): it was damaged or replaced while the server was stopped", want.Name, what),
				Fix: fmt.Sprintf("if it is damaged, %s If you replaced it on purpose, delete %s and start again (the files are then checked for structural damage only).",
					fixDamaged(dir, want.Name), path)}
		}
		vouched[want.Name] = true
	}
	return vouched, removeRecord(dir)
}

// removeRecord deletes the clean-shutdown record durably: once the node
// runs, the files change.
func removeRecord(dir string) error {
	err := os.Remove(filepath.Join(dir, cleanFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("raftstore: remove the clean-shutdown record: %w", err)
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("raftstore: remove the clean-shutdown record: %w", err)
	}
	return nil
}
