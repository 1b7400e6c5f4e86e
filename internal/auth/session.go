package auth

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/paramstore/paramstore/internal/sigv4"
)

// The web console signs a user in once with the access key's secret and
// then acts as that key's identity without keeping the secret: CheckSecret
// verifies the secret at sign-in, Resolve finds the identity again on each
// later call. Both refuse what a signature check refuses (an unknown or
// disabled key, a wrong secret or token, expired temporary credentials),
// with the same *sigv4.Error codes and messages.

// Messages of the refusals, as sigv4 words them.
const (
	textInvalidToken = "The security token included in the request is invalid."
	textExpiredToken = "The security token included in the request is expired"
)

// Resolve returns the identity of accessKeyID and, for temporary
// credentials, when they expire (zero for a long-term key), if the key is
// still usable now. It reads the same cache as Authenticate, so a key
// deleted or disabled since sign-in is refused at once.
func (a *Authenticator) Resolve(ctx context.Context, accessKeyID string) (*Identity, time.Time, error) {
	if err := a.refresh(ctx); err != nil {
		return nil, time.Time{}, err
	}
	e, err := a.entry(accessKeyID)
	if err != nil {
		return nil, time.Time{}, err
	}
	if e.err != nil {
		return nil, time.Time{}, &sigv4.Error{Code: sigv4.CodeUnrecognizedClient, Message: textInvalidToken}
	}
	if exp := e.creds.Expires; !exp.IsZero() && !a.now().Before(exp) {
		return nil, time.Time{}, &sigv4.Error{Code: sigv4.CodeExpiredToken, Message: textExpiredToken}
	}
	return e.id, e.creds.Expires, nil
}

// CheckSecret is Resolve after verifying, in constant time, that secret
// and sessionToken are accessKeyID's (sessionToken is empty for a
// long-term key).
func (a *Authenticator) CheckSecret(ctx context.Context, accessKeyID, secret, sessionToken string) (*Identity, time.Time, error) {
	if err := a.refresh(ctx); err != nil {
		return nil, time.Time{}, err
	}
	e, err := a.entry(accessKeyID)
	if err != nil {
		return nil, time.Time{}, err
	}
	refused := &sigv4.Error{Code: sigv4.CodeUnrecognizedClient, Message: textInvalidToken}
	if e.err != nil {
		return nil, time.Time{}, refused
	}
	okSecret := subtle.ConstantTimeCompare([]byte(e.creds.SecretAccessKey), []byte(secret))
	okToken := subtle.ConstantTimeCompare([]byte(e.creds.SessionToken), []byte(sessionToken))
	if okSecret&okToken != 1 {
		return nil, time.Time{}, refused
	}
	return a.Resolve(ctx, accessKeyID)
}
