package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// Hub serves the change stream's long polls: the waiting ones are parked
// in an index by (tenancy, path, recursive), and each batch of commands
// applied is read from the change log once and handed to the waiters whose
// path it touches, found by looking up the ancestors of each changed name
// (a few map lookups per change, whatever the number of waiters). Waiters
// of one path share one page, encoded once. A waiter is a callback: it
// holds no goroutine and no timer (one ticker expires them all).
type Hub struct {
	s    *Service
	max  int
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	index   uint64 // the change log is dispatched up to here
	groups  map[watchKey]map[*Watch]struct{}
	count   int
	expires map[int64]map[*Watch]struct{} // by deadline tick
	closed  bool

	// spare is the hub goroutine's list of deliveries (dispatch, expire),
	// kept between fan-outs: no allocation per watcher.
	spare []delivery
}

// hubTick is the resolution of the long polls' deadlines.
const hubTick = 250 * time.Millisecond

// watchKey is what a waiter watches: a checked path (ssm.CheckPath) of a
// tenancy.
type watchKey struct {
	tenancy, path string
	recursive     bool
}

// Watch is one long poll of the change stream, parked in a Hub until a
// change below its path, its deadline, or the end.
type Watch struct {
	key     watchKey
	readAt  uint64 // the index its caller read the log up to
	since   uint64 // changes after this one are news to the caller
	tick    int64  // deadline
	deliver func(*Page)
	done    bool // delivered or cancelled (under Hub.mu)

	// A stream (Hub.Stream) stays parked after each page: a heartbeat
	// page every every, until ends.
	stream bool
	every  time.Duration
	ends   time.Time
}

// Page is the answer to a long poll: Out, or Err when it failed. End
// (without Out) ends a stream.
type Page struct {
	Out *ChangesOutput
	Err error
	End bool

	once  sync.Once
	raw   []byte
	chunk []byte
}

// JSON is Out encoded, once for every waiter that shares the page: a line
// of JSON.
func (p *Page) JSON() []byte {
	p.encode()
	return p.raw
}

// Chunk is JSON framed as an HTTP/1.1 chunk (the size in hex, CRLF, the
// line, CRLF), as a stream writes it: built once, with JSON, and shared by
// every stream the page goes to (never modified).
func (p *Page) Chunk() []byte {
	p.encode()
	return p.chunk
}

func (p *Page) encode() {
	p.once.Do(func() {
		body, _ := json.Marshal(p.Out)
		n := len(body) + 1
		c := strconv.AppendInt(make([]byte, 0, n+16), int64(n), 16)
		c = append(c, "\r\n"...)
		start := len(c)
		c = append(append(c, body...), '\n')
		p.raw = c[start : start+n : start+n]
		p.chunk = append(c, "\r\n"...)
	})
}

// errTooManyWatchers is answered to a long poll that would exceed the
// node's watcher limit: ServiceUnavailable (HTTP 503), which clients retry
// (ours on another node, after a jittered backoff).
func errTooManyWatchers(n int) *ssm.Error {
	return ssm.Errorf(ssm.CodeServiceUnavailable, "This node already serves %d change-stream watchers (its --max-watchers); retry later or on another node.", n)
}

