package client

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// samePage compares pages, a nil Changes as an empty one.
func samePage(a, b changePage) bool {
	if len(a.Changes) == 0 && len(b.Changes) == 0 {
		a.Changes, b.Changes = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// TestParseChangePage: the server's own pages take the hand parser and
// decode as encoding/json decodes them; other forms are left to
// encoding/json, with its result.
func TestParseChangePage(t *testing.T) {
	for _, line := range []string{
		`{"Index":9,"Changes":[],"Reset":false}`,
		`{"Index":0,"Changes":[],"Reset":true}`,
		`{"Index":18446744073709551615,"Changes":[{"Name":"/a/b","Version":3,"Index":8},{"Name":"/b","Deleted":true,"Index":9}],"Reset":false}`,
	} {
		var p changePage
		if !parseChangePage([]byte(line+"\n"), &p) {
			t.Errorf("%s: not parsed by hand", line)
		}
		var want changePage
		json.Unmarshal([]byte(line), &want)
		if !samePage(p, want) {
			t.Errorf("%s: parsed %+v, encoding/json %+v", line, p, want)
		}
	}
	for _, line := range []string{
		`{"Index":9,"Changes":[{"Name":"/a\u003cb","Index":8}],"Reset":false}`, // an escape
		`{"Index": 9,"Changes":[],"Reset":false}`,                              // spacing
		`{"Changes":[],"Index":9,"Reset":false}`,                               // order
		`{"Index":9,"Changes":[],"Reset":false,"More":1}`,                      // a new member
		`{"Index":9,"Changes":null,"Reset":false}`,
		`{"Index":18446744073709551616,"Changes":[],"Reset":false}`, // overflow
		`{"Index":09,"Changes":[],"Reset":false}`,
		`{"Index":9,"Changes":[{"Name":"/a","Version":-1,"Index":8}],"Reset":false}`,
		`{"Index":9,"Changes":[],"Reset":false}x`,
	} {
		var p changePage
		if parseChangePage([]byte(line), &p) {
			t.Errorf("%s: parsed by hand", line)
		}
		var got, want changePage
		errGot := decodeChangePage([]byte(line), &got)
		errWant := json.Unmarshal([]byte(line), &want)
		if (errGot == nil) != (errWant == nil) || !samePage(got, want) {
			t.Errorf("%s: decoded %+v (%v), encoding/json %+v (%v)", line, got, errGot, want, errWant)
		}
	}
}

// TestPageReader: pages a line, blank lines skipped, a line longer than
// the buffer, and a last page cut short.
func TestPageReader(t *testing.T) {
	long := strings.Repeat("x", 5000)
	in := `{"Index":1,"Changes":[],"Reset":false}` + "\n\n" +
		`{"Index":2,"Changes":[{"Name":"/` + long + `","Version":1,"Index":2}],"Reset":false}` + "\n" +
		`{"Index":3,"Cha`
	pr := newPageReader(strings.NewReader(in))
	var p changePage
	if err := pr.next(&p); err != nil || p.Index != 1 {
		t.Fatalf("page 1: %+v, %v", p, err)
	}
	if err := pr.next(&p); err != nil || p.Index != 2 || len(p.Changes) != 1 || p.Changes[0].Name != "/"+long {
		t.Fatalf("page 2: index %d, %d changes, %v", p.Index, len(p.Changes), err)
	}
	if err := pr.next(&p); err != io.ErrUnexpectedEOF {
		t.Fatalf("a cut page: %v, want io.ErrUnexpectedEOF", err)
	}
	pr = newPageReader(strings.NewReader(`{"Index":1,"Changes":[],"Reset":false}` + "\n"))
	pr.next(&p)
	if err := pr.next(&p); err != io.EOF {
		t.Fatalf("the end: %v, want io.EOF", err)
	}
}

// FuzzParseChangePage: whatever the hand parser accepts, encoding/json
// decodes to the same page; whatever it refuses is decoded by encoding/json.
func FuzzParseChangePage(f *testing.F) {
	f.Add([]byte(`{"Index":18446744073709551615,"Changes":[{"Name":"/a/b","Version":3,"Index":8},{"Name":"/b","Deleted":true,"Index":9}],"Reset":false}` + "\n"))
	f.Add([]byte(`{"Index":9,"Changes":[],"Reset":true}`))
	f.Add([]byte(`{"Index":9,"Changes":[{"Name":"/a\u003cb","Index":8}],"Reset":false}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p changePage
		hand := parseChangePage(b, &p)
		var want changePage
		err := json.Unmarshal(b, &want)
		if hand && (err != nil || !samePage(p, want)) {
			t.Fatalf("%q: parsed %+v, encoding/json %+v (%v)", b, p, want, err)
		}
		var got changePage
		if errGot := decodeChangePage(b, &got); (errGot == nil) != (err == nil) || (err == nil && !samePage(got, want)) {
			t.Fatalf("%q: decoded %+v (%v), encoding/json %+v (%v)", b, got, errGot, want, err)
		}
	})
}

// FuzzPageReader: a stream read through pageReader, whole or a byte at a
// time, gives the pages of its lines (blank ones skipped) decoded as
// decodeChangePage decodes each line alone, stopping with an error at the
// first line that does not decode, with io.ErrUnexpectedEOF at a last line
// without its newline, and with io.EOF at the end.
func FuzzPageReader(f *testing.F) {
	f.Add([]byte(`{"Index":1,"Changes":[],"Reset":false}`+"\n\n"+`{"Index":2,"Changes":[{"Name":"/`+strings.Repeat("x", 1500)+`","Version":1,"Index":2}],"Reset":false}`+"\n"), false)
	f.Add([]byte(`{"Index":3,"Changes":[{"Name":"/a","Deleted":true,"Index":3}],"Reset":true}`+"\n  \n"+`{"Index":4,"Cha`), true)
	f.Add([]byte("{\"Index\":5,\"Changes\":[],\"Reset\":false}\r\n{}\n"), true)
	f.Fuzz(func(t *testing.T, stream []byte, oneByte bool) {
		var r io.Reader = bytes.NewReader(stream)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		pr := newPageReader(r)
		lines := bytes.SplitAfter(stream, []byte("\n"))
		for i, line := range lines {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var got changePage
			err := pr.next(&got)
			if !bytes.HasSuffix(line, []byte("\n")) {
				if err != io.ErrUnexpectedEOF {
					t.Fatalf("line %d cut short: %v, want io.ErrUnexpectedEOF", i, err)
				}
				return
			}
			var want changePage
			errWant := decodeChangePage(line, &want)
			if (err == nil) != (errWant == nil) || (err == nil && !samePage(got, want)) {
				t.Fatalf("line %d %q: read %+v (%v), decoded alone %+v (%v)", i, line, got, err, want, errWant)
			}
			if err != nil {
				return
			}
		}
		var p changePage
		if err := pr.next(&p); err != io.EOF {
			t.Fatalf("the end: %v, want io.EOF", err)
		}
	})
}

// BenchmarkDecodeChangePage compares the hand parser with encoding/json on
// a typical page (one change).
func BenchmarkDecodeChangePage(b *testing.B) {
	line := []byte(`{"Index":123456,"Changes":[{"Name":"/fleet/probe/42","Version":3,"Index":123456}],"Reset":false}` + "\n")
	b.Run("hand", func(b *testing.B) {
		var p changePage
		for b.Loop() {
			if err := decodeChangePage(line, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var p changePage
			if err := json.Unmarshal(line, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
