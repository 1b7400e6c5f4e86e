package store

import "context"

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