// NewHub starts the hub of s's change stream; max bounds the parked long
// polls (0: no bound). Close stops it.
func NewHub(s *Service, max int) (*Hub, error) {
	if s.notifier == nil {
		return nil, errors.New("service: a Hub needs Config.Notifier")
	}
	h := &Hub{s: s, max: max, log: s.log, stop: make(chan struct{}), done: make(chan struct{}),
		groups: map[watchKey]map[*Watch]struct{}{}, expires: map[int64]map[*Watch]struct{}{}}
	err := s.st.View(store.WithStale(context.Background()), func(r *store.Reader) error {
		h.index = r.AppliedIndex()
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrUnavailable) {
		return nil, fmt.Errorf("service: change hub: %w", err)
	}
	go h.run()
	return h, nil
}

// Watchers is the number of parked long polls.
func (h *Hub) Watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

// Watch answers a long poll of the change stream: Changes, and when there
// is nothing to answer and wait > 0, a Watch parked until a change below
// path, wait (at most MaxChangesWait) or Close, handed to deliver exactly
// once from the hub's goroutine (deliver must not block). It returns the
// page to answer now, or nil and the parked Watch (for Cancel). A node at
// its watcher limit answers a ServiceUnavailable error.
func (h *Hub) Watch(ctx context.Context, c Caller, path string, recursive bool, since uint64, wait time.Duration, deliver func(*Page)) (*Page, *Watch, error) {
	wait = min(wait, MaxChangesWait)
	for {
		out, w, err := h.s.openWatch(ctx, c, path, recursive, since)
		if err != nil {
			return nil, nil, err
		}
		if w == nil || wait <= 0 {
			return &Page{Out: out}, nil, nil
		}
		w.deliver = deliver
		parked, err := h.park(w, wait)
		if err != nil {
			return nil, nil, err
		}
		if parked {
			return nil, w, nil
		}
		// The hub dispatched changes past what was read: read again.
	}
}

// Stream follows path from since for life: each page of changes, and one
// with none every every (a heartbeat that carries the index), is handed to
// deliver, in order; then a Page with End. An error page ends it too
// (this node too stale to serve). The first pages, up to the present, are
// delivered before Stream returns, from the caller's goroutine; the rest
// from the hub's. A stream counts as a watcher.
func (h *Hub) Stream(ctx context.Context, c Caller, path string, recursive bool, since uint64, every, life time.Duration, deliver func(*Page)) (*Watch, error) {
	every = min(max(every, time.Second), MaxChangesWait)
	for {
		out, w, err := h.s.openWatch(ctx, c, path, recursive, since)
		if err != nil {
			return nil, err
		}
		if w == nil {
			deliver(&Page{Out: out})
			since = max(out.Index, since, 1)
			continue
		}
		w.deliver, w.stream, w.every, w.ends = deliver, true, every, time.Now().Add(life)
		parked, err := h.park(w, every)
		if err != nil {
			return nil, err
		}
		if parked {
			return w, nil
		}
	}
}

// park adds w unless the hub has dispatched past w.readAt (false).
func (h *Hub) park(w *Watch, wait time.Duration) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.index > w.readAt {
		return false, nil
	}
	if h.closed {
		// Shutting down: answer at once, as if the wait were over.
		w.done = true
		w.deliver(closingPage(w, w.readAt))
		return true, nil
	}
	if h.max > 0 && h.count >= h.max {
		return false, errTooManyWatchers(h.max)
	}
	g := h.groups[w.key]
	if g == nil {
		g = map[*Watch]struct{}{}
		h.groups[w.key] = g
	}
	g[w] = struct{}{}
	h.count++
	h.armLocked(w, wait)
	return true, nil
}

// armLocked sets w's deadline wait from now.
func (h *Hub) armLocked(w *Watch, wait time.Duration) {
	w.tick = time.Now().Add(wait).UnixNano()/int64(hubTick) + 1
	e := h.expires[w.tick]
	if e == nil {
		e = map[*Watch]struct{}{}
		h.expires[w.tick] = e
	}
	e[w] = struct{}{}
}

func (h *Hub) disarmLocked(w *Watch) {
	e := h.expires[w.tick]
	delete(e, w)
	if len(e) == 0 {
		delete(h.expires, w.tick)
	}
}

// closingPage is the last page of w as the hub closes: what there is
// (nothing) for a long poll, the end for a stream.
func closingPage(w *Watch, index uint64) *Page {
	if w.stream {
		return &Page{End: true}
	}
	return &Page{Out: &ChangesOutput{Index: max(index, w.since), Changes: []Change{}}}
}

// Cancel removes a parked watch whose caller went away; it reports
// whether the watch was still parked (then it is never delivered).
func (h *Hub) Cancel(w *Watch) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w.done {
		return false
	}
	h.removeLocked(w)
	return true
}

func (h *Hub) removeLocked(w *Watch) {
	w.done = true
	g := h.groups[w.key]
	delete(g, w)
	if len(g) == 0 {
		delete(h.groups, w.key)
	}
	h.disarmLocked(w)
	h.count--
}

