package service

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// errNoLeader stands for raftstore.ErrNotReady, which wraps
// store.ErrUnavailable.
var errNoLeader = fmt.Errorf("raftstore: no leader: %w", store.ErrUnavailable)

// TestAWSError: the one translation of failures into AWS errors keeps the
// caller's errors, answers unavailability with a 503 whichever layer wrapped
// it, anything else with a 500, and keeps the cause for the logs.
func TestAWSError(t *testing.T) {
	validation := ssm.ErrValidation("bad")
	tests := []struct {
		name       string
		err        error
		wantCode   string
		wantStatus int
		wantCause  string // in Error(), never in Message
	}{
		{"caller's error", fmt.Errorf("service: put: %w", validation), ssm.CodeValidation, http.StatusBadRequest, ""},
		{"unavailable", fmt.Errorf("service: read: %w", errNoLeader), ssm.CodeServiceUnavailable, http.StatusServiceUnavailable,
			"service: read: raftstore: no leader: store: unavailable"},
		{"unavailable wrapped as internal", fmt.Errorf("auth: %w", ssm.Wrap(errNoLeader)), ssm.CodeServiceUnavailable, http.StatusServiceUnavailable,
			"raftstore: no leader: store: unavailable"},
		{"internal", errors.New("store: disk I/O error"), ssm.CodeInternal, http.StatusInternalServerError, "store: disk I/O error"},
		{"internal already", ssm.Wrap(errors.New("api: panic in GetParameter: boom")), ssm.CodeInternal, http.StatusInternalServerError,
			"api: panic in GetParameter: boom"},
		{"a store result no operation translated", store.ErrConflict, ssm.CodeInternal, http.StatusInternalServerError, "store: conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := AWSError(tt.err)
			if e.Code != tt.wantCode || e.HTTPStatus() != tt.wantStatus {
				t.Fatalf("got %s (HTTP %d), want %s (HTTP %d)", e.Code, e.HTTPStatus(), tt.wantCode, tt.wantStatus)
			}
			if tt.wantCause == "" {
				if e != validation {
					t.Errorf("got %v, want the caller's error itself", e)
				}
				return
			}
			if !strings.HasSuffix(e.Error(), " (cause: "+tt.wantCause+")") {
				t.Errorf("got Error() %q, want it to end with the cause %q", e.Error(), tt.wantCause)
			}
			if strings.Contains(e.Message, tt.wantCause) {
				t.Errorf("the message sent to the caller, %q, holds the cause", e.Message)
			}
			if !errors.Is(e, store.ErrUnavailable) && tt.wantCode == ssm.CodeServiceUnavailable {
				t.Errorf("the answer lost store.ErrUnavailable from its chain")
			}
		})
	}
}
