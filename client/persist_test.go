package client_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/client"
)

const secretMarker = "PLAINTEXT-MARKER-7f3a9c"

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// warmCache runs a client that caches a SecureString and a path, then
// closes it, which writes the cache file. It returns the clock.
func warmCache(t *testing.T, dir string, key []byte) *clock {
	t.Helper()
	f := newFake(t)
	f.put("/app/secret", secretMarker, "SecureString")
	f.put("/app/plain", "p", "String")
	clk := newClock()
	cfg, _ := testConfig(t, clk, f.URL())
	cfg.TTL = time.Minute
	cfg.CacheDir, cfg.CacheKey = dir, key
	c := newClient(t, cfg)
	mustGet(t, c, "/app/secret")
	if _, err := c.GetByPath(t.Context(), "/app", true, true); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return clk
}

// downEndpoint returns the URL of an upstream that refuses connections.
func downEndpoint(t *testing.T) string {
	f := newFake(t)
	f.srv.Close()
	return f.URL()
}

// dirState returns every file of dir with its contents' hash.
func dirState(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		out[e.Name()] = sha256.Sum256(raw)
	}
	return out
}

func TestPersistRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
	}{
		{"restart within the TTL", 30 * time.Second},
		{"restart past the TTL", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, key := t.TempDir(), newKey(t)
			clk := warmCache(t, dir, key)

			raw, err := os.ReadFile(filepath.Join(dir, "cache.db"))
			if err != nil {
				t.Fatal(err)
			}
			for _, plain := range []string{secretMarker, base64.StdEncoding.EncodeToString([]byte(secretMarker)), "/app/secret", "/app/plain"} {
				if bytes.Contains(raw, []byte(plain)) {
					t.Fatalf("cache file holds %q in plaintext", plain)
				}
			}
			if fi, _ := os.Stat(filepath.Join(dir, "cache.db")); fi.Mode().Perm() != 0o600 {
				t.Errorf("cache file mode: got %v, want 0600", fi.Mode().Perm())
			}

			clk.Advance(tt.advance)
			cfg, _ := testConfig(t, clk, downEndpoint(t), downEndpoint(t))
			cfg.TTL = time.Minute
			cfg.CacheDir, cfg.CacheKey = dir, key
			c := newClient(t, cfg)
			// Loaded from disk and not confirmed since: stale, with its age.
			r := mustGet(t, c, "/app/secret")
			if r.Value != secretMarker || !r.FromCache || !r.Stale || !r.FetchedAt.Equal(clk.Now().Add(-tt.advance)) {
				t.Fatalf("Get: got %+v, want the value from disk, stale, fetched %v ago", r, tt.advance)
			}
			rs, err := c.GetByPath(t.Context(), "/app", true, true)
			if err != nil || len(rs) != 2 || !rs[0].Stale {
				t.Fatalf("GetByPath: got %+v, %v; want 2 stale results", rs, err)
			}
			// Another decryption flag is another cache key: not on disk.
			if _, err := c.Get(t.Context(), "/app/secret", false); err == nil {
				t.Fatalf("Get without decryption: got a value, want an error (never cached)")
			}
			if st := c.CacheStatus(); st.State != client.CacheOK || st.Loaded != 2 {
				t.Errorf("CacheStatus: got %+v, want ok with 2 loaded", st)
			}
		})
	}
}

// TestLoadedValuesConfirmed: a value loaded from disk is stale until an
// upstream confirms it, then fresh.
func TestLoadedValuesConfirmed(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	clk := warmCache(t, dir, key)
	f := newFake(t)
	f.put("/app/secret", secretMarker, "SecureString")
	cfg, _ := testConfig(t, clk, f.URL())
	cfg.TTL = time.Minute
	cfg.CacheDir, cfg.CacheKey = dir, key
	// Wait for the upstream whatever the machine's load: this test is about
	// confirmation, not the brownout budget (a 100 ms budget on a loaded
	// machine served the loaded value stale, and the test failed).
	cfg.RefreshBudget = -1
	c := newClient(t, cfg)
	if r := mustGet(t, c, "/app/secret"); r.Stale || r.FromCache || f.total() != 1 {
		t.Fatalf("first read after restart, upstream up: got %+v with %d calls, want a fresh read from the upstream", r, f.total())
	}
	if r := mustGet(t, c, "/app/secret"); r.Stale || !r.FromCache || f.total() != 1 {
		t.Fatalf("second read: got %+v with %d calls, want fresh from the cache", r, f.total())
	}
}

