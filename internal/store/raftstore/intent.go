package raftstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// IntentLog is the audit trail as a node sees it when the
// intent records of API calls travel in the raft log (store/intent.go,
// internal/audit/doc.go "Durability").
type IntentLog interface {
	// LogIntent queues the intent record body, carried by the entry at
	// index, to be written after the records queued before it. It is
	// never refused for a full backlog.
	LogIntent(body []byte, index uint64) error
	// Flush returns once every record queued before it is durable.
	Flush(ctx context.Context) error
	// IntentIndexes returns the raft indexes above after of the intent
	// records the trail holds.
	IntentIndexes(after uint64) (map[uint64]bool, error)
}

// intentState is what a node keeps of the intents it hands to the trail.
type intentState struct {
	// last is the highest index whose intent was handed to the trail (or
	// found there at the start), and seen the indexes above the state
	// machine's at the start whose intent the trail already held. Both
	// belong to the apply goroutine.
	last uint64
	seen map[uint64]bool
	// queued counts the intents handed to the trail, durable those made
	// durable by the last BeforeCommit (under the store's batch lock).
	queued  atomic.Uint64
	durable uint64
	// lost is set when the trail refused an intent (it is closed).
	lost atomic.Bool
	// unsynced are the intents handed to the trail since its last
	// successful Flush: what a commit records as owed when the trail
	// cannot make them durable (store.Options.OwedIntents). Under the
	// store's batch lock.
	unsynced []store.IntentEntry
	// resuming is set until the intents the committed state owed the
	// trail at the start are handed to it again (resumeOwed): until then
	// no commit forgets them.
	resuming atomic.Bool
}

// CarriesIntents reports whether the commands of API calls carry their
// audit intent records to the trail (Config.Intents): the API then hands
// them to Apply (store.WithIntent) instead of making them durable before
// the call runs. In a cluster only the commands this node proposes, as
// leader, carry them; one it forwards has its intent made durable first
// (Apply).
func (n *Node) CarriesIntents() bool { return n.carriesIntents() }

func (n *Node) carriesIntents() bool { return n.cfg.Intents != nil }

// loadIntents looks up, before raft applies any entry, which of the
// entries the state machine will apply again (those after its applied
// index, up to the log's last) already have their intent on the trail: a
// crash can come after the trail made an intent durable and before the
// state machine committed its entry.
func (n *Node) loadIntents(logs raft.LogStore) error {
	applied := n.db.LastApplied()
	n.intents.last = applied
	if !n.carriesIntents() {
		return nil
	}
	last, err := logs.LastIndex()
	if err != nil {
		return fmt.Errorf("raftstore: %w", err)
	}
	owed, err := n.db.OwedIntents()
	if err != nil {
		return fmt.Errorf("raftstore: the audit intents the state owes the trail: %w", err)
	}
	if last <= applied && len(owed) == 0 {
		return nil
	}
	after := applied
	for _, o := range owed {
		after = min(after, o.Index-1)
	}
	seen, err := n.cfg.Intents.IntentIndexes(after)
	if err != nil {
		return fmt.Errorf("raftstore: the audit intents of the entries after index %d: %w", after, err)
	}
	n.intents.seen = seen
	if len(owed) > 0 {
		var missing []store.IntentEntry
		for _, o := range owed {
			if !seen[o.Index] {
				missing = append(missing, o)
			}
		}
		n.log.Warn("the state machine committed entries whose audit intents the trail could not make durable: appending those it lacks",
			"owed", len(owed), "missing", len(missing))
		n.intents.resuming.Store(true)
		n.wg.Add(1)
		go n.resumeOwed(missing)
	}
	if len(seen) > 0 {
		n.log.Info("the audit trail holds the intents of entries the state machine applies again: not appended twice",
			"applied_index", applied, "last_index", last, "intents", len(seen))
	}
	return nil
}

// onIntent hands the intent carried by the entry at index to the trail
// (store.Options.OnIntent), once per index, when this node proposed it.
func (n *Node) onIntent(index uint64, origin string, body []byte) {
	st := &n.intents
	if origin != n.cfg.NodeID || index <= st.last {
		return
	}
	st.last = index
	if st.seen[index] {
		delete(st.seen, index)
		return
	}
	kill := n.killAtIntent(body)
	if kill == "before" {
		killSelf()
	}
	st.unsynced = append(st.unsynced, store.IntentEntry{Index: index, Body: body})
	if err := n.cfg.Intents.LogIntent(body, index); err != nil {
		// The state machine must not commit this entry: the next start
		// applies it again from the log, and its intent with it.
		st.lost.Store(true)
		n.log.Error("audit intent record not queued; the state machine stops committing until a restart", "index", index, "error", err)
		return
	}
	st.queued.Add(1)
	if kill == "after" {
		if err := n.cfg.Intents.Flush(context.Background()); err == nil {
			killSelf()
		}
	}
}

