package api

import (
	"context"
	"fmt"

	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/auth"
	"github.com/paramstore/paramstore/internal/fault"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
)

// The admin API shares the SSM endpoint, protocol, authentication, audit
// and metrics: X-Amz-Target: Paramstore.<Operation> (operations.go). It
// manages identities (package auth), the keyring (package service) and
// cluster membership (cluster.go). `paramstore auth`, `paramstore keys` and
// `paramstore cluster` are its clients.

// adminAuditKeep names the members of admin API requests and responses
// (and of any other call that is not an SSM operation) whose values the
// audit trail keeps. Redaction of these calls is default deny: every other
// member's value is recorded as audit.Hidden, so a member added to the
// admin API later stays out of the trail until it is named here. None of
// these authenticates: SecretAccessKey and SessionToken are not here, and
// must never be.
var adminAuditKeep = audit.NewAllowlist(
	// Requests (auth.AdminRequest, createKeyInput, nodeInput).
	"UserName", "RoleName", "PolicyName", "PolicyDocument", "AccessKeyId", "Status", "DurationSeconds",
	"Alias", "Description", "NodeId",
	// Responses: principals (auth.PrincipalInfo).
	"Principal", "Principals", "Name", "Kind", "Arn", "CreateDate", "PolicyNames",
	// Access keys (auth.AccessKeyInfo) without their secret and token.
	"AccessKey", "AccessKeyMetadata", "Credentials", "Expiration",
	// Keyring keys (service.KeyInfo): names and state, never material.
	"Key", "Keys", "KeyId", "Enabled", "CreationDate",
	// Cluster members (raftstore.Member).
	"Members", "RaftAddress", "ApiAddress", "Suffrage", "Leader",
	// Faults (fault.Spec, fault.Status).
	"kind", "rate", "latency", "operations", "duration", "started", "expires", "cleared",
	// Incidents (incident.Incident): names, counts and times, no value.
	"incidents", "id", "source", "ended", "impact", "timeline", "time", "event", "requests", "failed",
	"served_stale", "max_staleness_seconds", "parameters", "upstreams",
	// Webhook subscriptions (events.PutInput, events.Info): never Secret
	// nor GeneratedSecret.
	"Url", "Path", "DetailType", "Subscription", "Subscriptions", "State", "EventId",
	// Audit lookups (lookupAuditInput): filters, never a value.
	"User", "EventName", "MaxResults", "NextToken",
)

type createKeyInput struct {
	Alias       string `json:"Alias"`
	Description string `json:"Description"`
}

type createKeyOutput struct {
	Key *service.KeyInfo `json:"Key"`
}

type listKeysOutput struct {
	Keys []service.KeyInfo `json:"Keys"`
}

// adminCaller adapts a request's authorizer to auth.Caller.
type adminCaller struct {
	authz service.Authorizer
	root  bool
}

func (a adminCaller) Authorize(action, resource string) error {
	return a.authz.Authorize(action, resource, nil)
}

func (a adminCaller) Root() bool { return a.root }