// TestWriteBehind: a fetched value reaches the disk without Close, and a
// copy of the file taken at that moment (what a SIGKILL leaves) opens and
// serves it.
func TestWriteBehind(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	f := newFake(t)
	f.put("/app/v", "v1", "String")
	clk := newClock()
	cfg, _ := testConfig(t, clk, f.URL())
	cfg.CacheDir, cfg.CacheKey = dir, key
	cfg.FlushWindow = 50 * time.Millisecond
	c := newClient(t, cfg)
	mustGet(t, c, "/app/v")
	f.put("/app/v", "v2", "String")
	c.Invalidate("/app/v")
	if r := mustGet(t, c, "/app/v"); r.Value != "v2" {
		t.Fatalf("got %q, want v2", r.Value)
	}
	eventually(t, "the change to be flushed", func() bool {
		st := c.CacheStatus()
		return st.Pending == 0 && !st.LastFlush.IsZero()
	})
	crashed := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(dir, "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crashed, "cache.db"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg2, _ := testConfig(t, clk, downEndpoint(t))
	cfg2.CacheDir, cfg2.CacheKey = crashed, key
	c2 := newClient(t, cfg2)
	if r := mustGet(t, c2, "/app/v"); r.Value != "v2" || !r.Stale {
		t.Fatalf("after the crash: got %+v, want v2, stale", r)
	}
}

// TestUnreadableCacheLeftUntouched (issue 10 item 9): a start with the
// wrong key leaves the cache file as it was, through Close, and says so;
// the next start with the right key still has every value.
func TestUnreadableCacheLeftUntouched(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	clk := warmCache(t, dir, key)
	before := dirState(t, dir)

	f := newFake(t)
	f.put("/app/other", "x", "String")
	reg := prometheus.NewRegistry()
	cfg, logs := testConfig(t, clk, f.URL())
	cfg.CacheDir, cfg.CacheKey, cfg.Registry = dir, newKey(t), reg
	c, err := client.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New with the wrong key: %v", err)
	}
	mustGet(t, c, "/app/other") // a change that must not reach the file
	st := c.CacheStatus()
	if st.State != client.CacheUnreadable || !strings.Contains(st.Error, "another key") {
		t.Errorf("CacheStatus: got %+v, want unreadable, naming another key", st)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"persistent cache cannot be read") {
		t.Errorf("no error log about the unreadable cache")
	}
	if got := gauge(t, reg, "paramstore_client_cache_unreadable"); got != 1 {
		t.Errorf("paramstore_client_cache_unreadable: got %v, want 1", got)
	}
	if after := dirState(t, dir); !maps.Equal(before, after) {
		t.Fatalf("cache dir changed by a start with the wrong key:\nbefore %v\nafter  %v", before, after)
	}

	cfg2, _ := testConfig(t, clk, downEndpoint(t))
	cfg2.CacheDir, cfg2.CacheKey = dir, key
	c2 := newClient(t, cfg2)
	if r := mustGet(t, c2, "/app/secret"); r.Value != secretMarker {
		t.Fatalf("with the right key again: got %+v, want the cached secret", r)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// TestDamagedCacheFile: a file bbolt cannot open is moved aside (kept) and
// the client starts empty with a working cache; damaged entries are
// skipped. Never a panic, never an error from New.
func TestDamagedCacheFile(t *testing.T) {
	tests := []struct {
		name      string
		corrupt   func(t *testing.T, path string)
		movedAway bool
	}{
		{"garbage", func(t *testing.T, p string) { os.WriteFile(p, []byte("not a cache"), 0o600) }, true},
		{"empty", func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) }, false},
		{"truncated", func(t *testing.T, p string) {
			raw, _ := os.ReadFile(p)
			os.WriteFile(p, raw[:len(raw)/3], 0o600)
		}, true},
		{"zeroed meta pages", func(t *testing.T, p string) {
			raw, _ := os.ReadFile(p)
			clear(raw[:8192])
			os.WriteFile(p, raw, 0o600)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, key := t.TempDir(), newKey(t)
			clk := warmCache(t, dir, key)
			tt.corrupt(t, filepath.Join(dir, "cache.db"))
			f := newFake(t)
			f.put("/app/secret", "fresh", "SecureString")
			cfg, _ := testConfig(t, clk, f.URL())
			cfg.CacheDir, cfg.CacheKey = dir, key
			c, err := client.New(t.Context(), cfg)
			if err != nil {
				t.Fatalf("New with a damaged cache file: %v", err)
			}
			defer c.Close()
			if r := mustGet(t, c, "/app/secret"); r.Value != "fresh" || r.FromCache {
				t.Fatalf("Get: got %+v, want the upstream's value", r)
			}
			st := c.CacheStatus()
			moved, _ := filepath.Glob(filepath.Join(dir, "cache.db.corrupt-*"))
			if tt.movedAway && (len(moved) != 1 || !strings.Contains(st.Error, "moved aside")) {
				t.Errorf("moved aside: files %v, status %+v", moved, st)
			}
			if st.State != client.CacheOK {
				t.Errorf("CacheStatus: got %+v, want ok (a new file)", st)
			}
		})
	}
}

