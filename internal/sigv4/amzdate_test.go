package sigv4

import (
	"testing"
	"time"
)

// referenceAmzDate is what setDate accepted before parseAmzDate: time.Parse
// in timeFormat, and only a string that formats back the same.
func referenceAmzDate(s string) (time.Time, bool) {
	t, err := time.Parse(timeFormat, s)
	if err != nil || t.Format(timeFormat) != s {
		return time.Time{}, false
	}
	return t, true
}

var amzDateSeeds = []string{
	"20261130T161343Z", "20240229T235959Z", "20230229T000000Z", "20261301T000000Z", "20261100T000000Z",
	"20261130T240000Z", "20261130T236000Z", "20261130T235960Z", "00000101T000000Z", "99991231T235959Z",
	"2026113OT161343Z", "20261130t161343Z", "20261130T161343z", "20261130T161343", "20261130T1613430Z",
	"+0261130T161343Z", "-0261130T161343Z", "2026-11-30T16:13:43Z", "", "20261130T16134 Z",
}

// TestParseAmzDate: parseAmzDate accepts exactly what the time package
// did, with the same time; appendAmzDate writes what AppendFormat does.
func TestParseAmzDate(t *testing.T) {
	for _, s := range amzDateSeeds {
		checkAmzDate(t, s)
	}
	for _, tm := range []time.Time{time.Unix(0, 0), time.Date(2026, 11, 30, 16, 13, 43, 999999999, time.UTC),
		time.Date(2026, 3, 29, 2, 30, 0, 0, time.FixedZone("x", 3600+1800)), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, want := string(appendAmzDate(nil, tm)), tm.UTC().Format(timeFormat); got != want {
			t.Errorf("appendAmzDate(%v) = %q, want %q", tm, got, want)
		}
	}
}

func checkAmzDate(t *testing.T, s string) {
	t.Helper()
	got, ok := parseAmzDate(s)
	want, wantOK := referenceAmzDate(s)
	if ok != wantOK || !got.Equal(want) {
		t.Fatalf("parseAmzDate(%q) = %v, %v; the time package: %v, %v", s, got, ok, want, wantOK)
	}
	if ok && string(appendAmzDate(nil, got)) != s {
		t.Fatalf("appendAmzDate(parseAmzDate(%q)) = %q", s, appendAmzDate(nil, got))
	}
}

// FuzzParseAmzDate: X-Amz-Date is untrusted input.
func FuzzParseAmzDate(f *testing.F) {
	for _, s := range amzDateSeeds {
		f.Add(s)
	}
	f.Fuzz(checkAmzDate)
}
