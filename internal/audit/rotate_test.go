package audit

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rotating opens a sink on dir/audit.log that rotates every maxSize bytes,
// with a real clock. It returns the sink and a channel that receives after
// each round of the rotator.
func rotating(t *testing.T, dir string, cfg Config) (*FileSink, <-chan struct{}) {
	t.Helper()
	cfg.Path = filepath.Join(dir, "audit.log")
	if cfg.FlushInterval == 0 {
		d := DefaultConfig()
		cfg.FlushInterval, cfg.RetryInterval, cfg.QueueSize, cfg.MaxBatch, cfg.MaxBacklog = d.FlushInterval, d.RetryInterval, d.QueueSize, d.MaxBatch, d.MaxBacklog
		cfg.ShipRetryMin, cfg.ShipRetryMax, cfg.ShipTimeout = time.Millisecond, 10*time.Millisecond, time.Minute
	}
	rounds := make(chan struct{}, 1000)
	s, err := Open(cfg, Options{HMACKey: testKey, Logger: testLogger(t), afterHousekeep: func() {
		select {
		case rounds <- struct{}{}:
		default:
		}
	}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, rounds
}

// waitFor waits, round by round of the rotator, until cond holds. Its
// deadline is generous: a round compresses every rotated file with two
// fsyncs each, and a fresh-clone CI run on a machine whose disk was shared
// with other test suites took over a minute for the 30 files of
// TestRetentionRecordsRemovals.
func waitFor(t *testing.T, rounds <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for !cond() {
		select {
		case <-rounds:
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// settled reports whether every rotated file of the trail in dir is
// compressed and at most retain of them are kept (retain 0: any number).
func settled(t *testing.T, dir string, retain int) func() bool {
	return func() bool {
		files, err := ListFiles(filepath.Join(dir, "audit.log"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range files {
			if !f.Active {
				if !f.Compressed {
					return false
				}
				n++
			}
		}
		return retain == 0 || n <= retain
	}
}

func logN(t *testing.T, s *FileSink, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Log(context.Background(), testRecord("PutParameter", fmt.Sprint("req-", i)), Durable); err != nil {
			t.Fatalf("Log %d: %v", i, err)
		}
	}
}

func TestRotateBySizeKeepsOneChain(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{MaxSize: 4 << 10}
	s, rounds := rotating(t, dir, cfg)
	logN(t, s, 0, 200)
	waitFor(t, rounds, "compressed rotated files", settled(t, dir, 0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := ListFiles(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("%d files after 200 records of ~600 bytes with 4 KiB files, want many", len(files))
	}
	rep, err := VerifyTrail(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatalf("VerifyTrail: %v", err)
	}
	if rep.Records != 200 || rep.FirstSequence != 1 || rep.LastSequence != 200 || len(rep.Files) != len(files) {
		t.Errorf("report: %d records, sequence %d-%d, %d files; want 200, 1-200, %d", rep.Records, rep.FirstSequence, rep.LastSequence, len(rep.Files), len(files))
	}
	if got := s.Rotation().Rotations; int(got) != len(files)-1 {
		t.Errorf("Rotations = %d, want %d", got, len(files)-1)
	}
	// Each rotated file ends near MaxSize: rotation happens at a commit.
	for _, f := range rep.Files[:len(rep.Files)-1] {
		if f.FirstSequence == 0 || f.LastSequence < f.FirstSequence {
			t.Errorf("%s: records %d-%d", f.Path, f.FirstSequence, f.LastSequence)
		}
	}
	// The sink opened again continues the chain in the same active file.
	s2, _ := rotating(t, dir, cfg)
	logN(t, s2, 200, 1)
	s2.Close()
	if rep, err := VerifyTrail(filepath.Join(dir, "audit.log")); err != nil || rep.LastSequence != 201 {
		t.Fatalf("after reopening: %d records to sequence %d, %v; want to 201", rep.Records, rep.LastSequence, err)
	}
}

func TestRetentionRecordsRemovals(t *testing.T) {
	dir := t.TempDir()
	s, rounds := rotating(t, dir, Config{MaxSize: 4 << 10, Retain: Retention{Files: 2}})
	logN(t, s, 0, 200)
	waitFor(t, rounds, "retention", settled(t, dir, 2))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyTrail(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatalf("VerifyTrail: %v", err)
	}
	if len(rep.Files) != 3 {
		t.Errorf("%d files, want 2 rotated and the active one", len(rep.Files))
	}
	if rep.FirstSequence <= 1 || len(rep.Removed) == 0 {
		t.Fatalf("trail starts at %d with %d removal records; want later than 1, accounted for", rep.FirstSequence, len(rep.Removed))
	}
	// Removing the removal records' evidence is caught: the remaining
	// first file, deleted by hand, leaves a gap nothing accounts for.
	if err := os.Remove(rep.Files[0].Path); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyTrail(filepath.Join(dir, "audit.log"))
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Problem != ProblemMissing {
		t.Fatalf("VerifyTrail after deleting the oldest kept file = %v, want %s", err, ProblemMissing)
	}
}

func TestVerifyTrailDamage(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, files []TrailFile)
		want   Problem
	}{
		{name: "deleted middle file", want: ProblemMissing, damage: func(t *testing.T, f []TrailFile) {
			must(t, os.Remove(f[2].Path))
		}},
		{name: "truncated compressed file", want: ProblemTruncated, damage: func(t *testing.T, f []TrailFile) {
			fi, err := os.Stat(f[1].Path)
			must(t, err)
			must(t, os.Truncate(f[1].Path, fi.Size()/2))
		}},
		{name: "swapped names", want: ProblemOrder, damage: func(t *testing.T, f []TrailFile) {
			tmp := f[1].Path + ".x"
			must(t, os.Rename(f[1].Path, tmp))
			must(t, os.Rename(f[2].Path, f[1].Path))
			must(t, os.Rename(tmp, f[2].Path))
		}},
		{name: "deleted first file", want: ProblemMissing, damage: func(t *testing.T, f []TrailFile) {
			must(t, os.Remove(f[0].Path))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, rounds := rotating(t, dir, Config{MaxSize: 4 << 10})
			logN(t, s, 0, 100)
			waitFor(t, rounds, "compression", settled(t, dir, 0))
			must(t, s.Close())
			files, err := ListFiles(filepath.Join(dir, "audit.log"))
			must(t, err)
			if len(files) < 4 {
				t.Fatalf("%d files, want at least 4", len(files))
			}
			tt.damage(t, files)
			_, err = VerifyTrail(filepath.Join(dir, "audit.log"))
			var ce *ChainError
			if !errors.As(err, &ce) || ce.Problem != tt.want {
				t.Fatalf("VerifyTrail = %v, want %s", err, tt.want)
			}
			t.Logf("reported: %v", err)
		})
	}
}

// TestRotationCrashStates opens trails as a crash in the middle of a
// rotation leaves them: the chain continues, nothing is lost, and the
// rotator finishes the work.
func TestRotationCrashStates(t *testing.T) {
	tests := []struct {
		name  string
		crash func(t *testing.T, active string, first uint64)
	}{
		{name: "renamed, no new active file", crash: func(t *testing.T, active string, first uint64) {
			must(t, os.Rename(active, rotatedName(active, first, time.Now())))
		}},
		{name: "renamed, compressed, original not removed", crash: func(t *testing.T, active string, first uint64) {
			name := rotatedName(active, first, time.Now())
			must(t, os.Rename(active, name))
			raw, err := os.ReadFile(name)
			must(t, err)
			must(t, os.WriteFile(name+".x", raw, 0o600))
			must(t, compress(context.Background(), name+".x", pacer{}))
			must(t, os.Rename(name+".x.gz", name+".gz"))
		}},
		{name: "renamed, compression half written", crash: func(t *testing.T, active string, first uint64) {
			name := rotatedName(active, first, time.Now())
			must(t, os.Rename(active, name))
			must(t, os.WriteFile(filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".gz.tmp-123"), []byte("\x1f\x8bpartial"), 0o600))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			active := filepath.Join(dir, "audit.log")
			s, rounds := rotating(t, dir, Config{MaxSize: 4 << 10})
			logN(t, s, 0, 50)
			waitFor(t, rounds, "compression", settled(t, dir, 0))
			must(t, s.Close())
			files, err := ListFiles(active)
			must(t, err)
			rep, err := VerifyTrail(active)
			must(t, err)
			last := rep.Files[len(rep.Files)-1]
			if !files[len(files)-1].Active || last.Records == 0 {
				t.Fatalf("want a non-empty active file to rotate by hand")
			}
			tt.crash(t, active, last.FirstSequence)

			s, rounds = rotating(t, dir, Config{MaxSize: 4 << 10})
			logN(t, s, 50, 10)
			waitFor(t, rounds, "compression", settled(t, dir, 0))
			must(t, s.Close())
			rep, err = VerifyTrail(active)
			if err != nil {
				t.Fatalf("VerifyTrail after the crash: %v", err)
			}
			if rep.Records != 60 || rep.LastSequence != 60 {
				t.Errorf("%d records to sequence %d, want 60", rep.Records, rep.LastSequence)
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
			if len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

func TestRotateByAge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	clock := newFakeClock()
	cfg := DefaultConfig()
	cfg.Path, cfg.MaxAge = path, time.Hour
	s, err := Open(cfg, Options{HMACKey: testKey, Logger: testLogger(t), Clock: clock})
	must(t, err)
	logN(t, s, 0, 3)
	clock.mu.Lock()
	clock.now = clock.now.Add(time.Hour)
	clock.mu.Unlock()
	clock.fire() // the age timer, among others
	must(t, s.Flush(context.Background()))
	logN(t, s, 3, 1)
	must(t, s.Close())
	rep, err := VerifyTrail(path)
	must(t, err)
	if len(rep.Files) != 2 || rep.Files[0].LastSequence != 3 || rep.Files[1].FirstSequence != 4 {
		t.Fatalf("files %+v, want records 1-3 rotated by age and 4 in the active file", rep.Files)
	}
}

func TestOnRotateRetriesAndKeepsFiles(t *testing.T) {
	dir := t.TempDir()
	out := t.TempDir()
	counter := filepath.Join(out, "attempts")
	// Fails its first three runs, then copies the file to out.
	cmd := fmt.Sprintf(`n=$(cat %[1]s 2>/dev/null || echo 0); echo $((n+1)) > %[1]s; [ "$n" -ge 3 ] || { echo "upload refused ($n)" >&2; exit 1; }; cp "$1" %[2]s/`, counter, out)
	s, rounds := rotating(t, dir, Config{MaxSize: 4 << 10, Retain: Retention{Files: 1}, OnRotate: cmd})
	logN(t, s, 0, 60)
	shipped := func() bool {
		got, _ := filepath.Glob(filepath.Join(out, "audit.log.*.gz"))
		return s.Rotation().PendingShip == 0 && len(got) >= 3 && settled(t, dir, 1)()
	}
	waitFor(t, rounds, "every rotated file shipped", shipped)
	must(t, s.Close())
	if f := s.Rotation().ShipFailures; f != 3 {
		t.Errorf("ShipFailures = %d, want 3", f)
	}
	got, _ := filepath.Glob(filepath.Join(out, "audit.log.*.gz"))
	rep, err := VerifyTrail(filepath.Join(dir, "audit.log"))
	must(t, err)
	// Every rotated file reached the command, in order from the first
	// (which failed three times): those still here, and those removed by
	// retention, which only removes shipped files.
	for _, f := range rep.Files {
		if _, err := os.Stat(filepath.Join(out, filepath.Base(f.Path))); filepath.Base(f.Path) != "audit.log" && err != nil {
			t.Errorf("kept rotated file %s was not shipped: %v", f.Path, err)
		}
	}
	first, _ := filepath.Glob(filepath.Join(out, "audit.log.00000000000000000001-*.gz"))
	if len(first) != 1 {
		t.Errorf("the first rotated file (the one that failed three times) shipped %d times, want once", len(first))
	}
	if len(got) < len(rep.Files)-1+len(rep.Removed) || len(rep.Removed) == 0 {
		t.Errorf("%d files shipped, want at least %d kept + %d removed (and some removed)", len(got), len(rep.Files)-1, len(rep.Removed))
	}
	marker, err := os.ReadFile(filepath.Join(dir, "audit.log.shipped"))
	must(t, err)
	if !strings.HasPrefix(string(marker), "audit.log.") {
		t.Errorf("shipped marker %q", marker)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzVerifyTrail: audit verify reads files from anywhere. Whatever bytes a
// rotated file (compressed or not) and the active file hold, VerifyTrail
// returns a report or an error, and never panics.
//
// The fuzzer hands the bytes to verifyFiles, which VerifyTrail runs on the
// files ListFiles found, from memory: the file system adds nothing that
// depends on the input, and writing, compressing and listing files cost
// ten times the check itself (TestVerifyFilesInMemory shows both ways
// agree).
func FuzzVerifyTrail(f *testing.F) {
	for _, seed := range verifyTrailSeeds(f) {
		f.Add(seed.rotated, seed.active, seed.compress)
	}
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	f.Fuzz(func(t *testing.T, rotated, active []byte, compress bool) {
		if compress {
			zbuf.Reset()
			zw.Reset(&zbuf)
			zw.Write(rotated)
			zw.Close()
			rotated = zbuf.Bytes()
		}
		files, open := memTrail(rotated, active, compress)
		rep, err := verifyFiles(files, open)
		if err == nil && rep.Records > 0 && rep.LastHash == ZeroHash {
			t.Fatalf("%d records verified with a zero last hash", rep.Records)
		}
	})
}

type verifyTrailSeed struct {
	rotated, active []byte
	compress        bool
}

// verifyTrailSeeds are a three-record trail split across a rotated file
// and the active file in two ways, and garbage.
func verifyTrailSeeds(tb testing.TB) []verifyTrailSeed {
	var seed []byte
	prev := ZeroHash
	for i := range 3 {
		rec := testRecord("GetParameter", fmt.Sprint("r", i))
		rec.EventVersion, rec.EventSource, rec.EventType, rec.EventTime, rec.EventID = EventVersion, EventSource, EventType, time.Unix(1, 0), fmt.Sprint("e", i)
		body, err := encodeBody(testKey, &rec)
		if err != nil {
			tb.Fatal(err)
		}
		seed, prev = appendChained(seed, body, uint64(i+1), prev)
	}
	lines := strings.SplitAfter(string(seed), "\n")
	return []verifyTrailSeed{
		{[]byte(lines[0]), []byte(lines[1] + lines[2]), true},
		{[]byte(lines[0] + lines[1]), []byte(lines[2]), false},
		{[]byte("\x1f\x8b\x08\x00garbage"), []byte("{}\n"), false},
	}
}

// memTrailPath is the trail memTrail describes; nothing is on disk there.
const memTrailPath = "/nonexistent/audit.log"

// memTrail returns the files ListFiles lists for a trail of one rotated
// file (already compressed if compressed) and the active file, and an
// opener that reads their contents from memory as TrailFile.Open does
// from disk.
func memTrail(rotated, active []byte, compressed bool) ([]TrailFile, func(TrailFile) (io.ReadCloser, error)) {
	old := TrailFile{Path: rotatedName(memTrailPath, 1, time.Unix(0, 0)), FirstSequence: 1, Rotated: time.Unix(0, 0).UTC(), Compressed: compressed}
	if compressed {
		old.Path += ".gz"
	}
	files := []TrailFile{old, {Path: memTrailPath, Active: true}}
	open := func(f TrailFile) (io.ReadCloser, error) {
		b := active
		if !f.Active {
			b = rotated
		}
		return f.decompress(io.NopCloser(bytes.NewReader(b)))
	}
	return files, open
}

// TestVerifyFilesInMemory: what FuzzVerifyTrail checks from memory is what
// VerifyTrail finds on disk, for the fuzzer's seeds and cut variants of
// them: the same files listed, the same report and the same error.
func TestVerifyFilesInMemory(t *testing.T) {
	var cases []verifyTrailSeed
	for _, s := range verifyTrailSeeds(t) {
		cases = append(cases, s,
			verifyTrailSeed{s.rotated[:len(s.rotated)/2], s.active, s.compress},
			verifyTrailSeed{s.rotated, s.active[:len(s.active)-1], s.compress},
			verifyTrailSeed{s.active, s.rotated, s.compress})
	}
	for i, c := range cases {
		dir := t.TempDir()
		path := filepath.Join(dir, "audit.log")
		name := rotatedName(path, 1, time.Unix(0, 0))
		if err := os.WriteFile(name, c.rotated, 0o600); err != nil {
			t.Fatal(err)
		}
		rotated := c.rotated
		if c.compress {
			if err := compress(context.Background(), name, pacer{}); err != nil {
				t.Fatal(err)
			}
			var err error
			if rotated, err = os.ReadFile(name + ".gz"); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(path, c.active, 0o600); err != nil {
			t.Fatal(err)
		}
		disk, derr := VerifyTrail(path)
		listed, err := ListFiles(path)
		if err != nil {
			t.Fatal(err)
		}
		files, open := memTrail(rotated, c.active, c.compress)
		mem, merr := verifyFiles(files, open)
		for j := range listed {
			listed[j].Path = strings.Replace(listed[j].Path, path, memTrailPath, 1)
		}
		if fmt.Sprint(listed) != fmt.Sprint(files) {
			t.Errorf("case %d: ListFiles %v, memTrail %v", i, listed, files)
		}
		for j := range disk.Files {
			disk.Files[j].Path = strings.Replace(disk.Files[j].Path, path, memTrailPath, 1)
		}
		if fmt.Sprintf("%+v %v", disk, derr) != fmt.Sprintf("%+v %v", mem, merr) {
			t.Errorf("case %d:\non disk   %+v %v\nin memory %+v %v", i, disk, derr, mem, merr)
		}
	}
}

func TestActivePath(t *testing.T) {
	for in, want := range map[string]string{
		"/d/audit.log": "/d/audit.log",
		"/d/audit.log.00000000000000000001-20261130T140503Z.gz":   "/d/audit.log",
		"/d/audit.log.00000000000000000001-20261130T140503Z":      "/d/audit.log",
		"/d/trail.jsonl.00000000000000004097-20261130T140503Z.gz": "/d/trail.jsonl",
		"/d/audit.log.torn-20261130T112502.191159415Z":            "/d/audit.log.torn-20261130T112502.191159415Z",
		"/d/audit.log.1-20261130T140503Z.gz":                      "/d/audit.log.1-20261130T140503Z.gz",
	} {
		if got := ActivePath(in); got != want {
			t.Errorf("ActivePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLookupReadsRotatedFiles: the console's reader (Lookup over Files)
// walks the rotated, compressed files too, newest first, and pages across
// file boundaries without losing or repeating a call.
func TestLookupReadsRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	s, rounds := rotating(t, dir, Config{MaxSize: 4 << 10})
	logN(t, s, 0, 120)
	waitFor(t, rounds, "compressed rotated files", settled(t, dir, 0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := Files(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	compressed := 0
	for _, f := range files {
		if f.Compressed {
			compressed++
		}
	}
	if compressed < 2 {
		t.Fatalf("%d compressed files of %d, want several", compressed, len(files))
	}
	var all []Event
	token := ""
	for page := 0; page < 100; page++ {
		evs, next, err := Lookup(files, Query{Max: 7, After: token})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
		if next == "" {
			break
		}
		token = next
	}
	if len(all) != 120 {
		t.Fatalf("Lookup over %d files found %d calls, want 120", len(files), len(all))
	}
	seen := map[string]bool{}
	for i, e := range all {
		if seen[e.EventID] {
			t.Errorf("call %s listed twice", e.EventID)
		}
		seen[e.EventID] = true
		if i > 0 && e.Time.After(all[i-1].Time) {
			t.Errorf("event %d is newer than the one before it", i)
		}
	}
}

// TestCompressPaced: compression sleeps three times as long as each chunk
// took (a quarter of a core at most), the compressed file is the original,
// and a stop during a pause leaves the rotated file whole and no
// compressed file (the next start compresses it again). The pacer's clock
// is fake: each chunk "takes" 10ms.
func TestCompressPaced(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "audit.log.00000000000000000001-20261130T000000Z")
	raw := bytes.Repeat([]byte(`{"eventName":"GetParameter","sequence":1}`+"\n"), (3*compressChunk)/40)
	must(t, os.WriteFile(name, raw, 0o600))
	clock := time.Unix(0, 0)
	var sleeps []time.Duration
	p := pacer{duty: compressDuty,
		now: func() time.Time { clock = clock.Add(5 * time.Millisecond); return clock },
		sleep: func(ctx context.Context, d time.Duration) error {
			sleeps = append(sleeps, d)
			return nil
		}}
	must(t, compress(context.Background(), name, p))
	chunks := (len(raw) + compressChunk - 1) / compressChunk
	if len(sleeps) != chunks {
		t.Errorf("%d pauses for %d chunks of %d bytes", len(sleeps), chunks, len(raw))
	}
	for _, d := range sleeps {
		if d != 3*5*time.Millisecond {
			t.Errorf("paused %v after 5ms of work, want 15ms (a quarter of a core)", d)
		}
	}
	gz, err := os.ReadFile(name + ".gz")
	must(t, err)
	// gzip's header says the level in XFL (byte 8): 4 is the fastest.
	if len(gz) < 10 || gz[8] != 4 {
		t.Errorf("gzip header % x: XFL is not 4 (BestSpeed): compressed at a slower level", gz[:min(len(gz), 10)])
	}
	f := TrailFile{Path: name + ".gz", Compressed: true}
	rc, err := f.Open()
	must(t, err)
	got, err := io.ReadAll(rc)
	rc.Close()
	must(t, err)
	if !bytes.Equal(got, raw) {
		t.Fatalf("decompressed %d bytes, want the %d of the original", len(got), len(raw))
	}
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Errorf("the uncompressed file is still there: %v", err)
	}

	// Stopped during the second pause.
	name2 := filepath.Join(dir, "audit.log.00000000000000000100-20261130T000001Z")
	must(t, os.WriteFile(name2, raw, 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	pauses := 0
	p.sleep = func(ctx context.Context, d time.Duration) error {
		if pauses++; pauses == 2 {
			cancel()
			return ctx.Err()
		}
		return nil
	}
	if err := compress(ctx, name2, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("compress stopped during a pause = %v, want context.Canceled", err)
	}
	if left, err := os.ReadFile(name2); err != nil || !bytes.Equal(left, raw) {
		t.Errorf("the rotated file after a stopped compression: %d bytes, %v; want it whole", len(left), err)
	}
	if gz, _ := filepath.Glob(name2 + ".gz*"); len(gz) != 0 {
		t.Errorf("a stopped compression left %v", gz)
	}
}
