package client_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

func TestPersistRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		advance   time.Duration
		wantStale bool
	}{
		{"restart within the TTL serves fresh from disk", 30 * time.Second, false},
		{"restart in an outage serves stale from disk", time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, key := t.TempDir(), newKey(t)
			clk := warmCache(t, dir, key)

			raw, err := os.ReadFile(filepath.Join(dir, "cache.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(secretMarker)) || bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString([]byte(secretMarker)))) {
				t.Fatalf("cache file holds the secret in plaintext")
			}
			if matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(matches) != 0 {
				t.Errorf("temporary files left behind: %v", matches)
			}
			if fi, _ := os.Stat(filepath.Join(dir, "cache.bin")); fi.Mode().Perm() != 0o600 {
				t.Errorf("cache file mode: got %v, want 0600", fi.Mode().Perm())
			}

			clk.Advance(tt.advance)
			cfg, _ := testConfig(t, clk, downEndpoint(t), downEndpoint(t))
			cfg.TTL = time.Minute
			cfg.CacheDir, cfg.CacheKey = dir, key
			c := newClient(t, cfg)
			r := mustGet(t, c, "/app/secret")
			if r.Value != secretMarker || !r.FromCache || r.Stale != tt.wantStale {
				t.Fatalf("Get: got %+v, want the value from disk with Stale=%v", r, tt.wantStale)
			}
			rs, err := c.GetByPath(t.Context(), "/app", true, true)
			if err != nil || len(rs) != 2 || rs[0].Stale != tt.wantStale {
				t.Fatalf("GetByPath: got %+v, %v; want 2 results with Stale=%v", rs, err, tt.wantStale)
			}
			// Another decryption flag is another cache key: not on disk.
			if _, err := c.Get(t.Context(), "/app/secret", false); err == nil {
				t.Fatalf("Get without decryption: got a value, want an error (never cached)")
			}
		})
	}
}

func TestCorruptCacheFileSkipped(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, path string)
		key     func(orig []byte) []byte
	}{
		{"garbage", func(t *testing.T, p string) { os.WriteFile(p, []byte("not a cache"), 0o600) }, nil},
		{"empty", func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) }, nil},
		{"flipped byte", func(t *testing.T, p string) {
			raw, _ := os.ReadFile(p)
			raw[len(raw)-5] ^= 0xff
			os.WriteFile(p, raw, 0o600)
		}, nil},
		{"truncated", func(t *testing.T, p string) {
			raw, _ := os.ReadFile(p)
			os.WriteFile(p, raw[:len(raw)/2], 0o600)
		}, nil},
		{"another key", func(*testing.T, string) {}, func([]byte) []byte { return make([]byte, 32) }},
		{"unreadable (a directory)", func(t *testing.T, p string) {
			os.Remove(p)
			os.Mkdir(p, 0o700)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, key := t.TempDir(), newKey(t)
			clk := warmCache(t, dir, key)
			tt.corrupt(t, filepath.Join(dir, "cache.bin"))
			if tt.key != nil {
				key = tt.key(key)
			}
			f := newFake(t)
			f.put("/app/secret", "fresh", "SecureString")
			cfg, logs := testConfig(t, clk, f.URL())
			cfg.CacheDir, cfg.CacheKey = dir, key
			c, err := client.New(t.Context(), cfg)
			if err != nil {
				t.Fatalf("New with a bad cache file: %v", err)
			}
			defer c.Close()
			if r := mustGet(t, c, "/app/secret"); r.Value != "fresh" || r.FromCache || f.total() != 1 {
				t.Fatalf("Get: got %+v, want the upstream's value (nothing loaded)", r)
			}
			if !strings.Contains(logs.String(), "ignoring persistent cache") {
				t.Errorf("the bad cache file was not reported in the log")
			}
		})
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
