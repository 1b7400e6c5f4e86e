// Package bundle reads and writes cold-start bundles: an AES-256-GCM
// encrypted, authenticated snapshot of parameters (SecureStrings
// decrypted) that an agent or `paramstore exec` serves when no upstream
// answers and the cache lacks a name.
//
// A bundle file is
//
//	magic "PSBNDL01" | 12-byte nonce | AES-256-GCM(JSON payload, AAD = magic)
//
// The key (32 bytes) is never stored in the file. GCM's tag covers the
// whole payload, so a wrong key, a flipped bit or a truncated file fails
// Open as a whole: a bundle is used entirely or not at all.
package bundle

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paramstore/paramstore/internal/atomicfile"
)

// Magic opens every bundle file (format version 1).
const Magic = "PSBNDL01"

// MaxSize bounds the file Open reads.
const MaxSize = 256 << 20

const nonceSize = 12

// Errors of Open and Parse.
var (
	// ErrNotBundle: the data does not start with Magic or is shorter than
	// a header and a tag.
	ErrNotBundle = errors.New("bundle: not a paramstore bundle (bad magic or truncated header)")
	// ErrAuth: the GCM tag did not verify: the key is wrong, or the file
	// was damaged or truncated.
	ErrAuth = errors.New("bundle: authentication failed: wrong key, or the file is damaged or truncated")
)

// Parameter is one bundled parameter. Value is the plaintext (SecureStrings
// decrypted at creation).
type Parameter struct {
	Name             string    `json:"name"`
	Type             string    `json:"type"`
	Value            string    `json:"value"`
	Version          int64     `json:"version"`
	ARN              string    `json:"arn,omitempty"`
	DataType         string    `json:"data_type,omitempty"`
	LastModifiedDate time.Time `json:"last_modified,omitzero"`
}

// Bundle is the decrypted payload.
type Bundle struct {
	// Created is when the parameters were read from Source.
	Created time.Time `json:"created"`
	// Source is the endpoint they were read from.
	Source string `json:"source"`
	// Region is the region they were read in.
	Region string `json:"region,omitempty"`
	// Paths are the paths the bundle was made of.
	Paths      []string    `json:"paths"`
	Parameters []Parameter `json:"parameters"`
	// File is the file Open read it from (not part of the payload).
	File string `json:"-"`
}

// Seal encrypts b under key (32 bytes).
func Seal(b *Bundle, key []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	sort.Slice(b.Parameters, func(i, j int) bool { return b.Parameters[i].Name < b.Parameters[j].Name })
	plain, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("bundle: encode: %w", err)
	}
	return sealRaw(gcm, plain)
}

// sealRaw encrypts a payload and clears it.
func sealRaw(gcm cipher.AEAD, plain []byte) ([]byte, error) {
	out := make([]byte, 0, len(Magic)+nonceSize+len(plain)+gcm.Overhead())
	out = append(out, Magic...)
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("bundle: nonce: %w", err)
	}
	out = append(out, nonce...)
	out = gcm.Seal(out, nonce, plain, []byte(Magic))
	clear(plain)
	return out, nil
}

// Parse decrypts and validates data. It returns ErrNotBundle, ErrAuth, or
// an error naming the invalid field; never a partial bundle.
func Parse(data, key []byte) (*Bundle, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(data) < len(Magic)+nonceSize+gcm.Overhead() || !bytes.HasPrefix(data, []byte(Magic)) {
		return nil, ErrNotBundle
	}
	nonce := data[len(Magic) : len(Magic)+nonceSize]
	plain, err := gcm.Open(nil, nonce, data[len(Magic)+nonceSize:], []byte(Magic))
	if err != nil {
		return nil, ErrAuth
	}
	defer clear(plain)
	return parsePayload(plain)
}

// parsePayload decodes and validates a decrypted payload.
func parsePayload(plain []byte) (*Bundle, error) {
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("bundle: payload: %w", err)
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	return &b, nil
}

