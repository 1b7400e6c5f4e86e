package bundle

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func sample() *Bundle {
	return &Bundle{
		Created: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
		Source:  "http://127.0.0.1:4583",
		Paths:   []string{"/app"},
		Parameters: []Parameter{
			{Name: "/app/db/password", Type: "SecureString", Value: "SECRET-MARKER-42", Version: 3},
			{Name: "/app/url", Type: "String", Value: "https://x", Version: 1},
			{Name: "/app/db/hosts", Type: "StringList", Value: "a,b", Version: 2},
		},
	}
}

func TestSealParse(t *testing.T) {
	data, err := Seal(sample(), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("SECRET-MARKER-42")) || bytes.Contains(data, []byte("SecureString")) {
		t.Fatal("sealed bundle holds plaintext")
	}
	b, err := Parse(data, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Parameters) != 3 || b.Source != "http://127.0.0.1:4583" || !b.Created.Equal(sample().Created) {
		t.Fatalf("got %+v", b)
	}
}

func TestParseRefuses(t *testing.T) {
	data, err := Seal(sample(), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
		key  []byte
		want error
	}{
		{"wrong key", data, testKey(2), ErrAuth},
		{"truncated by one byte", data[:len(data)-1], testKey(1), ErrAuth},
		{"truncated to half", data[:len(data)/2], testKey(1), ErrAuth},
		{"truncated header", data[:10], testKey(1), ErrNotBundle},
		{"bit flipped", flipped, testKey(1), ErrAuth},
		{"not a bundle", []byte("{\"parameters\":[]}------------------------------------"), testKey(1), ErrNotBundle},
		{"empty", nil, testKey(1), ErrNotBundle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse(tc.data, tc.key)
			if !errors.Is(err, tc.want) || b != nil {
				t.Fatalf("got %v, %v; want %v and no bundle", b, err, tc.want)
			}
		})
	}
	if _, err := Parse(data, []byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

func TestOpenWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.bundle")
	if err := Write(p, sample(), testKey(7)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := Open(p, testKey(8)); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong key: got %v, want ErrAuth", err)
	}
	if _, err := Open(p, testKey(7)); err != nil {
		t.Fatal(err)
	}
}

func TestSet(t *testing.T) {
	old := sample()
	newer := &Bundle{Created: old.Created.Add(time.Hour), Parameters: []Parameter{{Name: "/app/url", Type: "String", Value: "https://new", Version: 2}}}
	s := NewSet(old, newer)
	if s.Len() != 3 {
		t.Fatalf("Len %d, want 3", s.Len())
	}
	p, created, ok := s.Lookup("/app/url")
	if !ok || p.Value != "https://new" || !created.Equal(newer.Created) {
		t.Fatalf("got %+v %v %v, want the newest bundle's value", p, created, ok)
	}
	if _, _, ok := s.Lookup("/app/url:2"); !ok {
		t.Error("/app/url:2 not found")
	}
	if _, _, ok := s.Lookup("/app/url:1"); ok {
		t.Error("/app/url:1 found; only version 2 is bundled")
	}
	if _, _, ok := s.Lookup("arn:aws:ssm:us-east-1:123456789012:parameter/app/url"); !ok {
		t.Error("ARN not found")
	}
	ps, _ := s.ByPath("/app", false)
	if len(ps) != 1 || ps[0].Name != "/app/url" {
		t.Errorf("ByPath non-recursive: %+v", ps)
	}
	ps, _ = s.ByPath("/app/", true)
	if len(ps) != 3 {
		t.Errorf("ByPath recursive: %d, want 3", len(ps))
	}
}

// FuzzParse feeds arbitrary bytes, and mutations of a valid bundle, to
// Parse: it must never panic and never return a bundle together with an
// error.
func FuzzParse(f *testing.F) {
	key := testKey(3)
	data, err := Seal(sample(), key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)-1])
	f.Add([]byte(Magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Parse(in, key)
		if (b == nil) == (err == nil) {
			t.Fatalf("Parse returned bundle %v and error %v", b, err)
		}
	})
}

// FuzzPayload seals arbitrary payloads, so the fuzzer reaches the JSON
// decoding and validation behind the GCM check: Parse must not panic, and
// what it accepts must hold unique, well-typed names.
func FuzzPayload(f *testing.F) {
	key := testKey(4)
	gcm, err := newGCM(key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"created":"2026-11-30T12:00:00Z","source":"s","paths":["/a"],"parameters":[{"name":"/a/b","type":"String","value":"v","version":1}]}`))
	f.Add([]byte(`{"created":"2026-11-30T12:00:00Z","parameters":[{"name":"/a","type":"String"},{"name":"/a","type":"String"}]}`))
	f.Add([]byte(`{"created":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, plain []byte) {
		data, err := sealRaw(gcm, append([]byte(nil), plain...))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(data, key)
		if (b == nil) == (err == nil) {
			t.Fatalf("Parse returned bundle %v and error %v", b, err)
		}
		if b == nil {
			return
		}
		if b.Created.IsZero() {
			t.Fatal("accepted a bundle with no creation time")
		}
		seen := map[string]bool{}
		for _, p := range b.Parameters {
			if seen[p.Name] || p.Name == "" {
				t.Fatalf("accepted name %q twice or empty", p.Name)
			}
			seen[p.Name] = true
		}
	})
}
