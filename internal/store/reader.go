package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Reader reads one consistent snapshot of the state. It is valid only inside
// the View callback that received it.
type Reader struct {
	tx    *bolt.Tx
	cache *decodeCache
	// buf, in a buffered read (WithPointReads), holds what was applied
	// after tx's state, up to index upTo; needFlush is set when fn reads
	// what buf cannot serve (batch.go).
	buf       *readBuffer
	upTo      uint64
	needFlush bool
	// db, in a buffered read, opens tx on the first read that buf does not
	// answer (txn): commits is its count of commits when buf was taken,
	// which must not have moved when tx is opened (else fn runs again).
	db      *DB
	commits uint64
}

// txn returns the read transaction of the committed state, opened on first
// use in a buffered read (a point read the buffer answers needs none).
func (r *Reader) txn() *bolt.Tx {
	if r.tx == nil {
		r.tx = r.db.beginBuffered(r)
	}
	return r.tx
}

// bucket returns a bucket of the committed state to read directly. In a
// buffered read, a bucket that deferred commands write differs from the
// applied state while the buffer holds entries: the read must wait for a
// commit (View runs fn again).
func (r *Reader) bucket(name []byte) *bolt.Bucket {
	if r.buf != nil && r.buf.first <= r.upTo && deferredBucket(name) {
		r.needFlush = true
	}
	return r.txn().Bucket(name)
}

// get reads key of a bucket the read buffer serves (params, tenancy). A
// buffered read of a tenancy record that the buffer does not hold reads
// the committed record once per commit (readBuffer.base).
func (r *Reader) get(bucket, key []byte) []byte {
	if r.buf == nil {
		return r.txn().Bucket(bucket).Get(key)
	}
	if raw, ok := r.buf.get(bucket, key, r.upTo); ok {
		return raw
	}
	if string(bucket) != string(bucketTenancy) {
		return r.txn().Bucket(bucket).Get(key)
	}
	if raw, ok := r.buf.committed(key); ok {
		return raw
	}
	raw := r.txn().Bucket(bucket).Get(key)
	if !r.needFlush {
		r.buf.setCommitted(key, raw)
	}
	return raw
}

// Param returns the head record of a parameter, or nil if there is none.
func (r *Reader) Param(tenancy, name string) (*Parameter, error) {
	key := paramKey(tenancy, name)
	raw := r.get(bucketParams, key)
	if raw == nil {
		return nil, nil
	}
	if r.cache != nil {
		return r.cache.param(key, raw)
	}
	var p Parameter
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("store: decode %q: %w", key, err)
	}
	return &p, nil
}

// Version returns a retained version, or nil if it is not retained.
func (r *Reader) Version(tenancy, name string, v int64) (*Version, error) {
	var out Version
	ok, err := getJSON(r.bucket(bucketVersions), versionKey(tenancy, name, v), &out)
	if !ok || err != nil {
		return nil, err
	}
	return &out, nil
}

// Versions calls fn for the retained versions of a parameter in ascending
// order, starting at version from; fn returns false to stop.
func (r *Reader) Versions(tenancy, name string, from int64, fn func(v *Version) (bool, error)) error {
	prefix := versionPrefix(tenancy, name)
	c := r.bucket(bucketVersions).Cursor()
	for k, raw := c.Seek(versionKey(tenancy, name, from)); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
		var v Version
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("store: decode version %q: %w", k, err)
		}
		more, err := fn(&v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// ScanItem is one parameter met by Scan. Load decodes its head record.
type ScanItem struct {
	Name string
	raw  []byte
}

// Load decodes the head record.
func (it *ScanItem) Load() (*Parameter, error) {
	var p Parameter
	if err := json.Unmarshal(it.raw, &p); err != nil {
		return nil, fmt.Errorf("store: decode parameter %q: %w", it.Name, err)
	}
	return &p, nil
}

// ScanControl tells Scan how to go on.
type ScanControl struct {
	Stop   bool
	SkipTo string // if not empty, continue at the first name >= SkipTo
}

// Scan visits the parameters of a tenancy whose names start with prefix, in
// byte order of their canonical names, beginning at the first name > after
// (or at the start when after is empty).
func (r *Reader) Scan(tenancy, prefix, after string, fn func(it *ScanItem) (ScanControl, error)) error {
	full := paramKey(tenancy, prefix)
	c := r.bucket(bucketParams).Cursor()
	var k, v []byte
	if after != "" && after >= prefix {
		start := paramKey(tenancy, after)
		k, v = c.Seek(start)
		if k != nil && bytes.Equal(k, start) {
			k, v = c.Next()
		}
	} else {
		k, v = c.Seek(full)
	}
	for k != nil && bytes.HasPrefix(k, full) {
		it := ScanItem{Name: nameOf(k), raw: v}
		ctl, err := fn(&it)
		if err != nil || ctl.Stop {
			return err
		}
		if ctl.SkipTo != "" {
			k, v = c.Seek(paramKey(tenancy, ctl.SkipTo))
			continue
		}
		k, v = c.Next()
	}
	return nil
}

// Tenancy returns the tenancy record (zero if none was written yet). Its
// Settings map is read-only (it may be shared with a cache).
func (r *Reader) Tenancy(tenancy string) (*Tenancy, error) {
	var t Tenancy
	raw := r.get(bucketTenancy, []byte(tenancy))
	if raw == nil {
		return &t, nil
	}
	if r.cache != nil {
		return r.cache.tenancies.tenancy(tenancy, raw)
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("store: decode %q: %w", tenancy, err)
	}
	return &t, nil
}

// Key returns a keyring key by ID, or nil.
func (r *Reader) Key(tenancy, id string) (*Key, error) {
	var k Key
	ok, err := getJSON(r.bucket(bucketKeys), paramKey(tenancy, id), &k)
	if !ok || err != nil {
		return nil, err
	}
	return &k, nil
}

// KeyIDByAlias resolves an alias ("alias/name") to a key ID, or "".
func (r *Reader) KeyIDByAlias(tenancy, alias string) string {
	return string(r.bucket(bucketAliases).Get(paramKey(tenancy, alias)))
}

// Keys lists the keys of a tenancy in ID order.
func (r *Reader) Keys(tenancy string) ([]Key, error) {
	var out []Key
	prefix := tenancyPrefix(tenancy)
	c := r.bucket(bucketKeys).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var key Key
		if err := json.Unmarshal(v, &key); err != nil {
			return nil, fmt.Errorf("store: decode key %q: %w", k, err)
		}
		out = append(out, key)
	}
	return out, nil
}
