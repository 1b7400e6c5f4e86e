package client

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// cacheFile is the name of the persistent cache in Config.CacheDir.
const cacheFile = "cache.bin"

// fileMagic starts every cache file, and is the AAD of its ciphertext.
var fileMagic = []byte("PSCACHE1")

// LoadKey reads a 32-byte cache key from "file:PATH" (the file holds the
// raw 32 bytes or their standard base64) or "env:NAME" (the variable holds
// base64). Without a prefix, a string that looks like an environment
// variable name (PARAMSTORE_CACHE_KEY) is one, anything else is a path.
func LoadKey(pathOrEnvVar string) ([]byte, error) {
	var raw []byte
	src := pathOrEnvVar
	switch {
	case strings.HasPrefix(src, "env:"):
		src = strings.TrimPrefix(src, "env:")
		v, ok := os.LookupEnv(src)
		if !ok {
			return nil, fmt.Errorf("client: load key: environment variable %s is not set", src)
		}
		raw = []byte(v)
	case strings.HasPrefix(src, "file:") || !envName.MatchString(src):
		src = strings.TrimPrefix(src, "file:")
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("client: load key: %w", err)
		}
		if len(b) == 32 {
			return b, nil
		}
		raw = b
	default:
		v, ok := os.LookupEnv(src)
		if !ok {
			return nil, fmt.Errorf("client: load key: environment variable %s is not set", src)
		}
		raw = []byte(v)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("client: load key from %s: want 32 bytes or their base64", src)
	}
	return key, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// persister reads and writes the encrypted cache file.
type persister struct {
	path string
	aead cipher.AEAD
}

func newPersister(dir string, key []byte) (*persister, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("client: cache dir: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("client: CacheKey: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("client: CacheKey: %w", err)
	}
	return &persister{path: filepath.Join(dir, cacheFile), aead: aead}, nil
}

// fileEntry is an entry as stored, inside the ciphertext.
type fileEntry struct {
	Kind      kind
	Region    string
	Decrypt   bool
	Name      string
	Recursive bool
	Params    []Parameter
	FetchedAt time.Time
}

type fileBody struct {
	Written time.Time
	Entries []fileEntry
}

// write stores entries atomically: a temporary file in the same
// directory, fsync, rename over the old file, fsync of the directory.
func (p *persister) write(entries []entry, now time.Time) error {
	body := fileBody{Written: now, Entries: make([]fileEntry, len(entries))}
	for i, e := range entries {
		body.Entries[i] = fileEntry{Kind: e.q.Kind, Region: e.q.Region, Decrypt: e.q.Decrypt, Name: e.q.Name,
			Recursive: e.q.Recursive, Params: e.params, FetchedAt: e.fetchedAt}
	}
	plain, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("client: write cache: %w", err)
	}
	nonce := make([]byte, p.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("client: write cache: %w", err)
	}
	out := append(append(append([]byte{}, fileMagic...), nonce...), p.aead.Seal(nil, nonce, plain, fileMagic)...)
	clear(plain)

	dir := filepath.Dir(p.path)
	tmp, err := os.CreateTemp(dir, cacheFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("client: write cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("client: write cache %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("client: write cache %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("client: write cache %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), p.path); err != nil {
		return fmt.Errorf("client: write cache: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// errNoCache is returned by read when there is no cache file yet.
var errNoCache = errors.New("client: no cache file")

// read decrypts and decodes the cache file.
func (p *persister) read() ([]fileEntry, error) {
	raw, err := os.ReadFile(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoCache
	}
	if err != nil {
		return nil, fmt.Errorf("client: read cache: %w", err)
	}
	ns := p.aead.NonceSize()
	if len(raw) < len(fileMagic)+ns || !bytes.Equal(raw[:len(fileMagic)], fileMagic) {
		return nil, fmt.Errorf("client: read cache %s: not a cache file", p.path)
	}
	nonce := raw[len(fileMagic) : len(fileMagic)+ns]
	plain, err := p.aead.Open(nil, nonce, raw[len(fileMagic)+ns:], fileMagic)
	if err != nil {
		return nil, fmt.Errorf("client: read cache %s: corrupt, or written with another key", p.path)
	}
	defer clear(plain)
	var body fileBody
	if err := json.Unmarshal(plain, &body); err != nil {
		return nil, fmt.Errorf("client: read cache %s: bad contents: %w", p.path, err)
	}
	return body.Entries, nil
}

// load fills the cache from the cache file. Entries keep their fetch time,
// so their freshness is what it was; each is refreshed in the background
// on its first use. A missing, unreadable or corrupt file is logged and
// ignored.
func (c *Client) load() {
	entries, err := c.persist.read()
	if errors.Is(err, errNoCache) {
		return
	}
	if err != nil {
		c.log.Warn("ignoring persistent cache", keyFile, c.persist.path, keyError, err)
		return
	}
	now := c.cfg.Now()
	// Oldest first, so the most recent end up most recently used.
	for i := len(entries) - 1; i >= 0; i-- {
		fe := entries[i]
		if fe.Params == nil || (fe.Kind == kindName && len(fe.Params) != 1) {
			continue
		}
		q := query{Kind: fe.Kind, Region: fe.Region, Decrypt: fe.Decrypt, Name: fe.Name, Recursive: fe.Recursive}
		ttl := c.cfg.ttlFor(baseName(q.Name))
		c.cache.put(entry{q: q, params: fe.Params, fetchedAt: fe.FetchedAt, expiresAt: fe.FetchedAt.Add(ttl), refreshAt: now})
	}
	c.cache.snapshot(false) // loaded, not changed
	c.log.Debug("loaded persistent cache", keyFile, c.persist.path, "entries", len(entries))
}

// flush writes the cache file if the cache changed (or if force).
func (c *Client) flush(force bool) error {
	entries, changed := c.cache.snapshot(force)
	if !changed {
		return nil
	}
	if err := c.persist.write(entries, c.cfg.Now()); err != nil {
		c.cache.markDirty()
		c.log.Warn("cannot write persistent cache", keyFile, c.persist.path, keyError, err)
		return err
	}
	return nil
}

// flushLoop writes the cache every FlushInterval until Close.
func (c *Client) flushLoop() {
	t := time.NewTicker(c.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.flush(false)
		}
	}
}
