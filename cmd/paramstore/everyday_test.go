package main

import (
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	lines := func(s string) []string { return strings.Split(s, "\n") }
	for _, tc := range []struct {
		name string
		a, b string
		want string
	}{
		{"equal", "a\nb", "a\nb", ""},
		{"change in the middle", "1\n2\n3\n4\n5\n6\n7\n8\n9", "1\n2\n3\n4\nfive\n6\n7\n8\n9",
			"--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
		{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12", "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve",
			"--- a\n+++ b\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+twelve\n"},
		{"added at the end", "x", "x\ny", "--- a\n+++ b\n@@ -1,1 +1,2 @@\n x\n+y\n"},
		{"from nothing", "", "x", "--- a\n+++ b\n@@ -1,1 +1,1 @@\n-\n+x\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unifiedDiff("a", "b", lines(tc.a), lines(tc.b)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestResolvedEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name, flag, ps, aws, want string
	}{
		{"default", "", "", "", defaultEndpoint},
		{"AWS_ENDPOINT_URL", "", "", "http://aws", "http://aws"},
		{"PARAMSTORE_ENDPOINT wins over AWS_ENDPOINT_URL", "", "http://ps", "http://aws", "http://ps"},
		{"flag wins", "http://flag", "http://ps", "http://aws", "http://flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PARAMSTORE_ENDPOINT", tc.ps)
			t.Setenv("AWS_ENDPOINT_URL", tc.aws)
			f := connFlags{endpoint: tc.flag}
			if got := f.resolvedEndpoint(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	if got := exitCode(usageError("x")); got != exitUsage {
		t.Errorf("usage: got %d, want %d", got, exitUsage)
	}
	if got := exitCode(nil); got != 0 {
		t.Errorf("nil: got %d", got)
	}
}
