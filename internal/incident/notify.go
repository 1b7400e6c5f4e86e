package incident

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/paramstore/paramstore/internal/atomicfile"
	"github.com/paramstore/paramstore/internal/webhook"
)

// Notifier sends an agent's incidents to a webhook as "Paramstore
// Incident" events: the envelope, detail and signature of a server's
// (docs/events.md), one when an incident opens and one when it closes.
// Delivery is in order and retried with backoff; the queue is bounded
// (past maxQueue the oldest notice is dropped, logged) and, once Persist
// names its file, survives a restart: a notice is removed from the file
// only after its receiver answered 2xx, so it is sent at least once (with
// the same event id, for the receiver to deduplicate).
type Notifier struct {
	url    string
	secret []byte
	region string
	client *http.Client
	log    *slog.Logger

	mu    sync.Mutex
	queue []webhook.Event
	path  string // the queue's file; "" keeps it in memory
	wake  chan struct{}
}

// maxQueueFile bounds what Persist reads: a full queue is far smaller.
const maxQueueFile = 4 << 20

// Persist keeps the queue in the file at path: the notices a previous run
// left undelivered are loaded and sent first. A missing file is an empty
// queue; an unreadable or damaged one is an error naming the file (remove
// it to drop those notices: the incidents stay in the history).
func (n *Notifier) Persist(path string) error {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("incident webhook queue: %w", err)
	default:
		defer f.Close()
		var file struct {
			Notices []webhook.Event `json:"notices"`
		}
		if st, err := f.Stat(); err == nil && st.Size() > maxQueueFile {
			return fmt.Errorf("incident webhook queue: %s: %d bytes, more than a queue can hold (remove it to drop the notices it holds)", path, st.Size())
		}
		dec := json.NewDecoder(f)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&file); err != nil {
			return fmt.Errorf("incident webhook queue: %s is damaged (remove it to drop the notices it holds): %w", path, err)
		}
		for i, ev := range file.Notices {
			if ev.ID == "" || ev.DetailType != DetailType || len(ev.Detail) == 0 {
				return fmt.Errorf("incident webhook queue: %s: notice %d is not an incident notice (remove the file to drop the notices it holds)", path, i)
			}
		}
		if len(file.Notices) > maxQueue {
			file.Notices = file.Notices[len(file.Notices)-maxQueue:]
		}
		n.mu.Lock()
		n.queue = append(file.Notices, n.queue...)
		n.mu.Unlock()
	}
	n.mu.Lock()
	n.path = path
	n.saveLocked()
	pending := len(n.queue)
	n.mu.Unlock()
	if pending > 0 {
		n.log.Info("incident webhook: notices left by the previous run", "count", pending)
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// saveLocked writes the queue to its file, if it has one. A failed write
// is logged: the notices stay queued in memory and the next change writes
// the file again.
func (n *Notifier) saveLocked() {
	if n.path == "" {
		return
	}
	data, err := json.Marshal(struct {
		Notices []webhook.Event `json:"notices"`
	}{n.queue})
	if err == nil {
		err = atomicfile.WriteFile(n.path, data, 0o600)
	}
	if err != nil {
		n.log.Error("incident webhook: cannot save the queue; notices not yet delivered would be lost by a restart", "path", n.path, "error", err)
	}
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
	n.saveLocked()
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
				n.saveLocked()
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
