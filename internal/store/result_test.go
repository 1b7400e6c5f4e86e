package store

import (
	"errors"
	"fmt"
	"testing"
)

// TestResults: every result has one name that round-trips, through the
// dedup table's encoding too, also when wrapped; nothing else is a result.
func TestResults(t *testing.T) {
	names := map[string]bool{}
	for _, r := range results {
		wrapped := fmt.Errorf("raftstore: apply: %w", r.err)
		name := ResultName(wrapped)
		if name != r.name || names[name] {
			t.Errorf("ResultName(%v) = %q, want %q, once", wrapped, name, r.name)
		}
		names[name] = true
		if got := ResultNamed(name); got != r.err {
			t.Errorf("ResultNamed(%q) = %v, want %v", name, got, r.err)
		}
		if !IsResult(wrapped) {
			t.Errorf("IsResult(%v) = false", wrapped)
		}
		if got := decodeResult(encodeResult(wrapped)); got != r.err {
			t.Errorf("stored outcome of %v: got %v, want %v", wrapped, got, r.err)
		}
	}
	for _, err := range []error{nil, errors.New("store: disk full"), ErrUnavailable, ErrCorrupt} {
		if IsResult(err) || ResultName(err) != "" {
			t.Errorf("%v is taken for a result", err)
		}
	}
	for _, name := range []string{"", "ok", "error:store: conflict", "Conflict"} {
		if got := ResultNamed(name); got != nil {
			t.Errorf("ResultNamed(%q) = %v, want nil", name, got)
		}
	}
	if got := decodeResult(encodeResult(errors.New("store: disk full"))); got == nil || got.Error() != "error:store: disk full" {
		t.Errorf("stored outcome of another error: got %v, want error:store: disk full", got)
	}
}
