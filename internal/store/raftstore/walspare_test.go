package raftstore

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// waitSpare waits for s's spare segment to be written.
func waitSpare(t *testing.T, s *walStore) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		s.spare.mu.Lock()
		ready := s.spare.ready
		s.spare.mu.Unlock()
		if ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the spare segment was not written within a minute")
		}
	}
}

// TestWALSpareSegments: segments after the first are made from the spare
// (written zeros), are as long as a preallocated one, hold every entry
// across a restart, and the spare a previous run left (here: garbage, as
// a crash in the middle of writing it could leave) is not used: the one a
// restart writes is zeros.
func TestWALSpareSegments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), walDir)
	s, err := openWAL(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	data := func(i uint64) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 24<<10) }
	const batch, batches = 16, 24 // 48 KiB entries: 18 MiB, three segments
	// store writes batches [from, to) of batch entries each, each when a
	// spare is ready.
	store := func(s *walStore, from, to uint64) {
		t.Helper()
		for b := from; b < to; b++ {
			waitSpare(t, s)
			logs := make([]*raft.Log, batch)
			for j := range logs {
				i := b*batch + uint64(j) + 1
				logs[j] = &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: data(i)}
			}
			if err := s.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
		}
	}
	store(s, 0, batches)
	if made := s.spare.made.Load(); made < 2 {
		t.Fatalf("%d segments made from the spare, want >= 2", made)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	if len(segs) < 3 {
		t.Fatalf("%d segments, want >= 3", len(segs))
	}
	for _, seg := range segs {
		if fi, err := os.Stat(seg); err != nil || fi.Size() < walSegmentSize {
			t.Fatalf("%s: %v, %v; want at least %d bytes", seg, fi, err, walSegmentSize)
		}
	}
	check := func(s *walStore, step string) {
		t.Helper()
		last, err := s.LastIndex()
		if err != nil || last != batch*batches {
			t.Fatalf("%s: last index %d, %v", step, last, err)
		}
		for i := uint64(1); i <= last; i++ {
			var l raft.Log
			if err := s.GetLog(i, &l); err != nil || !bytes.Equal(l.Data, data(i)) {
				t.Fatalf("%s: entry %d: %v", step, i, err)
			}
		}
	}
	check(s, "before the restart")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte{0xa5}, walSegmentSize)
	for _, name := range []string{spareSegmentFile, spareSegmentTemp} {
		if err := os.WriteFile(filepath.Join(dir, name), garbage, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err = openWAL(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s, "after the restart")
	waitSpare(t, s)
	got, err := os.ReadFile(filepath.Join(dir, spareSegmentFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != walSegmentSize || !bytes.Equal(got, make([]byte, walSegmentSize)) {
		t.Fatalf("the spare after a restart: %d bytes, not all zeros", len(got))
	}
	if _, err := os.Stat(filepath.Join(dir, spareSegmentTemp)); !os.IsNotExist(err) {
		t.Fatalf("%s left: %v", spareSegmentTemp, err)
	}
	// The next segment comes from it and holds what is stored in it.
	made := s.spare.made.Load()
	store(s, batches, batches+12)
	if s.spare.made.Load() == made {
		t.Fatal("no segment made from the spare written after the restart")
	}
	for i := uint64(1); i <= (batches+12)*batch; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil || !bytes.Equal(l.Data, data(i)) {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}

// TestWALSpareFailure: a spare that cannot be written (here a directory
// is where its temporary file goes, and openWAL cannot remove it) leaves
// the log on raft-wal's preallocated segments, working.
func TestWALSpareFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), walDir)
	if err := os.MkdirAll(filepath.Join(dir, spareSegmentTemp, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := openWAL(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte{7}, 48<<10)
	for i := uint64(1); i <= 400; i += 16 {
		logs := make([]*raft.Log, 16)
		for j := range logs {
			logs[j] = &raft.Log{Index: i + uint64(j), Term: 1, Type: raft.LogCommand, Data: data}
		}
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.wal")); len(segs) < 3 || s.spare.made.Load() != 0 {
		t.Fatalf("%d segments, %d from a spare; want >= 3, none", len(segs), s.spare.made.Load())
	}
	for i := uint64(1); i <= 400; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil || !bytes.Equal(l.Data, data) {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}

// TestWALSpareKill: a process killed (SIGKILL) while its tail segment is
// one made from the spare loses no entry StoreLogs acknowledged: the next
// open reads them all (raft-wal recovers the tail by a scan of its frames,
// which end at the spare's zeros), and appends after them.
func TestWALSpareKill(t *testing.T) {
	if dir := os.Getenv("PARAMSTORE_WAL_KILL_CHILD"); dir != "" {
		walKillChild(t, dir)
		return
	}
	dir := filepath.Join(t.TempDir(), walDir)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestWALSpareKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PARAMSTORE_WAL_KILL_CHILD="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL\n%s%s", err, out, stderr.Bytes())
	}
	var acked, made uint64
	for _, line := range strings.Split(string(out), "\n") {
		fmt.Sscanf(line, "acked %d made %d", &acked, &made)
	}
	if acked == 0 || made < 2 {
		t.Fatalf("child acknowledged up to %d with %d segments from the spare; want both > 0, >= 2\n%s", acked, made, out)
	}
	s, err := openWAL(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	last, err := s.LastIndex()
	if err != nil || last < acked {
		t.Fatalf("last index %d, %v after the kill; %d were acknowledged", last, err, acked)
	}
	for i := uint64(1); i <= last; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil || !bytes.Equal(l.Data, walKillData(i)) {
			t.Fatalf("entry %d of %d (acknowledged %d): %v", i, last, acked, err)
		}
	}
	logs := []*raft.Log{{Index: last + 1, Term: 1, Type: raft.LogCommand, Data: walKillData(last + 1)}}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatalf("append after the kill: %v", err)
	}
}

func walKillData(i uint64) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8), 0x5a}, 16<<10) }