// Close answers every parked watch with what there is (nothing), as the
// server drains, and stops the hub; later watches are answered at once.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()
	close(h.stop)
	<-h.done
	h.mu.Lock()
	deliveries := h.takeAllLocked(func(w *Watch) *Page { return closingPage(w, h.index) })
	h.mu.Unlock()
	deliverAll(deliveries)
}

type delivery struct {
	w *Watch
	p *Page
}

func deliverAll(ds []delivery) {
	for _, d := range ds {
		d.w.deliver(d.p)
	}
}

// takeAllLocked removes every parked watch, each with its page.
func (h *Hub) takeAllLocked(page func(*Watch) *Page) []delivery {
	var ds []delivery
	for _, g := range h.groups {
		for w := range g {
			w.done = true
			ds = append(ds, delivery{w, page(w)})
		}
	}
	h.groups = map[watchKey]map[*Watch]struct{}{}
	h.expires = map[int64]map[*Watch]struct{}{}
	h.count = 0
	return ds
}

func (h *Hub) run() {
	defer close(h.done)
	tick := time.NewTicker(hubTick)
	defer tick.Stop()
	for {
		changed := h.s.notifier.Changed()
		h.dispatch()
		select {
		case <-changed:
		case now := <-tick.C:
			h.expire(now)
		case <-h.stop:
			return
		}
	}
}

// dispatch reads the change log after the hub's index, once, and hands
// each waiter whose path it touches its page.
func (h *Hub) dispatch() {
	for !h.dispatchOnce() {
	}
}

// dispatchOnce is one pass of dispatch; false means a watch parked while
// the hub, seeing none, skipped reading the log: it must be read.
func (h *Hub) dispatchOnce() bool {
	h.mu.Lock()
	from, idle := h.index, h.count == 0
	h.mu.Unlock()
	var (
		applied uint64
		reset   bool
		batch   []store.Change
	)
	// A buffered read: the applied index, the change floor and the change
	// log as applied, without committing what is applied (the hub wakes
	// at every applied batch: a commit each time would undo the deferred
	// commit). With nobody waiting, the hub only follows the applied index.
	ctx := store.WithPointReads(store.WithStale(context.Background()))
	err := h.s.st.View(ctx, func(r *store.Reader) error {
		reset, batch = false, batch[:0]
		applied = r.AppliedIndex()
		if applied <= from || idle {
			return nil
		}
		if from < r.ChangeFloor() {
			reset = true
			return nil
		}
		return r.Changes(from, func(ch *store.Change) (bool, error) {
			batch = append(batch, *ch)
			return true, nil
		})
	})
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			// Too stale to serve (cut off from the leader): the waiters
			// go elsewhere rather than wait for a change that may not come.
			h.mu.Lock()
			ds := h.takeAllLocked(func(*Watch) *Page { return &Page{Err: err} })
			h.mu.Unlock()
			deliverAll(ds)
			return true
		}
		h.log.Warn("change stream: read the change log", "error", err)
		return true
	}
	h.mu.Lock()
	if applied <= h.index {
		h.mu.Unlock()
		return true
	}
	if idle && h.count > 0 {
		h.mu.Unlock()
		return false
	}
	var ds []delivery
	switch {
	case idle:
		// Nobody waits: nothing to hand out.
	case reset:
		page := &Page{Out: &ChangesOutput{Index: applied, Changes: []Change{}, Reset: true}}
		ds = h.takeAllLocked(func(*Watch) *Page { return page })
		for _, d := range ds {
			if d.w.stream { // (it reconnects from the new index)
				ds = append(ds, delivery{d.w, &Page{End: true}})
			}
		}
	default:
		ds = h.matchLocked(h.spare[:0], batch, applied)
	}
	h.index = applied
	h.mu.Unlock()
	deliverAll(ds)
	h.keep(ds)
	return true
}

// keep keeps ds, delivered (built on h.spare, or larger), for the next
// fan-out.
func (h *Hub) keep(ds []delivery) {
	if cap(ds) >= cap(h.spare) {
		clear(ds) // (no Watch or Page kept alive by the spare list)
		h.spare = ds[:0]
	}
}

