package sigv4

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRedactedLeavesOutCredentials sends what misconfigured clients send
// (a bearer token, a secret where the credential goes) and checks that
// the caller's message echoes it as AWS does while Redacted, the message
// the audit trail records, does not.
func TestRedactedLeavesOutCredentials(t *testing.T) {
	const marker = "SECRETMARKER0123456789"
	tests := []struct {
		name  string
		auth  string // Authorization header
		query string // raw query, for presigned requests
	}{
		{name: "a bearer token as the algorithm", auth: marker},
		{name: "a token after the algorithm", auth: "AWS4-HMAC-SHA256 " + marker},
		{name: "missing parts echo the header", auth: "AWS4-HMAC-SHA256 Credential=AKID/20240115/us-east-1/ssm/aws4_request, Signature=" + marker},
		{name: "a secret as the credential", auth: "AWS4-HMAC-SHA256 Credential=" + marker + ", SignedHeaders=host, Signature=abcd"},
		{name: "a secret as the presigned credential", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + marker +
			"&X-Amz-Signature=abcd&X-Amz-SignedHeaders=host&X-Amz-Date=20240115T120000Z"},
	}
	v := newTestVerifier(t, signTime)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, testURL+"?"+tt.query, strings.NewReader(testBody))
			r.Header.Set("X-Amz-Date", "20240115T120000Z")
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			_, err := v.Verify(r, []byte(testBody))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify = %v, want *Error", err)
			}
			if !strings.Contains(e.Message, marker) {
				t.Fatalf("Message %q does not echo the marker: the case tests nothing", e.Message)
			}
			if got := e.Redacted(); strings.Contains(got, marker) || !strings.HasSuffix(got, notRecorded) {
				t.Errorf("Redacted() = %q, want the echoed part replaced by %q", got, notRecorded)
			}
		})
	}
	plain := &Error{Code: CodeInvalidSignature, Message: msgMismatch}
	if got := plain.Redacted(); got != msgMismatch {
		t.Errorf("Redacted() of a message that echoes nothing = %q, want it unchanged", got)
	}
}
