package client

import (
	"container/list"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// kind says which call an entry answers.
type kind uint8

const (
	kindName kind = iota // GetParameter of one name (selector and ARN allowed)
	kindPath             // GetParametersByPath
)

// query identifies one cacheable call. Its key includes everything that
// changes the answer: region, decryption flag, name with its selector or
// path, and recursion.
type query struct {
	Kind      kind
	Region    string
	Decrypt   bool
	Name      string // name as asked (with selector, or an ARN), or path
	Recursive bool   // kindPath only
}

func (q query) key() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(q.Kind)))
	b.WriteByte(0)
	b.WriteString(q.Region)
	b.WriteByte(0)
	b.WriteString(strconv.FormatBool(q.Decrypt))
	b.WriteByte(0)
	b.WriteString(strconv.FormatBool(q.Recursive))
	b.WriteByte(0)
	b.WriteString(q.Name)
	return b.String()
}

// covers reports whether a change to parameter name may change the answer
// to q.
func (q query) covers(name string) bool {
	if q.Kind == kindName {
		return baseName(q.Name) == name
	}
	p := strings.TrimSuffix(q.Name, "/")
	if len(name) <= len(p) || name[len(p)] != '/' || !strings.HasPrefix(name, p) {
		return false
	}
	return q.Recursive || !strings.Contains(name[len(p)+1:], "/")
}

// baseName strips an ARN prefix and a :version or :label selector from a
// parameter name.
func baseName(name string) string {
	if strings.HasPrefix(name, "arn:") {
		if i := strings.Index(name, ":parameter"); i >= 0 {
			name = name[i+len(":parameter"):]
			if !strings.HasPrefix(name, "/") {
				name = "/" + name
			}
		}
		// An ARN names "foo" as "parameter/foo"; keep the slash, since
		// names without one are rare and ambiguous here.
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	return name
}

// entry is one cached answer. Entries handed out by cache are copies;
// params is never modified after it is stored.
type entry struct {
	q          query
	params     []Parameter
	notFound   bool
	fetchedAt  time.Time
	expiresAt  time.Time
	refreshAt  time.Time
	refreshing bool
	// upstream answered the fetch ("" for an entry loaded from disk).
	upstream string
	// unconfirmed is set on entries loaded from disk until an upstream
	// confirms them: they are served as stale, with their true age.
	unconfirmed bool
}

// fresh reports whether e may be served at now without asking an upstream.
func (e *entry) fresh(now time.Time) bool {
	return !e.unconfirmed && now.Before(e.expiresAt)
}

// cache is a size-bounded LRU map of entries that tracks the changes the
// persistent cache has not seen yet.
type cache struct {
	max int
	// changed receives a signal when the first change since the last
	// takeDirty is made.
	changed chan struct{}

	// size is len(entries), readable without mu: a change to a name
	// costs an agent that caches nothing (or nothing yet) one load.
	size atomic.Int64

	mu      sync.Mutex
	entries map[string]*list.Element // values are *entry
	lru     *list.List               // front: most recently used
	dirty   map[string]bool          // query key -> stored (true) or gone (false), since takeDirty
	// The entries a change to a name may affect, so that a change costs
	// the entries it touches, not a scan of all: GetParameter answers by
	// their parameter's name (baseName), and every path answer.
	byName map[string]map[string]*list.Element // baseName -> query key -> element
	paths  map[string]*list.Element            // query key -> element
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[string]*list.Element), lru: list.New(),
		dirty: make(map[string]bool), changed: make(chan struct{}, 1),
		byName: make(map[string]map[string]*list.Element), paths: make(map[string]*list.Element)}
}

// addLocked adds the element of key to entries and the index; mu must be
// held.
func (c *cache) addLocked(key string, el *list.Element) {
	c.entries[key] = el
	c.size.Store(int64(len(c.entries)))
	q := el.Value.(*entry).q
	if q.Kind != kindName {
		c.paths[key] = el
		return
	}
	n := baseName(q.Name)
	if c.byName[n] == nil {
		c.byName[n] = make(map[string]*list.Element, 1)
	}
	c.byName[n][key] = el
}

// dropLocked removes the element of key from the LRU list, entries and
// the index; mu must be held.
func (c *cache) dropLocked(key string, el *list.Element) *entry {
	e := c.lru.Remove(el).(*entry)
	delete(c.entries, key)
	c.size.Store(int64(len(c.entries)))
	if e.q.Kind != kindName {
		delete(c.paths, key)
		return e
	}
	n := baseName(e.q.Name)
	delete(c.byName[n], key)
	if len(c.byName[n]) == 0 {
		delete(c.byName, n)
	}
	return e
}

// coveringLocked calls f for each entry covering name; mu must be held.
func (c *cache) coveringLocked(name string, f func(key string, el *list.Element)) {
	for key, el := range c.byName[name] {
		f(key, el)
	}
	for key, el := range c.paths {
		if el.Value.(*entry).q.covers(name) {
			f(key, el)
		}
	}
}

