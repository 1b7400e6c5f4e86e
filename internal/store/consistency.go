package store

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrUnavailable is wrapped by the errors of a store that cannot serve a
// request now but may later, or on another node: a node with no leader,
// or whose state is staler than its bound. A write that failed with it may
// or may not have been applied, as with any failure to hear back. Callers
// answer it as a retryable unavailability, not as a server bug.
var ErrUnavailable = errors.New("store: unavailable")

type staleKey struct{}

// staleness marks a read that may be as stale as the node's bound.
type staleness uint8

const staleRead staleness = 1

// writePlan marks the reads that plan one write: a call's plan may read
// several times (authorization, the plan, a retry after a conflict), and
// the store brings its state up to date for the first of them only.
type writePlan struct {
	// synced is set once a read of the plan ran on a state that reflects
	// every write acknowledged before the call began.
	synced atomic.Bool
}

// WithStale marks a read as allowed to be stale: served from this node's
// local state without confirming it with the leader.
func WithStale(ctx context.Context) context.Context {
	return context.WithValue(ctx, staleKey{}, staleRead)
}

// WithWritePlan marks the reads that plan one write (one call: give each
// call a context of its own). They are served from the local state, with
// no round trip on the leader and on a single node; a follower first
// brings its state up to the index the leader has applied (one request,
// without the quorum round of a linearizable read), once per call. A plan made on a follower's
// stale state would otherwise answer as if writes acknowledged before the
// call had not happened: ParameterNotFound, ParameterAlreadyExists, a
// version not found, or a no-op success, none of which proposes a command
// whose compare-and-set could catch it. (A plan that does propose one is
// checked again by its compare-and-set commit, against the leader's
// state.) Without a leader the write cannot commit anyway: the plan is
// refused as unavailable, which the client retries, rather than answered
// from a state cut off from the leader.
func WithWritePlan(ctx context.Context) context.Context {
	return context.WithValue(ctx, staleKey{}, &writePlan{})
}

// IsStale reports whether ctx allows a stale read (WithStale or
// WithWritePlan).
func IsStale(ctx context.Context) bool {
	switch ctx.Value(staleKey{}).(type) {
	case staleness, *writePlan:
		return true
	}
	return false
}

// IsWritePlan reports whether ctx marks a write's plan (WithWritePlan).
func IsWritePlan(ctx context.Context) bool {
	_, ok := ctx.Value(staleKey{}).(*writePlan)
	return ok
}

// PlanSynced reports whether a read of the write plan of ctx already ran
// on a state brought up to date for the call (MarkPlanSynced): the state
// only moves forward, so later reads of the plan need no new check.
func PlanSynced(ctx context.Context) bool {
	p, _ := ctx.Value(staleKey{}).(*writePlan)
	return p != nil && p.synced.Load()
}

// MarkPlanSynced records that the local state now reflects every write
// acknowledged before the call of ctx (a write plan) began.
func MarkPlanSynced(ctx context.Context) {
	if p, _ := ctx.Value(staleKey{}).(*writePlan); p != nil {
		p.synced.Store(true)
	}
}

type pointReadsKey struct{}

// WithPointReads marks a read whose callback reads parameters (Param) and
// tenancies (Tenancy) by name, follows the change log (AppliedIndex,
// ChangeFloor, Changes) or lists the parameters with policies
// (PolicyParams), and may read anything else: View serves it
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
