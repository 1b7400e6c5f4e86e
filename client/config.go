package client

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Client. The zero value of every field but Region (and
// CacheKey when CacheDir is set) selects a default; see Default.
type Config struct {
	// Endpoints are SSM endpoint URLs tried in order: the next one is used
	// when one fails or its breaker is open. Empty means AWS's default
	// endpoint for Region.
	Endpoints []string
	// Region signs requests and is part of every cache key. Empty means the
	// region of the AWS default configuration.
	Region string
	// Credentials signs requests; nil means the AWS default chain
	// (config.LoadDefaultConfig).
	Credentials aws.CredentialsProvider

	// TTL is how long a value is fresh (default 5m; no upper bound).
	TTL time.Duration
	// PathTTL overrides TTL for names under a path prefix; the longest
	// matching prefix wins ("/app/" matches "/app/db/url").
	PathTTL map[string]time.Duration
	// RefreshAhead is the fraction of the TTL after which a value that is
	// read is refreshed in the background (default 0.8).
	RefreshAhead float64
	// MaxStale bounds how long past its expiry a value may be served when
	// every upstream fails; 0 means unlimited.
	MaxStale time.Duration
	// NegativeTTL is how long ParameterNotFound is cached (default 5s).
	NegativeTTL time.Duration
	// MaxEntries bounds the cache; the least recently used entry is evicted
	// first (default 10000).
	MaxEntries int

	// CacheDir holds the persistent encrypted cache; "" keeps the cache in
	// memory only.
	CacheDir string
	// CacheKey is the 32-byte AES-256 key of the persistent cache, required
	// with CacheDir (see LoadKey). Keep it away from CacheDir.
	CacheKey []byte
	// FlushWindow bounds how long a value fetched from an upstream may
	// wait before it is durable in CacheDir (default 1s): changes are
	// written behind, coalesced, FlushWindow/2 after the first one, in one
	// fsynced bbolt transaction of the changed entries only. Close writes
	// what is pending.
	FlushWindow time.Duration

	// RefreshBudget is how long a read of a value that is cached (expired,
	// or loaded from disk and not yet confirmed) waits for an upstream
	// (default 100ms). Past it the cached value is served, marked stale,
	// and the refresh goes on in the background, one per key. A negative
	// budget waits as long as the retry policy takes. Reads of values not
	// cached at all always wait for the retry policy.
	RefreshBudget time.Duration

	// Timeout bounds each upstream attempt (default 2s).
	Timeout time.Duration
	// MaxAttempts is the number of attempts per upstream (default 3).
	MaxAttempts int
	// BaseBackoff and MaxBackoff bound the exponential backoff with full
	// jitter between attempts (defaults 50ms and 2s).
	BaseBackoff, MaxBackoff time.Duration
	// BreakerFailures is the number of consecutive failures that open an
	// upstream's circuit breaker (default 5).
	BreakerFailures int
	// BreakerOpenFor is how long a breaker stays open before it lets one
	// probe through (default 5s).
	BreakerOpenFor time.Duration

	// HealthCheckInterval is how often upstreams that no call observed for
	// that long are checked in the background (one cheap GetParameter,
	// ±20% jitter), so their reported state stays recent (default 10s;
	// negative turns the checks off).
	HealthCheckInterval time.Duration

	// HTTPClient sends every request. The default trusts what the AWS
	// SDKs trust: RootCAs when set, else the CA bundle of AWS_CA_BUNDLE or
	// of the AWS profile's ca_bundle, else the system roots.
	HTTPClient *http.Client
	// RootCAs are the CAs trusted for https endpoints (a company's private
	// CA), when HTTPClient is not set.
	RootCAs *x509.CertPool
	// Logger receives warnings and debug messages; nil discards them.
	Logger *slog.Logger
	// Registry receives the client's Prometheus metrics; nil means none.
	Registry prometheus.Registerer
	// Now is the clock of TTLs, staleness and breakers (default time.Now).
	Now func() time.Time
}

// Default returns cfg with every unset field set to its default.
func (cfg Config) Default() Config {
	if cfg.TTL == 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.RefreshAhead == 0 {
		cfg.RefreshAhead = 0.8
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = 5 * time.Second
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.FlushWindow == 0 {
		cfg.FlushWindow = time.Second
	}
	if cfg.RefreshBudget == 0 {
		cfg.RefreshBudget = 100 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 2 * time.Second
	}
	if cfg.BreakerFailures == 0 {
		cfg.BreakerFailures = 5
	}
	if cfg.BreakerOpenFor == 0 {
		cfg.BreakerOpenFor = 5 * time.Second
	}
	if cfg.HealthCheckInterval == 0 {
		cfg.HealthCheckInterval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Validate reports the first invalid field of a defaulted Config.
func (cfg Config) Validate() error {
	for i, e := range cfg.Endpoints {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("client: Endpoints[%d]: %q is not an http(s) URL", i, e)
		}
	}
	switch {
	case cfg.TTL < 0:
		return fmt.Errorf("client: TTL: must not be negative, got %v", cfg.TTL)
	case cfg.RefreshAhead <= 0 || cfg.RefreshAhead > 1:
		return fmt.Errorf("client: RefreshAhead: must be in (0, 1], got %v", cfg.RefreshAhead)
	case cfg.MaxStale < 0:
		return fmt.Errorf("client: MaxStale: must not be negative, got %v", cfg.MaxStale)
	case cfg.NegativeTTL < 0:
		return fmt.Errorf("client: NegativeTTL: must not be negative, got %v", cfg.NegativeTTL)
	case cfg.MaxEntries < 1:
		return fmt.Errorf("client: MaxEntries: must be positive, got %d", cfg.MaxEntries)
	case cfg.CacheDir != "" && len(cfg.CacheKey) != 32:
		return fmt.Errorf("client: CacheKey: need 32 bytes with CacheDir, got %d", len(cfg.CacheKey))
	case cfg.FlushWindow < 0:
		return fmt.Errorf("client: FlushWindow: must not be negative, got %v", cfg.FlushWindow)
	case cfg.Timeout < 0:
		return fmt.Errorf("client: Timeout: must not be negative, got %v", cfg.Timeout)
	case cfg.MaxAttempts < 1:
		return fmt.Errorf("client: MaxAttempts: must be positive, got %d", cfg.MaxAttempts)
	case cfg.BaseBackoff < 0 || cfg.MaxBackoff < cfg.BaseBackoff:
		return fmt.Errorf("client: BaseBackoff/MaxBackoff: need 0 <= base <= max, got %v/%v", cfg.BaseBackoff, cfg.MaxBackoff)
	case cfg.BreakerFailures < 1:
		return fmt.Errorf("client: BreakerFailures: must be positive, got %d", cfg.BreakerFailures)
	case cfg.BreakerOpenFor < 0:
		return fmt.Errorf("client: BreakerOpenFor: must not be negative, got %v", cfg.BreakerOpenFor)
	}
	for p, ttl := range cfg.PathTTL {
		if !strings.HasPrefix(p, "/") || ttl <= 0 {
			return fmt.Errorf("client: PathTTL[%q]: need a path starting with / and a positive TTL, got %v", p, ttl)
		}
	}
	return nil
}

// ttlFor returns the TTL of a name or path: the PathTTL of its longest
// matching prefix, else TTL.
func (cfg *Config) ttlFor(name string) time.Duration {
	best, ttl := -1, cfg.TTL
	for p, d := range cfg.PathTTL {
		if strings.HasPrefix(name, p) && len(p) > best {
			best, ttl = len(p), d
		}
	}
	return ttl
}
