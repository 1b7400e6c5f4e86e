package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/paramstore/paramstore/internal/atomicfile"
)

// DB is the bbolt state machine. Reads run in bbolt read transactions and
// never block writes; ApplyBatch runs a whole batch of commands in one
// write transaction, which is how group commit reaches the disk, and with
// Options.BatchLimit leaves that transaction open for the next batches
// (the deferred commit, batch.go).
//
// ApplyBatch must be called from a single goroutine (raft's FSM goroutine);
// View, Commit and Snapshot may be called concurrently with it and with
// each other.
type DB struct {
	path string
	opts Options

	// mu guards db against replacement by Restore; readers and the applier
	// take it shared.
	mu sync.RWMutex
	db *bolt.DB

	// batchMu guards the open batch (batch.go): the write transaction,
	// the entries applied into it since the last commit, and whether a
	// commit failed since.
	batchMu  sync.Mutex
	tx       *bolt.Tx
	pending  []Entry
	broken   bool
	txLast   uint64 // the last index applied into tx (or committed)
	notified uint64 // the committed index Committed's waiters were woken for

	// genMu pairs a buffered reader's read transaction with the read
	// buffer and the applied index (batch.go); buf is nil when nothing is
	// applied beyond the committed state.
	genMu sync.RWMutex
	buf   *readBuffer

	// applied is the index of the last applied entry: what a reader is
	// guaranteed to see (View commits first, or reads the read buffer).
	applied atomic.Uint64
	// committed is the applied index of the committed state.
	committed atomic.Uint64
	// commits counts commits (Commits).
	commits atomic.Uint64
	// iamVersion mirrors meta/iamVersion of the applied state (see
	// IAMVersion; identity commands are never deferred).
	iamVersion atomic.Uint64
	// decoded caches decoded head records for point reads.
	decoded decodeCache
	// owed says the committed state may hold owed intents (under batchMu;
	// true after an open, until a commit looked).
	owed bool

	// changedMu guards changed and committedCh: channels closed (and
	// replaced) when entries are applied (Changed) and when applied
	// entries are committed to the file (Committed).
	changedMu   sync.Mutex
	changed     chan struct{}
	committedCh chan struct{}
}

// Changed returns a channel that is closed when the next entries are
// applied: their effects are then visible to every reader (a point read
// sees them through the read buffer, Reader.Changes and ChangeFloor too,
// before they are committed). The change stream waits on it. An applied
// entry not yet committed is durable in the raft log, and a crash replays
// it to the same effect at the same index (apply is deterministic).
func (d *DB) Changed() <-chan struct{} { return d.waitOn(&d.changed) }

// Committed returns a channel that is closed when the next commit writes
// applied entries to the state machine's file (the deferred commit,
// batch.go), for what must wait for the file rather than the read buffer.
func (d *DB) Committed() <-chan struct{} { return d.waitOn(&d.committedCh) }

func (d *DB) waitOn(ch *chan struct{}) <-chan struct{} {
	d.changedMu.Lock()
	defer d.changedMu.Unlock()
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return *ch
}

func (d *DB) wake(ch *chan struct{}) {
	d.changedMu.Lock()
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
	d.changedMu.Unlock()
}

func (d *DB) notifyChanged()   { d.wake(&d.changed) }
func (d *DB) notifyCommitted() { d.wake(&d.committedCh) }

// LastApplied is the raft index of the last entry whose effects are
// visible to readers. Linearizable reads wait on it (raft's own applied
// index moves when entries are handed to the FSM, before they are written).
func (d *DB) LastApplied() uint64 { return d.applied.Load() }

func (d *DB) loadApplied() error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.loadAppliedLocked()
}

