package service

import (
	"errors"

	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// AWSError returns the AWS error that a call failing with err (not nil) is
// answered with. It is the one translation of storage failures into AWS errors
// (etcd's togRPCError), used by the service for what it does not translate
// itself and by the API edge for every error it answers:
//
//   - the *ssm.Error in err's chain, unless it is an InternalServerError;
//   - ServiceUnavailable (HTTP 503, retried by the SDKs) when err's chain
//     holds store.ErrUnavailable: a node with no leader or too stale to
//     serve (raftstore's ErrNotReady and ErrTooStale), whichever layer
//     wrapped it as an internal error on the way;
//   - else InternalServerError.
//
// The store's results (store.IsResult) mean different things to different
// operations, and each operation translates them itself (ErrNotFound is
// ParameterNotFound to DeleteParameter); one that reaches AWSError is a bug,
// answered as an internal error.
//
// The answer carries err (or the internal error's own cause) as its cause:
// never sent, and shown by its Error method, so every log line of the
// answer says what went wrong.
func AWSError(err error) *ssm.Error {
	var e *ssm.Error
	if errors.As(err, &e) && e.Code != ssm.CodeInternal {
		return e
	}
	if errors.Is(err, store.ErrUnavailable) {
		if e != nil && e.Unwrap() != nil {
			err = e.Unwrap()
		}
		return ssm.Unavailable(err)
	}
	if e != nil {
		return e
	}
	return ssm.Wrap(err)
}
