package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Log attribute keys.
const (
	logKeyPath    = "path"
	logKeyErr     = "err"
	logKeyBytes   = "bytes"
	logKeyDropped = "dropped"
)

// ErrClosed is returned by Log after Close.
var ErrClosed = errors.New("audit: sink closed")

// Durability says when Log returns.
type Durability int

const (
	// Buffered returns once the record is queued. The record is kept in
	// memory, then written in order and fsynced with the next durable
	// batch, by the next FlushInterval at the latest, or by Close. Use it
	// for reads.
	Buffered Durability = iota
	// Durable returns once the record has been written and fsynced. Use
	// it for calls that change state.
	Durable
)

// Sink records audit events.
//
// Log is safe for concurrent use. Records reach the trail in the order in
// which their Log calls queued them. If ctx ends while Log waits, Log
// returns ctx.Err(), but a record that was already queued is still
// written. After Close, Log returns ErrClosed; every record queued before
// Close is written and fsynced before Close returns.
type Sink interface {
	Log(ctx context.Context, rec Record, d Durability) error
	Close() error
}

var _ Sink = (*FileSink)(nil)

// Clock tells the sink the time. Tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After is like time.After.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config configures a FileSink.
type Config struct {
	// Path is the trail file. It is created with mode 0600 if missing and
	// appended to otherwise.
	Path string
	// FlushInterval bounds how long a Buffered record may wait for its
	// fsync.
	FlushInterval time.Duration
	// QueueSize is how many records may wait for the writer before Log
	// blocks.
	QueueSize int
	// MaxBatch is the most records written and fsynced together.
	MaxBatch int
}

// DefaultConfig returns the defaults, with an empty Path.
func DefaultConfig() Config {
	return Config{
		FlushInterval: 50 * time.Millisecond,
		QueueSize:     4096,
		MaxBatch:      1024,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return errors.New("audit: Config.Path is empty")
	case c.FlushInterval <= 0:
		return fmt.Errorf("audit: Config.FlushInterval %v must be positive", c.FlushInterval)
	case c.QueueSize < 1:
		return fmt.Errorf("audit: Config.QueueSize %d must be at least 1", c.QueueSize)
	case c.MaxBatch < 1:
		return fmt.Errorf("audit: Config.MaxBatch %d must be at least 1", c.MaxBatch)
	}
	return nil
}

// Options holds what a FileSink depends on.
type Options struct {
	// HMACKey keys the HMAC that replaces secret values (see Redact). It
	// is required; derive it from the server master key.
	HMACKey []byte
	// Mirror, if not nil, receives a copy of every line after it is
	// written to the file (for example os.Stdout). Errors writing to it
	// are logged and otherwise ignored; a slow Mirror slows the sink.
	Mirror io.Writer
	// Logger, if not nil, receives warnings and errors.
	Logger *slog.Logger
	// Clock, if not nil, replaces the system clock.
	Clock Clock

	// afterSync, if not nil, is called by the writer after every fsync.
	// Tests use it.
	afterSync func()
}

// FileSink appends records to a file with group commit. Create it with
// Open.
type FileSink struct {
	cfg    Config
	key    []byte
	mirror io.Writer
	log    *slog.Logger
	clock  Clock

	// Lock order: mu before failMu.

	// mu guards closed and sending on queue: Log sends under a read lock,
	// Close closes queue under the write lock, so no send follows the close.
	mu     sync.RWMutex
	closed bool
	queue  chan entry

	// failMu guards failed, the first write or fsync error. Once set,
	// every Log fails with it.
	failMu sync.Mutex
	failed error

	wg       sync.WaitGroup
	closeErr error // set by the writer before it exits

	// Owned by the writer goroutine (and by Open before it starts).
	f         *os.File
	seq       uint64
	prev      string
	afterSync func()
}

// entry is one queued record or, with a nil body, a barrier that forces a
// sync.
type entry struct {
	body []byte     // canonical record without chain members
	done chan error // nil for Buffered records
}

