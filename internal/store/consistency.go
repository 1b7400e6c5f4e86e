package store

import (
	"context"
	"errors"
)

// ErrUnavailable is wrapped by the errors of a store that cannot serve a
// request now but may later, or on another node: a node with no leader,
// or whose state is staler than its bound. A write that failed with it may
// or may not have been applied, as with any failure to hear back. Callers
// answer it as a retryable unavailability, not as a server bug.
var ErrUnavailable = errors.New("store: unavailable")

type staleKey struct{}

// WithStale marks a read as allowed to be stale: served from this node's
// local state without confirming it with the leader.
func WithStale(ctx context.Context) context.Context {
	return context.WithValue(ctx, staleKey{}, true)
}

// IsStale reports whether ctx allows a stale read.
func IsStale(ctx context.Context) bool {
	v, _ := ctx.Value(staleKey{}).(bool)
	return v
}
