package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/paramstore/paramstore/internal/atomicfile"
)

// Rotation.
//
// The writer rotates the active file after a commit that left it at
// Config.MaxSize bytes or more, or older than Config.MaxAge: everything in
// it is durable then, and no line is partial. It renames the file to its
// rotated name (files.go), creates a new active file and fsyncs the
// directory; the next record continues the chain (sequence and
// previousHash) of the last record of the rotated file. A crash between
// the rename and the creation leaves no active file: Open then continues
// the chain of the newest rotated file.
//
// The rotator goroutine does the rest, away from the calls: it compresses
// each rotated file (into a temporary file, fsynced, renamed to the .gz
// name; then it removes the uncompressed one), paced to a quarter of a
// core (compressDuty), hands it to
// Config.OnRotate, and removes the oldest files beyond Config.Retain. It
// scans the directory each time, so the next start finishes whatever a
// crash interrupted.

// FilesRemovedEvent is the eventName of the record the sink writes, durably,
// before it removes a rotated file beyond Config.Retain: VerifyTrail accepts
// a trail whose first files are gone only if such a record accounts for
// them.
const FilesRemovedEvent = "AuditTrailFileRemoved"

// RemovedDetails are the serviceEventDetails of a FilesRemovedEvent record.
type RemovedDetails struct {
	File          string `json:"removedFile"`
	FirstSequence uint64 `json:"firstSequence"`
	LastSequence  uint64 `json:"lastSequence"`
	LastHash      string `json:"lastHash"`
}

// RotationStats counts what rotation did (for metrics).
type RotationStats struct {
	// Rotations is the number of rotations since Open.
	Rotations uint64
	// ShipFailures counts failed runs of Config.OnRotate.
	ShipFailures uint64
	// Files is the number of rotated files and Bytes the size of every
	// file of the trail, active included, at the rotator's last scan.
	Files int
	Bytes int64
	// PendingShip is the number of rotated files Config.OnRotate has not
	// taken yet.
	PendingShip int
}

type rotationStats struct {
	rotations, shipFailures atomic.Uint64
	files, pendingShip      atomic.Int64
	bytes                   atomic.Int64
}

// Rotation returns the rotation counters.
func (s *FileSink) Rotation() RotationStats {
	return RotationStats{
		Rotations:    s.stats.rotations.Load(),
		ShipFailures: s.stats.shipFailures.Load(),
		Files:        int(s.stats.files.Load()),
		Bytes:        s.stats.bytes.Load(),
		PendingShip:  int(s.stats.pendingShip.Load()),
	}
}

// startFile notes, before a record is appended, that the active file gets
// its first record.
func (w *writer) startFile() {
	s := w.s
	if s.fileFirstSeq != 0 {
		return
	}
	s.fileFirstSeq = s.seq + 1
	s.fileStart = s.clock.Now()
	if s.cfg.MaxAge > 0 {
		w.ageTimer = s.clock.After(s.cfg.MaxAge)
	}
}

// rotateDue reports whether the active file is due for rotation.
func (s *FileSink) rotateDue(now time.Time) bool {
	if s.size == 0 || s.noRotate || now.Before(s.rotateRetry) {
		return false
	}
	return (s.cfg.MaxSize > 0 && s.size >= s.cfg.MaxSize) ||
		(s.cfg.MaxAge > 0 && !s.fileStart.IsZero() && now.Sub(s.fileStart) >= s.cfg.MaxAge)
}

