package ssm

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"
)

// TestErrorLogShowsCause: a log line of an internal error carries the
// wrapped cause (which the client never sees) and a recovered panic's value.
func TestErrorLogShowsCause(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"internal", Wrap(errors.New("raftstore: apply: raft is already shutdown")),
			"ssm: InternalServerError: An internal error occurred. (cause: raftstore: apply: raft is already shutdown)"},
		{"panic", Wrap(errors.New("api: panic in GetParameter: runtime error: index out of range [3] with length 3")),
			"ssm: InternalServerError: An internal error occurred. (cause: api: panic in GetParameter: runtime error: index out of range [3] with length 3)"},
		{"unavailable", Unavailable(errors.New("raftstore: no leader: store: unavailable")),
			"ssm: ServiceUnavailable: The request has failed due to a temporary failure of the server. (cause: raftstore: no leader: store: unavailable)"},
		{"client error", ErrValidation("bad"), "ssm: ValidationException: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Error("internal error", "error", tt.err)
			var line struct{ Error string }
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line %q: %v", buf.String(), err)
			}
			if line.Error != tt.want {
				t.Errorf("got error %q in the log line, want %q", line.Error, tt.want)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	e := Unavailable(errors.New("cause"))
	member, ok := e.MessageMember()
	if e.HTTPStatus() != http.StatusServiceUnavailable || e.Code != "ServiceUnavailable" || member != "Message" || !ok {
		t.Errorf("got status %d, code %q, member %q (%v); want 503 ServiceUnavailable with Message", e.HTTPStatus(), e.Code, member, ok)
	}
	if e.Message != "The request has failed due to a temporary failure of the server." {
		t.Errorf("got message %q, want AWS's text, without the cause", e.Message)
	}
}
