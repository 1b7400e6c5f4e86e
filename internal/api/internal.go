package api

import (
	"context"
	"net/http"
	"net/http/httptest"

	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
)

// IdentityInternal is the audit identity type of a caller inside the
// server process (a mirror).
const IdentityInternal = "ParamstoreInternal"

// Internal is a caller inside the server process, such as a mirror run by
// the leader: its calls are served in-process, through the same operation
// table, service, replicated write path, throttling, audit and metrics as
// any SDK call, under the identity Name in Region. The identity travels in
// the request's context, which only this process can set: no header or
// signature from outside can claim it.
type Internal struct {
	// Name names the caller, e.g. "mirror/prod": its ARN is
	// arn:aws:iam::ACCOUNT:user/paramstore/NAME.
	Name   string
	Region string
}

type internalKey struct{}

// Transport returns an http.RoundTripper that serves SSM calls with h as
// in. Give it to an SDK client (any credentials: none is checked).
func (h *Handler) Transport(in Internal) http.RoundTripper {
	return internalTransport{h: h, in: in}
}

type internalTransport struct {
	h  *Handler
	in Internal
}

func (t internalTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(context.WithValue(r.Context(), internalKey{}, t.in))
	r.RemoteAddr = "internal"
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// internalCaller returns the caller of a request made through Transport.
func (h *Handler) internalCaller(r *http.Request, c *call) (service.Caller, string, bool) {
	in, ok := r.Context().Value(internalKey{}).(Internal)
	if !ok {
		return service.Caller{}, "", false
	}
	arn := "arn:" + ssm.Partition(in.Region) + ":iam::" + h.cfg.Account + ":user/paramstore/" + in.Name
	c.region = in.Region
	c.identity = audit.UserIdentity{Type: IdentityInternal, PrincipalID: in.Name, ARN: arn, AccountID: h.cfg.Account, UserName: in.Name}
	// Authz nil: an internal caller is the server's own code, configured by
	// the operator (--mirror-config), and acts only on what it names.
	return service.Caller{Tenancy: ssm.Tenancy{Account: h.cfg.Account, Region: in.Region}, UserARN: arn}, "internal/" + in.Name, true
}