// maybeRotate rotates the active file if it is due. It runs after a
// successful commit, when every line of the file is complete and durable.
func (w *writer) maybeRotate() {
	s := w.s
	now := s.clock.Now()
	if !s.rotateDue(now) {
		return
	}
	if err := s.rotate(now); err != nil {
		s.rotateRetry = now.Add(s.cfg.RetryInterval)
		s.log.Error("audit: cannot rotate the trail; appending to the same file and trying again", logKeyPath, s.cfg.Path, logKeyErr, err)
		return
	}
	w.ageTimer = nil
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// rotate renames the active file to its rotated name and creates a new
// one. On an error the writer keeps appending to the file it has.
func (s *FileSink) rotate(now time.Time) error {
	name := rotatedName(s.cfg.Path, s.fileFirstSeq, now)
	if _, err := os.Lstat(name); err == nil {
		return fmt.Errorf("rotate: %s exists", name)
	}
	if err := os.Rename(s.cfg.Path, name); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	f, err := os.OpenFile(s.cfg.Path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		if rerr := os.Rename(name, s.cfg.Path); rerr != nil {
			// The open file is now the rotated one: keep appending to
			// it (its name says where it starts, the chain is whole)
			// and stop rotating; the rotator leaves it alone.
			s.noRotate = true
			s.stuck.Store(&name)
			return fmt.Errorf("rotate: create the new file: %v; and rename back: %w (the trail continues in %s; rotation stopped until a restart)",
				err, rerr, name)
		}
		return fmt.Errorf("rotate: create the new file: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(s.cfg.Path)); err != nil {
		// Either name is fine after a crash (Open handles both); the
		// next rotation syncs again.
		s.log.Warn("audit: rotate: sync directory", logKeyPath, s.cfg.Path, logKeyErr, err)
	}
	old := s.f
	s.f = f
	if s.wrapFile != nil {
		s.f = s.wrapFile(f)
	}
	if err := old.Close(); err != nil {
		s.log.Warn("audit: rotate: close the rotated file", logKeyPath, name, logKeyErr, err)
	}
	s.log.Info("audit: rotated the trail", logKeyPath, name, logKeyBytes, s.size, logKeyRecords, s.seq-s.fileFirstSeq+1)
	s.size, s.fileFirstSeq, s.fileStart = 0, 0, time.Time{}
	s.stats.rotations.Add(1)
	return nil
}

// resumeRotated continues the chain of the newest rotated file, for an
// active file that is empty.
func (s *FileSink) resumeRotated() error {
	files, err := ListFiles(s.cfg.Path)
	if err != nil {
		return err
	}
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if f.Active {
			continue
		}
		last, err := f.lastLine()
		if err != nil {
			return fmt.Errorf("continue the chain of the newest rotated file: %w (move it aside after checking it with paramstore audit verify)", err)
		}
		if last.Hash == "" {
			continue // an empty rotated file: look further back
		}
		s.seq, s.prev = last.Sequence, last.Hash
		return nil
	}
	return nil
}

// readFileStart reads the sequence and time of the active file's first
// record.
func (s *FileSink) readFileStart(f *os.File) error {
	br := bufio.NewReader(io.NewSectionReader(f, 0, s.size))
	line, err := br.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read the first record: %w", err)
	}
	var first struct {
		Sequence  uint64    `json:"sequence"`
		EventTime time.Time `json:"eventTime"`
	}
	if err := json.Unmarshal(line, &first); err != nil {
		return fmt.Errorf("read the first record: %w", err)
	}
	s.fileFirstSeq, s.fileStart = first.Sequence, first.EventTime
	return nil
}

// startRotator starts the rotator goroutine.
func (s *FileSink) startRotator() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopRotator = cancel
	s.rotatorWG.Add(1)
	go s.rotator(ctx)
}

