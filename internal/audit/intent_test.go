package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestIntentRoundTrip: an intent encoded for the raft log is redacted (no
// plaintext value), and LogIntent writes it with its raft index, chained
// and verifiable, as an AwsApiCallIntent record.
func TestIntentRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := openTest(t, path, Options{})
	rec := testRecord("PutParameter", "req-1")
	rec.ReadOnly = false
	rec.RequestParameters = json.RawMessage(`{"Name":"/app/db","Value":"s3cr3t-plaintext","Type":"SecureString"}`)
	body, err := s.EncodeIntent(rec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), "s3cr3t-plaintext") {
		t.Fatalf("the intent for the raft log holds the plaintext value: %s", body)
	}
	if err := s.LogIntent(body, 42); err != nil {
		t.Fatal(err)
	}
	if err := s.LogIntent([]byte("not a record"), 43); err == nil {
		t.Fatal("LogIntent took a body that is not a record")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyFile(path); err != nil {
		t.Fatalf("VerifyFile: %v", err)
	}
	var got Record
	if err := json.Unmarshal([]byte(strings.TrimSpace(readFile(t, path))), &got); err != nil {
		t.Fatal(err)
	}
	if got.EventType != EventTypeIntent || got.RaftIndex != 42 || got.Sequence != 1 || got.RequestID != "req-1" {
		t.Fatalf("record: type %q, raftIndex %d, sequence %d, requestID %q", got.EventType, got.RaftIndex, got.Sequence, got.RequestID)
	}
}

// TestIntentIndexes: the indexes above a bound of the intents at the end
// of a trail, read back to the first intent at or below it, across more
// than one read chunk; a member named raftIndex inside a request does not
// count, nor does a record that is not an intent; a missing file has none.
func TestIntentIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := openTest(t, path, Options{})
	ctx := context.Background()
	big := strings.Repeat("x", 100<<10)
	for i := uint64(1); i <= 30; i++ {
		rec := testRecord("PutParameter", fmt.Sprintf("req-%d", i))
		rec.RequestParameters = json.RawMessage(fmt.Sprintf(`{"Name":"/p","Description":%q,"raftIndex":%d,"eventType":"AwsApiCallIntent"}`, big, 1000+i))
		body, err := s.EncodeIntent(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.LogIntent(body, i); err != nil {
			t.Fatal(err)
		}
		// Results and reads in between, one of them forging the members.
		if err := s.Log(ctx, rec, Applied); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after uint64
		want  []uint64
	}{{30, nil}, {27, []uint64{28, 29, 30}}, {0, nil}} {
		got, err := IntentIndexes(path, tc.after)
		if err != nil {
			t.Fatal(err)
		}
		want := tc.want
		if tc.after == 0 {
			for i := uint64(1); i <= 30; i++ {
				want = append(want, i)
			}
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
			t.Fatalf("IntentIndexes(after %d) = %v, want %v", tc.after, keys, want)
		}
	}
	got, err := IntentIndexes(filepath.Join(t.TempDir(), "missing"), 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("missing file: %v, %v", got, err)
	}
	// A torn last line (a crash mid-write) is skipped.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"eventType":"AwsApiCallIntent","raftIndex":99`)
	f.Close()
	if got, err := IntentIndexes(path, 29); err != nil || !slices.Equal(slices.Sorted(maps.Keys(got)), []uint64{30}) {
		t.Fatalf("with a torn last line: %v, %v", got, err)
	}
}

// FuzzIntentIndexes: any trail content gives an answer or an error, never
// a panic, and only indexes above the bound.
func FuzzIntentIndexes(f *testing.F) {
	f.Add([]byte(`{"eventType":"AwsApiCallIntent","raftIndex":7,"sequence":1}`+"\n"), uint64(3))
	f.Add([]byte("\n\n{\"eventType\":\"AwsApiCallIntent\",\"raftIndex\":2}\n{\"eventType\":\"AwsApiCallIntent\",\"raftIndex\":9"), uint64(1))
	f.Add([]byte(`{"requestParameters":{"eventType":"AwsApiCallIntent","raftIndex":5}}`), uint64(0))
	f.Fuzz(func(t *testing.T, content []byte, after uint64) {
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := IntentIndexes(path, after)
		if err != nil {
			return
		}
		for idx := range got {
			if idx <= after {
				t.Fatalf("index %d at or below %d", idx, after)
			}
		}
	})
}

// TestIntentIndexesRotated: intents the trail rotated out of its active
// file still count (a crash after a rotation made the state machine apply
// their entries again: reading only the active file appended them twice),
// read back through the compressed files to the first intent at or below
// the bound; a damaged rotated file ends the search without an error.
func TestIntentIndexesRotated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	s, rounds := rotating(t, dir, Config{MaxSize: 4 << 10})
	const n = 40
	for i := uint64(1); i <= n; i++ {
		body, err := s.EncodeIntent(testRecord("PutParameter", fmt.Sprintf("req-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.LogIntent(body, i); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, rounds, "compressed rotated files", settled(t, dir, 0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := ListFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("%d trail files, want at least 3 rotated ones", len(files))
	}
	span := func(from uint64) []uint64 {
		var s []uint64
		for i := from; i <= n; i++ {
			s = append(s, i)
		}
		return s
	}
	for _, after := range []uint64{n - 1, n - 20, 3, 0} {
		got, err := IntentIndexes(path, after)
		if err != nil {
			t.Fatal(err)
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, span(after+1)) {
			t.Fatalf("IntentIndexes(after %d) = %v, want %v", after, keys, span(after+1))
		}
	}
	// A file rotated more than rotatedWindow before the newest one is not
	// read: the oldest, renamed as if rotated two minutes earlier.
	oldest := files[0]
	renamed := rotatedName(path, oldest.FirstSequence, oldest.Rotated.Add(-2*time.Minute)) + ".gz"
	if err := os.Rename(oldest.Path, renamed); err != nil {
		t.Fatal(err)
	}
	got, err := IntentIndexes(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || len(got) >= n || !got[n] {
		t.Fatalf("with the oldest file out of the window: %d intents (%v), want those of the other files", len(got), slices.Sorted(maps.Keys(got)))
	}
	if err := os.Rename(renamed, oldest.Path); err != nil {
		t.Fatal(err)
	}
	// Damage the oldest rotated file: the files after it still count.
	if err := os.WriteFile(oldest.Path, []byte("not gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err = IntentIndexes(path, 0)
	if err != nil {
		t.Fatalf("a damaged rotated file: %v", err)
	}
	if len(got) == 0 || len(got) >= n || !got[n] {
		t.Fatalf("with the oldest file damaged: %d intents (%v), want those of the other files", len(got), slices.Sorted(maps.Keys(got)))
	}
}