// loadAppliedLocked reads the applied index and the identity version of
// the database just opened.
func (d *DB) loadAppliedLocked() error {
	err := d.db.View(func(tx *bolt.Tx) error {
		d.applied.Store(appliedIndex(tx))
		d.committed.Store(appliedIndex(tx))
		d.txLast = appliedIndex(tx)
		d.notified = appliedIndex(tx)
		d.iamVersion.Store(iamVersionOf(tx))
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: read the applied index of %s: %w", d.path, err)
	}
	return nil
}

// IAMVersion is the identity version of the applied state, without a
// read transaction (authentication checks it on every request).
func (d *DB) IAMVersion() uint64 { return d.iamVersion.Load() }

// Options configure a DB.
type Options struct {
	// Check verifies a copy received by Restore before it replaces the
	// state; nil means InProcessChecker.
	Check Checker
	// SpoolDir holds the temporary copies of WriteTo; "" means the
	// directory of the database.
	SpoolDir string
	// BatchLimit, when positive, defers commits (batch.go): applied
	// batches stay in an open write transaction until it holds this many
	// entries or Commit is called. The owner must call Commit on an
	// interval and keep the applied entries in a durable log. Zero
	// commits every batch before ApplyBatch returns.
	BatchLimit int
	// OnIntent, if set, is called for each command that carries an audit
	// intent (Command.Intent) as ApplyBatch applies it, in index order,
	// before the commit that holds it (intent.go). A batch ApplyBatch
	// tries again calls it again for the same index: it must be
	// idempotent by index.
	OnIntent func(index uint64, origin string, intent []byte)
	// BeforeCommit, if set, runs before every commit of the state
	// machine: it makes the intents OnIntent was given durable on the
	// trail. When it fails with ErrIntentTrail and OwedIntents is set,
	// the commit records the intents OwedIntents returns in the state
	// (see DB.OwedIntents) and goes on; the first commit after
	// BeforeCommit succeeds again forgets them. When it fails otherwise,
	// the commit does not happen (the batch is rolled back as a failed
	// commit is) and fails with its error.
	BeforeCommit func() error
	OwedIntents  func() []IntentEntry
}

// Open opens (creating if needed) the state machine at path. The file must
// be intact (see Checker): bbolt crashes on some corrupt pages.
func Open(path string) (*DB, error) { return OpenOptions(path, Options{}) }

// OpenOptions is Open with options.
func OpenOptions(path string, opts Options) (*DB, error) {
	if opts.Check == nil {
		opts.Check = InProcessChecker
	}
	if opts.SpoolDir == "" {
		opts.SpoolDir = filepath.Dir(path)
	}
	// Temporary copies of an interrupted Restore or WriteTo are never state.
	// Best effort, as before: a leftover that cannot be removed only takes
	// space, and the next start tries again.
	_ = atomicfile.RemoveTemps(path)
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".spool-*"))
	for _, f := range old {
		os.Remove(f)
	}
	d := &DB{path: path, opts: opts, owed: true}
	db, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	d.db = db
	if err := d.loadApplied(); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

func openBolt(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        5 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range append(allBuckets, eventBuckets...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keySchema); v != nil && string(v) != schemaVersion {
			return fmt.Errorf("schema version %q, want %q", v, schemaVersion)
		}
		return meta.Put(keySchema, []byte(schemaVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return db, nil
}

// Close commits what is applied and closes the database. When that
// commit fails, the applied entries since the last commit are lost from
// the state machine (the log has them: the next start applies them
// again) and Close returns the error.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db == nil {
		return nil
	}
	d.batchMu.Lock()
	cerr := d.commitLocked(true)
	d.resetBatchLocked()
	d.batchMu.Unlock()
	err := d.db.Close()
	d.db = nil
	if cerr != nil {
		return errors.Join(fmt.Errorf("store: commit at close: %w", cerr), err)
	}
	return err
}

// AppliedIndex returns the raft index of the last applied entry.
func (d *DB) AppliedIndex() (uint64, error) {
	var idx uint64
	err := d.view(func(tx *bolt.Tx) error {
		idx = appliedIndex(tx)
		return nil
	})
	return idx, err
}

func appliedIndex(tx *bolt.Tx) uint64 {
	return metaUint(tx, keyApplied)
}

// AppliedTerm returns the raft term of the last applied entry (0 when
// unknown: a state written before terms were recorded, or restored into a
// new cluster).
func (d *DB) AppliedTerm() (uint64, error) {
	var term uint64
	err := d.view(func(tx *bolt.Tx) error {
		term = metaUint(tx, keyAppliedTerm)
		return nil
	})
	return term, err
}

