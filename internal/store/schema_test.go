package store

import (
	"bytes"
	"testing"
)

// TestKeyLayout pins the keys of head and version records: the files of
// older versions hold them so.
func TestKeyLayout(t *testing.T) {
	if got, want := paramKey("123:us-east-1", "/a/b"), []byte("123:us-east-1\x00/a/b"); !bytes.Equal(got, want) {
		t.Errorf("paramKey: %q, want %q", got, want)
	}
	if got, want := versionPrefix("123:us-east-1", "/a/b"), []byte("123:us-east-1\x00/a/b\x00"); !bytes.Equal(got, want) {
		t.Errorf("versionPrefix: %q, want %q", got, want)
	}
	if got, want := versionKey("123:us-east-1", "/a/b", 258), []byte("123:us-east-1\x00/a/b\x00\x00\x00\x00\x00\x00\x00\x01\x02"); !bytes.Equal(got, want) {
		t.Errorf("versionKey: %q, want %q", got, want)
	}
	if k := versionKey("t", "/n", 1); !bytes.HasPrefix(k, versionPrefix("t", "/n")) || len(k) != cap(k) {
		t.Errorf("versionKey %q: not under its prefix, or not sized exactly (cap %d)", k, cap(k))
	}
}