// rotator compresses, ships and removes rotated files: at start (to finish
// what a crash interrupted), after each rotation, after a backoff while
// OnRotate fails, and when the oldest file reaches the retention age (an
// idle trail does not rotate, but its old files still go).
func (s *FileSink) rotator(ctx context.Context) {
	defer s.rotatorWG.Done()
	backoff := time.Duration(0)
	for {
		ok, expiry := s.housekeep(ctx)
		if s.afterHK != nil {
			s.afterHK()
		}
		wait := time.Duration(-1)
		if ok {
			backoff = 0
		} else {
			backoff = min(max(2*backoff, s.cfg.ShipRetryMin), s.cfg.ShipRetryMax)
			wait = backoff
		}
		if !expiry.IsZero() {
			if d := max(expiry.Sub(s.clock.Now()), retentionMinWait); wait < 0 || d < wait {
				wait = d
			}
		}
		var timer *time.Timer
		var timerC <-chan time.Time
		if wait >= 0 {
			timer = time.NewTimer(wait)
			timerC = timer.C
		}
		select {
		case <-ctx.Done():
		case <-s.kick:
		case <-timerC:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// retentionRetry is how long the rotator waits to try a removal that
// failed again (when no rotation wakes it sooner), and retentionMinWait
// its shortest wait for the next file to expire.
const (
	retentionRetry   = time.Minute
	retentionMinWait = 10 * time.Millisecond
)

// housekeep does one round of the rotator's work. It returns false when
// OnRotate failed (the round should be retried after a backoff), and the
// time the oldest kept file reaches the retention age (zero if none does).
func (s *FileSink) housekeep(ctx context.Context) (ok bool, expiry time.Time) {
	files, err := ListFiles(s.cfg.Path)
	if err != nil {
		s.log.Error("audit: list the trail's files", logKeyPath, s.cfg.Path, logKeyErr, err)
		return true, time.Time{}
	}
	stuck := s.stuck.Load()
	for _, f := range files {
		if f.Active || f.Compressed || (stuck != nil && f.Path == *stuck) {
			continue
		}
		if err := compress(ctx, f.Path, s.pace); err != nil {
			if ctx.Err() == nil {
				s.log.Error("audit: compress a rotated file", logKeyPath, f.Path, logKeyErr, err)
			}
			return true, time.Time{}
		}
	}
	if files, err = ListFiles(s.cfg.Path); err != nil {
		s.log.Error("audit: list the trail's files", logKeyPath, s.cfg.Path, logKeyErr, err)
		return true, time.Time{}
	}
	var rotated []TrailFile
	var total int64
	for _, f := range files {
		if fi, err := os.Stat(f.Path); err == nil {
			total += fi.Size()
		}
		if f.Compressed {
			rotated = append(rotated, f)
		}
	}
	s.stats.bytes.Store(total)
	ok = true
	shippedSeq := uint64(0) // every file up to this first sequence was shipped
	if s.cfg.OnRotate != "" {
		shippedSeq, ok = s.ship(ctx, rotated)
	} else if len(rotated) > 0 {
		shippedSeq = rotated[len(rotated)-1].FirstSequence
	}
	return ok, s.retain(ctx, rotated, shippedSeq)
}

// compress replaces the rotated file at path with path.gz, paced by p.
func compress(ctx context.Context, path string, p pacer) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	dst := path + ".gz"
	_ = atomicfile.RemoveTemps(dst)
	out, err := atomicfile.Create(dst, 0o600)
	if err != nil {
		return err
	}
	defer out.Cleanup()
	zw, err := gzip.NewWriterLevel(out, compressLevel)
	if err != nil {
		return err
	}
	buf := make([]byte, compressChunk)
	for eof := false; !eof; {
		err := p.run(ctx, func() error {
			n, err := io.ReadFull(in, buf)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				eof, err = true, nil
			}
			if err != nil {
				return err
			}
			_, err = zw.Write(buf[:n])
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(path))
}

// Compression is paced so that it never takes a core from the calls, and
// at gzip's fastest level: a read load at the HTTP ceiling writes about a
// kilobyte of trail per call, 10-15 MB/s, a 100 MiB file every 7-10 s, so
// the compression of rotated files runs most of the time. BestSpeed
// compressed a real trail at 200 MiB/s per core, 8x smaller, where the
// default level did 100 MiB/s, 9x smaller: half the CPU for files an
// eighth larger. The writer is github.com/klauspost/compress/gzip (the
// same gzip format, read back by compress/gzip): at BestSpeed it
// compressed 40 MB of a read load's trail at a median 345 MB/s of CPU
// against compress/gzip's 150, 8.3x smaller against 7.9x (2026-12-01,
// six alternating runs); under a sustained read load compression had been
// 8.6% of the server's CPU, about 4 µs per GetParameter. compress takes compressChunk at a time (about a third of
// a millisecond of work, so that it holds one of the process's Ps for no
// longer: on 2 cores a P held is half the server's parallelism) and then
// sleeps (compressDuty-1) times as long as the chunk took: at most a
// quarter of one core, about 50 MiB/s of trail.
const (
	compressChunk = 64 << 10
	compressLevel = gzip.BestSpeed
	compressDuty  = 4
)

// pacer runs pieces of work at most one part in duty of the time.
type pacer struct {
	duty  int
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// realPacer paces with the system clock.
func realPacer(duty int) pacer {
	return pacer{duty: duty, now: time.Now, sleep: func(ctx context.Context, d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}}
}

// run runs work, then sleeps (duty-1) times as long as it took; it
// returns work's error, or ctx's if ctx ended first. The zero pacer does
// not sleep.
func (p pacer) run(ctx context.Context, work func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.duty <= 1 {
		return work()
	}
	start := p.now()
	if err := work(); err != nil {
		return err
	}
	return p.sleep(ctx, time.Duration(p.duty-1)*p.now().Sub(start))
}

// shippedFile is the file that names the last rotated file OnRotate took.
func (s *FileSink) shippedFile() string { return s.cfg.Path + ".shipped" }

// ship runs OnRotate on each compressed rotated file after the last one it
// took, in order. It returns the first sequence of the last file shipped
// and false if a run failed.
func (s *FileSink) ship(ctx context.Context, rotated []TrailFile) (uint64, bool) {
	var done uint64
	if raw, err := os.ReadFile(s.shippedFile()); err == nil {
		name := strings.TrimSpace(string(raw))
		for _, f := range rotated {
			if filepath.Base(f.Path) == name {
				done = f.FirstSequence
			}
		}
		if done == 0 {
			// The file it names was removed by hand: what is older was
			// shipped (shipping goes in order).
			if m := parseRotated(filepath.Base(s.cfg.Path), name); m != nil {
				fmt.Sscan(m[1], &done)
			}
		}
	}
	pending := 0
	for _, f := range rotated {
		if f.FirstSequence > done {
			pending++
		}
	}
	s.stats.pendingShip.Store(int64(pending))
	for _, f := range rotated {
		if f.FirstSequence <= done {
			continue
		}
		if err := s.runOnRotate(ctx, f.Path); err != nil {
			if ctx.Err() == nil {
				s.stats.shipFailures.Add(1)
				s.log.Error("audit: --audit-on-rotate failed; retrying with backoff (the file is kept until it succeeds)",
					logKeyPath, f.Path, logKeyErr, err)
			}
			return done, false
		}
		done = f.FirstSequence
		pending--
		s.stats.pendingShip.Store(int64(pending))
		if err := atomicfile.WriteFile(s.shippedFile(), []byte(filepath.Base(f.Path)+"\n"), 0o600); err != nil {
			s.log.Error("audit: record the shipped file (it may be handed to --audit-on-rotate again)", logKeyPath, s.shippedFile(), logKeyErr, err)
		}
		s.log.Info("audit: rotated file handed to --audit-on-rotate", logKeyPath, f.Path)
	}
	return done, true
}

// runOnRotate runs the OnRotate command on path.
func (s *FileSink) runOnRotate(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShipTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", s.cfg.OnRotate, "sh", path)
	cmd.Env = append(os.Environ(), "PARAMSTORE_AUDIT_FILE="+path)
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if o := strings.TrimSpace(out.b.String()); o != "" {
			return fmt.Errorf("%w; output: %s", err, o)
		}
		return err
	}
	return nil
}

// limitedBuffer keeps the first 4 KiB written to it.
type limitedBuffer struct{ b bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// retain removes the oldest rotated files beyond Retain's count or age,
// only those whose first sequence is at most shippedSeq (taken by
// OnRotate), and from the oldest on, so the kept files always continue
// one another. Before removing a file it records, durably, which records
// go with it. It returns the time the oldest file it keeps, shipped,
// reaches Retain.Age (zero if none does).
func (s *FileSink) retain(ctx context.Context, rotated []TrailFile, shippedSeq uint64) time.Time {
	s.stats.files.Store(int64(len(rotated)))
	r := s.cfg.Retain
	for len(rotated) > 0 && rotated[0].FirstSequence <= shippedSeq {
		f := rotated[0]
		if !r.expired(f, len(rotated), s.clock.Now()) {
			if r.Age > 0 {
				return f.Rotated.Add(r.Age)
			}
			return time.Time{}
		}
		last, err := f.lastLine()
		if err != nil {
			s.log.Error("audit: not removing a rotated file that cannot be read; check it with paramstore audit verify", logKeyPath, f.Path, logKeyErr, err)
			return time.Time{}
		}
		rec := Record{EventName: FilesRemovedEvent, EventType: EventTypeService, ServiceEventDetails: &RemovedDetails{
			File: filepath.Base(f.Path), FirstSequence: f.FirstSequence, LastSequence: last.Sequence, LastHash: last.Hash,
		}}
		if err := s.Log(ctx, rec, Durable); err != nil {
			if ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				s.log.Error("audit: not removing a rotated file: its removal cannot be recorded", logKeyPath, f.Path, logKeyErr, err)
			}
			return s.clock.Now().Add(retentionRetry)
		}
		if err := os.Remove(f.Path); err != nil {
			s.log.Error("audit: remove a rotated file beyond --audit-retain", logKeyPath, f.Path, logKeyErr, err)
			return s.clock.Now().Add(retentionRetry)
		}
		if err := atomicfile.SyncDir(filepath.Dir(f.Path)); err != nil {
			s.log.Warn("audit: sync directory", logKeyPath, f.Path, logKeyErr, err)
		}
		s.log.Info("audit: removed a rotated file beyond --audit-retain", logKeyPath, f.Path)
		rotated = rotated[1:]
		s.stats.files.Store(int64(len(rotated)))
	}
	return time.Time{}
}
