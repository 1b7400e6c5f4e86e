package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// OpIncident records a server incident (JSON of an incident.Incident,
// opaque to the store but for its "ended") under its ID (Command.Name) in
// the replicated state, so every node shows the cluster's history
// (DESIGN.md decision 9). The history is bounded: past MaxIncidents the
// oldest IDs (which sort by start time) are dropped.
//
// The same apply emits the incident's events (KindIncident) on the
// transitions it records, and only on those, so a command proposed twice
// or a record proposed again emits each once: IncidentOpened when the ID
// is new, IncidentClosed when the record ends now and had not before.
const OpIncident Op = "incident"

// KindIncident is the detail-type of incident events (incident.DetailType).
const KindIncident = "Paramstore Incident"

// MaxIncidents bounds the replicated incident history.
const MaxIncidents = 200

// bucketIncidents is created by the first OpIncident (not in allBuckets:
// state machines made before it exist without it and stay valid).
var bucketIncidents = []byte("incidents")

// ended reports whether an incident's JSON has a non-null "ended".
func ended(raw []byte) bool {
	var v struct {
		Ended json.RawMessage `json:"ended"`
	}
	return json.Unmarshal(raw, &v) == nil && len(v.Ended) > 0 && string(v.Ended) != "null"
}

func applyIncident(tx *bolt.Tx, index uint64, c *Command) error {
	if c.Name == "" || len(c.Incident) == 0 || !json.Valid(c.Incident) {
		return fmt.Errorf("store: incident without ID or JSON")
	}
	for _, d := range []json.RawMessage{c.IncidentOpened, c.IncidentClosed} {
		if len(d) > 0 && !json.Valid(d) {
			return fmt.Errorf("store: incident %s: event detail is not JSON", c.Name)
		}
	}
	b, err := tx.CreateBucketIfNotExists(bucketIncidents)
	if err != nil {
		return err
	}
	old := b.Get([]byte(c.Name))
	em := newEmitter(tx, index, c)
	if old == nil && len(c.IncidentOpened) > 0 {
		if err := em.emit(Event{Kind: KindIncident, Name: c.Name, Detail: c.IncidentOpened}); err != nil {
			return err
		}
	}
	if len(c.IncidentClosed) > 0 && ended(c.Incident) && (old == nil || !ended(old)) {
		if err := em.emit(Event{Kind: KindIncident, Name: c.Name, Detail: c.IncidentClosed}); err != nil {
			return err
		}
	}
	if err := b.Put([]byte(c.Name), c.Incident); err != nil {
		return err
	}
	// Counted with a cursor: Bucket.Stats reads the committed pages, so
	// in this transaction it misses the Put above (the history kept one
	// more than MaxIncidents).
	var keys [][]byte
	cur := b.Cursor()
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		keys = append(keys, k)
	}
	if over := len(keys) - MaxIncidents; over > 0 {
		drop := make([][]byte, over)
		for i, k := range keys[:over] {
			drop[i] = append([]byte(nil), k...)
		}
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Incidents returns the recorded incidents' JSON, oldest first.
func (r *Reader) Incidents() ([]json.RawMessage, error) {
	b := r.bucket(bucketIncidents)
	if b == nil {
		return nil, nil
	}
	var out []json.RawMessage
	err := b.ForEach(func(_, v []byte) error {
		out = append(out, append(json.RawMessage(nil), v...))
		return nil
	})
	return out, err
}
