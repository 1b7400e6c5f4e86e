package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/sync/singleflight"

	"github.com/paramstore/paramstore/internal/awsreq"
	"github.com/paramstore/paramstore/internal/httpclient"
)

// Parameter is one parameter as GetParameter returns it. Selector is the
// :version or :label asked for, if any.
type Parameter struct {
	Name, Type, Value, ARN, DataType, Selector string
	Version                                    int64
	LastModifiedDate                           time.Time
}

// Result is a parameter with where it came from.
type Result struct {
	Parameter
	// Stale is set when the value is past its TTL and was served because
	// no upstream answered.
	Stale bool
	// FetchedAt is when the value was read from an upstream.
	FetchedAt time.Time
	// FromCache is set when the value did not come from an upstream call
	// made for this request.
	FromCache bool
	// Upstream is the endpoint that answered when the value was fetched
	// ("aws-default" for AWS's own endpoint); empty for a value restored
	// from the persistent cache and not yet confirmed by an upstream.
	Upstream string
	// FromDisk is set when the value was restored from the persistent
	// cache at start and no upstream has confirmed it since.
	FromDisk bool
}

// Log attribute keys.
const (
	keyEndpoint = "endpoint"
	keyOp       = "op"
	keyAttempt  = "attempt"
	keyError    = "error"
	keyName     = "name"
	keyPath     = "path"
	keyFile     = "file"
	keyAge      = "age"
)

// refreshWorkers is the number of goroutines refreshing entries ahead of
// expiry; refreshQueue bounds the refreshes waiting for one.
const (
	refreshWorkers = 4
	refreshQueue   = 1024
)

// Client reads parameters through a cache, from one or more upstreams. It
// is safe for concurrent use.
type Client struct {
	cfg       Config
	log       *slog.Logger
	signer    *awsreq.Signer // of the change stream's requests (the SDK signs the rest)
	upstreams []*upstream
	cache     *cache
	flight    singleflight.Group
	inflight  sync.Map // query key -> time.Time its fetch started (real time: budgets are waited for)
	metrics   *metrics
	persist   *persister // nil without CacheDir, or when it cannot be read
	flushMu   sync.Mutex // one flush at a time

	statusMu    sync.Mutex
	cacheStatus CacheStatus

	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every background goroutine
	refresh chan string    // keys to refresh
	kick    chan struct{}  // runs the background check now
	closeMu sync.Mutex
	closed  bool

	noStreamOnce sync.Once // the "no change stream" log line

	staleMu    sync.Mutex
	staleSince time.Time // zero while upstreams answer
}

// New returns a Client for cfg. It loads the persistent cache, if any, and
// starts the background refresh (and flush) goroutines; Close stops them.
// ctx is used only to load the AWS default configuration.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	creds := cfg.Credentials
	if creds == nil || cfg.Region == "" || cfg.HTTPClient == nil {
		var opts []func(*config.LoadOptions) error
		if cfg.Region != "" {
			opts = append(opts, config.WithRegion(cfg.Region))
		}
		// The AWS configuration resolves the CA bundle as the SDKs do,
		// and httpclient builds the client that trusts it.
		awsCfg, hc, err := httpclient.LoadAWS(ctx, httpclient.Config{RootCAs: cfg.RootCAs}, opts...)
		if err != nil {
			return nil, fmt.Errorf("client: load AWS default configuration: %w", err)
		}
		if creds == nil {
			creds = awsCfg.Credentials
		}
		if cfg.Region == "" {
			cfg.Region = awsCfg.Region
		}
		if cfg.HTTPClient == nil {
			cfg.HTTPClient = hc
		}
	}
	if cfg.Region == "" {
		return nil, errors.New("client: Region: not set, and the AWS configuration names none")
	}
	if _, ok := creds.(*aws.CredentialsCache); !ok && creds != nil {
		creds = aws.NewCredentialsCache(creds)
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:     cfg,
		log:     cfg.Logger,
		signer:  awsreq.NewSigner(creds, cfg.Region, nil),
		cache:   newCache(cfg.MaxEntries),
		metrics: m,
		refresh: make(chan string, refreshQueue),
		kick:    make(chan struct{}, 1),
	}
	endpoints := cfg.Endpoints
	if len(endpoints) == 0 {
		endpoints = []string{""}
	}
	for _, ep := range endpoints {
		u := &upstream{url: ep, api: newSSM(&c.cfg, ep, creds)}
		u.breaker = newBreaker(cfg.BreakerFailures, cfg.BreakerOpenFor, cfg.Now, func(s string) { m.breakerState(u.name(), s) })
		m.breakerState(u.name(), BreakerClosed)
		c.upstreams = append(c.upstreams, u)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.cacheStatus = CacheStatus{State: CacheOff}
	if cfg.CacheDir != "" {
		c.openCache()
		if c.persist != nil {
			c.goFunc(c.flushLoop)
		}
	}
	for range refreshWorkers {
		c.goFunc(c.refreshLoop)
	}
	if cfg.HealthCheckInterval > 0 {
		c.goFunc(c.checkLoop)
	}
	return c, nil
}

