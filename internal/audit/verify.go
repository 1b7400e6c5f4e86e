package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Problem names what is wrong at a line of a trail.
type Problem string

// Problems VerifyFile reports.
const (
	// ProblemMalformed: the line is not a record with chain members.
	ProblemMalformed Problem = "malformed record"
	// ProblemHash: the record's hash is not the hash of its contents; the
	// record was edited.
	ProblemHash Problem = "hash mismatch"
	// ProblemSequence: the sequence number is not the previous one plus
	// one; records were deleted, inserted or reordered.
	ProblemSequence Problem = "sequence mismatch"
	// ProblemLink: previousHash is not the hash of the line before; the
	// line before was replaced or records were deleted or reordered.
	ProblemLink Problem = "previousHash mismatch"
	// ProblemTruncated: the last line has no newline, or a compressed
	// file ends early; the file was cut or a write was torn.
	ProblemTruncated Problem = "truncated last line"
	// ProblemMissing: records are missing between two files of a trail,
	// or before its first file: a file was deleted, or the end of the
	// file before was cut.
	ProblemMissing Problem = "missing records"
	// ProblemOrder: a file of a trail does not hold the records its name
	// and place say: files were renamed or reordered.
	ProblemOrder Problem = "file out of order"
)

// ChainError is the first place where a trail's chain breaks.
type ChainError struct {
	// File is the file of a trail (VerifyTrail); empty for VerifyFile.
	File    string
	Line    int // 1-based line number
	Problem Problem
	Detail  string
}

func (e *ChainError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("audit: %s: line %d: %s: %s", e.File, e.Line, e.Problem, e.Detail)
	}
	return fmt.Sprintf("audit: line %d: %s: %s", e.Line, e.Problem, e.Detail)
}

// Report summarizes the records of a trail up to the first problem.
type Report struct {
	// Records is the number of valid, chained records before the first
	// problem (all of them if there is none).
	Records int
	// LastSequence and LastHash are those of the last valid record;
	// LastHash is ZeroHash for an empty file.
	LastSequence uint64
	LastHash     string
	// Torn lists the records that say a torn last line was cut from the
	// trail when it was reopened (see Open): a record that a crash cut in
	// the middle of its write is missing there, and its bytes are in the
	// named file.
	Torn []TornRecord

	// For VerifyTrail: the files in order, the sequence and previousHash
	// of the first record, and the FilesRemovedEvent records, which
	// account for files removed by retention.
	Files         []FileReport
	FirstSequence uint64
	StartHash     string
	Removed       []RemovedDetails
}

// FileReport is what VerifyTrail found in one file.
type FileReport struct {
	Path                        string
	Records                     int
	FirstSequence, LastSequence uint64
}

// TornRecord is a TornRecordEvent record of a trail.
type TornRecord struct {
	InFile string // the trail file that holds it (VerifyTrail)
	Line   int    // 1-based line number of the TornRecordEvent record
	TornDetails
}

// VerifyFile checks the trail at path: every line must be a record whose
// hash matches its contents, whose sequence is one more than the line
// before (1 on the first line) and whose previousHash is the hash of the
// line before (ZeroHash on the first line), and the file must end with a
// newline. If the chain breaks, VerifyFile returns the report up to the
// break and a *ChainError for the first bad line; other errors are I/O
// errors.
func VerifyFile(path string) (Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return Report{LastHash: ZeroHash}, fmt.Errorf("audit: verify: %w", err)
	}
	defer f.Close()
	rep := Report{LastHash: ZeroHash}
	_, err = verify(bufio.NewReaderSize(f, 64<<10), &rep, "", false)
	if err != nil {
		var ce *ChainError
		if !errors.As(err, &ce) {
			err = fmt.Errorf("audit: verify %q: %w", path, err)
		}
	}
	return rep, err
}