// matchLocked finds the waiters of the changes of batch (in index order)
// and returns each with its pages: one page per path (several for a
// stream when there are more than maxChangesPerPage changes), unless a
// waiter had seen part of them (it followed a node further ahead). Long
// polls are removed; streams stay, past the batch.
func (h *Hub) matchLocked(ds []delivery, batch []store.Change, applied uint64) []delivery {
	hits := map[watchKey][]Change{}
	var keys []watchKey
	for i := range batch {
		ch := &batch[i]
		keys = watchKeysOf(keys[:0], ch.Tenancy, ch.Key)
		for _, k := range keys {
			if _, ok := h.groups[k]; ok {
				hits[k] = append(hits[k], Change{Name: ch.Name, Version: ch.Version, Deleted: ch.Deleted, Index: ch.Index})
			}
		}
	}
	for k, list := range hits {
		pages := map[int][]*Page{}   // by the first change a waiter has not seen
		for w := range h.groups[k] { // (removeLocked deletes from the map ranged over: allowed)
			first := 0
			for first < len(list) && list[first].Index <= w.since {
				first++
			}
			if first == len(list) {
				continue // nothing new to this one
			}
			ps := pages[first]
			if ps == nil {
				for rest := list[first:]; len(rest) > 0; {
					out := &ChangesOutput{Index: applied, Changes: rest}
					if len(rest) > maxChangesPerPage {
						out.Changes = rest[:maxChangesPerPage]
						out.Index = out.Changes[maxChangesPerPage-1].Index
					}
					rest = rest[len(out.Changes):]
					ps = append(ps, &Page{Out: out})
				}
				pages[first] = ps
			}
			if !w.stream {
				ds = append(ds, delivery{w, ps[0]})
				h.removeLocked(w)
				continue
			}
			for _, p := range ps {
				ds = append(ds, delivery{w, p})
			}
			w.since = applied
		}
	}
	return ds
}

// expire answers the watches whose deadline passed: no change, the index
// reached.
func (h *Hub) expire(now time.Time) {
	t := now.UnixNano() / int64(hubTick)
	h.mu.Lock()
	ds := h.spare[:0]
	pages := map[uint64]*Page{} // heartbeats and expired long polls share a page per index
	page := func(idx uint64) *Page {
		p := pages[idx]
		if p == nil {
			p = &Page{Out: &ChangesOutput{Index: idx, Changes: []Change{}}}
			pages[idx] = p
		}
		return p
	}
	for tick, ws := range h.expires {
		if tick > t {
			continue
		}
		for w := range ws {
			if w.stream {
				if now.Before(w.ends) {
					h.disarmLocked(w)
					h.armLocked(w, w.every)
					w.since = max(h.index, w.since)
					ds = append(ds, delivery{w, page(w.since)})
				} else {
					h.removeLocked(w)
					ds = append(ds, delivery{w, &Page{End: true}})
				}
				continue
			}
			h.removeLocked(w) // (deletes from ws, and ws from h.expires once empty)
			ds = append(ds, delivery{w, page(max(h.index, w.since))})
		}
	}
	h.mu.Unlock()
	deliverAll(ds)
	h.keep(ds)
}

// watchKeysOf appends the watch keys that a change of the canonical name
// key concerns: every ancestor path recursively, and its parent path
// non-recursively (the paths that below(path, key, recursive) accepts).
func watchKeysOf(keys []watchKey, tenancy, key string) []watchKey {
	keys = append(keys, watchKey{tenancy, "/", true})
	if !strings.HasPrefix(key, "/") {
		keys = append(keys, watchKey{tenancy, "/", false}) // a root parameter
	}
	for i := 1; i < len(key); i++ {
		if key[i] != '/' || key[:i] == "/" {
			continue
		}
		keys = append(keys, watchKey{tenancy, key[:i], true})
		if !strings.Contains(key[i+1:], "/") {
			keys = append(keys, watchKey{tenancy, key[:i], false})
		}
	}
	return keys
}
