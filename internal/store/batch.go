package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// The deferred commit (DESIGN.md decision 10; etcd's backend batch).
//
// With Options.BatchLimit set, ApplyBatch applies the batches raft hands
// over into one bbolt write transaction that stays open across batches, and
// the transaction is committed (with bbolt's fsync) when it holds
// BatchLimit entries, when the owner calls Commit (raftstore does on an
// interval), before a reader that needs the committed state, before a
// Snapshot, Restore or Close, and at the end of every batch that holds a
// command other than the parameter writes (OpPut, OpDelete, OpMeta): those
// rarer commands (identities, keys, incidents, nodes, subscriptions and
// their acknowledgements) are durable in the state machine when they are
// acknowledged, as before.
//
// An entry applied but not committed is durable in the raft log: a crash
// loses the open transaction, and the start hands the log's entries after
// the committed applied index to the state machine again (raftstore). A
// commit the disk refuses leaves the entries applied since the last commit
// in memory (pending): the next commit applies them again into a new
// transaction (apply is deterministic), and until one succeeds ApplyBatch
// fails every batch with the storage error, which raftstore retries.
//
// Readers never touch the open transaction (bbolt transactions are not
// goroutine-safe). A reader either waits for a commit of what is applied
// (the flush barrier of View: the first reader commits, those queued behind
// it find nothing left to commit), or, when it reads only parameters and
// tenancies by name, the change log and the parameters with policies
// (WithPointReads), reads the committed state through the read buffer: the
// head records and tenancy records the open transaction wrote, by key,
// each with the index that wrote it, the change log's records it added,
// and the first index that changed the policy index (policyparams).
//
// Changed fires when entries are applied, Committed when they are
// committed: the change stream follows the applied state (a watcher may see
// a change before it is in the file; a crash then replays it from the raft
// log, the same change at the same index), while what reads buckets the
// buffer does not serve (the event outbox) waits for the commit.
//
// Lock order: DB.mu, then batchMu, then genMu, then readBuffer.mu.

// readBuffer holds what the deferred commands wrote into the open
// transaction to the buckets a point read serves (params and tenancy): for
// each key, the values in the order of the entries that wrote them (nil for
// a deletion); and the change log's records they added (changes), in index
// order, each with the change floor after it, so that the change stream
// follows the applied state without a commit. first is the index of the
// first entry applied into the transaction: a reader whose index is at or
// above it and reads any other bucket that deferred commands write needs
// the committed state (a flush), as does one that reads the policy index
// at or above policies (0: no entry changed it).
type readBuffer struct {
	first uint64

	mu       sync.RWMutex
	params   map[string][]bufferedValue
	tenancy  map[string][]bufferedValue
	changes  []bufferedChange
	policies uint64
	// base holds tenancy records of the committed state that point reads
	// read (nil: none), so that the next ones need no transaction: the
	// committed state changes only at a commit, which drops the buffer.
	base map[string][]byte
}

type bufferedValue struct {
	index uint64
	raw   []byte // nil: deleted
}

// bufferedChange is a record of the change log the open transaction
// holds, and the change floor (ChangeFloor) after its entry.
type bufferedChange struct {
	bufferedValue
	floor uint64
}

// bufferedWrite is one value captured from the open transaction (for the
// changes bucket: a change record at index, key unused).
type bufferedWrite struct {
	bucket []byte
	key    []byte
	bufferedValue
	floor uint64
}

func newReadBuffer(first uint64) *readBuffer {
	return &readBuffer{first: first, params: map[string][]bufferedValue{}, tenancy: map[string][]bufferedValue{}}
}

func (b *readBuffer) values(bucket []byte) map[string][]bufferedValue {
	switch string(bucket) {
	case string(bucketParams):
		return b.params
	case string(bucketTenancy):
		return b.tenancy
	}
	return nil
}

func (b *readBuffer) add(ws []bufferedWrite) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range ws {
		if string(w.bucket) == string(bucketChanges) {
			b.changes = append(b.changes, bufferedChange{w.bufferedValue, w.floor})
			continue
		}
		if string(w.bucket) == string(bucketPolicyParams) {
			if b.policies == 0 {
				b.policies = w.index
			}
			continue
		}
		m := b.values(w.bucket)
		m[string(w.key)] = append(m[string(w.key)], w.bufferedValue)
	}
}

// get returns the value of key as of index upTo, and whether the buffer
// knows it (else the committed state has it).
func (b *readBuffer) get(bucket, key []byte, upTo uint64) ([]byte, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	chain := b.values(bucket)[string(key)]
	for i := len(chain) - 1; i >= 0; i-- {
		if chain[i].index <= upTo {
			return chain[i].raw, true
		}
	}
	return nil, false
}

