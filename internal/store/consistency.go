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

type pointReadsKey struct{}

// WithPointReads marks a read whose callback reads parameters (Param) and
// tenancies (Tenancy) by name, and may read anything else: View serves it
// without waiting for a commit of the applied state (the read buffer,
// batch.go) and, when the callback read something the buffer cannot serve,
// discards its outcome and runs it again on the committed state. The
// callback must therefore be safe to run twice: it sets its results, it
// does not append to what a first run left.
func WithPointReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, pointReadsKey{}, true)
}

// IsPointReads reports whether ctx marks a read WithPointReads.
func IsPointReads(ctx context.Context) bool {
	v, _ := ctx.Value(pointReadsKey{}).(bool)
	return v
}