// goFunc runs f in a goroutine that Close waits for.
func (c *Client) goFunc(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// Close stops the background goroutines (refreshes, watches, flushes),
// waits for them, and writes what the persistent cache has pending. Calls
// after Close fail with ErrClosed.
func (c *Client) Close() error {
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		return nil
	}
	c.closed = true
	c.closeMu.Unlock()
	c.cancel()
	c.wg.Wait()
	if c.persist == nil {
		return nil
	}
	err := c.flush()
	if cerr := c.persist.close(); err == nil {
		err = cerr
	}
	return err
}

func (c *Client) isClosed() bool {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.closed
}

// Get returns the parameter name, which may carry a :version or :label
// selector or be an ARN. A missing parameter is a *types.ParameterNotFound
// (also when the answer comes from the negative cache).
func (c *Client) Get(ctx context.Context, name string, withDecryption bool) (Result, error) {
	rs, err := c.lookup(ctx, query{Kind: kindName, Region: c.cfg.Region, Decrypt: withDecryption, Name: name})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// GetByPath returns the parameters below path (one level, or every level
// when recursive), as one cached answer.
func (c *Client) GetByPath(ctx context.Context, path string, recursive, withDecryption bool) ([]Result, error) {
	return c.lookup(ctx, query{Kind: kindPath, Region: c.cfg.Region, Decrypt: withDecryption, Name: path, Recursive: recursive})
}

// lookup answers q from the cache when fresh, else from an upstream
// (coalescing concurrent misses). A value that is cached but not fresh
// waits for the upstream at most RefreshBudget and is then served stale
// while the refresh goes on; one with nothing cached waits for the retry
// policy, and falls back to a stale entry if the upstreams failed.
func (c *Client) lookup(ctx context.Context, q query) ([]Result, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	key := q.key()
	now := c.cfg.Now()
	cached, have := c.cache.get(key)
	if have && cached.fresh(now) {
		c.metrics.hit()
		if !cached.notFound && !now.Before(cached.refreshAt) {
			c.scheduleRefresh(key)
		}
		return results(cached, true, false)
	}
	c.metrics.miss()
	usable := have && !cached.notFound && c.staleOK(cached, now)
	ch := c.flight.DoChan(key, func() (any, error) {
		c.inflight.Store(key, time.Now())
		defer c.inflight.Delete(key)
		return c.fetch(q, false, !usable)
	})
	var budget <-chan time.Time
	if usable && c.cfg.RefreshBudget >= 0 {
		// The budget runs from the start of the refresh: readers that join
		// it late wait only what is left.
		wait := c.cfg.RefreshBudget
		if v, ok := c.inflight.Load(key); ok {
			wait = max(0, time.Until(v.(time.Time).Add(wait)))
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		budget = t.C
	}
	var r singleflight.Result
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-budget:
		c.metrics.budgetSpent()
		return c.serveStale(q, cached, errBudget), nil
	case r = <-ch:
	}
	if r.Err == nil {
		f := r.Val.(fetched)
		return results(f.entry, f.fromCache, false)
	}
	if upstreamFailure(r.Err) {
		if e, ok := c.cache.get(key); ok && !e.notFound && c.staleOK(e, c.cfg.Now()) {
			return c.serveStale(q, e, r.Err), nil
		}
	}
	return nil, r.Err
}

// errBudget is why a value is served stale when the upstream did not
// answer within RefreshBudget.
var errBudget = errors.New("client: no answer within the refresh budget")

// serveStale answers q with e, marked stale, because of why.
func (c *Client) serveStale(q query, e entry, why error) []Result {
	c.metrics.staleServe()
	if c.markServingStale() {
		c.log.Warn("serving cached values: no upstream answered", keyName, q.Name, keyError, why)
	}
	c.log.Debug("serving stale value", keyName, q.Name, keyAge, c.cfg.Now().Sub(e.fetchedAt).String(), keyError, why)
	rs, _ := results(e, true, true)
	return rs
}

// staleOK reports whether e may be served at now although expired.
func (c *Client) staleOK(e entry, now time.Time) bool {
	return c.cfg.MaxStale == 0 || now.Sub(e.expiresAt) <= c.cfg.MaxStale
}

// fetched is the value shared by coalesced lookups.
type fetched struct {
	entry     entry
	fromCache bool
}

// fetch reads q from an upstream and caches the answer (including
// ParameterNotFound). Unless force, a fresh cache entry stored since the
// caller looked is returned instead: that is what makes coalescing hold
// for callers that arrive just after a fetch ends. urgent says a caller
// waits with nothing cached (see call).
func (c *Client) fetch(q query, force, urgent bool) (fetched, error) {
	key := q.key()
	if !force {
		if e, ok := c.cache.get(key); ok && e.fresh(c.cfg.Now()) {
			return fetched{entry: e, fromCache: true}, nil
		}
	}
	var params []Parameter
	var from string
	var err error
	if q.Kind == kindName {
		var p Parameter
		p, from, err = c.fetchOne(c.ctx, q, urgent)
		params = []Parameter{p}
	} else {
		params, from, err = c.fetchPath(c.ctx, q, urgent)
	}
	now := c.cfg.Now()
	var nf *types.ParameterNotFound
	switch {
	case err == nil:
		return fetched{entry: c.store(q, params, from, now)}, nil
	case q.Kind == kindName && errors.As(err, &nf):
		c.store(q, nil, from, now)
		return fetched{}, err
	default:
		return fetched{}, err
	}
}

// store caches params (nil for ParameterNotFound), the answer of upstream
// from, as the answer to q.
func (c *Client) store(q query, params []Parameter, from string, now time.Time) entry {
	e := entry{q: q, params: params, fetchedAt: now, upstream: from}
	if params == nil {
		e.notFound = true
		e.expiresAt = now.Add(c.cfg.NegativeTTL)
		e.refreshAt = e.expiresAt
	} else {
		ttl := c.cfg.ttlFor(baseName(q.Name))
		e.expiresAt = now.Add(ttl)
		e.refreshAt = now.Add(time.Duration(float64(ttl) * c.cfg.RefreshAhead))
	}
	if n := c.cache.put(e); n > 0 {
		c.metrics.evicted(n)
	}
	return e
}

func (c *Client) fetchOne(ctx context.Context, q query, urgent bool) (Parameter, string, error) {
	var out *ssm.GetParameterOutput
	from, err := c.call(ctx, "GetParameter", urgent, func(ctx context.Context, api ssmAPI) error {
		var err error
		out, err = api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(q.Name), WithDecryption: aws.Bool(q.Decrypt)})
		return err
	})
	if err != nil {
		return Parameter{}, from, fmt.Errorf("client: get %q: %w", q.Name, err)
	}
	if out.Parameter == nil {
		return Parameter{}, from, fmt.Errorf("client: get %q: %w: empty answer", q.Name, ErrUnavailable)
	}
	return fromSDK(*out.Parameter), from, nil
}

