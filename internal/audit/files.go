package audit

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The files of a trail.
//
// A trail is its active file (Config.Path, "audit.log") and the files
// rotated out of it, in the same directory:
//
//	audit.log.<first sequence, 20 digits>-<UTC time of the rotation>.gz
//
// for example audit.log.00000000000000004097-20261130T140503Z.gz. A
// rotated file is first renamed without the .gz suffix, then compressed
// into the .gz name, then the uncompressed file is removed; a crash at any
// point leaves one of the two, whole, and the next Open finishes the work.
// The sequence in the name orders the files; VerifyTrail checks that each
// file holds what its name says.

// TrailFile is one file of a trail.
type TrailFile struct {
	// Path is the file's path.
	Path string
	// FirstSequence is the sequence of the first record a rotated file
	// holds, from its name; 0 for the active file, which may be empty.
	FirstSequence uint64
	// Rotated is the time in the name of a rotated file.
	Rotated time.Time
	// Compressed says the file is gzip-compressed.
	Compressed bool
	// Active says this is the file the server appends to.
	Active bool
}

// rotatedLayout is the time in a rotated file's name.
const rotatedLayout = "20060102T150405Z"

// rotatedName is the name of the active file at path rotated with its
// first record firstSeq at t, before compression.
func rotatedName(path string, firstSeq uint64, t time.Time) string {
	return fmt.Sprintf("%s.%020d-%s", path, firstSeq, t.UTC().Format(rotatedLayout))
}

// rotatedSuffix matches what follows the active file's name in the name
// of a rotated file.
var rotatedSuffix = regexp.MustCompile(`^\.(\d{20})-(\d{8}T\d{6}Z)(\.gz)?$`)

// ActivePath returns the active file of the trail that path names: the
// file a rotated file was rotated from, or path itself.
func ActivePath(path string) string {
	dir, name := filepath.Split(path)
	for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
		if rotatedSuffix.MatchString(name[i:]) {
			return filepath.Join(dir, name[:i])
		}
	}
	return path
}

// parseRotated returns the submatches of rotatedSuffix for the name of a
// rotated file of the active file named base, or nil.
func parseRotated(base, name string) []string {
	rest, ok := strings.CutPrefix(name, base)
	if !ok {
		return nil
	}
	return rotatedSuffix.FindStringSubmatch(rest)
}

// ListFiles returns the files of the trail whose active file is path, in
// order: the rotated files by their first sequence, then the active file
// if it exists. A rotated file that is both compressed and not (a crash
// between the compression and the removal of the original) is listed
// once, compressed: the compressed file is complete before it gets its
// name. It is the one place that knows how a trail's files are named and
// ordered; every reader of a whole trail goes through it.
func ListFiles(path string) ([]TrailFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: list %s: %w", dir, err)
	}
	bySeq := map[uint64]TrailFile{}
	var active *TrailFile
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if e.Name() == base {
			active = &TrailFile{Path: filepath.Join(dir, base), Active: true}
			continue
		}
		m := parseRotated(base, e.Name())
		if m == nil {
			continue
		}
		seq, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			continue // 20 digits beyond uint64
		}
		t, err := time.Parse(rotatedLayout, m[2])
		if err != nil {
			continue
		}
		f := TrailFile{Path: filepath.Join(dir, e.Name()), FirstSequence: seq, Rotated: t, Compressed: m[3] != ""}
		if old, ok := bySeq[seq]; ok && old.Compressed && !f.Compressed {
			continue
		}
		bySeq[seq] = f
	}
	files := make([]TrailFile, 0, len(bySeq)+1)
	for _, f := range bySeq {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b TrailFile) int {
		switch {
		case a.FirstSequence < b.FirstSequence:
			return -1
		case a.FirstSequence > b.FirstSequence:
			return 1
		}
		return 0
	})
	if active != nil {
		files = append(files, *active)
	}
	return files, nil
}

// Open returns the contents of the file, decompressed.
func (f TrailFile) Open() (io.ReadCloser, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return f.decompress(file)
}

// decompress returns the contents of the file that r reads: r itself, or
// what it decompresses to for a compressed file. Closing the result
// closes r.
func (f TrailFile) decompress(r io.ReadCloser) (io.ReadCloser, error) {
	if !f.Compressed {
		return r, nil
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("audit: %s: %w", f.Path, compressedErr(err))
	}
	return &gzipFile{Reader: zr, f: r}, nil
}

// gzipFile closes the file under a gzip reader.
type gzipFile struct {
	*gzip.Reader
	f io.Closer
}

func (g *gzipFile) Read(p []byte) (int, error) {
	n, err := g.Reader.Read(p)
	if err != nil && err != io.EOF {
		err = compressedErr(err)
	}
	return n, err
}

func (g *gzipFile) Close() error {
	g.Reader.Close()
	return g.f.Close()
}

// ErrCompressedTruncated is wrapped by the error of reading a compressed
// file that ends before its compressed stream does: a file cut short.
var ErrCompressedTruncated = errors.New("audit: compressed file ends early (truncated)")

func compressedErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return ErrCompressedTruncated
	}
	return fmt.Errorf("audit: damaged compressed file: %w", err)
}

// lastLine returns the chain members of the last line of the file (the
// zero value when it is empty). A file whose last line is torn or not a
// record is an error.
func (f TrailFile) lastLine() (chainFields, error) {
	rc, err := f.Open()
	if err != nil {
		return chainFields{}, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	var last []byte
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 {
				return chainFields{}, fmt.Errorf("audit: %s: %s", f.Path, ProblemTruncated)
			}
			break
		}
		if err != nil {
			return chainFields{}, fmt.Errorf("audit: %s: %w", f.Path, err)
		}
		last = append(last[:0], line[:len(line)-1]...)
	}
	if last == nil {
		return chainFields{}, nil
	}
	fields, err := parseLine(last)
	if err != nil {
		return chainFields{}, fmt.Errorf("audit: %s: last record: %w", f.Path, err)
	}
	return fields, nil
}
