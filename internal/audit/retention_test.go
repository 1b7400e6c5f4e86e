package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	const day = 24 * time.Hour
	for in, want := range map[string]Retention{
		"30":       {Files: 30},
		"0":        {},
		"90d":      {Age: 90 * day},
		"720h":     {Age: 720 * time.Hour},
		"1w":       {Age: 7 * day},
		"30,90d":   {Files: 30, Age: 90 * day},
		"90d, 30":  {Files: 30, Age: 90 * day},
		"1d12h":    {Age: 36 * time.Hour},
		"8,0d":     {Files: 8},
		" 12 ":     {Files: 12},
		"0,30d":    {Age: 30 * day},
		"2,1h30m":  {Files: 2, Age: 90 * time.Minute},
		"100,365d": {Files: 100, Age: 365 * day},
	} {
		got, err := ParseRetention(in)
		if err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %+v, %v; want %+v", in, got, err, want)
			continue
		}
		// String gives back a value that parses to the same.
		if again, err := ParseRetention(got.String()); err != nil || again != got {
			t.Errorf("ParseRetention(%q.String() = %q) = %+v, %v", in, got.String(), again, err)
		}
	}
	for _, in := range []string{"", "-1", "30d,90d", "3,4", "thirty", "30x", "1.5h", "-2h", "30,", ",30d", "30 days"} {
		if got, err := ParseRetention(in); err == nil {
			t.Errorf("ParseRetention(%q) = %+v, want an error", in, got)
		}
	}
}

// rotatedTrail writes a trail of n rotated, compressed files and an
// active file in dir, with a real sink, and returns its rotated files.
func rotatedTrail(t *testing.T, dir string, n int) []TrailFile {
	t.Helper()
	s, rounds := rotating(t, dir, Config{MaxSize: 2 << 10})
	// A rotation follows the commit of the record that filled the file,
	// and a file holds a few records: this stops at n.
	for i := 0; s.Rotation().Rotations < uint64(n); i++ {
		logN(t, s, i, 1)
	}
	waitFor(t, rounds, "compressed rotated files", settled(t, dir, 0))
	must(t, s.Close())
	files := rotatedFiles(t, dir)
	if len(files) != n {
		t.Fatalf("%d rotated files, want %d", len(files), n)
	}
	return files
}

// retaining opens the trail in dir again with retention r (and no
// rotation: the records of the removals do not make new files).
func retaining(t *testing.T, dir string, r Retention, onRotate string) (*FileSink, <-chan struct{}) {
	return rotating(t, dir, Config{Retain: r, OnRotate: onRotate})
}

func rotatedFiles(t *testing.T, dir string) []TrailFile {
	t.Helper()
	files, err := ListFiles(filepath.Join(dir, "audit.log"))
	must(t, err)
	return slices.DeleteFunc(files, func(f TrailFile) bool { return f.Active })
}

// backdate renames the rotated file f as if it had been rotated at t and
// returns its new name.
func backdate(tb testing.TB, f TrailFile, at time.Time) string {
	tb.Helper()
	name := rotatedName(ActivePath(f.Path), f.FirstSequence, at) + ".gz"
	if err := os.Rename(f.Path, name); err != nil {
		tb.Fatal(err)
	}
	return filepath.Base(name)
}

