package client

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The persistent cache is a bbolt database, CacheDir/cache.db. bbolt is
// crash-safe (copy-on-write pages, two meta pages, fsync on commit), so a
// SIGKILL at any moment leaves the last committed state readable, and a
// flush writes only the entries that changed: its cost follows the number
// of changes, not the size of the cache.
//
// Schema:
//
//	meta/check    nonce || AES-GCM(checkPlain, AAD "check")   proves the key
//	entries/<k>   nonce || AES-GCM(JSON fileEntry, AAD k)      one per answer
//
// where k = HMAC-SHA256(macKey, query key): names are not readable on disk
// either, and an entry cannot be moved under another key.
const (
	dbFile         = "cache.db"
	legacyFile     = "cache.bin" // the whole-file format of earlier versions
	lockTimeout    = 2 * time.Second
	checkPlaintext = "paramstore client cache v2"
)

var (
	bucketMeta    = []byte("meta")
	bucketEntries = []byte("entries")
	keyCheck      = []byte("check")
)

// Persistent cache states, as reported by CacheStatus.
const (
	CacheOff        = "off"        // no CacheDir: memory only
	CacheOK         = "ok"         // loaded and written
	CacheUnreadable = "unreadable" // exists but cannot be read with this key: left untouched, memory only
	CacheLocked     = "locked"     // another process holds it: memory only
	CacheFailing    = "failing"    // the last write failed (retried)
)

// CacheStatus describes the persistent cache.
type CacheStatus struct {
	// Path is the cache file ("" without CacheDir).
	Path string
	// State is one of CacheOff, CacheOK, CacheUnreadable, CacheLocked or
	// CacheFailing.
	State string
	// Error says why the state is not CacheOK or CacheOff, or what was done
	// about a damaged file (moved aside).
	Error string
	// Loaded is the number of entries loaded at start.
	Loaded int
	// LastFlush is when changes were last made durable.
	LastFlush time.Time
	// Pending is the number of changes not yet on disk.
	Pending int
}

// errWrongKey means the cache file was written with another key (or its
// key check is damaged): the file is left as it is.
var errWrongKey = errors.New("client: persistent cache: written with another key, or damaged")

// errLocked means another process has the cache file open.
var errLocked = errors.New("client: persistent cache: in use by another process (one process per cache dir)")

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

// persister reads and writes the encrypted cache database.
type persister struct {
	path   string
	db     *bolt.DB
	aead   cipher.AEAD
	macKey []byte
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

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("client: CacheKey: %w", err)
	}
	return cipher.NewGCM(block)
}

// openPersister opens (or creates) the cache database in dir and returns
// its entries. A database that cannot be read with key is left untouched
// (errWrongKey); one that bbolt cannot open at all is moved aside and
// replaced, and moved says where it went.
func openPersister(dir string, key []byte) (p *persister, entries []fileEntry, moved string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, "", fmt.Errorf("client: cache dir: %w", err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, nil, "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("paramstore client cache: entry keys"))
	p = &persister{path: filepath.Join(dir, dbFile), aead: aead, macKey: mac.Sum(nil)}
	p.db, err = openBolt(p.path)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, nil, "", fmt.Errorf("%w: %s", errLocked, p.path)
	}
	if err == nil {
		if err = p.check(); err != nil {
			p.db.Close()
		}
	}
	if err != nil {
		// Not a database bbolt can open: keep it for inspection, start anew.
		moved = fmt.Sprintf("%s.corrupt-%d", p.path, time.Now().UnixNano())
		if rerr := os.Rename(p.path, moved); rerr != nil {
			return nil, nil, "", fmt.Errorf("client: persistent cache %s: %v; and cannot move it aside: %w", p.path, err, rerr)
		}
		if p.db, err = openBolt(p.path); err != nil {
			return nil, nil, moved, fmt.Errorf("client: persistent cache %s: %w", p.path, err)
		}
	}
	entries, fresh, err := p.load()
	if err != nil {
		p.db.Close()
		return nil, nil, moved, err
	}
	if fresh {
		// A new database: take over the entries of the old format, if any.
		if legacy, lerr := readLegacy(filepath.Join(dir, legacyFile), aead); lerr == nil {
			entries = legacy
			if err := p.write(toEntries(legacy), nil); err == nil {
				os.Remove(filepath.Join(dir, legacyFile))
			}
		}
	}
	return p, entries, moved, nil
}

// openBolt opens the database. A damaged file can make bbolt read past
// the end of its mapping (SIGBUS) or panic: both become errors here.
func openBolt(path string) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("client: persistent cache %s: unreadable database: %v", path, r)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, FreelistType: bolt.FreelistMapType})
}

