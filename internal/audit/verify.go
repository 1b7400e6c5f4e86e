package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
	// ProblemTruncated: the last line has no newline; the file was cut
	// or a write was torn.
	ProblemTruncated Problem = "truncated last line"
)

// ChainError is the first place where a trail's chain breaks.
type ChainError struct {
	Line    int // 1-based line number
	Problem Problem
	Detail  string
}

func (e *ChainError) Error() string {
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
}

// TornRecord is a TornRecordEvent record of a trail.
type TornRecord struct {
	Line int // 1-based line number of the TornRecordEvent record
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
	rep, err := verify(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		var ce *ChainError
		if !errors.As(err, &ce) {
			err = fmt.Errorf("audit: verify %q: %w", path, err)
		}
	}
	return rep, err
}

func verify(r *bufio.Reader) (Report, error) {
	rep := Report{LastHash: ZeroHash}
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) == 0 {
				return rep, nil
			}
			return rep, &ChainError{Line: lineNo, Problem: ProblemTruncated,
				Detail: fmt.Sprintf("%d bytes without a terminating newline", len(line))}
		}
		if err != nil {
			return rep, err
		}
		line = line[:len(line)-1]
		fields, err := parseLine(line)
		switch {
		case errors.Is(err, errHashMismatch):
			return rep, &ChainError{Line: lineNo, Problem: ProblemHash,
				Detail: fmt.Sprintf("record %d was modified", fields.Sequence)}
		case err != nil:
			return rep, &ChainError{Line: lineNo, Problem: ProblemMalformed, Detail: err.Error()}
		}
		if want := rep.LastSequence + 1; fields.Sequence != want {
			return rep, &ChainError{Line: lineNo, Problem: ProblemSequence,
				Detail: fmt.Sprintf("sequence %d, want %d (records deleted, inserted or reordered)", fields.Sequence, want)}
		}
		if fields.PreviousHash != rep.LastHash {
			return rep, &ChainError{Line: lineNo, Problem: ProblemLink,
				Detail: fmt.Sprintf("previousHash %s, want %s (the record before was replaced)", fields.PreviousHash, rep.LastHash)}
		}
		if fields.EventName == TornRecordEvent {
			tr := TornRecord{Line: lineNo}
			if err := json.Unmarshal(fields.Details, &tr.TornDetails); err != nil {
				return rep, &ChainError{Line: lineNo, Problem: ProblemMalformed,
					Detail: fmt.Sprintf("%s record without valid details: %v", TornRecordEvent, err)}
			}
			rep.Torn = append(rep.Torn, tr)
		}
		rep.Records++
		rep.LastSequence = fields.Sequence
		rep.LastHash = fields.Hash
	}
}
