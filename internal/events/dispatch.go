package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/webhook"
)

// Store is what the dispatcher needs from storage: local reads, proposals
// and a signal after each committed batch.
type Store interface {
	View(ctx context.Context, fn func(r *store.Reader) error) error
	Apply(ctx context.Context, cmd *store.Command) error
	// Changed returns a channel closed when the next batch commits.
	Changed() <-chan struct{}
}

// SecretPurpose is the crypto.Keyring Wrap purpose of webhook secrets.
const SecretPurpose = "webhook secret"

// Config configures a Dispatcher.
type Config struct {
	Store   Store
	Keyring *crypto.Keyring
	// Leader reports whether this node is the raft leader: only the leader
	// delivers.
	Leader func() bool
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Registerer receives the delivery metrics; nil registers none.
	Registerer prometheus.Registerer
	// Timeout bounds one POST, connection included.
	Timeout time.Duration
	// MaxResponse is how many bytes of a receiver's answer are read.
	MaxResponse int64
	// QueueLimit bounds the undelivered events of one subscription: past
	// it the oldest are dead-lettered.
	QueueLimit int
	// DeadAfter is how long an event is retried before it is dead-lettered.
	DeadAfter time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff (with full
	// jitter) between failed attempts.
	BackoffMin, BackoffMax time.Duration
	// Poll is how often an idle loop looks again without a signal (a
	// leadership change has none).
	Poll time.Duration
	// AckInterval is how long delivery progress may stay unrecorded: one
	// proposal covers the deliveries of that interval (after a failover,
	// they are delivered again).
	AckInterval time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Timeout:     10 * time.Second,
		MaxResponse: 4096,
		QueueLimit:  10000,
		DeadAfter:   24 * time.Hour,
		BackoffMin:  100 * time.Millisecond,
		BackoffMax:  30 * time.Second,
		Poll:        250 * time.Millisecond,
		AckInterval: 100 * time.Millisecond,
	}
}

// Validate checks the configuration, naming the failing field.
func (c Config) Validate() error {
	switch {
	case c.Store == nil || c.Keyring == nil || c.Leader == nil:
		return errors.New("events: Config.Store, Keyring and Leader are required")
	case c.Timeout <= 0 || c.MaxResponse < 0 || c.QueueLimit < 1 || c.DeadAfter <= 0 || c.Poll <= 0 || c.AckInterval <= 0:
		return errors.New("events: Config.Timeout, QueueLimit, DeadAfter, Poll and AckInterval must be positive")
	case c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin:
		return errors.New("events: Config.BackoffMax must be >= BackoffMin > 0")
	}
	return nil
}

// Dispatcher delivers the outbox to the subscriptions, on the leader only.
// Each subscription has its own worker, so a slow or dead receiver delays
// only its own events; writes never wait for any of them.
type Dispatcher struct {
	cfg Config
	log *slog.Logger

	delivered *prometheus.CounterVec
	failed    *prometheus.CounterVec
	lag       *prometheus.GaugeVec

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewDispatcher builds a dispatcher; Start runs it.
func NewDispatcher(cfg Config) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Dispatcher{cfg: cfg, log: cfg.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.delivered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paramstore_webhook_delivered_total",
		Help: "Events delivered to a webhook subscription by this node (2xx answers)."}, []string{"subscription"})
	d.failed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paramstore_webhook_failed_total",
		Help: "Failed delivery attempts to a webhook subscription by this node."}, []string{"subscription"})
	d.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "paramstore_webhook_lag_seconds",
		Help: "Age of the oldest event not yet delivered to a webhook subscription (0 when none is waiting)."}, []string{"subscription"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(d.delivered, d.failed, d.lag)
	}
	return d, nil
}

// Collectors are the delivery metrics, for a registry (when
// Config.Registerer is nil).
func (d *Dispatcher) Collectors() []prometheus.Collector {
	return []prometheus.Collector{d.delivered, d.failed, d.lag}
}

// Start runs the loop until Close.
func (d *Dispatcher) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.run(ctx)
	}()
}

// Close stops the loop and its workers and waits for them.
func (d *Dispatcher) Close() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
}

type workerKey struct {
	name    string
	created int64
}