func metaUint(tx *bolt.Tx, key []byte) uint64 {
	v := tx.Bucket(bucketMeta).Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// view runs fn in a read transaction of the committed state, once what is
// applied is committed (the flush barrier).
func (d *DB) view(fn func(*bolt.Tx) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.db == nil {
		return errors.New("store: closed")
	}
	if err := d.flush(); err != nil {
		return err
	}
	return d.db.View(fn)
}

// View runs fn with a consistent read-only snapshot of the applied state.
// Entries applied but not yet committed (the deferred commit, batch.go)
// are committed first: readers queued behind that commit share it. With
// WithPointReads(ctx), fn reads through the read buffer instead, without a
// commit, and runs a second time after one when it reads something the
// buffer cannot serve (see WithPointReads).
func (d *DB) View(ctx context.Context, fn func(r *Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if IsPointReads(ctx) {
		again, err := d.viewBuffered(fn)
		if !again {
			return err
		}
	}
	return d.view(func(tx *bolt.Tx) error { return fn(&Reader{tx: tx, cache: &d.decoded}) })
}

// viewBuffered runs fn on the committed state and the read buffer, as of
// the applied index. It reports whether fn read what the buffer cannot
// serve (fn's outcome is then void). The read transaction of the committed
// state is opened only when fn reads what the buffer does not answer
// (Reader.txn); a commit since the buffer was taken voids fn's outcome,
// as does a transaction that cannot be opened (the second run, on the
// committed state, then returns the error).
func (d *DB) viewBuffered(fn func(r *Reader) error) (again bool, err error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.db == nil {
		return false, errors.New("store: closed")
	}
	d.genMu.RLock()
	r := Reader{cache: &d.decoded, buf: d.buf, upTo: d.applied.Load(), db: d, commits: d.commits.Load()}
	d.genMu.RUnlock()
	defer func() {
		if r.tx != nil {
			r.tx.Rollback()
		}
	}()
	err = runBuffered(fn, &r)
	return r.needFlush, err
}

// errBeginBuffered is the panic of a buffered read whose transaction could
// not be opened; runBuffered recovers it (its callers hold no lock across
// a Reader's calls).
type errBeginBuffered struct{ err error }

// runBuffered runs fn on r, a buffered Reader: a transaction that cannot
// be opened in the middle of fn ends fn, and voids its outcome.
func runBuffered(fn func(r *Reader) error, r *Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			e, ok := p.(errBeginBuffered)
			if !ok {
				panic(p)
			}
			r.needFlush = true
			err = e.err
		}
	}()
	return fn(r)
}

// beginBuffered opens the read transaction of the buffered read r, which
// took the read buffer when d had r.commits commits: after another commit,
// r's buffer and the committed state no longer match, and fn runs again.
// The caller holds mu (shared).
func (d *DB) beginBuffered(r *Reader) *bolt.Tx {
	d.genMu.RLock()
	defer d.genMu.RUnlock()
	if d.commits.Load() != r.commits {
		r.needFlush = true
	}
	tx, err := d.db.Begin(false)
	if err != nil {
		panic(errBeginBuffered{err})
	}
	return tx
}

// Entry is one committed log entry handed to ApplyBatch.
type Entry struct {
	Index uint64
	Term  uint64 // the raft term of the entry (0 when unknown)
	Data  []byte // an encoded Command; nil for entries that carry none
}

// ErrStaleEntry is the result of a command whose log index is at or below
// the applied index: it was not applied. A replay after a restart gets it
// for entries applied before (nobody waits for those results); a live
// proposal gets it only when the raft log was lost or replaced under a
// state machine that is ahead of it, and must not be acknowledged.
var ErrStaleEntry = errors.New("store: log entry at or below the applied index was not applied")

