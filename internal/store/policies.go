package store

import (
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Parameter policies (Expiration, ExpirationNotification,
// NoChangeNotification) run on the leader, which reads the parameters that
// have policies and proposes what is due as commands: OpDelete with a
// Policy event for an expiry, OpPolicyFire for a notification. No node
// changes state behind raft's back.
//
//	policyparams  tenancy \0 canonicalName -> "" (the parameters whose latest version has policies)

var bucketPolicyParams = []byte("policyparams")

// OpPolicyFire records that a notification policy fired and emits its
// event (Tenancy, Name, Expect, Policy).
const OpPolicyFire Op = "policyFire"

func indexPolicies(tx *bolt.Tx, tenancy, name string, p *Parameter, w *wrote) error {
	w.setPolicies()
	b := tx.Bucket(bucketPolicyParams)
	k := paramKey(tenancy, name)
	if p == nil || p.Latest.Policies == "" {
		return b.Delete(k)
	}
	return b.Put(k, nil)
}

func applyPolicyFire(tx *bolt.Tx, index uint64, c *Command) error {
	if c.Policy == nil {
		return fmt.Errorf("store: policyFire without event")
	}
	params := tx.Bucket(bucketParams)
	pk := paramKey(c.Tenancy, c.Name)
	var p Parameter
	ok, err := getJSON(params, pk, &p)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	if p.ModIndex != c.Expect {
		return ErrConflict
	}
	if slices.Contains(p.Fired, c.Policy.PolicyType) {
		return nil
	}
	p.Fired = append(p.Fired, c.Policy.PolicyType)
	if err := newEmitter(tx, index, c).emit(*c.Policy); err != nil {
		return err
	}
	// ModIndex stays: firing a notification is no change of the parameter.
	return putJSON(params, pk, &p)
}

// PolicyParams calls fn for every parameter whose latest version has
// policies. A buffered read (WithPointReads) serves it without a commit
// unless an entry it reads changed the policy index: the committed index
// is then the applied one, and the head records come through the buffer.
func (r *Reader) PolicyParams(fn func(tenancy, key string, p *Parameter) error) error {
	var b *bolt.Bucket
	if r.buf != nil {
		if r.buf.policiesChanged(r.upTo) {
			r.needFlush = true
		}
		b = r.txn().Bucket(bucketPolicyParams)
	} else {
		b = r.bucket(bucketPolicyParams)
	}
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, _ []byte) error {
		raw := r.get(bucketParams, k)
		if raw == nil {
			return nil
		}
		var p Parameter
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("store: decode %q: %w", k, err)
		}
		i := 0
		for i < len(k) && k[i] != 0 {
			i++
		}
		return fn(string(k[:i]), string(k[i+1:]), &p)
	})
}
