package store

import "errors"

// The results of Apply: a command the state machine refused. A result is
// not a failure to commit: the command was committed and applied, changed
// nothing, and every replica, every replay of the entry and every
// re-proposal of the same command ID returns the same result.
var (
	// ErrConflict: the parameter changed since the caller read it (or
	// exists when the caller expected to create it). The caller re-reads and
	// retries.
	ErrConflict = errors.New("store: conflict")
	// ErrNotFound: the parameter or key does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrQuota: creating the parameter would exceed the tenancy's count quota.
	ErrQuota = errors.New("store: quota exceeded")
	// ErrExists: a key alias is already taken.
	ErrExists = errors.New("store: already exists")
	// ErrKeyMismatch: the key check value differs from the recorded one
	// (OpKeyCheck with another master key's value).
	ErrKeyMismatch = errors.New("store: master key check value mismatch")
)

// results is the one list of the results, each with its name where results
// are written down: the stored outcomes of the command IDs (dedup.go) and the
// "result" member of the cluster's apply RPC. The names are persisted in the
// state machine: never change one.
var results = [...]struct {
	err  error
	name string
}{
	{ErrConflict, "conflict"},
	{ErrNotFound, "notfound"},
	{ErrQuota, "quota"},
	{ErrExists, "exists"},
	{ErrKeyMismatch, "keymismatch"},
}

// IsResult reports whether err is a result of the state machine (it wraps
// one of the results above), as opposed to a failure to commit or apply.
func IsResult(err error) bool { return ResultName(err) != "" }

// ResultName returns the name of the result err wraps, or "" when err is
// not a result (nil included).
func ResultName(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range results {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return ""
}

// ResultNamed returns the result called name, or nil when there is none.
func ResultNamed(name string) error {
	for _, r := range results {
		if r.name == name {
			return r.err
		}
	}
	return nil
}
