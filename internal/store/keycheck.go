package store

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The key check value: a value derived from the cluster's master key (an
// HMAC of a fixed string, computed by package crypto) that the first node
// writes into the replicated state once. It reveals nothing about the key,
// and a node started with another master key finds out before it serves a
// request instead of failing every decryption.

// OpKeyCheck records the key check value of the master key. It is written
// once: a second command with the same value is a no-op, one with another
// value fails with ErrKeyMismatch.
const OpKeyCheck Op = "keyCheck"

var keyKeyCheck = []byte("keyCheck")

func applyKeyCheck(tx *bolt.Tx, c *Command) error {
	if len(c.KeyCheck) == 0 {
		return errors.New("store: keyCheck without a value")
	}
	meta := tx.Bucket(bucketMeta)
	if prev := meta.Get(keyKeyCheck); prev != nil {
		if subtle.ConstantTimeCompare(prev, c.KeyCheck) != 1 {
			return ErrKeyMismatch
		}
		return nil
	}
	return meta.Put(keyKeyCheck, bytes.Clone(c.KeyCheck))
}

// KeyCheck returns the recorded key check value, or nil when none was
// recorded yet.
func (r *Reader) KeyCheck() []byte {
	return bytes.Clone(r.bucket(bucketMeta).Get(keyKeyCheck))
}

// KeyCheck returns the recorded key check value from the local state, or
// nil when none was recorded yet.
func (d *DB) KeyCheck() ([]byte, error) {
	var kc []byte
	err := d.view(func(tx *bolt.Tx) error {
		kc = bytes.Clone(tx.Bucket(bucketMeta).Get(keyKeyCheck))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: read key check value: %w", err)
	}
	return kc, nil
}
