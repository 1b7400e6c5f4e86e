package agent

import (
	"context"
	"errors"

	"github.com/paramstore/paramstore/client"
)

// Source is what the agent reads through: a resilient, caching SSM client,
// declared here where it is used. *client.Client implements it, and its
// types are the agent's (one Result, Change, UpstreamHealth and
// CacheStatus for both). Implementations must be safe for concurrent use.
//
// Errors that wrap client.ErrUnavailable or client.ErrClosed mean no
// upstream could answer and nothing usable was cached (see unavailable);
// otherwise an smithy.APIError is the upstream's answer to the caller's
// request (ParameterNotFound is *types.ParameterNotFound).
type Source interface {
	// Get reads one parameter; name may carry a :version or :label
	// selector, or be an ARN.
	Get(ctx context.Context, name string, withDecryption bool) (client.Result, error)
	// GetMany reads several parameters; names not found are returned in
	// invalid.
	GetMany(ctx context.Context, names []string, withDecryption bool) (found []client.Result, invalid []string, err error)
	// GetByPath reads the parameters under path.
	GetByPath(ctx context.Context, path string, recursive, withDecryption bool) ([]client.Result, error)
	// Watch announces changes under path until ctx ends.
	Watch(ctx context.Context, path string) (<-chan client.Change, error)
	// Invalidate drops the cached values of names.
	Invalidate(names ...string)
	// Health reports the upstreams in the order they are tried.
	Health() []client.UpstreamHealth
	// CacheStatus reports the persistent cache.
	CacheStatus() client.CacheStatus
}

var _ Source = (*client.Client)(nil)

// unavailable reports whether err, returned by a Source, means that no
// upstream answered and nothing usable was cached. The chain also holds the
// last upstream failure (an SSM error of a 5xx or throttling answer, or a
// network error).
func unavailable(err error) bool {
	return errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrClosed)
}