func (c *Client) fetchPath(ctx context.Context, q query, urgent bool) ([]Parameter, string, error) {
	var params []Parameter
	from, err := c.call(ctx, "GetParametersByPath", urgent, func(ctx context.Context, api ssmAPI) error {
		params = params[:0]
		in := &ssm.GetParametersByPathInput{Path: aws.String(q.Name), Recursive: aws.Bool(q.Recursive),
			WithDecryption: aws.Bool(q.Decrypt), MaxResults: aws.Int32(10)}
		for {
			out, err := api.GetParametersByPath(ctx, in)
			if err != nil {
				return err
			}
			for _, p := range out.Parameters {
				params = append(params, fromSDK(p))
			}
			if aws.ToString(out.NextToken) == "" {
				return nil
			}
			in.NextToken = out.NextToken
		}
	})
	if err != nil {
		return nil, from, fmt.Errorf("client: get parameters by path %q: %w", q.Name, err)
	}
	if params == nil {
		params = []Parameter{}
	}
	return params, from, nil
}

func fromSDK(p types.Parameter) Parameter {
	return Parameter{
		Name:             aws.ToString(p.Name),
		Type:             string(p.Type),
		Value:            aws.ToString(p.Value),
		ARN:              aws.ToString(p.ARN),
		DataType:         aws.ToString(p.DataType),
		Selector:         aws.ToString(p.Selector),
		Version:          p.Version,
		LastModifiedDate: aws.ToTime(p.LastModifiedDate),
	}
}

