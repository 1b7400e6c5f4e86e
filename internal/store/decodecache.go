package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// decodeCache keeps decoded head records next to the bytes they were
// decoded from (or encoded to, by the state machine's writes), so a point
// read of an unchanged parameter, and the write that follows it, compare
// bytes instead of decoding JSON again. An entry is only ever used for the
// very bytes it decodes: it cannot go stale. A nil cache decodes every
// time. A hit returns a shallow copy: callers must
// treat the maps and slices of a Parameter as read-only (the service does:
// it clones before changing labels or tags).
type decodeCache struct {
	mu      sync.RWMutex
	entries map[string]decoded

	tenancies tenancyCache
}

// tenancyCache is decodeCache's counterpart for tenancy records (few: one
// per account and region), which every write's planning read decodes.
type tenancyCache struct {
	mu      sync.Mutex
	entries map[string]decodedTenancy
}

type decodedTenancy struct {
	raw []byte
	t   *Tenancy
}

const tenancyCacheSize = 1024

// tenancy decodes raw, the tenancy record under key; a hit returns a
// shallow copy (its Settings map is read-only).
func (c *tenancyCache) tenancy(key string, raw []byte) (*Tenancy, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		t := *e.t
		return &t, nil
	}
	var t Tenancy
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("store: decode %q: %w", key, err)
	}
	kept := t
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= tenancyCacheSize {
		c.entries = make(map[string]decodedTenancy)
	}
	c.entries[key] = decodedTenancy{raw: bytes.Clone(raw), t: &kept}
	c.mu.Unlock()
	return &t, nil
}

type decoded struct {
	raw []byte
	p   *Parameter
}

const decodeCacheSize = 8192

func (c *decodeCache) param(key, raw []byte) (*Parameter, error) {
	p, shared, err := c.peek(key, raw)
	if err != nil || !shared {
		return p, err
	}
	own := *p
	return &own, nil
}

// peek is param without the copy of a hit: shared reports that p is the
// cache's, which the caller must not change at all.
func (c *decodeCache) peek(key, raw []byte) (p *Parameter, shared bool, err error) {
	if c == nil {
		var p Parameter
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		return &p, false, nil
	}
	c.mu.RLock()
	e, ok := c.entries[string(key)]
	c.mu.RUnlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.p, true, nil
	}
	p, err = c.decode(key, raw)
	return p, false, err
}

// decode decodes raw and keeps a copy of the result.
func (c *decodeCache) decode(key, raw []byte) (*Parameter, error) {
	var p Parameter
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("store: decode %q: %w", key, err)
	}
	kept := p
	c.put(key, bytes.Clone(raw), &kept)
	return &p, nil
}

// remember records p as the decoding of raw, a head record the state
// machine just encoded and wrote: the planning read of the next write of
// the parameter finds it decoded. raw and p must not change afterwards.
func (c *decodeCache) remember(key, raw []byte, p *Parameter) {
	if c != nil {
		c.put(key, raw, p)
	}
}

func (c *decodeCache) put(key, raw []byte, p *Parameter) {
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= decodeCacheSize {
		c.entries = make(map[string]decoded, decodeCacheSize)
	}
	c.entries[string(key)] = decoded{raw: raw, p: p}
	c.mu.Unlock()
}