// verify checks the lines of r, continuing the chain in rep, and adds
// them to rep. With anyStart, a first record (rep.Records == 0) may start
// after sequence 1: rep.FirstSequence and rep.StartHash say where.
//
// It returns the sequence of its first line (0 when there is none or it is
// not a record), even when that line breaks the chain.
func verify(r *bufio.Reader, rep *Report, file string, anyStart bool) (first uint64, err error) {
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) == 0 {
				return first, nil
			}
			return first, &ChainError{File: file, Line: lineNo, Problem: ProblemTruncated,
				Detail: fmt.Sprintf("%d bytes without a terminating newline", len(line))}
		}
		if errors.Is(err, ErrCompressedTruncated) {
			return first, &ChainError{File: file, Line: lineNo, Problem: ProblemTruncated,
				Detail: "the compressed file ends early (it was cut)"}
		}
		if err != nil {
			return first, err
		}
		line = line[:len(line)-1]
		fields, err := parseLine(line)
		if lineNo == 1 {
			first = fields.Sequence
		}
		switch {
		case errors.Is(err, errHashMismatch):
			return first, &ChainError{File: file, Line: lineNo, Problem: ProblemHash,
				Detail: fmt.Sprintf("record %d was modified", fields.Sequence)}
		case err != nil:
			return first, &ChainError{File: file, Line: lineNo, Problem: ProblemMalformed, Detail: err.Error()}
		}
		if rep.Records == 0 {
			rep.FirstSequence, rep.StartHash = fields.Sequence, fields.PreviousHash
			if anyStart && fields.Sequence > 1 {
				rep.LastSequence, rep.LastHash = fields.Sequence-1, fields.PreviousHash
			}
		}
		if want := rep.LastSequence + 1; fields.Sequence != want {
			return first, &ChainError{File: file, Line: lineNo, Problem: ProblemSequence,
				Detail: fmt.Sprintf("sequence %d, want %d (records deleted, inserted or reordered)", fields.Sequence, want)}
		}
		if fields.PreviousHash != rep.LastHash {
			return first, &ChainError{File: file, Line: lineNo, Problem: ProblemLink,
				Detail: fmt.Sprintf("previousHash %s, want %s (the record before was replaced)", fields.PreviousHash, rep.LastHash)}
		}
		switch fields.EventName {
		case TornRecordEvent:
			tr := TornRecord{InFile: file, Line: lineNo}
			if err := json.Unmarshal(fields.Details, &tr.TornDetails); err != nil {
				return first, &ChainError{File: file, Line: lineNo, Problem: ProblemMalformed,
					Detail: fmt.Sprintf("%s record without valid details: %v", TornRecordEvent, err)}
			}
			rep.Torn = append(rep.Torn, tr)
		case FilesRemovedEvent:
			var rd RemovedDetails
			if err := json.Unmarshal(fields.Details, &rd); err != nil {
				return first, &ChainError{File: file, Line: lineNo, Problem: ProblemMalformed,
					Detail: fmt.Sprintf("%s record without valid details: %v", FilesRemovedEvent, err)}
			}
			rep.Removed = append(rep.Removed, rd)
		}
		rep.Records++
		rep.LastSequence = fields.Sequence
		rep.LastHash = fields.Hash
	}
}

// VerifyTrail checks a whole trail, its rotated files and its active file
// at path (see ListFiles), as one chain: each file must hold the records
// its name says, each file's first record must continue the last record
// of the file before (sequence and previousHash), and every file must be
// whole (a compressed file that ends early is truncated). A trail whose
// first records are gone is accepted only if an AuditTrailFileRemoved
// record, written before retention removed them, accounts for them
// exactly. On a break it returns the report up to it and a *ChainError
// naming the file and line: a deleted file is ProblemMissing, renamed
// or reordered files ProblemOrder.
func VerifyTrail(path string) (Report, error) {
	files, err := ListFiles(path)
	if err != nil {
		return Report{LastHash: ZeroHash}, err
	}
	if len(files) == 0 {
		return Report{LastHash: ZeroHash}, fmt.Errorf("audit: verify: no trail at %s (no such file, and no rotated files)", path)
	}
	return verifyFiles(files, TrailFile.Open)
}

// verifyFiles is VerifyTrail for the files of a trail, in order, whose
// contents open returns (decompressed).
func verifyFiles(files []TrailFile, open func(TrailFile) (io.ReadCloser, error)) (Report, error) {
	rep := Report{LastHash: ZeroHash}
	for i, f := range files {
		name := filepath.Base(f.Path)
		before := rep
		fr := FileReport{Path: f.Path}
		rc, err := open(f)
		if errors.Is(err, ErrCompressedTruncated) {
			return rep, &ChainError{File: name, Line: 1, Problem: ProblemTruncated, Detail: "the compressed file ends early (it was cut)"}
		}
		if err != nil {
			return rep, err
		}
		got, err := verify(bufio.NewReaderSize(rc, 64<<10), &rep, name, before.Records == 0)
		rc.Close()
		if before.Records > 0 {
			rep.FirstSequence, rep.StartHash = before.FirstSequence, before.StartHash
		}
		fr.Records = rep.Records - before.Records
		fr.FirstSequence, fr.LastSequence = got, rep.LastSequence
		if !f.Active && got != 0 && got != f.FirstSequence {
			return rep, &ChainError{File: name, Line: 1, Problem: ProblemOrder,
				Detail: fmt.Sprintf("its name says its first record is sequence %d, but it is %d (the file was renamed)", f.FirstSequence, got)}
		}
		var ce *ChainError
		if errors.As(err, &ce) && ce.Line == 1 && ce.Problem == ProblemSequence && before.Records > 0 {
			prev := filepath.Base(files[i-1].Path)
			want := before.LastSequence + 1
			if got > want {
				ce.Problem = ProblemMissing
				ce.Detail = fmt.Sprintf("first record is sequence %d but %s ends at sequence %d: records %d-%d are missing (a file was deleted, or %s was cut)",
					got, prev, before.LastSequence, want, got-1, prev)
			} else {
				ce.Problem = ProblemOrder
				ce.Detail = fmt.Sprintf("first record is sequence %d but %s ends at sequence %d (files renamed or reordered)", got, prev, before.LastSequence)
			}
		}
		if err != nil {
			return rep, err
		}
		rep.Files = append(rep.Files, fr)
	}
	if rep.FirstSequence > 1 {
		accounted := false
		for _, rd := range rep.Removed {
			if rd.LastSequence == rep.FirstSequence-1 && rd.LastHash == rep.StartHash {
				accounted = true
			}
		}
		if !accounted {
			return rep, &ChainError{File: filepath.Base(files[0].Path), Line: 1, Problem: ProblemMissing,
				Detail: fmt.Sprintf("the trail starts at sequence %d: records 1-%d are missing and no %s record accounts for them (a file was deleted)",
					rep.FirstSequence, rep.FirstSequence-1, FilesRemovedEvent)}
		}
	}
	return rep, nil
}