// markLocked records a change of key; mu must be held.
func (c *cache) markLocked(key string, stored bool) {
	if len(c.dirty) == 0 {
		c.signal()
	}
	c.dirty[key] = stored
}

// signal wakes the flush loop.
func (c *cache) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// get returns a copy of the entry of key and marks it used.
func (c *cache) get(key string) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return entry{}, false
	}
	c.lru.MoveToFront(el)
	return *el.Value.(*entry), true
}

// put stores e, evicting the least recently used entries beyond max. It
// returns the number of entries evicted.
func (c *cache) put(e entry) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := e.q.key()
	el, had := c.entries[key]
	switch {
	case !e.notFound:
		c.markLocked(key, true)
	case had && !el.Value.(*entry).notFound:
		c.markLocked(key, false) // a stored answer is gone
	}
	return c.insertLocked(key, e)
}

// load stores an entry read from disk: not a change.
func (c *cache) load(e entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.insertLocked(e.q.key(), e)
}

func (c *cache) insertLocked(key string, e entry) int {
	if el, ok := c.entries[key]; ok {
		*el.Value.(*entry) = e
		c.lru.MoveToFront(el)
		return 0
	}
	c.addLocked(key, c.lru.PushFront(&e))
	evicted := 0
	for c.lru.Len() > c.max {
		back := c.lru.Back()
		k := back.Value.(*entry).q.key()
		old := c.dropLocked(k, back)
		evicted++
		if !old.notFound {
			c.markLocked(k, false)
		}
	}
	return evicted
}

// claimRefresh marks the entry of key as being refreshed, unless it
// already is or is gone.
func (c *cache) claimRefresh(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return false
	}
	e := el.Value.(*entry)
	if e.refreshing {
		return false
	}
	e.refreshing = true
	return true
}

// endRefresh clears the refreshing mark and, unless next is zero, sets the
// next refresh time.
func (c *cache) endRefresh(key string, next time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*entry)
		e.refreshing = false
		if !next.IsZero() {
			e.refreshAt = next
		}
	}
}

// expire makes every entry covering name expire now (read from now once,
// if any), and returns their keys. Expired entries stay, to be served
// stale if need be. An empty cache costs one atomic load: every agent of a
// fleet pays this once per change per watch.
func (c *cache) expire(name string, now func() time.Time) []string {
	if c.size.Load() == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys []string
	var t time.Time
	c.coveringLocked(name, func(key string, el *list.Element) {
		if t.IsZero() {
			t = now()
		}
		now := t
		e := el.Value.(*entry)
		if e.expiresAt.After(now) {
			e.expiresAt = now
		}
		e.refreshAt = now
		keys = append(keys, key)
	})
	return keys
}

// expireUnder expires every entry at or below path, or whose path
// contains it, and returns their keys.
func (c *cache) expireUnder(path string, now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := strings.TrimSuffix(path, "/")
	var keys []string
	for key, el := range c.entries {
		e := el.Value.(*entry)
		var hit bool
		if e.q.Kind == kindName {
			hit = under(baseName(e.q.Name), p)
		} else {
			ep := strings.TrimSuffix(e.q.Name, "/")
			hit = under(ep, p) || under(p, ep)
		}
		if hit {
			if e.expiresAt.After(now) {
				e.expiresAt = now
			}
			e.refreshAt = now
			keys = append(keys, key)
		}
	}
	return keys
}

// under reports whether name is root or below it; root has no trailing
// slash ("" is the top).
func under(name, root string) bool {
	return root == "" || name == root || strings.HasPrefix(name, root+"/")
}

// remove drops every entry covering name.
func (c *cache) remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	type hit struct {
		key string
		el  *list.Element
	}
	var hits []hit // (not dropped while the index is iterated)
	c.coveringLocked(name, func(key string, el *list.Element) { hits = append(hits, hit{key, el}) })
	for _, h := range hits {
		if e := c.dropLocked(h.key, h.el); !e.notFound {
			c.markLocked(h.key, false)
		}
	}
}

// takeDirty returns the changes since the last call: copies of the
// entries stored (positive answers) and the keys of those gone.
func (c *cache) takeDirty() (puts []entry, dels []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, stored := range c.dirty {
		el, ok := c.entries[key]
		if stored && ok && !el.Value.(*entry).notFound {
			puts = append(puts, *el.Value.(*entry))
		} else {
			dels = append(dels, key)
		}
	}
	clear(c.dirty)
	return puts, dels
}

// requeue marks the changes of a failed write pending again, unless a
// newer change of the same key is pending.
func (c *cache) requeue(puts []entry, dels []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range puts {
		if k := e.q.key(); !c.has(k) {
			c.markLocked(k, true)
		}
	}
	for _, k := range dels {
		if !c.has(k) {
			c.markLocked(k, false)
		}
	}
}

func (c *cache) has(key string) bool {
	_, ok := c.dirty[key]
	return ok
}

// pending is the number of changes not yet taken.
func (c *cache) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.dirty)
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
