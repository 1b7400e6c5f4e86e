package jsonenc

import (
	"encoding/json"
	"testing"
)

// FuzzAppendString checks AppendString against encoding/json on any
// string (request names and values are the caller's bytes).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "<a>&", "\u2028\u2029", "\x00\x1f\x7f", "\xff\xfe", "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendString(%q) = %s, want x%s", s, got, want)
		}
	})
}