// restoreIntents runs before the state machine is replaced by a snapshot
// from the leader (raft's InstallSnapshot; fsm.Restore), which skips the
// entries up to the snapshot's index and after it raft truncates its log:
// the intents this node proposed among the entries of its own log that it
// has not applied (it led, and fell behind before applying them) are
// handed to the trail and made durable first. A trail that cannot make
// them durable refuses the restore (raft tries again later; the node stays
// behind, and the state keeps what it owes, as a commit does).
func (n *Node) restoreIntents() error {
	if !n.carriesIntents() {
		return nil
	}
	st := &n.intents
	if st.resuming.Load() || st.lost.Load() {
		return fmt.Errorf("raftstore: restore refused: %w: the trail owes earlier intents", store.ErrIntentTrail)
	}
	snaps, err := n.snaps.List()
	if err != nil || len(snaps) == 0 {
		return fmt.Errorf("raftstore: restore refused: the snapshot being restored is not listed: %v", err)
	}
	upTo := snaps[0].Index
	first, ferr := n.logs.FirstIndex()
	last, lerr := n.logs.LastIndex()
	if err := errors.Join(ferr, lerr); err != nil {
		return fmt.Errorf("raftstore: restore refused: the log's own intents: %w", err)
	}
	var handed int
	var herr error
	n.db.InBatch(func() {
		from := max(st.last+1, first)
		for i := from; i <= min(upTo, last) && herr == nil; i++ {
			var l raft.Log
			if err := n.logs.GetLog(i, &l); err != nil {
				herr = fmt.Errorf("raftstore: restore refused: entry %d of the log: %w", i, err)
				break
			}
			if l.Type != raft.LogCommand {
				continue
			}
			cmd, err := store.UnmarshalCommand(l.Data)
			if err != nil || cmd.Origin != n.cfg.NodeID || cmd.Intent == nil {
				continue
			}
			if st.seen[i] {
				delete(st.seen, i)
				continue
			}
			if err := n.cfg.Intents.LogIntent(cmd.Intent, i); err != nil {
				herr = fmt.Errorf("raftstore: restore refused: %w: %w", store.ErrIntentTrail, err)
				break
			}
			st.unsynced = append(st.unsynced, store.IntentEntry{Index: i, Body: cmd.Intent})
			st.queued.Add(1)
			st.last, handed = i, handed+1
		}
		if herr == nil {
			st.last = max(st.last, upTo)
		}
	})
	if herr != nil {
		return herr
	}
	// Every time, not only when this call handed some: a restore refused
	// before handed them and is tried again now.
	if err := n.cfg.Intents.Flush(context.Background()); err != nil {
		return fmt.Errorf("raftstore: restore refused: %w: %w", store.ErrIntentTrail, err)
	}
	if handed > 0 {
		n.log.Info("the snapshot restored skips entries this node proposed and had not applied: their audit intents are on the trail",
			"intents", handed, "snapshot_index", upTo)
	}
	return nil
}

// syncIntents makes the intents handed to the trail durable before the
// state machine commits (store.Options.BeforeCommit): a committed entry is
// never applied again, so its intent must be on the trail for good.
func (n *Node) syncIntents() error {
	st := &n.intents
	if st.lost.Load() {
		return fmt.Errorf("%w: an intent record could not be queued", store.ErrIntentTrail)
	}
	if st.resuming.Load() {
		return fmt.Errorf("%w: the intents owed at the start are not on the trail yet", store.ErrIntentTrail)
	}
	q := st.queued.Load()
	if q == st.durable {
		return nil
	}
	if err := n.cfg.Intents.Flush(context.Background()); err != nil {
		return fmt.Errorf("%w: %w", store.ErrIntentTrail, err)
	}
	st.durable = q
	clear(st.unsynced) // drop the references to the bodies
	st.unsynced = st.unsynced[:0]
	return nil
}

// owedIntents returns the intents handed to the trail and not known
// durable on it (store.Options.OwedIntents): a commit records them in the
// state when the trail cannot write, so that the entries they came with
// can be committed (and the log truncated) without losing them.
func (n *Node) owedIntents() []store.IntentEntry { return n.intents.unsynced }

// resumeOwed hands the trail the intents the committed state owed it at
// the start and it lacks (the trail could not write before the last stop),
// once it is open, and then lets a commit forget them.
func (n *Node) resumeOwed(missing []store.IntentEntry) {
	defer n.wg.Done()
	for _, o := range missing {
		if err := n.cfg.Intents.LogIntent(o.Body, o.Index); err != nil {
			n.log.Error("audit intent owed by the state not queued; kept in the state for the next start", "index", o.Index, "error", err)
			return
		}
	}
	for wait := storageRetryMin; ; wait = min(2*wait, storageRetryMax) {
		err := n.cfg.Intents.Flush(context.Background())
		if err == nil {
			break
		}
		n.log.Error("audit intents owed by the state not durable yet; kept in the state, trying again", "error", err)
		select {
		case <-n.stop:
			return
		case <-time.After(wait):
		}
	}
	n.intents.resuming.Store(false)
	n.log.Info("the audit intents owed by the state are on the trail", "appended", len(missing))
}

// killAtIntent returns the mode of Config.KillAtIntent when body contains
// its text.
func (n *Node) killAtIntent(body []byte) string {
	mode, text, ok := strings.Cut(n.cfg.KillAtIntent, ":")
	if !ok || text == "" || !bytes.Contains(body, []byte(text)) {
		return ""
	}
	return mode
}

func killSelf() {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
