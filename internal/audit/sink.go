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
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paramstore/paramstore/internal/atomicfile"
)

// Log attribute keys.
const (
	logKeyPath    = "path"
	logKeyErr     = "err"
	logKeyBytes   = "bytes"
	logKeyRecords = "records"
	logKeyBacklog = "backlog_bytes"
	logKeyTorn    = "torn_file"
)

// ErrClosed is returned by Log after Close.
var ErrClosed = errors.New("audit: sink closed")

// ErrUnavailable is returned by Log when the trail cannot write (a full or
// failing disk) and the records waiting for it already fill
// Config.MaxBacklog. The record was not queued.
var ErrUnavailable = errors.New("audit: trail unavailable and its backlog is full")

// NotDurableError is returned by a Durable Log whose record was queued but
// is not known to be durable: the trail failed to write or fsync it, or ctx
// ended first. The sink keeps the record and writes it, in order, once the
// trail can write again.
type NotDurableError struct {
	Err error
}

func (e *NotDurableError) Error() string {
	return "audit: record queued but not durable: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *NotDurableError) Unwrap() error { return e.Err }

// Durability says when Log returns, and whether it may refuse the record.
type Durability int

const (
	// Buffered returns once the record is queued. The record is kept in
	// memory, then written in order and fsynced with the next durable
	// batch, or written by the next FlushInterval and fsynced by the next
	// SyncInterval at the latest, or by Close. While
	// the trail cannot write, Buffered records wait in memory up to
	// Config.MaxBacklog; past it Log refuses them with ErrUnavailable.
	// Use it for reads and refused calls.
	Buffered Durability = iota
	// Durable returns once the record has been written and fsynced. While
	// the trail is failing, each Durable Log first tries to write
	// everything waiting; if that fails it returns a *NotDurableError (or
	// ErrUnavailable when the backlog is full, after asking the writer
	// to try again at once). Use it for the intent record of a call that
	// may change state, before the change.
	Durable
	// Applied returns once the record is queued, like Buffered, but is
	// never refused and does not give up when ctx ends: it records
	// something that has already happened (the result of a change), so it
	// waits in memory for as long as the trail cannot write.
	Applied
)

// Sink records audit events.
//
// Log is safe for concurrent use. It encodes rec before it returns and
// keeps nothing of it: the caller may reuse the memory of its
// RequestParameters and ResponseElements at once (the API passes the
// pooled buffer of its response as audit.Marshaled). Records reach the trail in the order in
// which their Log calls queued them. If ctx ends while Log waits, Log
// returns an error, but a record that was already queued is still
// written. After Close, Log returns ErrClosed; every record queued before
// Close is written and fsynced before Close returns, if the trail can
// write.
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
	// FlushInterval bounds how long a Buffered record may wait before it
	// is written to the file (visible to readers of the trail).
	FlushInterval time.Duration
	// SyncInterval bounds how long a written record that nobody waits for
	// (Buffered, Applied) may wait for its fsync when no Durable record
	// comes first; it is rounded up to a whole number of FlushIntervals.
	// 0 means FlushInterval. Each fsync holds one of the Go scheduler's
	// Ps until the runtime notices the blocked system call (up to ~20 ms):
	// a read-only load fsyncing every 50 ms lost that P for 3-8% of the
	// time on 2 cores, and the p99 of its reads with it. The records
	// written and not yet fsynced stay in memory (to rewrite them if the
	// fsync fails): at most one SyncInterval of them.
	SyncInterval time.Duration
	// RetryInterval is how often a failing trail tries again to write
	// what waits for it when no Durable Log makes it try sooner.
	RetryInterval time.Duration
	// QueueSize is how many records may wait for the writer before Log
	// blocks.
	QueueSize int
	// MaxBatch is the most records written and fsynced together.
	MaxBatch int
	// MaxBacklog is how many bytes of records may wait in memory while the
	// trail cannot write before Buffered and Durable records are refused.
	MaxBacklog int64

	// MaxSize rotates the file once it holds this many bytes
	// (--audit-max-size); 0 never rotates by size.
	MaxSize int64
	// MaxAge rotates the file once its first record is this old
	// (--audit-max-age); 0 never rotates by age.
	MaxAge time.Duration
	// Retain says which rotated files are kept (--audit-retain): the
	// oldest beyond its count or its age are removed, once shipped. The
	// zero value keeps every file.
	Retain Retention
	// OnRotate, if set, is a shell command (sh -c) run with the path of
	// each compressed rotated file as $1 and in PARAMSTORE_AUDIT_FILE
	// (--audit-on-rotate), in order; a failure is logged and retried with
	// backoff, and a file is not removed before its command succeeded.
	OnRotate string
	// ShipRetryMin and ShipRetryMax bound the backoff of a failing
	// OnRotate command, and ShipTimeout one run of it.
	ShipRetryMin, ShipRetryMax, ShipTimeout time.Duration
}

