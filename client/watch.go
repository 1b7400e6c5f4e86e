package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Change is a change to a parameter seen by Watch.
type Change struct {
	Name    string
	Version int64
	Deleted bool
	// Reset is set when the stream lost its place: anything under Name (the
	// watched path) may have changed. Cached entries there were refreshed.
	Reset bool
}

// changePage is one answer of GET /_paramstore/changes.
type changePage struct {
	Index   uint64
	Changes []struct {
		Name    string
		Version int64
		Deleted bool
		Index   uint64
	}
	Reset bool
}

const (
	// watchWait is how long one long poll of the change stream may wait.
	watchWait = 50 * time.Second
	// minPoll is the shortest interval between two polls of a path when
	// the upstream has no change stream.
	minPoll = 100 * time.Millisecond
)

// errNoStream means the upstream has no change stream (AWS, old servers).
var errNoStream = errors.New("client: upstream has no change stream")

// Watch follows the changes to parameters at or below path, from now on:
// before it returns it asks an upstream for the current position (waiting
// at most Config.Timeout), so a change made after it returns is reported.
// Against Paramstore servers it follows their change stream (a stream, or
// long polls, failing over between endpoints); against upstreams without
// one (AWS) it polls GetParametersByPath at the path's TTL and reports the
// differences.
// Each change first expires the cached answers it affects and queues their
// refresh, then is sent on the channel. The channel is closed when ctx is
// done or the Client is closed; a consumer that stops reading stalls only
// its own watch. Long polls wait up to 50s: a Config.HTTPClient timeout
// must be longer.
func (c *Client) Watch(ctx context.Context, path string) (<-chan Change, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("client: watch %q: path must start with /", path)
	}
	// Add to the WaitGroup under closeMu, so that Close cannot be waiting.
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		return nil, ErrClosed
	}
	c.wg.Add(1)
	c.closeMu.Unlock()
	out := make(chan Change, 64)
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	// The position "now" is read before Watch returns (within Timeout), so
	// that a change made after it returns is reported.
	i, since := c.watchStart(wctx, path)
	go func() {
		defer c.wg.Done()
		defer close(out)
		defer cancel()
		defer stop()
		err := c.follow(wctx, path, out, i, since)
		if errors.Is(err, errNoStream) {
			c.noStreamOnce.Do(func() {
				c.log.Info("upstream has no change stream (AWS SSM or compatible): values are refreshed by TTL",
					keyPath, path, keyError, err, "poll_every", max(c.cfg.ttlFor(path), minPoll).String())
			})
			c.poll(wctx, path, out)
		}
	}()
	return out, nil
}

// follow reads the change stream until ctx is done, or returns errNoStream
// when no upstream has one. Watches start on a random upstream, so that a
// fleet given the same nodes spreads over them, and move to the next one
// when theirs fails, resuming from the index they reached: a change is
// neither lost nor repeated (Reset only when the log was pruned past it).
// The retry after a failure waits a random time, at least within
// watchResumeJitter, so that the watchers of a node that died or refused
// them (at its --max-watchers) do not all arrive elsewhere at once.
func (c *Client) follow(ctx context.Context, path string, out chan<- Change, i int, since uint64) error {
	failures := 0
	noStream := make([]bool, len(c.upstreams))
	for ctx.Err() == nil {
		u := c.upstreams[i]
		// The first poll, and the first after a failure, returns at once:
		// its answer tells that the server is back (see below).
		wait := watchWait
		if since == 0 || failures > 0 {
			wait = 0
		}
		// Each page of the answer (one for a long poll, one per change
		// batch and heartbeat for a stream).
		handle := func(page changePage) error {
			failures = 0
			if since == 0 {
				since = max(page.Index, 1)
				return nil
			}
			if !page.Reset && len(page.Changes) == 0 {
				since = max(since, page.Index) // a heartbeat
				return nil
			}
			if page.Reset {
				c.refreshKeys(c.cache.expireUnder(path, c.cfg.Now()))
				if !send(ctx, out, Change{Name: path, Reset: true}) {
					return ctx.Err()
				}
			}
			for _, ch := range page.Changes {
				if ch.Index != 0 && ch.Index <= since {
					continue // seen already (a server that answered from further back)
				}
				c.refreshKeys(c.cache.expire(ch.Name, c.cfg.Now))
				if !send(ctx, out, Change{Name: ch.Name, Version: ch.Version, Deleted: ch.Deleted}) {
					return ctx.Err()
				}
			}
			if page.Index > since {
				since = page.Index
			}
			return nil
		}
		err := errNoStream
		if u.url != "" {
			err = c.changes(ctx, u, path, since, wait, handle)
		}
		if errors.Is(err, errNoStream) {
			noStream[i] = true
			if !slices.Contains(noStream, false) {
				return err
			}
			i = (i + 1) % len(c.upstreams)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			level := slog.LevelDebug
			if failures == 0 {
				level = slog.LevelWarn
			}
			c.log.Log(ctx, level, "change stream failed", keyEndpoint, u.name(), keyPath, path, keyError, err)
			for {
				i = (i + 1) % len(c.upstreams)
				if !noStream[i] {
					break
				}
			}
			sleepCtx(ctx, c.resumeBackoff(failures))
			failures++
			continue
		}
		// The stream answered: the server is up, whatever the breakers say.
		for _, o := range c.upstreams {
			if o.breaker.expedite() {
				c.kickCheck()
			}
		}
	}
	return ctx.Err()
}