func (b *Bundle) validate() error {
	if b.Created.IsZero() {
		return errors.New("bundle: payload: no creation time")
	}
	seen := make(map[string]bool, len(b.Parameters))
	for i, p := range b.Parameters {
		if p.Name == "" || (!strings.HasPrefix(p.Name, "/") && strings.Contains(p.Name, "/")) {
			return fmt.Errorf("bundle: payload: parameter %d: invalid name %q", i, p.Name)
		}
		if seen[p.Name] {
			return fmt.Errorf("bundle: payload: parameter %q twice", p.Name)
		}
		seen[p.Name] = true
		switch p.Type {
		case "String", "StringList", "SecureString":
		default:
			return fmt.Errorf("bundle: payload: parameter %q: invalid type %q", p.Name, p.Type)
		}
	}
	return nil
}

// Open reads and decrypts the bundle at path.
func Open(path string, key []byte) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("bundle: read %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("bundle: %s is larger than %d bytes", path, MaxSize)
	}
	b, err := Parse(data, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b.File = path
	return b, nil
}

// Write seals b and replaces path with it atomically (mode 0600).
func Write(path string, b *Bundle, key []byte) error {
	data, err := Seal(b, key)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("bundle: write %s: %w", path, err)
	}
	return nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("bundle: key is %d bytes, want 32 (AES-256)", len(key))
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	return cipher.NewGCM(blk)
}

// Set is the bundles an agent serves from, newest first for each name.
// It is immutable after NewSet and safe for concurrent use.
type Set struct {
	bundles []*Bundle // newest first
	byName  map[string]entry
}

type entry struct {
	p       Parameter
	created time.Time
	from    *Bundle
}

// NewSet indexes bundles; a name in several is served from the newest.
func NewSet(bundles ...*Bundle) *Set {
	s := &Set{bundles: append([]*Bundle(nil), bundles...), byName: map[string]entry{}}
	sort.SliceStable(s.bundles, func(i, j int) bool { return s.bundles[i].Created.After(s.bundles[j].Created) })
	for _, b := range s.bundles {
		for _, p := range b.Parameters {
			if _, ok := s.byName[p.Name]; !ok {
				s.byName[p.Name] = entry{p: p, created: b.Created, from: b}
			}
		}
	}
	return s
}

// Len is the number of distinct names held.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.byName)
}

// Bundles returns the bundles of the set, newest first.
func (s *Set) Bundles() []*Bundle {
	if s == nil {
		return nil
	}
	return s.bundles
}

// Origin returns the bundle name (without a selector) is served from, or
// nil.
func (s *Set) Origin(name string) *Bundle {
	if s == nil {
		return nil
	}
	base, _ := SplitName(name)
	return s.byName[base].from
}

// Lookup finds name, which may be an ARN or carry a :version selector
// matching the bundled version (labels are not bundled). created is the
// creation time of the bundle it came from.
func (s *Set) Lookup(name string) (p Parameter, created time.Time, ok bool) {
	if s == nil {
		return Parameter{}, time.Time{}, false
	}
	base, sel := SplitName(name)
	e, ok := s.byName[base]
	if !ok {
		return Parameter{}, time.Time{}, false
	}
	if sel != "" {
		v, err := strconv.ParseInt(sel, 10, 64)
		if err != nil || v != e.p.Version {
			return Parameter{}, time.Time{}, false
		}
	}
	return e.p, e.created, true
}

// ByPath returns the parameters under path (direct children only unless
// recursive), by name, each with its bundle's creation time.
func (s *Set) ByPath(path string, recursive bool) (ps []Parameter, created []time.Time) {
	if s == nil {
		return nil, nil
	}
	prefix := strings.TrimSuffix(path, "/") + "/"
	var names []string
	for n := range s.byName {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		if !recursive && strings.Contains(n[len(prefix):], "/") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := s.byName[n]
		ps = append(ps, e.p)
		created = append(created, e.created)
	}
	return ps, created
}

// SplitName splits an SSM name (or the name in an ARN) from its
// :version or :label selector.
func SplitName(name string) (base, selector string) {
	if strings.HasPrefix(name, "arn:") {
		if i := strings.Index(name, ":parameter"); i >= 0 {
			name = name[i+len(":parameter"):]
		}
	}
	if i := strings.LastIndex(name, ":"); i > 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}
