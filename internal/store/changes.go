package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The change log: one record per change of a parameter (a new version, a
// delete, a label or tag change), keyed by the raft index of the command,
// for the change stream that agents follow. It keeps the most recent
// changeRetention entries; older ones are pruned as new ones arrive, the
// same way on every replica.

// Change is one entry of the change log.
type Change struct {
	Index   uint64 `json:"-"`
	Tenancy string `json:"t"`
	Name    string `json:"n"` // display name
	Key     string `json:"k"` // canonical name
	Version int64  `json:"v,omitempty"`
	Deleted bool   `json:"d,omitempty"`
}

const changeRetention = 100000

var (
	bucketChanges  = []byte("changes")
	keyChangeFloor = []byte("changeFloor")
)

func recordChange(tx *bolt.Tx, index uint64, ch Change, w *wrote) error {
	b := tx.Bucket(bucketChanges)
	b.FillPercent = appendFill
	raw := appendChangeJSON(make([]byte, 0, 48+len(ch.Tenancy)+len(ch.Name)+len(ch.Key)), &ch)
	if err := b.Put(binary.BigEndian.AppendUint64(nil, index), raw); err != nil {
		return err
	}
	w.setChange(raw)
	if index <= changeRetention {
		return nil
	}
	var cut [8]byte
	binary.BigEndian.PutUint64(cut[:], index-changeRetention)
	c := b.Cursor()
	pruned := false
	for k, _ := c.First(); k != nil && bytes.Compare(k, cut[:]) <= 0; k, _ = c.First() {
		if err := b.Delete(k); err != nil {
			return err
		}
		pruned = true
	}
	if !pruned {
		return nil
	}
	if w != nil {
		// applyEntries records the batch's last floor once, at its end.
		w.setFloor(index - changeRetention)
		return nil
	}
	// bbolt keeps the value until the commit: a copy of cut.
	return tx.Bucket(bucketMeta).Put(keyChangeFloor, bytes.Clone(cut[:]))
}

// ChangeFloor is the highest index whose changes may have been pruned: a
// follower of the stream that last saw an older index must resynchronize.
// A buffered read (WithPointReads) knows it without a commit.
func (r *Reader) ChangeFloor() uint64 {
	if r.buf != nil {
		floor := metaUint(r.txn(), keyChangeFloor)
		if chs := r.buf.changesUpTo(r.upTo); len(chs) > 0 {
			floor = max(floor, chs[len(chs)-1].floor)
		}
		return floor
	}
	v := r.bucket(bucketMeta).Get(keyChangeFloor)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// AppliedIndex is the raft index of the last applied entry of this snapshot.
// A buffered read (WithPointReads) knows it without a commit: it reads the
// committed state and the read buffer as of that index.
func (r *Reader) AppliedIndex() uint64 {
	if r.buf != nil {
		return r.upTo
	}
	r.bucket(bucketMeta)
	return appliedIndex(r.txn())
}

// Changes calls fn for the changes after index since, in order; fn returns
// false to stop. A buffered read (WithPointReads) serves them without a
// commit: the committed log before the read buffer's first index, then
// the buffer's records up to the read's index, past the change floor of
// the applied state (what its pruning removed).
func (r *Reader) Changes(since uint64, fn func(ch *Change) (bool, error)) error {
	if r.buf == nil {
		return r.changesIn(r.bucket(bucketChanges), since, ^uint64(0), fn)
	}
	since = max(since, r.ChangeFloor())
	// The committed transaction may already hold the buffer's entries (a
	// commit that has not yet dropped the buffer): those come from the
	// buffer alone.
	more := true
	err := r.changesIn(r.txn().Bucket(bucketChanges), since, min(r.upTo, r.buf.first-1), func(ch *Change) (bool, error) {
		var err error
		more, err = fn(ch)
		return more, err
	})
	if err != nil || !more {
		return err
	}
	for _, bc := range r.buf.changesUpTo(r.upTo) {
		if bc.index <= since {
			continue
		}
		ch, err := decodeChange(bc.index, bc.raw)
		if err != nil {
			return err
		}
		if more, err := fn(&ch); err != nil || !more {
			return err
		}
	}
	return nil
}

// changesIn calls fn for the changes of bucket b after index since, up to
// index last.
func (r *Reader) changesIn(b *bolt.Bucket, since, last uint64, fn func(ch *Change) (bool, error)) error {
	c := b.Cursor()
	for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, since+1)); k != nil; k, v = c.Next() {
		index := binary.BigEndian.Uint64(k)
		if index > last {
			return nil
		}
		ch, err := decodeChange(index, v)
		if err != nil {
			return err
		}
		if more, err := fn(&ch); err != nil || !more {
			return err
		}
	}
	return nil
}

func decodeChange(index uint64, raw []byte) (Change, error) {
	var ch Change
	if err := json.Unmarshal(raw, &ch); err != nil {
		return ch, fmt.Errorf("store: decode change %x: %w", binary.BigEndian.AppendUint64(nil, index), err)
	}
	ch.Index = index
	return ch, nil
}