// TestFlippedBytesNeverPanic flips bytes all over a cache file: the
// client starts every time, and serves only values it could decrypt.
func TestFlippedBytesNeverPanic(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	clk := warmCache(t, dir, key)
	orig, err := os.ReadFile(filepath.Join(dir, "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(orig); off += 509 {
		d := t.TempDir()
		raw := bytes.Clone(orig)
		raw[off] ^= 0x5a
		os.WriteFile(filepath.Join(d, "cache.db"), raw, 0o600)
		cfg, _ := testConfig(t, clk, downEndpoint(t))
		cfg.CacheDir, cfg.CacheKey = d, key
		c, err := client.New(t.Context(), cfg)
		if err != nil {
			t.Fatalf("offset %d: New: %v", off, err)
		}
		if r, err := c.Get(t.Context(), "/app/secret", true); err == nil && r.Value != secretMarker {
			t.Errorf("offset %d: served %q, want the cached value or nothing", off, r.Value)
		}
		c.Close()
	}
}

func TestLoadKey(t *testing.T) {
	key := newKey(t)
	b64 := base64.StdEncoding.EncodeToString(key)
	dir := t.TempDir()
	rawFile := filepath.Join(dir, "raw")
	os.WriteFile(rawFile, key, 0o600)
	b64File := filepath.Join(dir, "b64")
	os.WriteFile(b64File, []byte(b64+"\n"), 0o600)
	shortFile := filepath.Join(dir, "short")
	os.WriteFile(shortFile, []byte("c2hvcnQ="), 0o600)
	t.Setenv("PARAMSTORE_TEST_CACHE_KEY", b64)
	t.Setenv("PARAMSTORE_TEST_BAD_KEY", "!!!")

	tests := []struct {
		src     string
		wantErr bool
	}{
		{"file:" + rawFile, false},
		{"file:" + b64File, false},
		{b64File, false},
		{"env:PARAMSTORE_TEST_CACHE_KEY", false},
		{"PARAMSTORE_TEST_CACHE_KEY", false},
		{"file:" + shortFile, true},
		{"file:" + filepath.Join(dir, "missing"), true},
		{"env:PARAMSTORE_TEST_UNSET_KEY", true},
		{"env:PARAMSTORE_TEST_BAD_KEY", true},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := client.LoadKey(tt.src)
			if (err != nil) != tt.wantErr {
				t.Fatalf("LoadKey(%q): got error %v, want error %v", tt.src, err, tt.wantErr)
			}
			if err == nil && !bytes.Equal(got, key) {
				t.Fatalf("LoadKey(%q): got another key", tt.src)
			}
		})
	}
}