// committed returns the committed tenancy record of key that a point read
// read before, and whether one did.
func (b *readBuffer) committed(key []byte) ([]byte, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	raw, ok := b.base[string(key)]
	return raw, ok
}

// setCommitted keeps a copy of raw, the committed tenancy record of key
// (nil: none).
func (b *readBuffer) setCommitted(key, raw []byte) {
	if raw != nil {
		raw = bytes.Clone(raw)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.base == nil {
		b.base = map[string][]byte{}
	}
	if len(b.base) < tenancyCacheSize {
		b.base[string(key)] = raw
	}
}

// policiesChanged reports whether an entry at or below index upTo changed
// the policy index.
func (b *readBuffer) policiesChanged(upTo uint64) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.policies != 0 && b.policies <= upTo
}

// changesUpTo returns the buffered change records at or below index upTo,
// in index order. The records are never changed once added: the caller
// reads them without the lock.
func (b *readBuffer) changesUpTo(upTo uint64) []bufferedChange {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := len(b.changes)
	for n > 0 && b.changes[n-1].index > upTo {
		n--
	}
	return b.changes[:n:n]
}

// deferrable reports whether every command of entries may wait for a later
// commit: the parameter writes, whose point reads the read buffer serves.
// A batch holding any other command is committed before ApplyBatch returns.
func deferrable(entries []Entry) bool {
	for _, e := range entries {
		if e.Data == nil {
			continue
		}
		switch op := commandOp(e.Data); op {
		case OpPut, OpDelete, OpMeta, OpNoop:
		default:
			return false
		}
	}
	return true
}

// wrote is what one parameter write (OpPut, OpDelete, OpMeta) wrote into
// the open transaction to the buckets the read buffer serves: the apply
// functions fill it as they write (a nil *wrote ignores it), and capture
// hands it to the buffer without reading the transaction back. The byte
// slices are those given to bbolt, which nothing changes afterwards.
type wrote struct {
	paramKey               []byte
	param, tenancy, change []byte
	// paramSet, tenancySet, changeSet: the command wrote that record
	// (param nil: deleted); floorSet: it pruned the change log up to floor;
	// policies: it wrote to the policy index.
	paramSet, tenancySet, changeSet, floorSet, policies bool
	floor                                               uint64
}

func (w *wrote) setParam(key, raw []byte) {
	if w != nil {
		w.paramKey, w.param, w.paramSet = key, raw, true
	}
}

func (w *wrote) setTenancy(raw []byte) {
	if w != nil {
		w.tenancy, w.tenancySet = raw, true
	}
}

func (w *wrote) setChange(raw []byte) {
	if w != nil {
		w.change, w.changeSet = raw, true
	}
}

func (w *wrote) setPolicies() {
	if w != nil {
		w.policies = true
	}
}

func (w *wrote) setFloor(floor uint64) {
	if w != nil {
		w.floor, w.floorSet = floor, true
	}
}

// capture appends what the deferred command c, applied at index, wrote
// to the buffered buckets (w), with floor the change floor after it. A
// tenancy record the command left as it was is not captured: the buffer
// or the committed state already has its value as of index.
func capture(index uint64, c *Command, w *wrote, floor uint64, ws []bufferedWrite) []bufferedWrite {
	switch c.Op {
	case OpPut, OpDelete, OpMeta:
	default:
		return ws
	}
	if w.paramSet {
		ws = append(ws, bufferedWrite{bucket: bucketParams, key: w.paramKey, bufferedValue: bufferedValue{index, w.param}})
	}
	if w.tenancySet {
		ws = append(ws, bufferedWrite{bucket: bucketTenancy, key: []byte(c.Tenancy), bufferedValue: bufferedValue{index, w.tenancy}})
	}
	if w.changeSet {
		ws = append(ws, bufferedWrite{bucket: bucketChanges, bufferedValue: bufferedValue{index, w.change}, floor: floor})
	}
	if w.policies {
		ws = append(ws, bufferedWrite{bucket: bucketPolicyParams, bufferedValue: bufferedValue{index: index}})
	}
	return ws
}

