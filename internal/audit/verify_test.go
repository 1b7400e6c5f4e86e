package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reseal replaces old with new in line and recomputes the line's hash, as
// someone who knows the format would after editing it.
func reseal(t *testing.T, line []byte, old, new string) []byte {
	t.Helper()
	canonical := append(bytes.Clone(line[:len(line)-hashSuffixLen]), '}')
	canonical = bytes.Replace(canonical, []byte(old), []byte(new), 1)
	var f chainFields
	if err := json.Unmarshal(canonical, &f); err != nil {
		t.Fatal(err)
	}
	out := append(canonical[:len(canonical)-1:len(canonical)-1], `,"hash":"`...)
	out = append(out, chainHash(f.PreviousHash, canonical)...)
	return append(out, `"}`...)
}

func TestVerifyFile(t *testing.T) {
	const n = 5
	tests := []struct {
		name        string
		edit        func(t *testing.T, lines [][]byte) [][]byte // lines without newlines
		noNewline   bool                                        // drop the final newline
		cut         int                                         // bytes to cut from the end
		wantRecords int
		wantLine    int // 0: no problem
		wantProblem Problem
	}{
		{name: "intact", wantRecords: n},
		{
			name: "edited record",
			edit: func(t *testing.T, l [][]byte) [][]byte {
				l[2] = bytes.Replace(l[2], []byte(`"sourceIPAddress":"127.0.0.1"`), []byte(`"sourceIPAddress":"10.0.0.9"`), 1)
				return l
			},
			wantRecords: 2, wantLine: 3, wantProblem: ProblemHash,
		},
		{
			name: "edited record with recomputed hash",
			edit: func(t *testing.T, l [][]byte) [][]byte {
				l[2] = reseal(t, l[2], `"userName":"alice"`, `"userName":"mallory"`)
				return l
			},
			wantRecords: 3, wantLine: 4, wantProblem: ProblemLink,
		},
		{
			name: "edited last record with recomputed hash and sequence",
			edit: func(t *testing.T, l [][]byte) [][]byte {
				l[4] = reseal(t, l[4], `"sequence":5`, `"sequence":6`)
				return l
			},
			wantRecords: 4, wantLine: 5, wantProblem: ProblemSequence,
		},
		{
			name:        "deleted record",
			edit:        func(t *testing.T, l [][]byte) [][]byte { return append(l[:2], l[3:]...) },
			wantRecords: 2, wantLine: 3, wantProblem: ProblemSequence,
		},
		{
			name:        "deleted first record",
			edit:        func(t *testing.T, l [][]byte) [][]byte { return l[1:] },
			wantRecords: 0, wantLine: 1, wantProblem: ProblemSequence,
		},
		{
			name: "swapped records",
			edit: func(t *testing.T, l [][]byte) [][]byte {
				l[1], l[2] = l[2], l[1]
				return l
			},
			wantRecords: 1, wantLine: 2, wantProblem: ProblemSequence,
		},
		{
			name:        "duplicated record",
			edit:        func(t *testing.T, l [][]byte) [][]byte { return append(l[:3], l[2:]...) },
			wantRecords: 3, wantLine: 4, wantProblem: ProblemSequence,
		},
		{
			name: "inserted garbage",
			edit: func(t *testing.T, l [][]byte) [][]byte {
				return append(l[:1], append([][]byte{[]byte(`{"hello":"world"}`)}, l[1:]...)...)
			},
			wantRecords: 1, wantLine: 2, wantProblem: ProblemMalformed,
		},
		{
			name:        "empty line",
			edit:        func(t *testing.T, l [][]byte) [][]byte { return append(l[:1], append([][]byte{nil}, l[1:]...)...) },
			wantRecords: 1, wantLine: 2, wantProblem: ProblemMalformed,
		},
		{
			name:        "truncated in the last line",
			cut:         40,
			wantRecords: n - 1, wantLine: n, wantProblem: ProblemTruncated,
		},
		{
			name:        "last newline missing",
			noNewline:   true,
			wantRecords: n - 1, wantLine: n, wantProblem: ProblemTruncated,
		},
		{
			name:        "empty file",
			edit:        func(t *testing.T, l [][]byte) [][]byte { return nil },
			wantRecords: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTrail(t, n)
			lines := bytes.Split(bytes.TrimSuffix([]byte(readFile(t, path)), []byte("\n")), []byte("\n"))
			if tt.edit != nil {
				lines = tt.edit(t, lines)
			}
			var out []byte
			for _, l := range lines {
				out = append(append(out, l...), '\n')
			}
			if tt.noNewline {
				out = out[:len(out)-1]
			}
			out = out[:len(out)-tt.cut]
			if err := os.WriteFile(path, out, 0o600); err != nil {
				t.Fatal(err)
			}

			rep, err := VerifyFile(path)
			if rep.Records != tt.wantRecords || rep.LastSequence != uint64(tt.wantRecords) {
				t.Errorf("Records = %d, LastSequence = %d, want %d", rep.Records, rep.LastSequence, tt.wantRecords)
			}
			if tt.wantLine == 0 {
				if err != nil {
					t.Fatalf("VerifyFile: %v", err)
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("VerifyFile error = %v, want *ChainError", err)
			}
			if ce.Line != tt.wantLine || ce.Problem != tt.wantProblem {
				t.Errorf("got line %d %q, want line %d %q (%v)", ce.Line, ce.Problem, tt.wantLine, tt.wantProblem, err)
			}
			if !strings.Contains(err.Error(), string(tt.wantProblem)) {
				t.Errorf("error %q does not name the problem", err)
			}
		})
	}
}

func TestVerifyFileReportsLastHash(t *testing.T) {
	path := writeTrail(t, 3)
	rep, err := VerifyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, path)), "\n")
	f, err := parseLine([]byte(lines[2]))
	if err != nil {
		t.Fatal(err)
	}
	if rep.LastHash != f.Hash {
		t.Errorf("LastHash = %s, want %s", rep.LastHash, f.Hash)
	}
}

func TestVerifyFileMissing(t *testing.T) {
	_, err := VerifyFile(filepath.Join(t.TempDir(), "nope"))
	var ce *ChainError
	if !errors.Is(err, os.ErrNotExist) || errors.As(err, &ce) {
		t.Errorf("VerifyFile(missing) = %v, want a not-exist error that is no ChainError", err)
	}
}
