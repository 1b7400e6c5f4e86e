package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// The audit intent of a call in the raft log (internal/audit/doc.go,
// "Durability"). An API call that may change state has its intent record
// on the trail, durable, before the change can happen. A node that
// proposes the command itself (without peers, or a cluster's leader) gets
// there without an fsync of its own for the intent: the API
// hands the encoded record to the store (WithIntent), the command that
// carries out the call carries it (Command.Intent, Command.Origin), and
// raft's log makes it durable in the same group commit as the change.
// When this node applies the command, the state machine hands the record
// to the trail (Options.OnIntent), before the result record the API logs
// once the call returns; and every commit of the state machine first
// makes the trail durable (Options.BeforeCommit), so that an entry the
// state machine no longer applies again at a restart has its intent
// durable on the trail. An entry applied again at a restart has its
// intent appended again unless the trail already holds it (the record
// carries the entry's raft index, which the owner looks up at the start).

// IntentEntry is an intent record carried by the log entry at Index.
type IntentEntry struct {
	Index uint64
	Body  []byte
}

// bucketOwedIntents holds the intents a commit could not make durable on
// the trail (Options.OwedIntents): be64(raft index) -> the record. Created
// by the first such commit (not in allBuckets), emptied by the first
// commit after the trail wrote again.
var bucketOwedIntents = []byte("owedIntents")

// writeOwed records owed intents in tx, or, with owed nil, forgets them.
func writeOwed(tx *bolt.Tx, owed []IntentEntry) error {
	if owed == nil {
		if tx.Bucket(bucketOwedIntents) == nil {
			return nil
		}
		return tx.DeleteBucket(bucketOwedIntents)
	}
	b, err := tx.CreateBucketIfNotExists(bucketOwedIntents)
	if err != nil {
		return err
	}
	for _, e := range owed {
		if err := b.Put(binary.BigEndian.AppendUint64(nil, e.Index), e.Body); err != nil {
			return err
		}
	}
	return nil
}

// OwedIntents returns the intents the committed state owes the trail: a
// commit of the state machine happened while the trail could not make
// them durable (Options.OwedIntents). The owner appends those the trail
// does not hold, then commits (which forgets them once the trail is
// durable).
func (d *DB) OwedIntents() ([]IntentEntry, error) {
	var out []IntentEntry
	err := d.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOwedIntents)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("store: owed intent key %x is not a raft index", k)
			}
			out = append(out, IntentEntry{Index: binary.BigEndian.Uint64(k), Body: bytes.Clone(v)})
			return nil
		})
	})
	return out, err
}

// IntentSlot carries the encoded intent record of one API call to the
// commands that carry out the call. The zero value carries nothing.
type IntentSlot struct {
	// Body is the intent record (Command.Intent).
	Body []byte
	// Durable, if set, writes the record to the trail and waits until it
	// is durable, as an intent that does not travel in the log is (the
	// API's own path): a clustered node that forwards the call's command
	// to the leader calls it (LogDurable) instead of carrying the intent,
	// since it might never apply that entry itself.
	Durable IntentLogger
	// used is set once a command took Body; applied once such a command
	// was applied (its outcome is known): later commands of the call do
	// not carry it again.
	used, applied atomic.Bool
}

// IntentLogger makes a call's intent record durable on the trail by
// itself (IntentSlot.Durable). LogIntentDurable returns whether the record
// was queued on the trail (its result record is then owed, even when it
// failed to be durable), and nil once it is durable.
type IntentLogger interface {
	LogIntentDurable() (queued bool, err error)
}

// ErrNoIntentLogger refuses a command whose intent can neither travel in
// the log nor be written on its own.
var ErrNoIntentLogger = errors.New("store: the call's audit intent cannot be carried to the leader and has no other way to the trail")

// Pending returns the intent the next command of the call would carry
// (as Take) without taking it.
func (s *IntentSlot) Pending() []byte {
	if s == nil || s.Body == nil || s.applied.Load() {
		return nil
	}
	return s.Body
}

// LogDurable writes the intent to the trail by itself and waits until it
// is durable (Durable); from then on no command of the call carries it.
func (s *IntentSlot) LogDurable() error {
	if s.Durable == nil {
		return ErrNoIntentLogger
	}
	queued, err := s.Durable.LogIntentDurable()
	if queued {
		s.used.Store(true)
	}
	if err != nil {
		return err
	}
	s.applied.Store(true)
	return nil
}

// Take returns the intent for the next command of the call, or nil when a
// command that carried it was already applied.
func (s *IntentSlot) Take() []byte {
	if s == nil || s.Body == nil || s.applied.Load() {
		return nil
	}
	s.used.Store(true)
	return s.Body
}

// Applied records that a command that carried the intent was applied.
func (s *IntentSlot) Applied() { s.applied.Store(true) }

// Used reports whether a command took the intent: it may be in the log,
// and on the trail once applied.
func (s *IntentSlot) Used() bool { return s != nil && s.used.Load() }

type intentKey struct{}

// WithIntent returns ctx carrying slot: the commands applied with it carry
// its intent record (see IntentSlot).
func WithIntent(ctx context.Context, slot *IntentSlot) context.Context {
	return context.WithValue(ctx, intentKey{}, slot)
}

// IntentFrom returns the slot of ctx, or nil.
func IntentFrom(ctx context.Context) *IntentSlot {
	s, _ := ctx.Value(intentKey{}).(*IntentSlot)
	return s
}

// ErrIntentTrail wraps the failure of the audit trail to make the intents
// of applied entries durable before a commit of the state machine
// (Options.BeforeCommit): the commit waits, as for a disk that refuses it.
var ErrIntentTrail = errors.New("store: the audit trail cannot make the intents of applied entries durable")
