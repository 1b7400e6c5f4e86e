package client

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxPageLine bounds one page (one line) of a change stream.
const maxPageLine = 64 << 20

// pageReader reads the pages of a change stream (stream=true: NDJSON, a
// page a line). A fleet of agents spends its CPU here, one page per change
// per agent: the server's own form of a page is parsed by hand
// (parseChangePage), anything else by encoding/json.
type pageReader struct {
	r    *bufio.Reader
	long []byte // a line longer than r's buffer
}

func newPageReader(r io.Reader) *pageReader {
	return &pageReader{r: bufio.NewReaderSize(r, 1024)}
}

// next decodes the next page into p (whose Changes it reuses); io.EOF at
// the end of the stream.
func (pr *pageReader) next(p *changePage) error {
	for {
		line, err := pr.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			pr.long = append(pr.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(pr.long) > maxPageLine {
					return fmt.Errorf("a page longer than %d bytes", maxPageLine)
				}
				line, err = pr.r.ReadSlice('\n')
				pr.long = append(pr.long, line...)
			}
			line = pr.long
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				return err // (io.EOF after the last page)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF // a page cut short
		}
		return decodeChangePage(line, p)
	}
}

// decodeChangePage decodes one page: its server's exact encoding by hand,
// anything else (escapes in names, other spacing or order, unknown members)
// by encoding/json, with the same result.
func decodeChangePage(b []byte, p *changePage) error {
	if parseChangePage(b, p) {
		return nil
	}
	*p = changePage{} // (json.Unmarshal into a fresh page)
	return json.Unmarshal(b, p)
}

// parseChangePage parses b when it is a page exactly as the server
// encodes it (encoding/json of service.ChangesOutput, then a newline):
//
//	{"Index":9,"Changes":[{"Name":"/a","Version":3,"Index":8},{"Name":"/b","Deleted":true,"Index":9}],"Reset":false}
//
// with names of printable ASCII without escapes. It reports false for
// anything else, leaving p to be decoded again.
func parseChangePage(b []byte, p *changePage) bool {
	s := scanner{b: bytes.TrimSuffix(b, []byte("\n"))}
	var ok bool
	if !s.lit(`{"Index":`) {
		return false
	}
	if p.Index, ok = s.uint(); !ok || !s.lit(`,"Changes":[`) {
		return false
	}
	p.Changes = p.Changes[:0]
	for first := true; !s.lit("]"); first = false {
		if !first && !s.lit(",") {
			return false
		}
		var ch struct {
			Name    string
			Version int64
			Deleted bool
			Index   uint64
		}
		if !s.lit(`{"Name":"`) {
			return false
		}
		if ch.Name, ok = s.plainString(); !ok {
			return false
		}
		if s.lit(`,"Version":`) {
			v, ok := s.uint()
			if !ok || v == 0 || v > 1<<63-1 { // (0 is omitted)
				return false
			}
			ch.Version = int64(v)
		}
		if s.lit(`,"Deleted":true`) {
			ch.Deleted = true
		}
		if !s.lit(`,"Index":`) {
			return false
		}
		if ch.Index, ok = s.uint(); !ok || !s.lit("}") {
			return false
		}
		p.Changes = append(p.Changes, ch)
	}
	switch {
	case s.lit(`,"Reset":false}`):
		p.Reset = false
	case s.lit(`,"Reset":true}`):
		p.Reset = true
	default:
		return false
	}
	return len(s.b) == 0
}

// scanner consumes a byte slice from the front.
type scanner struct{ b []byte }

func (s *scanner) lit(l string) bool {
	if len(s.b) < len(l) || string(s.b[:len(l)]) != l {
		return false
	}
	s.b = s.b[len(l):]
	return true
}

// uint parses a JSON unsigned integer that fits in 64 bits.
func (s *scanner) uint() (uint64, bool) {
	var v uint64
	i := 0
	for ; i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9'; i++ {
		d := uint64(s.b[i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if i == 0 || (i > 1 && s.b[0] == '0') {
		return 0, false
	}
	s.b = s.b[i:]
	return v, true
}

// plainString takes the rest of a string up to its closing quote when it
// is printable ASCII without escapes (what encoding/json copies as is).
func (s *scanner) plainString() (string, bool) {
	for i, c := range s.b {
		switch {
		case c == '"':
			str := string(s.b[:i])
			s.b = s.b[i+1:]
			return str, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return "", false
		}
	}
	return "", false
}
