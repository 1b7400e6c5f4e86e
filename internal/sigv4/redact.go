package sigv4

import "strings"

// The messages that echo what the client sent as its credentials, up to the
// echoed text. A misconfigured client can put a secret there (a bearer
// token in the Authorization header, a secret key as the credential), so
// Redacted leaves it out.
const (
	echoAlgorithm     = "Unsupported AWS 'algorithm': '"
	echoAuthorization = " Authorization="
	echoCredential    = "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '"
	notRecorded       = "(not recorded)"
)

// Redacted returns the message without the parts that echo the client's
// Authorization header, its algorithm or its credential: the message for
// records that outlive the call (the audit trail). The caller gets
// Message, worded as AWS words it.
func (e *Error) Redacted() string {
	m := e.Message
	for _, echo := range []string{echoAlgorithm, echoCredential, echoAuthorization} {
		if i := strings.Index(m, echo); i >= 0 {
			return m[:i+len(echo)] + notRecorded
		}
	}
	return m
}
