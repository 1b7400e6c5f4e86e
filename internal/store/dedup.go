package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Command deduplication: the result of every command that carries an ID is
// kept under that ID for dedupWindow (measured by the IDs' own timestamps,
// so every replica prunes the same entries), and a command whose ID was seen
// returns the stored result without being applied again.

var bucketRequests = []byte("requests")

const dedupWindow = 15 * time.Minute

// appendFill is the fill of the pages that a write splits in the buckets
// whose keys only grow (the requests, by their time-ordered IDs; the
// change log, by index), as etcd's key bucket: bbolt's default (half)
// suits random inserts and leaves pages that only ever receive keys past
// their last half empty, and a deferred commit writes each dirty page.
// Measured (BenchmarkDeferredCommitCycle, every=4800, pagewrites/entry):
// 0.279 -> 0.245 for overwrites of 1000 names, 0.292 -> 0.258 for new
// names; request IDs out of order by up to 2 ms, as concurrent proposers
// make them, change neither.
const appendFill = 0.9

// encodeResult is the stored outcome of a command: "ok", the name of a
// result (result.go), or "error:" and the text of any other error.
func encodeResult(err error) []byte {
	if err == nil {
		return []byte("ok")
	}
	if name := ResultName(err); name != "" {
		return []byte(name)
	}
	return []byte("error:" + err.Error())
}

func decodeResult(b []byte) error {
	s := string(b)
	if s == "ok" {
		return nil
	}
	if res := ResultNamed(s); res != nil {
		return res
	}
	return errors.New(s)
}

// seenResult returns the stored result of a copy of c already applied (see
// Command.ID), or nil.
func seenResult(tx *bolt.Tx, c *Command) []byte {
	if c.ID == "" {
		return nil
	}
	return tx.Bucket(bucketRequests).Get([]byte(c.ID))
}

// applyFirst applies a command whose ID (if any) was not applied before,
// and records its result under the ID.
func applyFirst(tx *bolt.Tx, index uint64, c *Command, cache *decodeCache, w *wrote) error {
	res := apply(tx, index, c, cache, w)
	if c.ID == "" {
		return res
	}
	b := tx.Bucket(bucketRequests)
	b.FillPercent = appendFill
	if err := b.Put([]byte(c.ID), encodeResult(res)); err != nil {
		return err
	}
	pruneRequests(b, c.ID)
	return res
}

// pruneRequests deletes the IDs older than dedupWindow before id's time.
func pruneRequests(b *bolt.Bucket, id string) {
	// As hex.DecodeString(id) did (every replica must prune alike): an
	// ID that is not all hex, of odd length or shorter than 8 bytes prunes
	// nothing.
	var raw [8]byte
	if len(id) < 2*len(raw) || len(id)%2 != 0 || !isHex(id) {
		return
	}
	hex.Decode(raw[:], []byte(id[:2*len(raw)]))
	ts := int64(binary.BigEndian.Uint64(raw[:]))
	cutoff := ts - int64(dedupWindow)
	if cutoff <= 0 {
		return
	}
	binary.BigEndian.PutUint64(raw[:], uint64(cutoff))
	var limit [16]byte
	hex.Encode(limit[:], raw[:])
	c := b.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, limit[:]) < 0; k, _ = c.First() {
		if err := b.Delete(k); err != nil {
			return
		}
	}
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