// Open opens or creates the trail at cfg.Path and starts its writer. If the
// file has records, the chain continues after the last one. A partial last
// line (a write torn by a crash, never acknowledged as durable) is cut off
// with a warning; a last line that is not a valid record is an error, and
// the file should be checked with VerifyFile and moved aside.
func Open(cfg Config, opts Options) (*FileSink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(opts.HMACKey) == 0 {
		return nil, errors.New("audit: Options.HMACKey is empty")
	}
	s := &FileSink{
		cfg:       cfg,
		key:       bytes.Clone(opts.HMACKey),
		mirror:    opts.Mirror,
		log:       opts.Logger,
		clock:     opts.Clock,
		queue:     make(chan entry, cfg.QueueSize),
		prev:      ZeroHash,
		afterSync: opts.afterSync,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	_, statErr := os.Stat(cfg.Path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open %q: %w", cfg.Path, err)
	}
	s.f = f
	if created {
		if err := syncDir(filepath.Dir(cfg.Path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: open %q: sync directory: %w", cfg.Path, err)
		}
	}
	if err := s.resume(); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: open %q: %w", cfg.Path, err)
	}
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// resume reads the end of the file and continues its chain.
func (s *FileSink) resume() error {
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	// Read backwards until the buffer holds the last complete line.
	const chunk = 64 << 10
	var tail []byte
	off := size
	for {
		n := int64(chunk)
		if n > off {
			n = off
		}
		off -= n
		buf := make([]byte, n, int(n)+len(tail))
		if _, err := s.f.ReadAt(buf, off); err != nil {
			return fmt.Errorf("read tail: %w", err)
		}
		tail = append(buf, tail...)
		end := len(tail)
		if off+int64(end) == size && tail[end-1] != '\n' {
			// The last line is partial; find where it starts.
			i := bytes.LastIndexByte(tail, '\n')
			if i < 0 && off > 0 {
				continue
			}
			keep := off + int64(i+1)
			s.log.Warn("audit: cutting off a partial last line", logKeyPath, s.cfg.Path, logKeyBytes, size-keep)
			if err := s.f.Truncate(keep); err != nil {
				return fmt.Errorf("cut partial line: %w", err)
			}
			if err := s.f.Sync(); err != nil {
				return fmt.Errorf("cut partial line: %w", err)
			}
			if keep == 0 {
				return nil
			}
			tail, size = tail[:i+1], keep
		}
		// tail ends with a newline; find the start of its last line.
		i := bytes.LastIndexByte(tail[:len(tail)-1], '\n')
		if i < 0 && off > 0 {
			continue
		}
		line := tail[i+1 : len(tail)-1]
		fields, err := parseLine(line)
		if err != nil {
			return fmt.Errorf("last record: %w", err)
		}
		s.seq, s.prev = fields.Sequence, fields.Hash
		return nil
	}
}

// Log records rec; see Sink.
func (s *FileSink) Log(ctx context.Context, rec Record, d Durability) error {
	s.fillDefaults(&rec)
	body, err := encodeBody(s.key, &rec)
	if err != nil {
		return err
	}
	e := entry{body: body}
	if d == Durable {
		e.done = make(chan error, 1)
	}
	return s.enqueue(ctx, e)
}

// Flush returns once every record queued before it is written and fsynced.
func (s *FileSink) Flush(ctx context.Context) error {
	return s.enqueue(ctx, entry{done: make(chan error, 1)})
}

func (s *FileSink) enqueue(ctx context.Context, e entry) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	if err := s.failure(); err != nil {
		s.mu.RUnlock()
		return err
	}
	select {
	case s.queue <- e:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	if e.done == nil {
		return nil
	}
	select {
	case err := <-e.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *FileSink) fillDefaults(rec *Record) {
	rec.EventVersion = EventVersion
	rec.EventSource = EventSource
	rec.EventType = EventType
	rec.ManagementEvent = true
	if rec.EventTime.IsZero() {
		rec.EventTime = s.clock.Now()
	}
	if rec.EventID == "" {
		rec.EventID = uuid.NewString()
	}
	if rec.UserIdentity.Type == "" {
		rec.UserIdentity.Type = IdentityAnonymous
	}
}

// Close writes and fsyncs every queued record, stops the writer and closes
// the file. It returns the first write, fsync or close error. Calling it
// again returns the same result.
func (s *FileSink) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return s.closeErr
}

func (s *FileSink) failure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failed
}

func (s *FileSink) fail(err error) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failed == nil {
		s.failed = err
	}
}

