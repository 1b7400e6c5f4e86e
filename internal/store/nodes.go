package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// NodeInfo is what the cluster knows of a member beyond raft's own
// configuration: the address of its API, where followers forward writes and
// read-index requests.
type NodeInfo struct {
	ID       string `json:"id"`
	APIAddr  string `json:"api"`  // base URL, e.g. http://127.0.0.1:4583
	RaftAddr string `json:"raft"` // advertised raft address
	// Codecs are the raft log encodings beyond JSON the node decodes
	// (CodecCompact); a node of a version before them registers none, and
	// the leader writes JSON while such a node is a member (raftstore).
	Codecs []string `json:"codecs,omitempty"`
}

// Node commands.
const (
	OpSetNode    Op = "setNode"
	OpRemoveNode Op = "removeNode"
)

var bucketNodes = []byte("nodes")

func applySetNode(tx *bolt.Tx, c *Command) error {
	if c.Node == nil || c.Node.ID == "" {
		return fmt.Errorf("store: setNode without node")
	}
	return putJSON(tx.Bucket(bucketNodes), []byte(c.Node.ID), c.Node)
}

func applyRemoveNode(tx *bolt.Tx, c *Command) error {
	return tx.Bucket(bucketNodes).Delete([]byte(c.Name))
}

// Node returns a member's info, or nil.
func (r *Reader) Node(id string) (*NodeInfo, error) {
	var n NodeInfo
	ok, err := getJSON(r.bucket(bucketNodes), []byte(id), &n)
	if !ok || err != nil {
		return nil, err
	}
	return &n, nil
}

// Nodes lists the members' info in ID order.
func (r *Reader) Nodes() ([]NodeInfo, error) {
	var out []NodeInfo
	err := r.bucket(bucketNodes).ForEach(func(k, v []byte) error {
		var n NodeInfo
		if err := json.Unmarshal(v, &n); err != nil {
			return fmt.Errorf("store: decode node %q: %w", k, err)
		}
		out = append(out, n)
		return nil
	})
	return out, err
}

// ResetAppliedIndex sets the applied index to 0, for a state restored from a
// backup into a new cluster whose raft log starts again at index 1.
func (d *DB) ResetAppliedIndex() error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.batchMu.Lock()
	defer d.batchMu.Unlock()
	if err := d.commitLocked(true); err != nil {
		return err
	}
	// A commit: the buffered reads that began before it read again.
	defer d.commits.Add(1)
	return d.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := meta.Delete(keyApplied); err != nil {
			return err
		}
		if err := meta.Delete(keyAppliedTerm); err != nil {
			return err
		}
		d.applied.Store(0)
		d.committed.Store(0)
		d.txLast, d.notified = 0, 0
		// Members of the old cluster are not members of the new one.
		if err := tx.DeleteBucket(bucketNodes); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketNodes)
		return err
	})
}
