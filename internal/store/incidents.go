package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// OpIncident records a server incident (JSON of an incident.Incident,
// opaque to the store) under its ID (Command.Name) in the replicated
// state, so every node shows the cluster's history (DESIGN.md decision 9).
// The history is bounded: past MaxIncidents the oldest IDs (which sort by
// start time) are dropped.
const OpIncident Op = "incident"

// MaxIncidents bounds the replicated incident history.
const MaxIncidents = 200

// bucketIncidents is created by the first OpIncident (not in allBuckets:
// state machines made before it exist without it and stay valid).
var bucketIncidents = []byte("incidents")

func applyIncident(tx *bolt.Tx, c *Command) error {
	if c.Name == "" || len(c.Incident) == 0 || !json.Valid(c.Incident) {
		return fmt.Errorf("store: incident without ID or JSON")
	}
	b, err := tx.CreateBucketIfNotExists(bucketIncidents)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(c.Name), c.Incident); err != nil {
		return err
	}
	if over := b.Stats().KeyN - MaxIncidents; over > 0 {
		cur := b.Cursor()
		var drop [][]byte
		for k, _ := cur.First(); k != nil && len(drop) < over; k, _ = cur.Next() {
			drop = append(drop, append([]byte(nil), k...))
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
	b := r.tx.Bucket(bucketIncidents)
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