// run is the writer goroutine. It owns the file and the chain state.
func (s *FileSink) run() {
	defer s.wg.Done()
	var (
		buf      []byte
		batch    []entry
		waiters  []chan error // released by the next sync
		unsynced bool         // written since the last sync
		timer    <-chan time.Time
		err      error // first write or sync error; sticky
	)
	// write hands the records in buf to the file (and the mirror).
	write := func() {
		if err == nil && len(buf) > 0 {
			if _, werr := s.f.Write(buf); werr != nil {
				err = fmt.Errorf("audit: write %q: %w", s.cfg.Path, werr)
				s.fail(err)
				s.log.Error("audit: write failed", logKeyPath, s.cfg.Path, logKeyErr, werr)
			} else {
				unsynced = true
				if s.mirror != nil {
					if _, merr := s.mirror.Write(buf); merr != nil {
						s.log.Warn("audit: mirror write failed", logKeyPath, s.cfg.Path, logKeyErr, merr)
					}
				}
			}
		}
		buf = buf[:0]
	}
	commit := func() {
		write()
		if err == nil && unsynced {
			if serr := s.f.Sync(); serr != nil {
				err = fmt.Errorf("audit: fsync %q: %w", s.cfg.Path, serr)
				s.fail(err)
				s.log.Error("audit: fsync failed", logKeyPath, s.cfg.Path, logKeyErr, serr)
			}
			if s.afterSync != nil {
				s.afterSync()
			}
		}
		unsynced = false
		timer = nil
		for _, w := range waiters {
			w <- err
		}
		waiters = waiters[:0]
	}
	for {
		var e entry
		var ok bool
		select {
		case e, ok = <-s.queue:
		case <-timer:
			commit() // writes and syncs what is buffered
			continue
		}
		closed := !ok
		batch = batch[:0]
		if ok {
			batch = append(batch, e)
		}
	fill:
		for !closed && len(batch) < s.cfg.MaxBatch {
			select {
			case e, ok := <-s.queue:
				if !ok {
					closed = true
					break fill
				}
				batch = append(batch, e)
			default:
				break fill
			}
		}

		needSync := closed
		n := 0
		for _, e := range batch {
			if e.body != nil {
				n++
				if err == nil {
					s.seq++
					buf, s.prev = appendChained(buf, e.body, s.seq, s.prev)
				}
			}
			if e.done != nil {
				waiters = append(waiters, e.done)
				needSync = true
			}
		}
		if err != nil && n > 0 {
			s.log.Error("audit: dropping records after an earlier failure", logKeyPath, s.cfg.Path, logKeyDropped, n, logKeyErr, err)
		}
		// Records that nobody waits for stay in buf until a sync is due,
		// the timer fires or buf is large: under a read load that is one
		// write system call per many records instead of one per wake-up.
		if needSync {
			commit()
		} else {
			if len(buf) >= writeThreshold {
				write()
			}
			if (unsynced || len(buf) > 0) && timer == nil {
				timer = s.clock.After(s.cfg.FlushInterval)
			}
		}
		if closed {
			cerr := s.f.Close()
			switch {
			case err != nil:
				s.closeErr = err
			case cerr != nil:
				s.closeErr = fmt.Errorf("audit: close %q: %w", s.cfg.Path, cerr)
			}
			return
		}
	}
}

// writeThreshold is how many bytes of buffered records the writer keeps
// before writing them without waiting for a sync or the flush timer.
const writeThreshold = 64 << 10

// syncDir fsyncs a directory so that a new file's entry is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