// iam adapts an identity operation of package auth, which authorizes its
// caller through auth.Caller.
func iam(fn func(context.Context, auth.Caller, *auth.AdminRequest) (any, error)) opFunc {
	return func(ctx context.Context, c service.Caller, body []byte, pre prepare) (any, error) {
		var in auth.AdminRequest
		err := decode(body, &in)
		if err == nil {
			ctx, err = pre.ready(ctx, false)
		}
		if err != nil {
			return nil, err
		}
		ac := adminCaller{authz: allowAll{}, root: true}
		if req, ok := c.Authz.(*auth.Request); ok {
			ac = adminCaller{authz: req, root: req.ID.Root()}
		}
		out, err := fn(ctx, ac, &in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// allowAll authorizes everything (NoAuth mode).
type allowAll struct{}

func (allowAll) Authorize(string, string, map[string]string) error { return nil }

func (h *Handler) createKey(ctx context.Context, c service.Caller, in *createKeyInput) (*createKeyOutput, error) {
	k, err := h.svc.CreateKey(ctx, c, in.Alias, in.Description)
	if err != nil {
		return nil, err
	}
	h.log.Info("key created", "key_id", k.KeyID, "alias", k.Alias, "region", c.Tenancy.Region)
	return &createKeyOutput{Key: k}, nil
}

func (h *Handler) listKeys(ctx context.Context, c service.Caller, _ *struct{}) (*listKeysOutput, error) {
	keys, err := h.svc.ListKeys(ctx, c)
	if err != nil {
		return nil, err
	}
	return &listKeysOutput{Keys: keys}, nil
}

// authorizeAny authorizes an operation on no particular resource; with
// --dev (no Authz) every caller may.
func authorizeAny(c service.Caller, action string) error {
	if c.Authz == nil {
		return nil
	}
	return c.Authz.Authorize(action, "*", nil)
}

type clearFaultOutput struct {
	Cleared bool `json:"cleared"`
}

// listIncidents answers the node's and the cluster's incidents.
func (h *Handler) listIncidents(ctx context.Context, c service.Caller, _ *struct{}) (*any, error) {
	if err := authorizeAny(c, "paramstore:ListIncidents"); err != nil {
		return nil, err
	}
	out, err := h.cfg.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// injectFault makes spec the active fault at this node's API edge.
func (h *Handler) injectFault(ctx context.Context, c service.Caller, in *fault.Spec) (*fault.Status, error) {
	if err := authorizeAny(c, "paramstore:InjectFault"); err != nil {
		return nil, err
	}
	st, err := h.cfg.Faults.Inject(*in)
	if err != nil {
		return nil, ssm.ErrValidation(err.Error())
	}
	h.log.Warn("fault injected", "kind", st.Kind, "rate", st.Rate, "expires", st.Expires)
	return &st, nil
}

// clearFault removes the active fault.
func (h *Handler) clearFault(ctx context.Context, c service.Caller, _ *struct{}) (*clearFaultOutput, error) {
	if err := authorizeAny(c, "paramstore:InjectFault"); err != nil {
		return nil, err
	}
	return &clearFaultOutput{Cleared: h.cfg.Faults.Clear()}, nil
}

// lookupAuditInput is LookupAuditEvents' request.
type lookupAuditInput struct {
	Name       string `json:"Name"`
	User       string `json:"User"`
	EventName  string `json:"EventName"`
	MaxResults int    `json:"MaxResults"`
	NextToken  string `json:"NextToken"`
}

type lookupAuditOutput struct {
	Events    []audit.Event `json:"Events"`
	NextToken string        `json:"NextToken,omitempty"`
}

// lookupAuditEvents reads this node's audit trail, newest first: who
// called what on which names, never a value (audit.Lookup).
func (h *Handler) lookupAuditEvents(ctx context.Context, c service.Caller, in *lookupAuditInput) (*lookupAuditOutput, error) {
	if err := c.Authz.Authorize("paramstore:LookupAuditEvents", "*", nil); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > audit.MaxQueryResults {
		return nil, ssm.ErrValidation(fmt.Sprintf("MaxResults must be between 1 and %d.", audit.MaxQueryResults))
	}
	files, err := audit.Files(h.cfg.AuditPath)
	if err != nil {
		return nil, err
	}
	evs, next, err := audit.Lookup(files, audit.Query{Name: in.Name, User: in.User, EventName: in.EventName, Max: in.MaxResults, After: in.NextToken})
	if err != nil {
		if in.NextToken != "" {
			return nil, ssm.ErrValidation("The NextToken is not valid.")
		}
		return nil, err
	}
	if evs == nil {
		evs = []audit.Event{}
	}
	return &lookupAuditOutput{Events: evs, NextToken: next}, nil
}