// DefaultConfig returns the defaults, with an empty Path.
func DefaultConfig() Config {
	return Config{
		FlushInterval: 50 * time.Millisecond,
		SyncInterval:  200 * time.Millisecond,
		RetryInterval: time.Second,
		QueueSize:     4096,
		MaxBatch:      1024,
		MaxBacklog:    32 << 20,
		ShipRetryMin:  time.Second,
		ShipRetryMax:  5 * time.Minute,
		ShipTimeout:   10 * time.Minute,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return errors.New("audit: Config.Path is empty")
	case c.FlushInterval <= 0:
		return fmt.Errorf("audit: Config.FlushInterval %v must be positive", c.FlushInterval)
	case c.SyncInterval < 0:
		return fmt.Errorf("audit: Config.SyncInterval %v must not be negative", c.SyncInterval)
	case c.RetryInterval <= 0:
		return fmt.Errorf("audit: Config.RetryInterval %v must be positive", c.RetryInterval)
	case c.QueueSize < 1:
		return fmt.Errorf("audit: Config.QueueSize %d must be at least 1", c.QueueSize)
	case c.MaxBatch < 1:
		return fmt.Errorf("audit: Config.MaxBatch %d must be at least 1", c.MaxBatch)
	case c.MaxBacklog < 1:
		return fmt.Errorf("audit: Config.MaxBacklog %d must be at least 1", c.MaxBacklog)
	case c.MaxSize < 0:
		return fmt.Errorf("audit: Config.MaxSize (--audit-max-size) %d must not be negative", c.MaxSize)
	case c.MaxAge < 0:
		return fmt.Errorf("audit: Config.MaxAge (--audit-max-age) %v must not be negative", c.MaxAge)
	case c.Retain.validate() != nil:
		return c.Retain.validate()
	case c.OnRotate != "" && (c.ShipRetryMin <= 0 || c.ShipRetryMax < c.ShipRetryMin || c.ShipTimeout <= 0):
		return fmt.Errorf("audit: Config.ShipRetryMin %v, ShipRetryMax %v and ShipTimeout %v must be positive, the max at least the min",
			c.ShipRetryMin, c.ShipRetryMax, c.ShipTimeout)
	}
	return nil
}

// Options holds what a FileSink depends on.
type Options struct {
	// HMACKey keys the HMAC that replaces secret values (see Redact). It
	// is required; derive it from the server master key.
	HMACKey []byte
	// Mirror, if not nil, receives a copy of every line once it is durable
	// in the file (for example os.Stdout). Errors writing to it are logged
	// and otherwise ignored; a slow Mirror slows the sink.
	Mirror io.Writer
	// Logger, if not nil, receives warnings and errors.
	Logger *slog.Logger
	// Clock, if not nil, replaces the system clock.
	Clock Clock

	// afterSync, if not nil, is called by the writer after every
	// successful fsync. Tests use it.
	afterSync func()
	// afterHousekeep, if not nil, is called by the rotator after each
	// round of its work. Tests use it.
	afterHousekeep func()
	// file, if not nil, wraps the trail file. Tests use it to inject
	// write and fsync errors that a tmpfs cannot produce.
	file func(trailFile) trailFile
}

