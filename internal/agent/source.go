package agent

import (
	"context"
	"errors"
	"time"
)

// Parameter is one parameter as the Source returns it.
type Parameter struct {
	Name, Type, Value, ARN, DataType, Selector string
	Version                                    int64
	LastModifiedDate                           time.Time
}

// Result is a parameter plus where it came from.
type Result struct {
	Parameter
	// Stale is set when the value could not be confirmed with an upstream.
	Stale bool
	// FetchedAt is when the value was last read from an upstream.
	FetchedAt time.Time
	// FromCache is set when no upstream call was made for this read.
	FromCache bool
}

// Change is one change announced by Source.Watch.
type Change struct {
	Name    string
	Version int64
	Deleted bool
	// Reset means the stream lost its place: anything under Name (the
	// watched path) may have changed.
	Reset bool
}

// UpstreamHealth is the state of one upstream as the Source sees it.
type UpstreamHealth struct {
	URL       string
	State     string
	Breaker   string
	LastError string
	// ObservedAt is when the last call to the upstream ended (zero before
	// any): the state is as recent as that.
	ObservedAt time.Time
	// RetryIn is how long until an open breaker lets a probe through.
	RetryIn time.Duration
	// ServingStaleSince is when reads started being served stale, or zero.
	ServingStaleSince time.Time
}

// ErrUnavailable is in the chain of a Source error when no upstream
// answered and nothing usable was cached; the chain also holds the last
// upstream failure (an SSM error of a 5xx or throttling answer, or a
// network error).
var ErrUnavailable = errors.New("agent: no upstream answered")

// CacheStatus describes the Source's persistent cache (see
// client.CacheStatus).
type CacheStatus struct {
	Path, State, Error string
	Loaded, Pending    int
	LastFlush          time.Time
}

// Source is what the agent reads through: a resilient, caching SSM client.
// The client package implements it (see ClientSource). Implementations must
// be safe for concurrent use. Errors that wrap ErrUnavailable mean no
// upstream could answer and nothing usable was cached; otherwise an
// smithy.APIError is the upstream's answer to the caller's request
// (ParameterNotFound is *types.ParameterNotFound).
type Source interface {
	// Get reads one parameter; name may carry a :version or :label
	// selector, or be an ARN.
	Get(ctx context.Context, name string, withDecryption bool) (Result, error)
	// GetMany reads several parameters; names not found are returned in
	// invalid.
	GetMany(ctx context.Context, names []string, withDecryption bool) (found []Result, invalid []string, err error)
	// GetByPath reads the parameters under path.
	GetByPath(ctx context.Context, path string, recursive, withDecryption bool) ([]Result, error)
	// Watch announces changes under path until ctx ends.
	Watch(ctx context.Context, path string) (<-chan Change, error)
	// Invalidate drops the cached values of names.
	Invalidate(names ...string)
	// Health reports the upstreams in the order they are tried.
	Health() []UpstreamHealth
	// CacheStatus reports the persistent cache.
	CacheStatus() CacheStatus
}