// applyEntries applies entries into tx, setting one result per entry, and
// returns the last index applied and, when captureWrites, the values the
// commands wrote to the buffered buckets. An error is one of bbolt's: the
// transaction must be rolled back.
func applyEntries(tx *bolt.Tx, entries []Entry, results []error, captureWrites bool, cache *decodeCache, onIntent func(uint64, string, []byte)) (uint64, []bufferedWrite, error) {
	applied := appliedIndex(tx)
	last, lastTerm := applied, uint64(0)
	var ws []bufferedWrite
	var w wrote
	floor, floorMoved := uint64(0), false
	if captureWrites {
		floor = metaUint(tx, keyChangeFloor)
		ws = make([]bufferedWrite, 0, 2*len(entries))
	}
	for i, e := range entries {
		if e.Index <= applied {
			if e.Data != nil && results != nil {
				results[i] = fmt.Errorf("%w (entry %d, applied index %d)", ErrStaleEntry, e.Index, applied)
			}
			continue
		}
		last, lastTerm = e.Index, e.Term
		if e.Data == nil {
			continue
		}
		cmd, err := UnmarshalCommand(e.Data)
		if err != nil {
			if results != nil {
				results[i] = err
			}
			continue
		}
		var res error
		if prev := seenResult(tx, cmd); prev != nil {
			// A copy of a command applied before (re-proposed, see
			// Command.ID): its result, and its intent was announced then.
			res = decodeResult(prev)
		} else {
			if cmd.Intent != nil && onIntent != nil {
				onIntent(e.Index, cmd.Origin, cmd.Intent)
			}
			w = wrote{}
			res = applyFirst(tx, e.Index, cmd, cache, &w)
			if w.floorSet {
				floor, floorMoved = w.floor, true
			}
			if res == nil && captureWrites {
				ws = capture(e.Index, cmd, &w, floor, ws)
			}
		}
		if results != nil {
			results[i] = res
		}
	}
	if last == applied {
		return last, ws, nil
	}
	meta := tx.Bucket(bucketMeta)
	if floorMoved {
		if err := meta.Put(keyChangeFloor, binary.BigEndian.AppendUint64(nil, floor)); err != nil {
			return 0, nil, err
		}
	}
	if err := meta.Put(keyAppliedTerm, binary.BigEndian.AppendUint64(nil, lastTerm)); err != nil {
		return 0, nil, err
	}
	return last, ws, meta.Put(keyApplied, binary.BigEndian.AppendUint64(nil, last))
}

