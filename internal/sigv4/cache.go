package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"sync"
)

// cacheKey identifies a derived signing key. The secret is not part of the
// key; an entry also holds the secret it was derived from, compared in
// constant time, so a rotated secret never reuses a stale key.
type cacheKey struct {
	accessKeyID, date, region, service string
}

type cacheEntry struct {
	secret string
	key    *signingKey
}

// signingKey is a derived key with a pool of HMAC-SHA256 states keyed with
// it: hmac.New allocates two digests and the padded keys, a quarter of a
// signature check's CPU; a Reset state is reused instead.
type signingKey struct {
	key  []byte
	macs sync.Pool
}

func newSigningKey(key []byte) *signingKey {
	k := &signingKey{key: key}
	k.macs.New = func() any { return hmac.New(sha256.New, key) }
	return k
}

// mac returns an HMAC-SHA256 keyed with k, reset; give it back with put.
func (k *signingKey) mac() hash.Hash {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	return m
}

func (k *signingKey) put(m hash.Hash) { k.macs.Put(m) }

// keyCache is a bounded map of derived signing keys. When full, an
// arbitrary entry is evicted (Go randomises map iteration); keys of past
// dates age out that way.
type keyCache struct {
	max int

	// mu guards entries: every request reads, a new key writes.
	mu      sync.RWMutex
	entries map[cacheKey]cacheEntry
}

// newKeyCache returns a cache of at most max entries; max 0 caches nothing.
func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, entries: make(map[cacheKey]cacheEntry)}
}

// get returns the cached key for k if it was derived from secret. Its
// bytes must not be modified.
func (c *keyCache) get(k cacheKey, secret string) (*signingKey, bool) {
	if c.max == 0 {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare([]byte(e.secret), []byte(secret)) != 1 {
		return nil, false
	}
	return e.key, true
}

func (c *keyCache) put(k cacheKey, secret string, key *signingKey) {
	if c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = cacheEntry{secret: secret, key: key}
}

// len returns the number of cached keys.
func (c *keyCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