// TestRetentionByAge: rotated files older than --audit-retain's age are
// removed, the oldest first, each removal recorded in the trail; younger
// files stay; with a count too, a file goes when either limit says so. The
// files are real (written by a sink), their rotation time the one in their
// name, which is what the age is measured from.
func TestRetentionByAge(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name   string
		retain Retention
		// ages of the rotated files, oldest first (0: as rotated, now)
		ages []time.Duration
		// removed is how many of the oldest go
		removed int
	}{
		{"age", Retention{Age: 30 * day}, []time.Duration{40 * day, 39 * day, 31 * day, 29 * day, 0, 0}, 3},
		{"age in hours", Retention{Age: 2 * time.Hour}, []time.Duration{3 * time.Hour, 90 * time.Minute, 0, 0, 0, 0}, 1},
		{"count and age, age removes more", Retention{Files: 5, Age: 30 * day}, []time.Duration{40 * day, 39 * day, 31 * day, 0, 0, 0}, 3},
		{"count and age, count removes more", Retention{Files: 2, Age: 30 * day}, []time.Duration{40 * day, 0, 0, 0, 0, 0}, 4},
		{"nothing old", Retention{Age: 30 * day}, []time.Duration{0, 0, 0, 0, 0, 0}, 0},
		// The clock went back between rotations: a younger file before
		// an older one stops the removals, which go from the oldest file
		// on so that the kept files continue one another.
		{"older file after a younger one", Retention{Age: 30 * day}, []time.Duration{40 * day, 10 * day, 40 * day, 0, 0, 0}, 1},
		{"keep all", Retention{}, []time.Duration{400 * day, 400 * day, 0, 0, 0, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := rotatedTrail(t, dir, len(tt.ages))
			now := time.Now()
			var names []string
			for i, f := range files {
				if tt.ages[i] == 0 {
					names = append(names, filepath.Base(f.Path))
				} else {
					names = append(names, backdate(t, f, now.Add(-tt.ages[i])))
				}
			}
			s, rounds := retaining(t, dir, tt.retain, "")
			// The rotator's first round removes whatever retention
			// removes.
			select {
			case <-rounds:
			case <-time.After(time.Minute):
				t.Fatal("no round of the rotator")
			}
			must(t, s.Close())

			var kept []string
			for _, f := range rotatedFiles(t, dir) {
				kept = append(kept, filepath.Base(f.Path))
			}
			if want := names[tt.removed:]; !slices.Equal(kept, want) {
				t.Errorf("kept %v, want %v", kept, want)
			}
			rep, err := VerifyTrail(filepath.Join(dir, "audit.log"))
			if err != nil {
				t.Fatalf("VerifyTrail: %v", err)
			}
			var removed []string
			for _, r := range rep.Removed {
				removed = append(removed, r.File)
			}
			if want := names[:tt.removed]; !slices.Equal(removed, want) {
				t.Errorf("removal records for %v, want %v", removed, want)
			}
			t.Logf("--audit-retain %s: removed %d of %d rotated files, trail verifies from sequence %d", tt.retain, len(removed), len(files), rep.FirstSequence)
		})
	}
}

// TestRetentionByAgeWaitsForShipping: a file past the age is not removed
// while --audit-on-rotate has not taken it; once the command succeeds,
// it is shipped, then removed.
func TestRetentionByAgeWaitsForShipping(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	files := rotatedTrail(t, dir, 3)
	var names []string
	for i, f := range files {
		names = append(names, backdate(t, f, time.Now().Add(-time.Duration(100-i)*time.Hour)))
	}
	gate := filepath.Join(out, "gate")
	cmd := fmt.Sprintf(`[ -e %s ] || { echo "bucket unreachable" >&2; exit 1; }; cp "$1" %s/`, gate, out)
	s, rounds := retaining(t, dir, Retention{Age: time.Hour}, cmd)
	waitFor(t, rounds, "failed runs of the command", func() bool { return s.Rotation().ShipFailures >= 3 })
	if got := len(rotatedFiles(t, dir)); got != len(files) {
		t.Fatalf("%d of %d files past the age kept while the command fails; retention removed unshipped files", got, len(files))
	}
	must(t, os.WriteFile(gate, nil, 0o600))
	waitFor(t, rounds, "shipping and retention", func() bool { return len(rotatedFiles(t, dir)) == 0 })
	must(t, s.Close())
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(out, n)); err != nil {
			t.Errorf("%s removed by retention but never shipped: %v", n, err)
		}
	}
	rep, err := VerifyTrail(filepath.Join(dir, "audit.log"))
	must(t, err)
	if len(rep.Removed) != len(names) {
		t.Errorf("%d removal records, want %d", len(rep.Removed), len(names))
	}
}

// TestRetentionByAgeIdleTrail: a trail that nothing writes to (no
// rotation wakes the rotator) still loses its files as they reach the
// age.
func TestRetentionByAgeIdleTrail(t *testing.T) {
	dir := t.TempDir()
	files := rotatedTrail(t, dir, 2)
	const age = time.Hour
	// The newest file reaches the age two seconds from now; the older one
	// is past it already.
	backdate(t, files[0], time.Now().Add(-2*age))
	young := backdate(t, files[1], time.Now().Add(-age+2*time.Second))
	s, rounds := retaining(t, dir, Retention{Age: age}, "")
	waitFor(t, rounds, "the old file removed", func() bool { return len(rotatedFiles(t, dir)) <= 1 })
	if left := rotatedFiles(t, dir); len(left) != 1 || filepath.Base(left[0].Path) != young {
		t.Fatalf("files %v, want only %s, not yet at the age", left, young)
	}
	waitFor(t, rounds, "the newest file removed at its age", func() bool { return len(rotatedFiles(t, dir)) == 0 })
	must(t, s.Close())
	if _, err := VerifyTrail(filepath.Join(dir, "audit.log")); err != nil {
		t.Fatalf("VerifyTrail: %v", err)
	}
}
