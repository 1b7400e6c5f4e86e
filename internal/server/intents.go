package server

import (
	"context"
	"errors"
	"sync"

	"github.com/paramstore/paramstore/internal/audit"
)

// intentTrail is the audit trail as the raft node sees it
// (raftstore.IntentLog). The node opens before the trail (its state
// machine's lock keeps a second server on the same data directory from
// touching the trail), and its applier may meet an entry that carries an
// intent as soon as it starts: it waits for the trail, which openAudit
// opens right after the node.
type intentTrail struct {
	path  string
	once  sync.Once
	ready chan struct{}
	sink  *audit.FileSink // set before ready is closed; nil when the start failed
}

func newIntentTrail(path string) *intentTrail {
	return &intentTrail{path: path, ready: make(chan struct{})}
}

// attach gives the trail its sink (nil: the server failed to start), which
// close closes; only the first call counts.
func (t *intentTrail) attach(s *audit.FileSink) {
	t.once.Do(func() {
		t.sink = s
		close(t.ready)
	})
}

// close closes the sink once the node is closed.
func (t *intentTrail) close() error {
	t.attach(nil)
	if t.sink == nil {
		return nil
	}
	return t.sink.Close()
}

var errNoTrail = errors.New("server: the audit trail did not open")

func (t *intentTrail) LogIntent(body []byte, index uint64) error {
	<-t.ready
	if t.sink == nil {
		return errNoTrail
	}
	return t.sink.LogIntent(body, index)
}

func (t *intentTrail) Flush(ctx context.Context) error {
	<-t.ready
	if t.sink == nil {
		return errNoTrail
	}
	return t.sink.Flush(ctx)
}

func (t *intentTrail) IntentIndexes(after uint64) (map[uint64]bool, error) {
	return audit.IntentIndexes(t.path, after)
}