// ApplyBatch applies entries and returns one result per entry: nil, a
// sentinel error of this package, or a decoding error. Entries at or below
// the applied index (replayed after a restart) are skipped, which makes
// replay idempotent; a skipped command's result is ErrStaleEntry, never
// nil, so that it cannot be mistaken for a success. When the batch cannot
// be written (a commit the disk refuses), every result is that error and
// nothing of the batch was applied: the caller tries the batch again.
//
// Without Options.BatchLimit the batch is committed before ApplyBatch
// returns; with it, see the top of batch.go.
func (d *DB) ApplyBatch(entries []Entry) []error {
	results := make([]error, len(entries))
	fail := func(err error) []error {
		err = fmt.Errorf("store: apply batch: %w", err)
		for i := range results {
			results[i] = err
		}
		return results
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.db == nil {
		return fail(errors.New("store: closed"))
	}
	d.batchMu.Lock()
	defer d.batchMu.Unlock()
	deferred := d.opts.BatchLimit > 0 && deferrable(entries)
	if d.broken || len(d.pending) > 0 && (!deferred || len(d.pending) >= d.opts.BatchLimit) {
		if err := d.commitLocked(true); err != nil {
			return fail(err)
		}
	}
	if d.tx == nil {
		tx, err := d.db.Begin(true)
		if err != nil {
			return fail(err)
		}
		d.tx = tx
	}
	last, ws, err := applyEntries(d.tx, entries, results, deferred, &d.decoded, d.opts.OnIntent)
	if err != nil {
		// The transaction holds part of this batch: roll it back whole;
		// the entries applied before it are applied again at the next
		// commit.
		d.tx.Rollback()
		d.tx = nil
		d.broken = len(d.pending) > 0
		return fail(err)
	}
	iamVersion := iamVersionOf(d.tx)
	d.pending = append(d.pending, entries...)
	if last > d.txLast {
		d.txLast = last
	}
	if !deferred {
		if err := d.commitLocked(true); err != nil {
			// Only this batch was in the transaction (what was pending
			// was committed first), and bbolt rolled it back.
			d.pending = d.pending[:0]
			d.broken = false
			d.txLast = d.committed.Load()
			return fail(err)
		}
		d.publish(nil, last)
	} else {
		d.publish(ws, last)
	}
	d.iamVersion.Store(iamVersion)
	return results
}

// publish makes what the open transaction holds up to index last visible
// to readers: the buffered values, then the applied index.
// The waiters of Changed are woken once they can read it.
func (d *DB) publish(ws []bufferedWrite, last uint64) {
	d.genMu.Lock()
	if d.buf == nil && d.txLast > d.committed.Load() {
		d.buf = newReadBuffer(d.committed.Load() + 1)
	}
	if len(ws) > 0 {
		d.buf.add(ws)
	}
	advanced := last > d.applied.Load()
	if advanced {
		d.applied.Store(last)
	}
	d.genMu.Unlock()
	if advanced {
		d.notifyChanged()
	}
}

// commitLocked commits the open transaction: after a failed commit, it
// applies the pending entries again into a new one first. With notify,
// the waiters of Committed are woken. The caller holds batchMu.
func (d *DB) commitLocked(notify bool) error {
	if d.broken {
		tx, err := d.db.Begin(true)
		if err != nil {
			return err
		}
		if _, _, err := applyEntries(tx, d.pending, nil, false, &d.decoded, nil); err != nil {
			tx.Rollback()
			return err
		}
		d.tx = tx
	}
	if d.tx != nil && d.opts.BeforeCommit != nil {
		if err := d.beforeCommit(); err != nil {
			// As a failed commit: bbolt rolls the transaction back.
			d.tx.Rollback()
			d.tx = nil
			d.broken = len(d.pending) > 0
			return err
		}
	}
	if d.tx != nil {
		err := d.tx.Commit()
		d.tx = nil
		if err != nil {
			d.broken = len(d.pending) > 0
			return err
		}
		d.broken = false
		clear(d.pending) // drop the references to the entries' data
		d.pending = d.pending[:0]
		d.commits.Add(1)
		d.genMu.Lock()
		d.buf = nil
		d.committed.Store(d.txLast)
		d.genMu.Unlock()
	}
	if notify && d.notified < d.committed.Load() {
		d.notified = d.committed.Load()
		d.notifyCommitted()
	}
	return nil
}

// beforeCommit runs Options.BeforeCommit and records in the open
// transaction the intents owed to a trail that could not make them
// durable, or forgets those recorded once it could. The caller holds
// batchMu.
func (d *DB) beforeCommit() error {
	err := d.opts.BeforeCommit()
	switch {
	case err == nil && d.owed:
		if werr := writeOwed(d.tx, nil); werr != nil {
			return werr
		}
		d.owed = false
	case err != nil && errors.Is(err, ErrIntentTrail) && d.opts.OwedIntents != nil:
		if owed := d.opts.OwedIntents(); len(owed) > 0 {
			if werr := writeOwed(d.tx, owed); werr != nil {
				return werr
			}
			d.owed = true
		}
		return nil
	}
	return err
}

// Commit commits what is applied and not yet committed (the owner calls it
// on an interval; see Options.BatchLimit), and wakes the waiters of Committed
// for what was committed since they were last woken. It returns the
// storage error of a commit the disk refuses.
func (d *DB) Commit() error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.db == nil {
		return errors.New("store: closed")
	}
	d.batchMu.Lock()
	defer d.batchMu.Unlock()
	if err := d.commitLocked(true); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// InBatch runs fn under the lock ApplyBatch holds while it applies (and
// calls Options.OnIntent): no commit of the state machine runs meanwhile,
// so fn may hand intents to the owner's trail as OnIntent does.
func (d *DB) InBatch(fn func()) {
	d.batchMu.Lock()
	defer d.batchMu.Unlock()
	fn()
}

// Pending reports whether entries are applied and not yet committed.
func (d *DB) Pending() bool { return d.committed.Load() < d.applied.Load() }

// Commits counts the state machine's commits since it was opened.
func (d *DB) Commits() uint64 { return d.commits.Load() }

// CommittedIndex is the applied index of the committed state: what is
// durable in the state machine's file.
func (d *DB) CommittedIndex() uint64 { return d.committed.Load() }

// flush commits what is applied (the barrier of a reader that needs the
// committed state). The caller holds mu (shared).
func (d *DB) flush() error {
	if !d.Pending() {
		return nil
	}
	d.batchMu.Lock()
	defer d.batchMu.Unlock()
	if err := d.commitLocked(false); err != nil {
		return fmt.Errorf("store: commit before a read: %w", err)
	}
	return nil
}

// resetBatchLocked forgets the open batch of a database being replaced or
// closed. The caller holds mu exclusively.
func (d *DB) resetBatchLocked() {
	if d.tx != nil {
		d.tx.Rollback()
		d.tx = nil
	}
	d.pending, d.broken = nil, false
	d.genMu.Lock()
	d.buf = nil
	d.genMu.Unlock()
}