// results turns an entry into the answer of a lookup.
func results(e entry, fromCache, stale bool) ([]Result, error) {
	if e.notFound {
		return nil, notFound(e.q.Name)
	}
	out := make([]Result, len(e.params))
	for i, p := range e.params {
		out[i] = Result{Parameter: p, Stale: stale || e.unconfirmed, FetchedAt: e.fetchedAt, FromCache: fromCache,
			Upstream: e.upstream, FromDisk: e.unconfirmed}
	}
	return out, nil
}

func notFound(name string) error {
	return fmt.Errorf("client: get %q: %w", name, &types.ParameterNotFound{Message: aws.String("Parameter " + name + " not found.")})
}

// GetMany returns the parameters of names (at most 10 per upstream call,
// like GetParameters), in the order asked, and the names that do not
// exist. Names served from the cache make no call. If some names can be
// neither fetched nor served stale, err says why and found holds the rest.
func (c *Client) GetMany(ctx context.Context, names []string, withDecryption bool) (found []Result, invalid []string, err error) {
	if c.isClosed() {
		return nil, nil, ErrClosed
	}
	now := c.cfg.Now()
	byName := make(map[string]Result, len(names))
	missing := make(map[string]bool)
	var misses, cached []string
	for _, n := range names {
		if _, done := byName[n]; done || missing[n] {
			continue
		}
		q := query{Kind: kindName, Region: c.cfg.Region, Decrypt: withDecryption, Name: n}
		e, ok := c.cache.get(q.key())
		switch {
		case ok && e.fresh(now) && e.notFound:
			c.metrics.hit()
			missing[n] = true
		case ok && e.fresh(now):
			c.metrics.hit()
			if !now.Before(e.refreshAt) {
				c.scheduleRefresh(q.key())
			}
			byName[n] = Result{Parameter: e.params[0], FetchedAt: e.fetchedAt, FromCache: true, Upstream: e.upstream}
		case ok && !e.notFound && c.staleOK(e, now):
			// Cached but not fresh: each is read within the refresh
			// budget, all at once.
			cached = append(cached, n)
			missing[n] = false
		default:
			c.metrics.miss()
			misses = append(misses, n)
			missing[n] = false
		}
	}
	var errs []error
	if len(cached) > 0 {
		type answer struct {
			r   Result
			err error
		}
		answers := make([]answer, len(cached))
		var wg sync.WaitGroup
		for i, n := range cached {
			wg.Go(func() {
				answers[i].r, answers[i].err = c.Get(ctx, n, withDecryption)
			})
		}
		wg.Wait()
		for i, n := range cached {
			var nf *types.ParameterNotFound
			switch err := answers[i].err; {
			case errors.As(err, &nf):
				missing[n] = true
			case err != nil:
				errs = append(errs, err)
			default:
				byName[n] = answers[i].r
			}
		}
	}
	for len(misses) > 0 {
		batch := misses[:min(10, len(misses))]
		misses = misses[len(batch):]
		var out *ssm.GetParametersOutput
		from, callErr := c.call(ctx, "GetParameters", true, func(ctx context.Context, api ssmAPI) error {
			var err error
			out, err = api.GetParameters(ctx, &ssm.GetParametersInput{Names: batch, WithDecryption: aws.Bool(withDecryption)})
			return err
		})
		now := c.cfg.Now()
		if callErr != nil {
			for _, n := range batch {
				q := query{Kind: kindName, Region: c.cfg.Region, Decrypt: withDecryption, Name: n}
				if e, ok := c.cache.get(q.key()); ok && !e.notFound && upstreamFailure(callErr) && c.staleOK(e, now) {
					byName[n] = c.serveStale(q, e, callErr)[0]
					continue
				}
				errs = append(errs, fmt.Errorf("client: get %q: %w", n, callErr))
			}
			continue
		}
		got := make(map[string]Parameter)
		for _, sp := range out.Parameters {
			p := fromSDK(sp)
			for _, k := range []string{p.Name + p.Selector, p.ARN + p.Selector, p.Name, p.ARN} {
				if _, dup := got[k]; !dup && k != "" {
					got[k] = p
				}
			}
		}
		for _, n := range out.InvalidParameters {
			c.store(query{Kind: kindName, Region: c.cfg.Region, Decrypt: withDecryption, Name: n}, nil, from, now)
			missing[n] = true
		}
		for _, n := range batch {
			if missing[n] {
				continue
			}
			q := query{Kind: kindName, Region: c.cfg.Region, Decrypt: withDecryption, Name: n}
			if p, ok := got[n]; ok {
				e := c.store(q, []Parameter{p}, from, now)
				byName[n] = Result{Parameter: p, FetchedAt: e.fetchedAt, Upstream: from}
				continue
			}
			// An answer we cannot match to the name asked: ask for it alone.
			r, err := c.Get(ctx, n, withDecryption)
			var nf *types.ParameterNotFound
			switch {
			case errors.As(err, &nf):
				missing[n] = true
			case err != nil:
				errs = append(errs, err)
			default:
				byName[n] = r
			}
		}
	}
	for _, n := range names {
		if r, ok := byName[n]; ok {
			found = append(found, r)
			delete(byName, n)
		} else if missing[n] {
			invalid = append(invalid, n)
			delete(missing, n)
		}
	}
	return found, invalid, errors.Join(errs...)
}