// check verifies the database's structure (every page reachable once,
// within the file), so that a damaged file is found at start rather than
// by a fault in the middle of a write.
func (p *persister) check() (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("client: persistent cache %s: damaged: %v", p.path, r)
		}
	}()
	return p.db.View(func(tx *bolt.Tx) error {
		var first error
		for cerr := range tx.Check() { // drained: the check runs on tx
			if first == nil {
				first = fmt.Errorf("client: persistent cache %s: damaged: %w", p.path, cerr)
			}
		}
		return first
	})
}

// load checks the key and decrypts every entry; fresh reports a database
// that had no key check yet (new), which it creates. Entries that fail to
// decrypt are skipped and deleted: the key check proved the key, so they
// are damaged.
func (p *persister) load() (entries []fileEntry, fresh bool, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			entries, fresh, err = nil, false, fmt.Errorf("%w: %s: %v", errWrongKey, p.path, r)
		}
	}()
	var damaged [][]byte
	err = p.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			fresh = true
			return nil
		}
		sealed := meta.Get(keyCheck)
		if plain, err := p.open(sealed, keyCheck); err != nil || string(plain) != checkPlaintext {
			return fmt.Errorf("%w: %s", errWrongKey, p.path)
		}
		b := tx.Bucket(bucketEntries)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			plain, err := p.open(v, k)
			var fe fileEntry
			if err == nil {
				err = json.Unmarshal(plain, &fe)
				clear(plain)
			}
			if err != nil || fe.Params == nil || (fe.Kind == kindName && len(fe.Params) != 1) {
				damaged = append(damaged, bytes.Clone(k))
				return nil
			}
			entries = append(entries, fe)
			return nil
		})
	})
	if err != nil {
		return nil, false, err
	}
	if fresh || len(damaged) > 0 {
		err = p.db.Update(func(tx *bolt.Tx) error {
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return err
			}
			b, err := tx.CreateBucketIfNotExists(bucketEntries)
			if err != nil {
				return err
			}
			if meta.Get(keyCheck) == nil {
				sealed, err := p.seal([]byte(checkPlaintext), keyCheck)
				if err != nil {
					return err
				}
				if err := meta.Put(keyCheck, sealed); err != nil {
					return err
				}
			}
			for _, k := range damaged {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, false, fmt.Errorf("client: persistent cache %s: %w", p.path, err)
		}
	}
	return entries, fresh, nil
}

func (p *persister) seal(plain, aad []byte) ([]byte, error) {
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(plain)+p.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return p.aead.Seal(nonce, nonce, plain, aad), nil
}

func (p *persister) open(sealed, aad []byte) ([]byte, error) {
	ns := p.aead.NonceSize()
	if len(sealed) < ns {
		return nil, errors.New("short")
	}
	return p.aead.Open(nil, sealed[:ns], sealed[ns:], aad)
}

// dbKey is the database key of a query key.
func (p *persister) dbKey(qkey string) []byte {
	m := hmac.New(sha256.New, p.macKey)
	m.Write([]byte(qkey))
	return m.Sum(nil)
}

