package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// decodeCache keeps decoded head records next to the bytes they were
// decoded from, so a point read of an unchanged parameter compares bytes
// instead of decoding JSON again. A hit returns a shallow copy: callers must
// treat the maps and slices of a Parameter as read-only (the service does:
// it clones before changing labels or tags).
type decodeCache struct {
	mu      sync.Mutex
	entries map[string]decoded
}

type decoded struct {
	raw []byte
	p   *Parameter
}

const decodeCacheSize = 8192

func (c *decodeCache) param(key, raw []byte) (*Parameter, error) {
	c.mu.Lock()
	e, ok := c.entries[string(key)]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		p := *e.p
		return &p, nil
	}
	var p Parameter
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("store: decode %q: %w", key, err)
	}
	kept := p
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= decodeCacheSize {
		c.entries = make(map[string]decoded, decodeCacheSize)
	}
	c.entries[string(key)] = decoded{raw: bytes.Clone(raw), p: &kept}
	c.mu.Unlock()
	return &p, nil
}
