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

// staleness is what a stale read is for: a read that may be as stale as
// the node's bound, or the plan of a write.
type staleness uint8

const (
	staleRead staleness = 1 + iota
	stalePlan
)

// WithStale marks a read as allowed to be stale: served from this node's
// local state without confirming it with the leader.
func WithStale(ctx context.Context) context.Context {
	return context.WithValue(ctx, staleKey{}, staleRead)
}

// WithWritePlan marks the read that plans a write: served from the local
// state like a stale read (the write's compare-and-set commit catches a
// plan made on stale state), but only while the node knows a leader to
// send the write to. Without one the write cannot commit anyway, and a
// plan made on a state cut off from the leader would answer validation
// errors (a parameter it has not heard of yet) instead of the
// unavailability that the client should retry.
func WithWritePlan(ctx context.Context) context.Context {
	return context.WithValue(ctx, staleKey{}, stalePlan)
}

// IsStale reports whether ctx allows a stale read (WithStale or
// WithWritePlan).
func IsStale(ctx context.Context) bool {
	v, _ := ctx.Value(staleKey{}).(staleness)
	return v != 0
}

// IsWritePlan reports whether ctx marks a write's plan (WithWritePlan).
func IsWritePlan(ctx context.Context) bool {
	v, _ := ctx.Value(staleKey{}).(staleness)
	return v == stalePlan
}

type pointReadsKey struct{}

// WithPointReads marks a read whose callback reads parameters (Param) and
// tenancies (Tenancy) by name, or follows the change log (AppliedIndex,
// ChangeFloor, Changes), and may read anything else: View serves it
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