// watchStart picks the upstream a watch starts on (a random one) and asks
// it for the current index, within Timeout; 0 when it does not answer
// (follow asks again).
func (c *Client) watchStart(ctx context.Context, path string) (int, uint64) {
	i := rand.N(len(c.upstreams))
	u := c.upstreams[i]
	if u.url == "" {
		return i, 0
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var since uint64
	c.changes(ctx, u, path, 0, 0, func(p changePage) error {
		since = max(p.Index, 1)
		return nil
	})
	return i, since
}

// watchResumeJitter is the least window over which a watch's retry after
// a failure is spread.
const watchResumeJitter = time.Second

// resumeBackoff is the wait before a watch's next attempt after failures
// consecutive ones: full jitter over a window that starts at
// watchResumeJitter and doubles up to max(MaxBackoff, watchResumeJitter).
func (c *Client) resumeBackoff(failures int) time.Duration {
	ceil := max(c.cfg.BaseBackoff, watchResumeJitter)
	top := max(c.cfg.MaxBackoff, watchResumeJitter)
	for range failures {
		if ceil >= top {
			break
		}
		ceil *= 2
	}
	return rand.N(min(ceil, top))
}

// changes makes one signed request of u's change stream and hands each
// page of the answer to handle: with wait > 0 it asks for a stream
// (stream=true: one chunked answer of NDJSON pages, a heartbeat page every
// wait, until the server ends it), which servers without streams answer
// as a long poll (one JSON page). A page that handle refuses ends it.
func (c *Client) changes(ctx context.Context, u *upstream, path string, since uint64, wait time.Duration, handle func(changePage) error) error {
	q := url.Values{
		"path":      {path},
		"recursive": {"true"},
		"since":     {strconv.FormatUint(since, 10)},
		"wait":      {strconv.Itoa(int(wait / time.Second))},
	}
	if wait > 0 {
		q.Set("stream", "true")
	}
	// The request lives while pages keep coming.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := newIdleWatch(wait+c.cfg.Timeout, cancel)
	defer watchdog.stop()
	req, err := c.signer.Get(rctx, strings.TrimSuffix(u.url, "/")+"/_paramstore/changes?"+q.Encode())
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		pages := newPageReader(resp.Body)
		var page changePage
		for {
			if err := pages.next(&page); err != nil {
				if errors.Is(err, io.EOF) {
					return nil // the server ended the stream: ask again
				}
				return fmt.Errorf("client: change stream of %s: %w", u.name(), err)
			}
			watchdog.page()
			if err := handle(page); err != nil {
				return err
			}
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		// Not a Paramstore server: AWS answers an unknown path with 404
		// or an unknown operation with 400, moto with 404.
		return fmt.Errorf("%w (%s answered HTTP %d)", errNoStream, u.name(), resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("client: change stream of %s: HTTP %d: %.200s", u.name(), resp.StatusCode, body)
	}
	var page changePage
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("client: change stream of %s: %w", u.name(), err)
	}
	return handle(page)
}

// poll reports changes under path by comparing successive
// GetParametersByPath answers, every TTL of path, until ctx is done.
func (c *Client) poll(ctx context.Context, path string, out chan<- Change) {
	every := max(c.cfg.ttlFor(path), minPoll)
	q := query{Kind: kindPath, Region: c.cfg.Region, Name: path, Recursive: true}
	var prev map[string]int64 // nil until the first answer
	for {
		params, _, err := c.fetchPath(ctx, q, false)
		if err != nil && ctx.Err() == nil {
			c.log.Debug("poll failed", keyPath, path, keyError, err)
		}
		if err == nil {
			cur := make(map[string]int64, len(params))
			for _, p := range params {
				cur[p.Name] = p.Version
			}
			if prev != nil {
				var changes []Change
				for n, v := range cur {
					if pv, ok := prev[n]; !ok || pv != v {
						changes = append(changes, Change{Name: n, Version: v})
					}
				}
				for n, v := range prev {
					if _, ok := cur[n]; !ok {
						changes = append(changes, Change{Name: n, Version: v, Deleted: true})
					}
				}
				slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Name, b.Name) })
				for _, ch := range changes {
					c.refreshKeys(c.cache.expire(ch.Name, c.cfg.Now))
					if !send(ctx, out, ch) {
						return
					}
				}
			}
			prev = cur
		}
		if sleepCtx(ctx, every) != nil {
			return
		}
	}
}

func (c *Client) refreshKeys(keys []string) {
	for _, k := range keys {
		c.scheduleRefresh(k)
	}
}

// send delivers ch on out unless ctx is done first. A consumer that keeps
// up has room in out: that send skips the select on ctx.
func send(ctx context.Context, out chan<- Change, ch Change) bool {
	select {
	case out <- ch:
		return true
	default:
	}
	select {
	case out <- ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// idleWatch cancels a change-stream request that received no page for
// idle. A page costs an atomic store, not a timer's reset: the timer
// fires once per idle and re-arms itself for what is left of the time
// since the last page.
type idleWatch struct {
	start  time.Time
	idle   time.Duration
	last   atomic.Int64 // time.Since(start) at the last page, in ns
	cancel context.CancelFunc

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func newIdleWatch(idle time.Duration, cancel context.CancelFunc) *idleWatch {
	w := &idleWatch{start: time.Now(), idle: idle, cancel: cancel}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(idle, w.check)
	return w
}

// page records that a page came.
func (w *idleWatch) page() { w.last.Store(int64(time.Since(w.start))) }

func (w *idleWatch) check() {
	quiet := time.Since(w.start) - time.Duration(w.last.Load())
	if quiet >= w.idle {
		w.cancel()
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.timer.Reset(w.idle - quiet)
	}
}

func (w *idleWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}