// walKillChild appends batches until two segments came from the spare,
// then a few more, saying each acknowledged index, and kills itself.
func walKillChild(t *testing.T, dir string) {
	s, err := openWAL(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	index, extra := uint64(1), 0
	for extra < 5 {
		waitSpare(t, s)
		logs := make([]*raft.Log, 16)
		for j := range logs {
			logs[j] = &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: walKillData(index)}
			index++
		}
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		made := s.spare.made.Load()
		fmt.Printf("acked %d made %d\n", index-1, made)
		if made >= 2 {
			extra++
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestWALRotationCutByCrash: a crash after the append that sealed the
// tail segment and before raft-wal recorded the rotation in its meta file
// (it does so in the background) leaves the meta file listing the sealed
// segment as the tail. Opened again, the WAL takes appends after it (the
// rotation is recorded at the open), and keeps every entry; raft-wal alone
// refused every append from then on ("segment is sealed"), which left a
// node that had been killed at that moment unable to write after its
// restart (make crash, TestCrashRecovery).
func TestWALRotationCutByCrash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), walDir)
	s, err := openWAL(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	data := func(i uint64) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 24<<10) }
	const batch = 16
	segments := func() []types.SegmentInfo {
		st, err := s.meta.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		return st.Segments
	}
	var last uint64
	for b := 0; len(segments()) < 2; b++ {
		if b > 40 {
			t.Fatal("no rotation after 40 batches of 768 KiB")
		}
		waitSpare(t, s)
		logs := make([]*raft.Log, batch)
		for j := range logs {
			last++
			logs[j] = &raft.Log{Index: last, Term: 1, Type: raft.LogCommand, Data: data(last)}
		}
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		// The rotation runs in the background after the append that sealed.
		for range 200 {
			if len(segments()) >= 2 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The meta file as the crash left it: the sealed segment still the
	// tail, the next one neither recorded nor made.
	meta := &metadb.BoltMetaDB{}
	st, err := meta.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Segments) != 2 || st.Segments[1].BaseIndex != last+1 {
		t.Fatalf("segments %+v after %d entries: want the sealed one and an empty tail", st.Segments, last)
	}
	next := st.Segments[1]
	sealed := &st.Segments[0]
	sealed.SealTime, sealed.MaxIndex, sealed.IndexStart = time.Time{}, 0, 0
	st.Segments = st.Segments[:1]
	st.NextSegmentID = next.ID
	if err := meta.CommitState(st); err != nil {
		t.Fatal(err)
	}
	meta.Close()
	if err := os.Remove(filepath.Join(dir, segment.FileName(next))); err != nil {
		t.Fatal(err)
	}

	s, err = openWAL(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.LastIndex(); err != nil || got != last {
		t.Fatalf("last index %d, %v after the open; want %d", got, err, last)
	}
	last++
	if err := s.StoreLogs([]*raft.Log{{Index: last, Term: 1, Type: raft.LogCommand, Data: data(last)}}); err != nil {
		t.Fatalf("append after the open: %v", err)
	}
	if s.reopens.Load() != 0 {
		t.Fatalf("the append needed %d reopens", s.reopens.Load())
	}
	// Every entry reads back, and again after one more close and open
	// (the segment sealed at the open is read by a scan of its file).
	for round := range 2 {
		for i := uint64(1); i <= last; i++ {
			var l raft.Log
			if err := s.GetLog(i, &l); err != nil || !bytes.Equal(l.Data, data(i)) {
				t.Fatalf("open %d: entry %d: %v (data intact: %v)", round+1, i, err, bytes.Equal(l.Data, data(i)))
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			if s, err = openWAL(dir, hclog.NewNullLogger()); err != nil {
				t.Fatal(err)
			}
		}
	}
}