func (d *Dispatcher) run(ctx context.Context) {
	workers := map[workerKey]context.CancelFunc{}
	var wg sync.WaitGroup
	stopAll := func() {
		for k, cancel := range workers {
			cancel()
			delete(workers, k)
		}
		wg.Wait()
	}
	defer stopAll()
	tick := time.NewTicker(d.cfg.Poll)
	defer tick.Stop()
	for {
		changed := d.cfg.Store.Changed()
		if !d.cfg.Leader() {
			stopAll()
		} else {
			var subs []store.Subscription
			// A point read (subscriptions are committed with their
			// batch): this runs at every commit, which it must not
			// cause again.
			err := d.cfg.Store.View(store.WithPointReads(ctx), func(r *store.Reader) error {
				var err error
				subs, err = r.Subscriptions()
				return err
			})
			if err == nil {
				live := map[workerKey]bool{}
				for _, s := range subs {
					k := workerKey{s.Name, s.Created}
					live[k] = true
					if workers[k] != nil {
						continue
					}
					wctx, cancel := context.WithCancel(ctx)
					workers[k] = cancel
					wg.Add(1)
					go func() {
						defer wg.Done()
						d.work(wctx, k)
					}()
				}
				for k, cancel := range workers {
					if !live[k] {
						cancel()
						delete(workers, k)
						d.delivered.DeleteLabelValues(k.name)
						d.failed.DeleteLabelValues(k.name)
						d.lag.DeleteLabelValues(k.name)
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// next is what a worker reads in one view: its subscription, the next
// event for it, how many wait, and how far non-matching events reach.
type next struct {
	sub     *store.Subscription
	ev      *store.Event
	pending int
	// skipTo is the position of the last event passed over before ev (or
	// the last in the outbox when ev is nil).
	skipTo store.Pos
	// dead are the events past QueueLimit, oldest first.
	dead []*store.Event
}

func (d *Dispatcher) read(ctx context.Context, k workerKey, after store.Pos) (*next, error) {
	var n next
	err := d.cfg.Store.View(ctx, func(r *store.Reader) error {
		s, err := r.Subscription(k.name)
		if err != nil || s == nil || s.Created != k.created {
			return err
		}
		n.sub = s
		if after.Less(s.Pos) {
			after = s.Pos
		}
		n.skipTo = after
		var matching []*store.Event
		err = r.Events(after, func(ev *store.Event) (bool, error) {
			if !s.Matches(ev) {
				if len(matching) == 0 {
					n.skipTo = ev.Pos
				}
				return true, nil
			}
			matching = append(matching, ev)
			n.pending++
			// Enough to know the excess over the bound.
			return n.pending <= d.cfg.QueueLimit*2, nil
		})
		if err != nil {
			return err
		}
		if excess := len(matching) - d.cfg.QueueLimit; excess > 0 {
			n.dead, matching = matching[:excess], matching[excess:]
		}
		if len(matching) > 0 {
			n.ev = matching[0]
		}
		return nil
	})
	return &n, err
}

// work delivers the events of one subscription in order until ctx ends or
// the subscription goes away.
func (d *Dispatcher) work(ctx context.Context, k workerKey) {
	log := d.log.With("subscription", k.name)
	var (
		client  *http.Client
		secret  []byte
		acked   store.Pos // the position this worker knows is replicated
		local   store.Pos // delivered beyond acked, not yet proposed
		batch   store.Ack
		attempt int
		failing time.Time // first failure of the current event
		retryAt time.Time // the next attempt, when backing off
		flushed time.Time // last proposal (real time: it paces raft writes)
	)
	flush := func() bool {
		if !acked.Less(local) && batch.Failed == 0 && batch.LastError == "" && !batch.ClearError && len(batch.DeadIDs) == 0 {
			return true
		}
		a := batch
		a.Name, a.Created, a.Pos = k.name, k.created, local
		if local.Less(acked) {
			a.Pos = acked
		}
		err := d.cfg.Store.Apply(ctx, &store.Command{Op: store.OpNotifyAck, Ack: &a, Time: d.cfg.Now().UnixMilli()})
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("webhook: recording delivery progress failed", "err", err)
			}
			return false
		}
		acked, batch, flushed = a.Pos, store.Ack{}, time.Now()
		return true
	}
	defer d.lag.DeleteLabelValues(k.name)
	for ctx.Err() == nil {
		changed := d.cfg.Store.Changed()
		from := local
		if from.Less(acked) {
			from = acked
		}
		n, err := d.read(ctx, k, from)
		if err != nil || n.sub == nil {
			if err != nil && ctx.Err() == nil {
				log.Warn("webhook: read", "err", err)
			}
			return
		}
		if acked.Less(n.sub.Pos) {
			acked = n.sub.Pos
		}
		// The bound holds whether or not the subscription can deliver:
		// a secret that cannot be unwrapped must not grow the outbox.
		if len(n.dead) > 0 {
			for _, ev := range n.dead {
				batch.DeadIDs = append(batch.DeadIDs, ev.ID)
				local = ev.Pos
			}
			log.Warn("webhook: queue full, oldest events dead-lettered", "count", len(n.dead), "limit", d.cfg.QueueLimit)
			flush()
			continue
		}
		if client == nil {
			client, secret, err = d.clientFor(n.sub)
			if err != nil {
				log.Error("webhook: cannot deliver", "err", err)
				batch.LastError = err.Error()
				flush()
				d.wait(ctx, nil, d.cfg.BackoffMax)
				client = nil
				continue
			}
		}
		if n.ev == nil {
			d.lag.WithLabelValues(k.name).Set(0)
			if local.Less(n.skipTo) {
				local = n.skipTo
			}
			if wait := d.cfg.AckInterval - time.Since(flushed); wait > 0 && batch.Delivered > 0 {
				// Coalesce: new events may come before the interval ends.
				d.wait(ctx, changed, wait)
				continue
			}
			flush()
			d.wait(ctx, changed, d.cfg.Poll)
			continue
		}
		if local.Less(n.skipTo) {
			local = n.skipTo
		}
		if wait := time.Until(retryAt); wait > 0 {
			// Backing off: look at the outbox again within boundCheck
			// (new events may pass the queue limit), not at every commit.
			d.wait(ctx, nil, min(wait, boundCheck))
			continue
		}
		d.lag.WithLabelValues(k.name).Set(max(0, d.cfg.Now().Sub(time.UnixMilli(n.ev.Time)).Seconds()))
		err = d.post(ctx, client, n.sub, secret, n.ev)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			d.delivered.WithLabelValues(k.name).Inc()
			local = n.ev.Pos
			batch.Delivered++
			batch.LastDelivered = d.cfg.Now().UnixMilli()
			if n.sub.LastError != "" || attempt > 0 {
				batch.ClearError, batch.LastError = true, ""
			}
			attempt, failing, retryAt = 0, time.Time{}, time.Time{}
			// One proposal per AckInterval while events keep coming.
			if batch.Delivered >= 1024 || time.Since(flushed) >= d.cfg.AckInterval {
				flush()
			}
			continue
		}
		d.failed.WithLabelValues(k.name).Inc()
		batch.Failed++
		batch.LastError = err.Error()
		batch.ClearError = false
		now := d.cfg.Now()
		if failing.IsZero() {
			failing = now
		}
		if now.Sub(failing) >= d.cfg.DeadAfter {
			log.Warn("webhook: event dead-lettered", "event_id", n.ev.ID, "err", err)
			batch.DeadIDs = append(batch.DeadIDs, n.ev.ID)
			local = n.ev.Pos
			attempt, failing, retryAt = 0, time.Time{}, time.Time{}
			flush()
			continue
		}
		if attempt == 0 {
			log.Warn("webhook: delivery failed; retrying with backoff", "event_id", n.ev.ID, "err", err)
		}
		flush()
		attempt++
		retryAt = time.Now().Add(d.backoff(attempt))
	}
}

// boundCheck is how often a worker that is backing off looks at its
// outbox, to dead-letter what passed the queue limit meanwhile.
const boundCheck = time.Second

// backoff is the full-jitter exponential backoff of attempt (1, 2, ...).
func (d *Dispatcher) backoff(attempt int) time.Duration {
	b := d.cfg.BackoffMin
	for i := 1; i < attempt && b < d.cfg.BackoffMax; i++ {
		b *= 2
	}
	b = min(b, d.cfg.BackoffMax)
	return b/2 + rand.N(b/2+1)
}

func (d *Dispatcher) wait(ctx context.Context, changed <-chan struct{}, dur time.Duration) {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-changed:
	case <-t.C:
	}
}

// clientFor builds the HTTP client and unwraps the secret of a
// subscription.
func (d *Dispatcher) clientFor(s *store.Subscription) (*http.Client, []byte, error) {
	secret, err := d.cfg.Keyring.Unwrap(SecretPurpose, s.Name, s.Secret)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook %s: the secret cannot be unwrapped (another master key?): %w", s.Name, err)
	}
	c, err := NewHTTPClient(s.CA, d.cfg.Timeout)
	return c, secret, err
}

// NewHTTPClient returns the client of webhook deliveries (webhook.NewHTTPClient).
func NewHTTPClient(ca []byte, timeout time.Duration) (*http.Client, error) {
	return webhook.NewHTTPClient(ca, timeout)
}

// post delivers one event.
func (d *Dispatcher) post(ctx context.Context, c *http.Client, s *store.Subscription, secret []byte, ev *store.Event) error {
	body, err := Render(ev)
	if err != nil {
		return err
	}
	return Post(ctx, c, s.URL, secret, ev.ID, body, d.cfg.MaxResponse)
}

// Post sends one signed event body (webhook.Post).
func Post(ctx context.Context, c *http.Client, url string, secret []byte, id string, body []byte, maxResponse int64) error {
	return webhook.Post(ctx, c, url, secret, id, body, maxResponse)
}