// WriteTo writes a consistent copy of the whole database to w (a backup
// download). The copy is first written to an unlinked temporary file in
// Options.SpoolDir at the disk's pace, and then streamed from there: a read
// transaction left open at the pace of a slow or stalled reader would block
// the growth of the file (bbolt remaps it under a lock that readers hold)
// and with it every write.
func (d *DB) WriteTo(w io.Writer) (int64, error) {
	f, err := os.CreateTemp(d.opts.SpoolDir, ".spool-*")
	if err != nil {
		return 0, fmt.Errorf("store: spool copy: %w", err)
	}
	// Unlinked at once: a crash leaves nothing behind.
	os.Remove(f.Name())
	defer f.Close()
	snap, err := d.Snapshot()
	if err != nil {
		return 0, err
	}
	_, err = snap.WriteTo(f)
	snap.Close()
	if err != nil {
		return 0, fmt.Errorf("store: spool copy: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("store: spool copy: %w", err)
	}
	// Plain writes, not w's ReadFrom: a caller's writer may bound each
	// write (an idle deadline), which a sendfile would bypass.
	return io.Copy(struct{ io.Writer }{w}, f)
}

// Snapshot is a consistent, read-only view of the whole database, taken
// when Snapshot returns and written out later (a raft snapshot is taken on
// the apply goroutine and persisted on another). It holds a bbolt read
// transaction until Close: write it out at the disk's pace, never at a
// network peer's (see WriteTo).
type Snapshot struct {
	tx *bolt.Tx
}

// Snapshot opens a Snapshot of the applied state, committed first (a raft
// snapshot lets raft truncate the log: what it covers must be durable in
// the state machine).
func (d *DB) Snapshot() (*Snapshot, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.db == nil {
		return nil, errors.New("store: closed")
	}
	if err := d.flush(); err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	tx, err := d.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	return &Snapshot{tx: tx}, nil
}

// Applied is the applied index of the snapshot.
func (s *Snapshot) Applied() uint64 { return appliedIndex(s.tx) }

// WriteTo writes the database file as of the snapshot.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) { return s.tx.WriteTo(w) }

// Close releases the snapshot.
func (s *Snapshot) Close() {
	if s.tx != nil {
		s.tx.Rollback()
		s.tx = nil
	}
}

// Restore replaces the whole database with the copy read from r. The copy
// is written to a temporary file next to the database and checked (see
// Checker) before it replaces the current state; when it fails the check,
// the current state stays as it was.
func (d *DB) Restore(r io.Reader) error {
	f, err := atomicfile.Create(d.path, 0o600)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	defer f.Cleanup()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	info, err := d.opts.Check(context.Background(), f.Name())
	if err != nil {
		return fmt.Errorf("store: restore: the copy does not check: %w", err)
	}
	if !info.StateMachine || info.Schema != schemaVersion {
		return fmt.Errorf("%w: store: restore: the copy is not a state machine of schema %q (schema %q)", ErrCorrupt, schemaVersion, info.Schema)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db != nil {
		// What is applied goes into the file first: when the copy does
		// not make it into place, the state stays as it was.
		d.batchMu.Lock()
		err := d.commitLocked(true)
		d.resetBatchLocked()
		d.batchMu.Unlock()
		if err != nil {
			return fmt.Errorf("store: restore: commit the applied state first: %w", err)
		}
		d.db.Close()
		d.db = nil
	}
	// Whether or not the copy made it into place, open what is there: the
	// old state when the rename failed, the new one otherwise.
	cerr := f.Commit()
	db, err := openBolt(d.path)
	if err != nil {
		return errors.Join(cerr, err)
	}
	d.db = db
	d.owed = true // the copy may hold owed intents: the next commit looks
	if err := d.loadAppliedLocked(); err != nil {
		return errors.Join(cerr, err)
	}
	// The state was replaced: whoever follows it reads it again.
	d.notifyChanged()
	d.notifyCommitted()
	if cerr != nil {
		return fmt.Errorf("store: restore: %w", cerr)
	}
	return nil
}

// apply executes one command inside tx. It checks every precondition before
// changing anything, so a failed command leaves no trace. cache (nil for
// none) decodes and remembers the head records a put reads and writes.
//
// w, when non-nil, receives what a parameter write (OpPut, OpDelete,
// OpMeta) wrote to the buckets the read buffer serves (see wrote).
func apply(tx *bolt.Tx, index uint64, c *Command, cache *decodeCache, w *wrote) error {
	switch c.Op {
	case OpPut:
		return applyPut(tx, index, c, cache, w)
	case OpDelete:
		return applyDelete(tx, index, c, w)
	case OpMeta:
		return applyMeta(tx, index, c, w)
	case OpSetting:
		return applySetting(tx, c)
	case OpCreateKey:
		return applyCreateKey(tx, c)
	case OpDisableKey:
		return applyDisableKey(tx, c)
	case OpResetAll:
		return applyResetAll(tx)
	case OpSetNode:
		return applySetNode(tx, c)
	case OpIncident:
		return applyIncident(tx, index, c)
	case OpRemoveNode:
		return applyRemoveNode(tx, c)
	case OpPutPrincipal:
		return applyPutPrincipal(tx, index, c)
	case OpDeletePrincipal:
		return applyDeletePrincipal(tx, index, c)
	case OpPutAccessKey:
		return applyPutAccessKey(tx, index, c)
	case OpDeleteAccessKey:
		return applyDeleteAccessKey(tx, index, c)
	case OpKeyCheck:
		return applyKeyCheck(tx, c)
	case OpNotifyPut:
		return applyNotifyPut(tx, index, c)
	case OpNotifyDelete:
		return applyNotifyDelete(tx, c)
	case OpNotifyAck:
		return applyNotifyAck(tx, c)
	case OpPolicyFire:
		return applyPolicyFire(tx, index, c)
	case OpNoop:
		return nil
	}
	return fmt.Errorf("store: unknown command %q", c.Op)
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("store: decode %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	_, err := putJSONRaw(b, key, v)
	return err
}

// putJSONRaw is putJSON that returns the bytes it wrote (which bbolt
// keeps until the commit: they must not change).
func putJSONRaw(b *bolt.Bucket, key []byte, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return raw, b.Put(key, raw)
}

func loadTenancy(tx *bolt.Tx, tenancy string) (*Tenancy, error) {
	var t Tenancy
	if _, err := getJSON(tx.Bucket(bucketTenancy), []byte(tenancy), &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *Tenancy) adjust(tier string, delta int64) {
	if tier == "Advanced" {
		t.Advanced += delta
	} else {
		t.Standard += delta
	}
}

func (t *Tenancy) count(tier string) int64 {
	if tier == "Advanced" {
		return t.Advanced
	}
	return t.Standard
}

func applyPut(tx *bolt.Tx, index uint64, c *Command, cache *decodeCache, w *wrote) error {
	if c.Param == nil {
		return errors.New("store: put without parameter")
	}
	params := tx.Bucket(bucketParams)
	pk := paramKey(c.Tenancy, c.Name)
	// old is read-only (it may be the cache's).
	var old *Parameter
	if raw := params.Get(pk); raw != nil {
		var err error
		if old, _, err = cache.peek(pk, raw); err != nil {
			return err
		}
	}
	exists := old != nil
	if c.Create == exists || (!c.Create && old.ModIndex != c.Expect) {
		return ErrConflict
	}
	// The tenancy's counts change only with a new parameter or a new tier.
	newTier := c.Param.Latest.Tier
	if !exists || old.Latest.Tier != newTier {
		ten, err := loadTenancy(tx, c.Tenancy)
		if err != nil {
			return err
		}
		if c.Quota > 0 && ten.count(newTier) >= c.Quota {
			return ErrQuota
		}
		ten.adjust(newTier, 1)
		if exists {
			ten.adjust(old.Latest.Tier, -1)
		}
		traw, err := putJSONRaw(tx.Bucket(bucketTenancy), []byte(c.Tenancy), ten)
		if err != nil {
			return err
		}
		w.setTenancy(traw)
	}
	versions := tx.Bucket(bucketVersions)
	for _, v := range c.Prune {
		if err := versions.Delete(versionKey(c.Tenancy, c.Name, v)); err != nil {
			return err
		}
	}
	p := *c.Param
	p.ModIndex = index
	p.Fired = nil
	// The policy index holds the parameters whose head has policies: it
	// changes only when the old head or the new one has some.
	if p.Latest.Policies != "" || exists && old.Latest.Policies != "" {
		if err := indexPolicies(tx, c.Tenancy, c.Name, &p, w); err != nil {
			return err
		}
	}
	// The version record and the head record, in one allocation (bbolt
	// keeps both until the commit).
	v := &p.Latest
	buf := make([]byte, 0, 2*(160+len(p.Name)+len(v.Type)+len(v.Value)+len(v.KeyID)+len(v.Description)+len(v.AllowedPattern)+
		len(v.DataType)+len(v.Tier)+len(v.Policies)+len(v.User))+16*len(p.Versions)+64*(len(p.Labels)+len(p.Tags)))
	both := appendVersionJSON(buf, v)
	n := len(both)
	verRaw, raw := both[:n:n], appendParamJSON(both[n:], &p)
	if err := versions.Put(versionKey(c.Tenancy, c.Name, p.Latest.Version), verRaw); err != nil {
		return err
	}
	if err := recordChange(tx, index, Change{Tenancy: c.Tenancy, Name: p.Name, Key: c.Name, Version: p.Latest.Version}, w); err != nil {
		return err
	}
	op := "Update"
	if !exists {
		op = "Create"
	}
	err := newEmitter(tx, index, c).emit(Event{Kind: KindChange, Operation: op, Name: p.Name, Type: p.Latest.Type,
		Description: p.Latest.Description, Time: p.Latest.Modified, ToVersion: p.Latest.Version})
	if err != nil {
		return err
	}
	if err := params.Put(pk, raw); err != nil {
		return err
	}
	w.setParam(pk, raw)
	// p shares its slices and maps with c, which nobody changes after
	// apply: the cache may keep both.
	cache.remember(pk, raw, &p)
	return nil
}

func applyDelete(tx *bolt.Tx, index uint64, c *Command, w *wrote) error {
	params := tx.Bucket(bucketParams)
	pk := paramKey(c.Tenancy, c.Name)
	var old Parameter
	exists, err := getJSON(params, pk, &old)
	if err != nil {
		return err
	}
	if !exists {
		return ErrNotFound
	}
	if c.Expect != 0 && old.ModIndex != c.Expect {
		return ErrConflict
	}
	ten, err := loadTenancy(tx, c.Tenancy)
	if err != nil {
		return err
	}
	ten.adjust(old.Latest.Tier, -1)
	traw, err := putJSONRaw(tx.Bucket(bucketTenancy), []byte(c.Tenancy), ten)
	if err != nil {
		return err
	}
	w.setTenancy(traw)
	if err := deletePrefix(tx.Bucket(bucketVersions), versionPrefix(c.Tenancy, c.Name)); err != nil {
		return err
	}
	if err := indexPolicies(tx, c.Tenancy, c.Name, nil, w); err != nil {
		return err
	}
	if err := recordChange(tx, index, Change{Tenancy: c.Tenancy, Name: old.Name, Key: c.Name, Deleted: true}, w); err != nil {
		return err
	}
	em := newEmitter(tx, index, c)
	if c.Policy != nil {
		if err := em.emit(*c.Policy); err != nil {
			return err
		}
	}
	err = em.emit(Event{Kind: KindChange, Operation: "Delete", Name: old.Name, Type: old.Latest.Type,
		Description: old.Latest.Description, FromVersion: old.Latest.Version})
	if err != nil {
		return err
	}
	if err := params.Delete(pk); err != nil {
		return err
	}
	w.setParam(pk, nil)
	return nil
}

func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func applyMeta(tx *bolt.Tx, index uint64, c *Command, w *wrote) error {
	params := tx.Bucket(bucketParams)
	pk := paramKey(c.Tenancy, c.Name)
	var p Parameter
	exists, err := getJSON(params, pk, &p)
	if err != nil {
		return err
	}
	if !exists {
		return ErrNotFound
	}
	if p.ModIndex != c.Expect {
		return ErrConflict
	}
	oldLabels := p.Labels
	p.Labels = c.Labels
	p.Tags = c.Tags
	p.ModIndex = index
	if err := newEmitter(tx, index, c).labelEvents(&p, oldLabels); err != nil {
		return err
	}
	if err := recordChange(tx, index, Change{Tenancy: c.Tenancy, Name: p.Name, Key: c.Name, Version: p.Latest.Version}, w); err != nil {
		return err
	}
	raw, err := putJSONRaw(params, pk, &p)
	if err != nil {
		return err
	}
	w.setParam(pk, raw)
	return nil
}

func applySetting(tx *bolt.Tx, c *Command) error {
	ten, err := loadTenancy(tx, c.Tenancy)
	if err != nil {
		return err
	}
	if c.Setting == nil {
		delete(ten.Settings, c.SettingID)
	} else {
		if ten.Settings == nil {
			ten.Settings = map[string]Setting{}
		}
		ten.Settings[c.SettingID] = *c.Setting
	}
	return putJSON(tx.Bucket(bucketTenancy), []byte(c.Tenancy), ten)
}

func applyCreateKey(tx *bolt.Tx, c *Command) error {
	if c.Key == nil || c.Key.ID == "" {
		return errors.New("store: createKey without key")
	}
	keys, aliases := tx.Bucket(bucketKeys), tx.Bucket(bucketAliases)
	kk := paramKey(c.Tenancy, c.Key.ID)
	if keys.Get(kk) != nil {
		return ErrExists
	}
	if c.Key.Alias != "" {
		ak := paramKey(c.Tenancy, c.Key.Alias)
		if aliases.Get(ak) != nil {
			return ErrExists
		}
		if err := aliases.Put(ak, []byte(c.Key.ID)); err != nil {
			return err
		}
	}
	return putJSON(keys, kk, c.Key)
}

func applyDisableKey(tx *bolt.Tx, c *Command) error {
	if c.Key == nil {
		return errors.New("store: disableKey without key")
	}
	keys := tx.Bucket(bucketKeys)
	kk := paramKey(c.Tenancy, c.Key.ID)
	var k Key
	ok, err := getJSON(keys, kk, &k)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	k.Disabled = c.Key.Disabled
	return putJSON(keys, kk, &k)
}

func applyResetAll(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketParams, bucketVersions, bucketTenancy, bucketPolicyParams} {
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return nil
}
