package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/auth"
	"github.com/paramstore/paramstore/internal/console"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/sigv4"
	"github.com/paramstore/paramstore/internal/ssm"
)

// The web console (package console) keeps no secret: it hands its calls,
// unsigned, to serveAs with the session's principal in the context, and
// authenticate resolves that principal instead of verifying a signature.
// Only this package can put the key in a context, and a context never
// comes from the network.

// principalKey is the context key of a console call's principal.
type principalKey struct{}

// newConsole makes the console handler over h.
func (h *Handler) newConsole() (*console.Handler, error) {
	return console.New(console.Config{
		Serve:          h.serveAs,
		CheckSecret:    h.checkSecret,
		SessionFile:    h.cfg.ConsoleSessions,
		PeerClient:     h.cfg.PeerClient,
		PeerTLS:        h.cfg.PeerClient != nil,
		PeerTransition: h.cfg.PeerTransition,
		Now:            h.cfg.Now,
		Logger:         h.cfg.Logger,
	})
}

// serveAs serves the API request r as p.
func (h *Handler) serveAs(w http.ResponseWriter, r *http.Request, p console.Principal) {
	h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
}

// consolePrincipal is the principal of a console call, if r is one.
func consolePrincipal(r *http.Request) (console.Principal, bool) {
	p, ok := r.Context().Value(principalKey{}).(console.Principal)
	return p, ok
}

// checkSecret verifies console sign-in credentials as a signed request
// would be verified, and returns when they expire. Each sign-in, accepted
// or refused, leaves a ConsoleLogin record in the audit trail (as
// CloudTrail records console sign-ins), which names the key, never its
// secret; an accepted sign-in the trail cannot record is refused.
func (h *Handler) checkSecret(r *http.Request, keyID, secret, token, region string) (time.Time, error) {
	var id *auth.Identity
	var expires time.Time
	var err error
	switch {
	case !h.cfg.Auth.AcceptsRegion(region):
		err = ssm.NewError(sigv4.CodeInvalidSignature, "Credential should be scoped to a valid region, not '"+region+"'. ")
	case h.cfg.NoAuth:
	default:
		id, expires, err = h.cfg.Auth.CheckSecret(r.Context(), keyID, secret, token)
	}
	var e *ssm.Error
	if err != nil {
		e = toSSMError(err)
	}
	if h.cfg.Audit != nil {
		rec := audit.Record{EventTime: h.cfg.Now(), EventName: "ConsoleLogin", AWSRegion: region, SourceIPAddress: sourceIP(r),
			UserAgent: console.UserAgent + " " + r.UserAgent(), RequestID: uuid.NewString(), RecipientAccountID: h.cfg.Account,
			RequestParameters: map[string]string{"AccessKeyId": keyID}, Keep: adminAuditKeep,
			UserIdentity: audit.UserIdentity{Type: audit.IdentityAnonymous, AccessKeyID: keyID}}
		if id != nil {
			rec.UserIdentity = audit.UserIdentity{Type: identityType(id.Kind), PrincipalID: id.AccessKeyID, ARN: id.ARN,
				AccountID: id.Account, AccessKeyID: id.AccessKeyID, UserName: id.Name}
		}
		if e != nil {
			rec.ErrorCode, rec.ErrorMessage = e.Code, e.RecordedMessage()
		}
		if aerr := h.cfg.Audit.Log(r.Context(), rec, audit.Buffered); aerr != nil && e == nil {
			h.log.Error("console sign-in refused: its audit record", "access_key_id", keyID, "error", aerr)
			return time.Time{}, ssm.Wrap(fmt.Errorf("api: console sign-in of %s: audit record: %w", keyID, aerr))
		}
	}
	if e != nil {
		return time.Time{}, e
	}
	return expires, nil
}

// authenticateConsole is authenticate for a console call: the session's
// access key must still be usable (not deleted, disabled or expired), and
// everything after is as for a signed call.
func (h *Handler) authenticateConsole(r *http.Request, c *call, p console.Principal) (service.Caller, string, error) {
	if h.cfg.NoAuth {
		c.region = p.Region
		arn := "arn:" + ssm.Partition(p.Region) + ":iam::" + h.cfg.Account + ":user/" + p.AccessKeyID
		c.identity = audit.UserIdentity{Type: audit.IdentityAnonymous, ARN: arn, AccountID: h.cfg.Account}
		return service.Caller{Tenancy: ssm.Tenancy{Account: h.cfg.Account, Region: p.Region}, UserARN: arn}, arn, nil
	}
	id, _, err := h.cfg.Auth.Resolve(r.Context(), p.AccessKeyID)
	if err != nil {
		return service.Caller{}, "", toSSMError(err)
	}
	return h.identified(r, c, id, p.Region)
}
