package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Identities: users and roles with their inline policies, and access keys.
// Secrets are stored wrapped by the master key (package crypto); the store
// never sees them in plaintext.

// Principal kinds.
const (
	KindRoot = "root"
	KindUser = "user"
	KindRole = "role"
)

// Principal is a user, a role, or the root identity.
type Principal struct {
	Name     string            `json:"n"`
	Kind     string            `json:"k"`
	Created  int64             `json:"c"`
	Policies map[string]string `json:"p,omitempty"` // policy name -> JSON document
}

// AccessKey is a long-term key of a user, or temporary credentials of a
// role (Expires and a wrapped session token set).
type AccessKey struct {
	ID            string `json:"id"`
	Principal     string `json:"p"`
	SecretWrapped []byte `json:"s"`
	TokenWrapped  []byte `json:"t,omitempty"`
	Created       int64  `json:"c"`
	Expires       int64  `json:"e,omitempty"` // epoch ms; 0 = never
	Disabled      bool   `json:"x,omitempty"`
}

// Identity commands.
const (
	OpPutPrincipal    Op = "putPrincipal"    // create (Create) or replace a principal
	OpDeletePrincipal Op = "deletePrincipal" // delete a principal and its keys
	OpPutAccessKey    Op = "putAccessKey"    // create (Create) or replace an access key
	OpDeleteAccessKey Op = "deleteAccessKey"
)

var (
	bucketPrincipals = []byte("principals")
	bucketAccessKeys = []byte("accesskeys")
	keyIAMVersion    = []byte("iamVersion")
)

func bumpIAMVersion(tx *bolt.Tx, index uint64) error {
	return tx.Bucket(bucketMeta).Put(keyIAMVersion, binary.BigEndian.AppendUint64(nil, index))
}

func applyPutPrincipal(tx *bolt.Tx, index uint64, c *Command) error {
	if c.Principal == nil || c.Principal.Name == "" {
		return fmt.Errorf("store: putPrincipal without principal")
	}
	b := tx.Bucket(bucketPrincipals)
	exists := b.Get([]byte(c.Principal.Name)) != nil
	if c.Create && exists {
		return ErrExists
	}
	if !c.Create && !exists {
		return ErrNotFound
	}
	if err := putJSON(b, []byte(c.Principal.Name), c.Principal); err != nil {
		return err
	}
	return bumpIAMVersion(tx, index)
}

func applyDeletePrincipal(tx *bolt.Tx, index uint64, c *Command) error {
	b := tx.Bucket(bucketPrincipals)
	if b.Get([]byte(c.Name)) == nil {
		return ErrNotFound
	}
	keys := tx.Bucket(bucketAccessKeys)
	var doomed [][]byte
	err := keys.ForEach(func(k, v []byte) error {
		var ak AccessKey
		if err := json.Unmarshal(v, &ak); err != nil {
			return err
		}
		if ak.Principal == c.Name {
			doomed = append(doomed, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range doomed {
		if err := keys.Delete(k); err != nil {
			return err
		}
	}
	if err := b.Delete([]byte(c.Name)); err != nil {
		return err
	}
	return bumpIAMVersion(tx, index)
}

func applyPutAccessKey(tx *bolt.Tx, index uint64, c *Command) error {
	ak := c.AccessKey
	if ak == nil || ak.ID == "" {
		return fmt.Errorf("store: putAccessKey without key")
	}
	if tx.Bucket(bucketPrincipals).Get([]byte(ak.Principal)) == nil {
		return ErrNotFound
	}
	b := tx.Bucket(bucketAccessKeys)
	exists := b.Get([]byte(ak.ID)) != nil
	if c.Create && exists {
		return ErrExists
	}
	if !c.Create && !exists {
		return ErrNotFound
	}
	if err := putJSON(b, []byte(ak.ID), ak); err != nil {
		return err
	}
	return bumpIAMVersion(tx, index)
}

func applyDeleteAccessKey(tx *bolt.Tx, index uint64, c *Command) error {
	b := tx.Bucket(bucketAccessKeys)
	if b.Get([]byte(c.Name)) == nil {
		return ErrNotFound
	}
	if err := b.Delete([]byte(c.Name)); err != nil {
		return err
	}
	return bumpIAMVersion(tx, index)
}

// IAMVersion changes whenever a principal or access key changes; caches of
// identities compare it.
func (r *Reader) IAMVersion() uint64 { r.bucket(bucketMeta); return iamVersionOf(r.txn()) }

func iamVersionOf(tx *bolt.Tx) uint64 {
	v := tx.Bucket(bucketMeta).Get(keyIAMVersion)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// Principal returns a principal by name, or nil.
func (r *Reader) Principal(name string) (*Principal, error) {
	var p Principal
	ok, err := getJSON(r.bucket(bucketPrincipals), []byte(name), &p)
	if !ok || err != nil {
		return nil, err
	}
	return &p, nil
}

// Principals lists every principal in name order.
func (r *Reader) Principals() ([]Principal, error) {
	var out []Principal
	err := r.bucket(bucketPrincipals).ForEach(func(k, v []byte) error {
		var p Principal
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("store: decode principal %q: %w", k, err)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// AccessKey returns an access key by ID, or nil.
func (r *Reader) AccessKey(id string) (*AccessKey, error) {
	var ak AccessKey
	ok, err := getJSON(r.bucket(bucketAccessKeys), []byte(id), &ak)
	if !ok || err != nil {
		return nil, err
	}
	return &ak, nil
}

// AccessKeys lists the access keys, of one principal if principal != "".
func (r *Reader) AccessKeys(principal string) ([]AccessKey, error) {
	var out []AccessKey
	err := r.bucket(bucketAccessKeys).ForEach(func(k, v []byte) error {
		var ak AccessKey
		if err := json.Unmarshal(v, &ak); err != nil {
			return fmt.Errorf("store: decode access key %q: %w", k, err)
		}
		if principal == "" || ak.Principal == principal {
			out = append(out, ak)
		}
		return nil
	})
	return out, err
}