// trailFile is what the writer needs of the trail's *os.File.
type trailFile interface {
	Write(p []byte) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

// FileSink appends records to a file with group commit. Create it with
// Open.
//
// When a write or fsync fails (a full disk, an I/O error), the writer cuts
// the file back to its last durable line, so that no partial line stays
// in it, and keeps every record that is not durable in memory, chained and
// in order. It tries again when a Durable record arrives, every
// RetryInterval and at Close; the first attempt that succeeds writes them
// all and the trail is healthy again, without a restart.
type FileSink struct {
	cfg    Config
	key    []byte
	mirror io.Writer
	log    *slog.Logger
	clock  Clock

	// mu guards closed and sending on queue: Log sends under a read lock,
	// Close closes queue under the write lock, so no send follows the close.
	mu     sync.RWMutex
	closed bool
	queue  chan entry
	// wake tells the writer to take what is queued now: a Durable record
	// or a Flush waits for it, the queue is full, or Close closed it.
	// Other records do not wake a writer whose flush timer is armed (see
	// run).
	wake chan struct{}
	// retry asks the writer to try a failing trail again now.
	retry chan struct{}

	// failing holds the error of the last failed write or fsync while the
	// writer holds records it could not make durable; nil when healthy.
	// The writer sets and clears it; Log reads it.
	failing atomic.Pointer[error]
	// backlog is the size of the records bodies queued or held by the
	// writer and not yet durable.
	backlog atomic.Int64

	wg       sync.WaitGroup
	closeErr error // set by the writer before it exits

	// The rotator (rotate.go) compresses, ships and removes rotated
	// files; kick wakes it. Close stops it before the writer.
	kick        chan struct{}
	stopRotator context.CancelFunc
	afterHK     func()
	pace        pacer // of compression
	rotatorWG   sync.WaitGroup
	stats       rotationStats

	// Owned by the writer goroutine (and by Open before it starts).
	f         trailFile
	size      int64 // length of the file's durable, complete lines
	seq       uint64
	prev      string
	afterSync func()
	wrapFile  func(trailFile) trailFile
	// fileFirstSeq is the sequence of the active file's first record (0
	// while it has none) and fileStart the time it was appended: the
	// age MaxAge measures.
	fileFirstSeq uint64
	fileStart    time.Time
	// rotateRetry, when not zero, is the earliest time to try a failed
	// rotation again; noRotate stops rotating after a failure that left
	// the writer on a renamed file.
	rotateRetry time.Time
	noRotate    bool
	// stuck names the rotated file the writer still appends to after a
	// failed rotation (see rotate); the rotator leaves it alone.
	stuck atomic.Pointer[string]
}

// entry is one queued record or, with a nil body, a barrier that forces a
// sync.
type entry struct {
	body []byte     // canonical record without chain members
	done chan error // nil unless Log waits for durability
	// pooled, if not nil, holds body's buffer: the writer gives it back
	// to bodyPool once body is copied into its chained line.
	pooled *[]byte
}

// bodyPool holds the buffers Log encodes record bodies into (one per call
// on every API call, reads included). A buffer that grew past
// maxPooledBody is left to the collector rather than kept.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledBody = 64 << 10

// release gives e's buffer back to bodyPool; e.body must not be used
// after.
func (e *entry) release() {
	if e.pooled != nil && cap(*e.pooled) <= maxPooledBody {
		bodyPool.Put(e.pooled)
	}
	e.body, e.pooled = nil, nil
}

// Open opens or creates the trail at cfg.Path and starts its writer. If the
// file has records, the chain continues after the last one.
//
// A partial last line (a write torn by a crash) is never silently dropped:
// if it is a whole record that only lacks its newline, the newline is
// added; otherwise its bytes are saved to cfg.Path + ".torn-<time>", cut
// from the trail, and the first record of the continued chain, an
// AuditTrailTornRecord service event, says so (VerifyFile reports it). A
// last line that is complete but not a valid record is an error: the file
// should be checked with VerifyFile and moved aside.
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
		wake:      make(chan struct{}, 1),
		retry:     make(chan struct{}, 1),
		prev:      ZeroHash,
		afterSync: opts.afterSync,
		wrapFile:  opts.file,
		afterHK:   opts.afterHousekeep,
		kick:      make(chan struct{}, 1),
		pace:      realPacer(compressDuty),
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
	if created {
		if err := atomicfile.SyncDir(filepath.Dir(cfg.Path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: open %q: sync directory: %w", cfg.Path, err)
		}
	}
	torn, err := s.resume(f)
	if err == nil && s.size == 0 {
		// An empty active file continues the chain of the newest
		// rotated file (a rotation, or a crash in the middle of one).
		err = s.resumeRotated()
	} else if err == nil {
		err = s.readFileStart(f)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: open %q: %w", cfg.Path, err)
	}
	s.f = f
	if opts.file != nil {
		s.f = opts.file(f)
	}
	s.wg.Add(1)
	go s.run()
	s.startRotator()
	if torn != nil {
		// Applied: first in the chain, and kept in memory rather than
		// failing the start if the disk is full.
		if err := s.Log(context.Background(), torn.record(), Applied); err != nil {
			s.Close()
			return nil, fmt.Errorf("audit: open %q: record the torn last line: %w", cfg.Path, err)
		}
	}
	return s, nil
}

// TornRecordEvent is the eventName of the record that a sink writes when
// it found the trail's last line torn (see Open).
const TornRecordEvent = "AuditTrailTornRecord"

// TornDetails are the serviceEventDetails of a TornRecordEvent record.
type TornDetails struct {
	// File holds the torn bytes, exactly as they were at the end of the
	// trail.
	File string `json:"tornFile"`
	// Bytes is their length and SHA256 their hex SHA-256.
	Bytes  int64  `json:"tornBytes"`
	SHA256 string `json:"tornSHA256"`
	// Sequence is the sequence the torn record would have had: the
	// sequence of this record too.
	Sequence uint64 `json:"tornSequence"`
}

func (d *TornDetails) record() Record {
	return Record{
		EventName:           TornRecordEvent,
		EventType:           EventTypeService,
		ServiceEventDetails: d,
	}
}

// resume reads the end of f and continues its chain. It returns the
// details of a torn last line it cut off, if any.
func (s *FileSink) resume(f *os.File) (*TornDetails, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	s.size = size
	if size == 0 {
		return nil, nil
	}
	// Read backwards until the buffer holds the last complete line and,
	// after it, the partial line if there is one.
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
		if _, err := f.ReadAt(buf, off); err != nil {
			return nil, fmt.Errorf("read tail: %w", err)
		}
		tail = append(buf, tail...)
		// end is where the complete lines end within tail.
		end := len(tail)
		if tail[end-1] != '\n' {
			i := bytes.LastIndexByte(tail, '\n')
			if i < 0 && off > 0 {
				continue
			}
			end = i + 1
		}
		// The last complete line starts after the newline before end.
		start := 0
		if end > 0 {
			i := bytes.LastIndexByte(tail[:end-1], '\n')
			if i < 0 && off > 0 {
				continue
			}
			start = i + 1
		}
		if end > 0 {
			fields, err := parseLine(tail[start : end-1])
			if err != nil {
				return nil, fmt.Errorf("last record: %w", err)
			}
			s.seq, s.prev = fields.Sequence, fields.Hash
		}
		if end == len(tail) {
			return nil, nil
		}
		return s.repairTail(f, tail[end:], off+int64(end))
	}
}

