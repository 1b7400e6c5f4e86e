package incident

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/paramstore/paramstore/internal/webhook"
)

// Notifier sends an agent's incidents to a webhook as "Paramstore
// Incident" events: the envelope, detail and signature of a server's
// (docs/events.md), one when an incident opens and one when it closes.
// Delivery is in order and retried with backoff while the agent runs; the
// queue is in memory (the incidents themselves are durable in the agent's
// history) and bounded: past maxQueue the oldest notice is dropped, logged.
type Notifier struct {
	url    string
	secret []byte
	region string
	client *http.Client
	log    *slog.Logger

	mu    sync.Mutex
	queue []webhook.Event
	wake  chan struct{}
}

// maxQueue bounds the notices waiting for delivery.
const maxQueue = 100

// NewNotifier posts to rawURL (http or https), signing with secret; region
// names the agent's region in the envelope. log nil discards.
func NewNotifier(rawURL string, secret []byte, region string, log *slog.Logger) (*Notifier, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, errors.New("incident: webhook URL: want http(s)://host/path without credentials")
	}
	if len(secret) == 0 {
		return nil, errors.New("incident: webhook secret: empty")
	}
	c, err := webhook.NewHTTPClient(nil, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{url: rawURL, secret: secret, region: region, client: c, log: log, wake: make(chan struct{}, 1)}, nil
}

// eventID derives the event's ID from the incident and its state, so a
// receiver deduplicates a notice sent twice.
func eventID(id, state string) string {
	h := sha256.Sum256([]byte(id + "/" + state))
	s := hex.EncodeToString(h[:16])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// Changed queues the event of inc's transition: Config.OnChange of the
// agent's Recorder.
func (n *Notifier) Changed(inc Incident) {
	state := StateOpen
	if inc.Ended != nil {
		state = StateClosed
	}
	detail, err := MarshalDetail(inc, state)
	if err != nil {
		return
	}
	ev := webhook.Event{Version: "0", ID: eventID(inc.ID, state), DetailType: DetailType, Source: "paramstore",
		Time: time.Now().UTC().Format(time.RFC3339), Region: n.region, Resources: []string{}, Detail: detail}
	n.mu.Lock()
	n.queue = append(n.queue, ev)
	if len(n.queue) > maxQueue {
		n.log.Warn("incident webhook: queue full, oldest notice dropped", "event_id", n.queue[0].ID)
		n.queue = n.queue[1:]
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Run delivers the queue until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	attempt := 0
	for {
		n.mu.Lock()
		var ev *webhook.Event
		if len(n.queue) > 0 {
			e := n.queue[0]
			ev = &e
		}
		n.mu.Unlock()
		if ev == nil {
			select {
			case <-ctx.Done():
				return
			case <-n.wake:
			}
			continue
		}
		body, _ := json.Marshal(ev)
		err := webhook.Post(ctx, n.client, n.url, n.secret, ev.ID, body, 4096)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			n.mu.Lock()
			// Unless a full queue dropped it meanwhile.
			if len(n.queue) > 0 && n.queue[0].ID == ev.ID {
				n.queue = n.queue[1:]
			}
			n.mu.Unlock()
			attempt = 0
			continue
		}
		if attempt == 0 {
			n.log.Warn("incident webhook: delivery failed; retrying with backoff", "event_id", ev.ID, "error", err)
		}
		attempt++
		// Full jitter, 100ms doubling to 30s, as the server's deliveries.
		b := min(100*time.Millisecond<<min(attempt-1, 9), 30*time.Second)
		t := time.NewTimer(b/2 + rand.N(b/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