// write stores puts and deletes dels (query keys) in one transaction,
// fsynced before it returns.
func (p *persister) write(puts []entry, dels []string) error {
	type kv struct{ k, v []byte }
	sealed := make([]kv, 0, len(puts))
	for _, e := range puts {
		plain, err := json.Marshal(fileEntry{Kind: e.q.Kind, Region: e.q.Region, Decrypt: e.q.Decrypt, Name: e.q.Name,
			Recursive: e.q.Recursive, Params: e.params, FetchedAt: e.fetchedAt})
		if err != nil {
			return fmt.Errorf("client: write cache: %w", err)
		}
		k := p.dbKey(e.q.key())
		v, err := p.seal(plain, k)
		clear(plain)
		if err != nil {
			return fmt.Errorf("client: write cache: %w", err)
		}
		sealed = append(sealed, kv{k, v})
	}
	// In key order: bbolt inserts neighbours into the same pages.
	slices.SortFunc(sealed, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	err := p.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketEntries)
		if err != nil {
			return err
		}
		for _, s := range sealed {
			if err := b.Put(s.k, s.v); err != nil {
				return err
			}
		}
		for _, d := range dels {
			if err := b.Delete(p.dbKey(d)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("client: write cache %s: %w", p.path, err)
	}
	return nil
}

func (p *persister) close() error { return p.db.Close() }

func toEntries(fes []fileEntry) []entry {
	out := make([]entry, 0, len(fes))
	for _, fe := range fes {
		out = append(out, entry{q: query{Kind: fe.Kind, Region: fe.Region, Decrypt: fe.Decrypt, Name: fe.Name, Recursive: fe.Recursive},
			params: fe.Params, fetchedAt: fe.FetchedAt})
	}
	return out
}

// legacyMagic starts every cache file of the old format, and is the AAD of
// its ciphertext.
var legacyMagic = []byte("PSCACHE1")

// readLegacy decrypts a cache file of the old whole-file format.
func readLegacy(path string, aead cipher.AEAD) ([]fileEntry, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(raw) < len(legacyMagic)+ns || !bytes.Equal(raw[:len(legacyMagic)], legacyMagic) {
		return nil, fs.ErrInvalid
	}
	plain, err := aead.Open(nil, raw[len(legacyMagic):len(legacyMagic)+ns], raw[len(legacyMagic)+ns:], legacyMagic)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	var body struct{ Entries []fileEntry }
	if err := json.Unmarshal(plain, &body); err != nil {
		return nil, err
	}
	var out []fileEntry
	for _, fe := range body.Entries {
		if fe.Params != nil && (fe.Kind != kindName || len(fe.Params) == 1) {
			out = append(out, fe)
		}
	}
	return out, nil
}

// openCache opens the persistent cache and loads it into the cache. Every
// loaded entry is unconfirmed: served as stale, with its true age, until an
// upstream confirms it. A cache that cannot be read is left as it is and
// the client runs from memory, saying so loudly (error log, metric,
// CacheStatus).
func (c *Client) openCache() {
	c.cacheStatus = CacheStatus{Path: filepath.Join(c.cfg.CacheDir, dbFile), State: CacheOK}
	p, entries, moved, err := openPersister(c.cfg.CacheDir, c.cfg.CacheKey)
	if moved != "" {
		c.cacheStatus.Error = "the cache file could not be opened and was moved aside to " + moved
		c.log.Error("persistent cache damaged: moved aside, starting empty", keyFile, c.cacheStatus.Path, "moved_to", moved)
	}
	if err != nil {
		c.cacheStatus.State = CacheUnreadable
		if errors.Is(err, errLocked) {
			c.cacheStatus.State = CacheLocked
		}
		c.cacheStatus.Error = err.Error()
		c.metrics.cacheUnreadable(true)
		c.log.Error("persistent cache cannot be read: left untouched; running from memory, nothing will be saved",
			keyFile, c.cacheStatus.Path, keyError, err)
		return
	}
	c.persist = p
	now := c.cfg.Now()
	for _, e := range toEntries(entries) {
		ttl := c.cfg.ttlFor(baseName(e.q.Name))
		e.expiresAt, e.refreshAt, e.unconfirmed = e.fetchedAt.Add(ttl), now, true
		c.cache.load(e)
	}
	c.cacheStatus.Loaded = len(entries)
	c.log.Info("loaded persistent cache", keyFile, p.path, "entries", len(entries))
}

// CacheStatus describes the persistent cache.
func (c *Client) CacheStatus() CacheStatus {
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	s := c.cacheStatus
	s.Pending = c.cache.pending()
	return s
}

// flush makes the cache's pending changes durable. A failed write leaves
// them pending, to be retried by the next flush.
func (c *Client) flush() error {
	if c.persist == nil {
		return nil
	}
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	puts, dels := c.cache.takeDirty()
	if len(puts) == 0 && len(dels) == 0 {
		return nil
	}
	start := time.Now()
	err := c.persist.write(puts, dels)
	c.metrics.flushed(time.Since(start), err)
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	if err != nil {
		c.cache.requeue(puts, dels)
		if c.cacheStatus.State != CacheFailing {
			c.log.Error("cannot write persistent cache (retrying)", keyFile, c.persist.path, keyError, err)
		}
		c.cacheStatus.State, c.cacheStatus.Error = CacheFailing, err.Error()
		return err
	}
	if c.cacheStatus.State == CacheFailing {
		c.log.Info("persistent cache written again", keyFile, c.persist.path)
		c.cacheStatus.State, c.cacheStatus.Error = CacheOK, ""
	}
	c.cacheStatus.LastFlush = c.cfg.Now()
	return nil
}

// flushLoop writes changes behind: FlushWindow/2 after the first change
// since the last write, so a value is on disk within FlushWindow of being
// fetched unless the disk is slower than FlushWindow/2. Changes made in
// the meantime share the write.
func (c *Client) flushLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.cache.changed:
		}
		if sleepCtx(c.ctx, c.cfg.FlushWindow/2) != nil {
			return // Close flushes
		}
		if c.flush() != nil {
			// Retry after a pause even if nothing new arrives.
			if sleepCtx(c.ctx, c.cfg.FlushWindow) != nil {
				return
			}
			c.cache.signal()
		}
	}
}