// Invalidate drops every cached answer about the named parameters (any
// selector, decryption flag, and the paths that contain them), stale
// copies included.
func (c *Client) Invalidate(names ...string) {
	for _, n := range names {
		c.cache.remove(baseName(n))
	}
}

// Health describes every upstream, in the order of Config.Endpoints.
func (c *Client) Health() []UpstreamHealth {
	c.staleMu.Lock()
	since := c.staleSince
	c.staleMu.Unlock()
	out := make([]UpstreamHealth, len(c.upstreams))
	for i, u := range c.upstreams {
		out[i] = u.health()
		out[i].ServingStaleSince = since
	}
	return out
}

// markServingStale records that reads are being served stale; it reports
// whether they were not before.
func (c *Client) markServingStale() bool {
	c.staleMu.Lock()
	defer c.staleMu.Unlock()
	if c.staleSince.IsZero() {
		c.staleSince = c.cfg.Now()
		return true
	}
	return false
}

func (c *Client) markServingFresh() {
	c.staleMu.Lock()
	defer c.staleMu.Unlock()
	c.staleSince = time.Time{}
}

// scheduleRefresh queues a background refresh of key unless one is queued
// or running.
func (c *Client) scheduleRefresh(key string) {
	if !c.cache.claimRefresh(key) {
		return
	}
	select {
	case c.refresh <- key:
	default:
		c.cache.endRefresh(key, time.Time{})
	}
}

// refreshLoop refreshes queued entries until Close.
func (c *Client) refreshLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case key := <-c.refresh:
			c.refreshKey(key)
		}
	}
}

func (c *Client) refreshKey(key string) {
	e, ok := c.cache.get(key)
	if !ok {
		return
	}
	due := e.refreshAt
	_, err, _ := c.flight.Do(key, func() (any, error) { return c.fetch(e.q, true, false) })
	now := c.cfg.Now()
	if err != nil {
		var nf *types.ParameterNotFound
		if !errors.As(err, &nf) {
			c.log.Debug("background refresh failed", keyName, e.q.Name, keyError, err)
			c.cache.endRefresh(key, now.Add(c.cfg.BreakerOpenFor))
		}
		return
	}
	// A refresh that joined a lookup's fetch may have been answered from
	// the cache, leaving the mark set.
	c.cache.endRefresh(key, time.Time{})
	c.metrics.refreshLag(now.Sub(due))
}
