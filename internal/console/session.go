package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/paramstore/paramstore/internal/atomicfile"
)

// A session is a random 256-bit ID, which only the browser holds (the
// HttpOnly cookie). The server keeps, by the ID's SHA-256, who the session
// acts as, when it ends, and the SHA-256 of its CSRF token; the token
// itself is HMAC-SHA256(ID, "csrf"), computed again from the cookie when
// the page asks for it. Neither the ID, nor the token, nor the user's
// secret is kept, in memory or in the session file: a copy of the file
// signs nobody in.

// sessionFileVersion is the format of the session file.
const sessionFileVersion = 1

// session is a signed-in user, as the table keeps it.
type session struct {
	IDHash      string    `json:"id_sha256"`
	CSRFHash    string    `json:"csrf_sha256"`
	AccessKeyID string    `json:"access_key_id"`
	Region      string    `json:"region"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
}

// sessionFile is the persisted table.
type sessionFile struct {
	Version  int        `json:"version"`
	Sessions []*session `json:"sessions"`
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// csrfToken is the CSRF token of the session whose cookie value is id.
func csrfToken(id string) string {
	m := hmac.New(sha256.New, []byte(id))
	m.Write([]byte("paramstore console csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

// newSessionID returns a random session ID (the cookie's value).
func newSessionID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sessions is the table. The lock order is writeMu, then mu: a writer
// copies the table under mu and writes the copy under writeMu alone, so a
// slow disk delays sign-ins and sign-outs but never a lookup.
type sessions struct {
	path string // "" keeps the table in memory only
	max  int
	now  func() time.Time

	writeMu sync.Mutex // serializes writes of the file

	mu    sync.Mutex
	byID  map[string]*session // by IDHash
	dirty bool                // the table changed since the file was written
}

// loadSessions opens the table, reading path if it exists. A file that
// cannot be read or parsed is an error: the caller decides whether to
// start without it.
func loadSessions(path string, max int, now func() time.Time) (*sessions, error) {
	t := &sessions{path: path, max: max, now: now, byID: map[string]*session{}}
	if path == "" {
		return t, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("console: read sessions %s: %w", path, err)
	}
	var f sessionFile
	if err := json.Unmarshal(data, &f); err != nil {
		return t, fmt.Errorf("console: sessions %s: not a session table: %w", path, err)
	}
	if f.Version != sessionFileVersion {
		return t, fmt.Errorf("console: sessions %s: version %d, want %d", path, f.Version, sessionFileVersion)
	}
	n := now()
	for _, s := range f.Sessions {
		if s == nil || len(s.IDHash) != 64 || len(s.CSRFHash) != 64 || s.AccessKeyID == "" || !n.Before(s.Expires) {
			continue
		}
		t.byID[s.IDHash] = s
	}
	return t, nil
}

// add records s, dropping expired sessions and, when the table is full,
// the oldest, and writes the table.
func (t *sessions) add(s *session) error {
	t.mu.Lock()
	t.sweepLocked()
	for len(t.byID) >= t.max {
		var oldest *session
		for _, o := range t.byID {
			if oldest == nil || o.Created.Before(oldest.Created) {
				oldest = o
			}
		}
		delete(t.byID, oldest.IDHash)
	}
	t.byID[s.IDHash] = s
	t.dirty = true
	t.mu.Unlock()
	return t.save()
}

// remove deletes the session of cookie value id and writes the table.
func (t *sessions) remove(id string) error {
	t.mu.Lock()
	delete(t.byID, sha256Hex(id))
	t.dirty = true
	t.mu.Unlock()
	return t.save()
}

// lookup returns the live session of cookie value id, or nil.
func (t *sessions) lookup(id string) *session {
	if id == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byID[sha256Hex(id)]
	if s == nil {
		return nil
	}
	if !t.now().Before(s.Expires) {
		delete(t.byID, s.IDHash)
		t.dirty = true
		return nil
	}
	c := *s
	return &c
}

func (t *sessions) sweepLocked() {
	now := t.now()
	for k, s := range t.byID {
		if !now.Before(s.Expires) {
			delete(t.byID, k)
			t.dirty = true
		}
	}
}

// len is the number of sessions in the table, live or not yet swept.
func (t *sessions) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// save writes the table to its file (mode 0600), if it has one.
func (t *sessions) save() error {
	if t.path == "" {
		return nil
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	if !t.dirty {
		t.mu.Unlock()
		return nil
	}
	f := sessionFile{Version: sessionFileVersion, Sessions: make([]*session, 0, len(t.byID))}
	for _, s := range t.byID {
		c := *s
		f.Sessions = append(f.Sessions, &c)
	}
	t.dirty = false
	t.mu.Unlock()
	sort.Slice(f.Sessions, func(i, j int) bool { return f.Sessions[i].Created.Before(f.Sessions[j].Created) })
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(t.path, data, 0o600); err != nil {
		t.mu.Lock()
		t.dirty = true
		t.mu.Unlock()
		return fmt.Errorf("console: write sessions: %w", err)
	}
	return nil
}

// csrfOK reports whether token is the CSRF token of s, in constant time.
func (s *session) csrfOK(token string) bool {
	return subtle.ConstantTimeCompare([]byte(sha256Hex(token)), []byte(s.CSRFHash)) == 1
}