// repairTail handles a last line without its newline: partial holds its
// bytes, which start at offset at.
func (s *FileSink) repairTail(f *os.File, partial []byte, at int64) (*TornDetails, error) {
	if fields, err := parseLine(partial); err == nil && fields.Sequence == s.seq+1 && fields.PreviousHash == s.prev {
		// A whole record: only the newline was lost.
		if _, err := f.Write([]byte{'\n'}); err != nil {
			return nil, fmt.Errorf("complete the last line: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("complete the last line: %w", err)
		}
		s.log.Warn("audit: the last record lacked its newline; added it", logKeyPath, s.cfg.Path)
		s.seq, s.prev = fields.Sequence, fields.Hash
		s.size++
		return nil, nil
	}
	// Keep the torn bytes in a file of their own before cutting them.
	now := s.clock.Now().UTC()
	torn := fmt.Sprintf("%s.torn-%s", s.cfg.Path, now.Format("20060102T150405.000000000Z"))
	if err := atomicfile.WriteNew(torn, partial, 0o600); err != nil {
		return nil, fmt.Errorf("save the torn last line: %w", err)
	}
	if err := f.Truncate(at); err != nil {
		return nil, fmt.Errorf("cut the torn last line: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("cut the torn last line: %w", err)
	}
	s.size = at
	s.log.Warn("audit: the last line was torn (a write cut by a crash); moved its bytes to a file of their own and recorded that in the trail",
		logKeyPath, s.cfg.Path, logKeyTorn, torn, logKeyBytes, len(partial))
	return &TornDetails{File: filepath.Base(torn), Bytes: int64(len(partial)), SHA256: sha256Hex(partial), Sequence: s.seq + 1}, nil
}

// Log records rec; see Sink and Durability.
func (s *FileSink) Log(ctx context.Context, rec Record, d Durability) error {
	s.fillDefaults(&rec)
	bp := bodyPool.Get().(*[]byte)
	body, err := appendBody((*bp)[:0], s.key, &rec)
	if err != nil {
		bodyPool.Put(bp)
		return err
	}
	*bp = body
	e := entry{body: body, pooled: bp}
	if d == Durable {
		e.done = make(chan error, 1)
	}
	return s.enqueue(ctx, e, d)
}

// Flush returns once every record queued before it is written and fsynced.
func (s *FileSink) Flush(ctx context.Context) error {
	return s.enqueue(ctx, entry{done: make(chan error, 1)}, Durable)
}

func (s *FileSink) enqueue(ctx context.Context, e entry, d Durability) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	if d != Applied && e.body != nil {
		if cause := s.failing.Load(); cause != nil && s.backlog.Load() >= s.cfg.MaxBacklog {
			s.mu.RUnlock()
			if d == Durable {
				// Have the writer try again now: the next call may succeed.
				select {
				case s.retry <- struct{}{}:
				default:
				}
			}
			return fmt.Errorf("%w: %v", ErrUnavailable, *cause)
		}
	}
	n := int64(len(e.body))
	s.backlog.Add(n)
	select {
	case s.queue <- e:
	default:
		// The queue is full: the writer takes it all once woken.
		s.wakeWriter()
		if d == Applied {
			// The writer always drains the queue, even while failing.
			s.queue <- e
			break
		}
		select {
		case s.queue <- e:
		case <-ctx.Done():
			s.backlog.Add(-n)
			s.mu.RUnlock()
			return ctx.Err()
		}
	}
	s.mu.RUnlock()
	if e.done == nil {
		return nil
	}
	s.wakeWriter()
	select {
	case err := <-e.done:
		if err != nil {
			return &NotDurableError{Err: err}
		}
		return nil
	case <-ctx.Done():
		return &NotDurableError{Err: ctx.Err()}
	}
}

// wakeWriter wakes the writer to take what is queued (see run).
func (s *FileSink) wakeWriter() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

func (s *FileSink) fillDefaults(rec *Record) {
	rec.EventVersion = EventVersion
	rec.EventSource = EventSource
	if rec.EventType == "" {
		rec.EventType = EventType
	}
	rec.ManagementEvent = true
	if rec.EventTime.IsZero() {
		rec.EventTime = s.clock.Now()
	}
	if rec.EventID == "" {
		rec.EventID = NewID()
	}
	if rec.UserIdentity.Type == "" {
		rec.UserIdentity.Type = IdentityAnonymous
	}
}

// Close writes and fsyncs every queued record, stops the writer and closes
// the file. It returns the first error that left records unwritten, or the
// close error. Calling it again returns the same result.
func (s *FileSink) Close() error {
	s.stopRotator()
	s.rotatorWG.Wait()
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	s.wakeWriter()
	s.wg.Wait()
	return s.closeErr
}

// Backlog returns the size of the records queued or held by the writer
// and not yet durable.
func (s *FileSink) Backlog() int64 { return s.backlog.Load() }

// Failing returns the error that keeps the trail from writing, or nil when
// it is healthy.
func (s *FileSink) Failing() error {
	if p := s.failing.Load(); p != nil {
		return *p
	}
	return nil
}

// writer is the state of the writer goroutine.
type writer struct {
	s *FileSink
	// buf holds the chained lines that are not durable yet; the first
	// written bytes of it are in the file after s.size, unsynced.
	buf     []byte
	written int
	// bodies is the backlog (record body bytes) that buf accounts for.
	bodies int64
	// waiters are released by the next commit.
	waiters []chan error
	// dirty says the file may hold bytes after s.size that the next
	// attempt must cut first.
	dirty bool
	// failed is the error of the last failed attempt; nil when healthy.
	failed error
	timer  <-chan time.Time
	// flushes counts the flush timer's firings that wrote buf without
	// an fsync since the last commit (see Config.SyncInterval).
	flushes int
	// ageTimer fires when the active file reaches Config.MaxAge.
	ageTimer <-chan time.Time
}

// run is the writer goroutine. It owns the file and the chain state.
//
// While its flush timer is armed, the writer does not take records that
// nobody waits for as they come: they stay queued until the timer fires,
// a Durable record or a Flush wakes it, or the queue is full. Under a
// read load it then runs once per FlushInterval, not once per record.
// Waking it from a request's Log made it the next goroutine of that
// request's P (runnext), ahead of the background read goroutine net/http
// had just started for the request; the request then waited for that
// goroutine behind every other runnable request a second time, which was
// a third of a GetParameter's time in the server and most of its tail
// (runtime trace, bench/tail-ab.sh). Without a timer (after a sync) the
// writer waits on the queue itself, so the first record is taken at once.
func (s *FileSink) run() {
	defer s.wg.Done()
	w := &writer{s: s}
	if s.cfg.MaxAge > 0 && s.fileFirstSeq != 0 {
		w.ageTimer = s.clock.After(max(0, s.cfg.MaxAge-s.clock.Now().Sub(s.fileStart)))
	}
	var batch []entry
	for {
		var idle <-chan entry
		if w.timer == nil {
			idle = s.queue
		}
		var e entry
		var got, ok, tick bool
		select {
		case e, ok = <-idle:
			got = true
		case <-s.wake:
		case <-w.timer:
			tick = true
		case <-w.ageTimer:
			w.ageTimer = nil
			w.commit() // makes the file durable, then rotates it
			continue
		case <-s.retry:
			if w.failed != nil {
				w.commit()
			}
			continue
		}
		closed := got && !ok
		batch = batch[:0]
		if got && ok {
			batch = append(batch, e)
		}
		// Take everything queued, MaxBatch records at a time.
		for {
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
			more := !closed && len(batch) == s.cfg.MaxBatch
			if w.add(batch) && !closed {
				w.commit()
			}
			clear(batch)
			batch = batch[:0]
			if !more {
				break
			}
		}
		switch {
		case closed:
			w.commit()
			w.close()
			return
		case tick:
			w.flush() // writes what is buffered, fsyncs it when due, or retries a failing trail
		case w.failed != nil:
			// Records wait for the retry timer or a Durable record.
		default:
			// Records that nobody waits for stay in buf until a sync is
			// due, the timer fires or buf is large: under a read load
			// that is one write system call per many records.
			if len(w.buf)-w.written >= writeThreshold {
				w.write()
			}
			if len(w.buf) > 0 && w.timer == nil {
				w.timer = s.clock.After(s.cfg.FlushInterval)
			}
		}
	}
}

// add chains batch's records onto buf and takes their waiters; it reports
// whether any waits (the batch must be committed).
func (w *writer) add(batch []entry) bool {
	s := w.s
	needSync := false
	for i := range batch {
		e := &batch[i]
		if e.body != nil {
			w.startFile()
			s.seq++
			w.grow(len(e.body))
			w.buf, s.prev = appendChained(w.buf, e.body, s.seq, s.prev)
			w.bodies += int64(len(e.body))
			e.release()
		}
		if e.done != nil {
			w.waiters = append(w.waiters, e.done)
			needSync = true
		}
	}
	return needSync
}

// grow makes room in buf for a line of a record body of n bytes, doubling
// buf when it must grow: buf keeps its records until their fsync, so under
// a read load it reaches megabytes between syncs, and append's own growth
// (1.25x past 256 elements) would copy all of it again every few records.
func (w *writer) grow(n int) {
	n += chainOverhead
	if len(w.buf)+n > cap(w.buf) {
		w.buf = slices.Grow(w.buf, max(n, cap(w.buf)))
	}
}

// flush runs when the flush timer fires: it commits (write and fsync)
// when a sync is due (Config.SyncInterval) or the trail is failing, and
// otherwise only writes buf, and sets the timer again.
func (w *writer) flush() {
	s := w.s
	w.flushes++
	if w.failed != nil || len(w.waiters) > 0 || time.Duration(w.flushes)*s.cfg.FlushInterval >= s.cfg.SyncInterval {
		w.commit()
		return
	}
	w.timer = nil
	w.write()
	if w.failed != nil {
		w.timer = s.clock.After(s.cfg.RetryInterval)
	} else {
		w.timer = s.clock.After(s.cfg.FlushInterval)
	}
}

// write hands the unwritten part of buf to the file without syncing.
func (w *writer) write() {
	if err := w.writeOut(); err != nil {
		w.fail(err)
		return
	}
	// The fsync that makes these bytes durable comes later (by
	// SyncInterval): have the kernel start writing them now.
	startWriteback(w.s.f, w.s.size, int64(w.written))
}

// writeOut cuts what a failed attempt left after s.size, then writes the
// part of buf that is not in the file yet.
func (w *writer) writeOut() error {
	s := w.s
	if w.dirty {
		if err := s.f.Truncate(s.size); err != nil {
			return fmt.Errorf("audit: cut the trail back to its last durable line: %w", err)
		}
		w.dirty, w.written = false, 0
	}
	if w.written < len(w.buf) {
		n, err := s.f.Write(w.buf[w.written:])
		w.written += n
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	return nil
}

// commit makes buf durable (write and fsync) and releases the waiters with
// the result. On failure the records stay in buf for the next attempt.
func (w *writer) commit() {
	s := w.s
	w.timer, w.flushes = nil, 0
	err := w.writeOut()
	synced := false
	if err == nil && w.written > 0 {
		if serr := s.f.Sync(); serr != nil {
			err = fmt.Errorf("audit: %w", serr)
		} else {
			synced = true
		}
	}
	if err != nil {
		w.fail(err)
	} else {
		w.durable()
		if synced && s.afterSync != nil {
			s.afterSync()
		}
	}
	for _, c := range w.waiters {
		c <- err
	}
	w.waiters = w.waiters[:0]
	if w.failed != nil {
		w.timer = s.clock.After(s.cfg.RetryInterval)
	} else {
		w.maybeRotate()
	}
}

// durable accounts for buf having been written and fsynced.
func (w *writer) durable() {
	s := w.s
	if len(w.buf) > 0 && s.mirror != nil {
		if _, err := s.mirror.Write(w.buf); err != nil {
			s.log.Warn("audit: mirror write failed", logKeyPath, s.cfg.Path, logKeyErr, err)
		}
	}
	s.size += int64(len(w.buf))
	s.backlog.Add(-w.bodies)
	if w.failed != nil {
		s.log.Info("audit: trail healed; the records kept in memory are written", logKeyPath, s.cfg.Path,
			logKeyBytes, len(w.buf))
		w.failed = nil
		s.failing.Store(nil)
	}
	if cap(w.buf) > maxKeptBuf {
		w.buf = nil // do not keep a large backlog's memory
	}
	w.buf, w.written, w.bodies = w.buf[:0], 0, 0
}

// fail handles a failed write or fsync: the file is cut back to its last
// durable line (now if possible, so that a crash leaves no partial line;
// else before the next write) and everything in buf is written again by
// the next attempt.
func (w *writer) fail(err error) {
	s := w.s
	w.dirty, w.written = true, 0
	if terr := s.f.Truncate(s.size); terr == nil {
		w.dirty = false
	}
	if w.failed == nil {
		s.log.Error("audit: cannot write the trail; keeping its records in memory and retrying", logKeyPath, s.cfg.Path,
			logKeyErr, err, logKeyBacklog, s.backlog.Load())
	}
	w.failed = err
	s.failing.Store(&err)
}

// close runs after the last batch was committed: it closes the file and
// sets the sink's close error.
func (w *writer) close() {
	s := w.s
	if w.failed != nil {
		s.closeErr = fmt.Errorf("audit: %d bytes of records never written: %w", len(w.buf), w.failed)
		s.log.Error("audit: closing with records that could not be written", logKeyPath, s.cfg.Path,
			logKeyBytes, len(w.buf), logKeyErr, w.failed)
	}
	if cerr := s.f.Close(); cerr != nil && s.closeErr == nil {
		s.closeErr = fmt.Errorf("audit: close %q: %w", s.cfg.Path, cerr)
	}
}

// maxKeptBuf is the largest buffer the writer keeps for the next records
// once its records are durable: more than one SyncInterval of them under
// a read load at the HTTP ceiling (10-15 MB/s of trail), so that the
// buffer is not grown again after every sync, and less than a backlog
// kept through a failing disk.
const maxKeptBuf = 16 << 20

// writeThreshold is how many bytes of buffered records the writer keeps
// before writing them without waiting for a sync or the flush timer.
const writeThreshold = 64 << 10
