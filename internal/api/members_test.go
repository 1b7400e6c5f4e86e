package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestRepeatedMember(t *testing.T) {
	many := func(extra string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range 40 {
			fmt.Fprintf(&b, `"K%d":%d,`, i, i)
		}
		b.WriteString(extra + `"Last":1}`)
		return b.String()
	}
	tests := []struct {
		body string
		want bool
	}{
		{`{"Name":"/a","WithDecryption":true}`, false},
		{`{"Name":"/a","Name":"/b"}`, true},
		{`{"Name":"/harmless","name":"/prod/secret"}`, true},
		{`{"NAME":"/a","nAmE":"/b"}`, true},
		{`{"Name":"/a","\u006eame":"/b"}`, true},          // escaped spelling
		{`{"Name":"/a","\u004e\u0061me":"/b"}`, true},     // fully escaped
		{`{"Name":"/a","N\u0061m\u0065s":["/b"]}`, false}, // escaped, but another name
		{`{"Tags":[{"Key":"k","Value":"v"},{"Key":"k2","Value":"v2"}]}`, false},
		{`{"Tags":[{"Key":"k","key":"v"}]}`, true}, // in a nested object
		{`{"A":{"Name":"x"},"Name":"y"}`, false},   // different objects
		{`{"A":{"B":{"C":1}},"a":2}`, true},
		{`{"A":[1,{"x":1},"s"],"B":{"A":1}}`, false},
		{`{"S":"a,\"b\":1,\"S\":2","T":1}`, false}, // look-alike inside a string value
		{`{"Name":"/a","Value":"{\"Name\":1}"}`, false},
		{`["Name","Name"]`, false},
		{`"Name"`, false},
		{`{}`, false},
		{many(""), false},
		{many(`"k3":1,`), true}, // past the fast path's 16 names
		{many(`"\u004b39":1,`), true},
	}
	for _, tt := range tests {
		if got := repeatedMember([]byte(tt.body)); got != tt.want {
			t.Errorf("repeatedMember(%s) = %v, want %v", tt.body, got, tt.want)
		}
		if got := repeatedMemberSlow([]byte(tt.body)); got != tt.want {
			t.Errorf("repeatedMemberSlow(%s) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

// FuzzRepeatedMember checks the fast scanner against the decoder-based
// one on any valid JSON.
func FuzzRepeatedMember(f *testing.F) {
	for _, s := range []string{`{"Name":"/a","name":"/b"}`, `{"A":[{"b":1,"B":2}]}`, `{"a\u0041":1,"AA":2}`, `[{"x":"}"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		if fast, slow := repeatedMember(b), repeatedMemberSlow(b); fast != slow {
			t.Fatalf("repeatedMember(%q) = %v, repeatedMemberSlow = %v", b, fast, slow)
		}
	})
}

func BenchmarkRepeatedMember(b *testing.B) {
	body := []byte(`{"Name":"/bench/p1","WithDecryption":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if repeatedMember(body) {
			b.Fatal("repeated")
		}
	}
}
