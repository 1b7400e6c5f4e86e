package api

import (
	"context"

	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/auth"
	"github.com/paramstore/paramstore/internal/events"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
)

// The admin API shares the SSM endpoint, protocol, authentication, audit
// and metrics: X-Amz-Target: Paramstore.<Operation>. It manages identities
// (package auth) and the keyring (package service). `paramstore auth` and
// `paramstore keys` are its clients.

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
	// Webhook subscriptions (events.PutInput, events.Info): never Secret
	// nor GeneratedSecret.
	"Url", "Path", "DetailType", "Subscription", "Subscriptions", "State", "EventId",
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

// allowAll authorizes everything (NoAuth mode).
type allowAll struct{}

func (allowAll) Authorize(string, string, map[string]string) error { return nil }

func (h *Handler) adminOps() map[string]opFunc {
	ops := map[string]opFunc{
		"CreateKey": op(func(ctx context.Context, c service.Caller, in *createKeyInput) (*createKeyOutput, error) {
			k, err := h.svc.CreateKey(ctx, c, in.Alias, in.Description)
			if err != nil {
				return nil, err
			}
			h.log.Info("key created", "key_id", k.KeyID, "alias", k.Alias, "region", c.Tenancy.Region)
			return &createKeyOutput{Key: k}, nil
		}),
		"ListKeys": op(func(ctx context.Context, c service.Caller, _ *struct{}) (*listKeysOutput, error) {
			keys, err := h.svc.ListKeys(ctx, c)
			if err != nil {
				return nil, err
			}
			return &listKeysOutput{Keys: keys}, nil
		}),
	}
	if m := h.cfg.Notify; m != nil {
		ops["PutNotification"] = op(m.Put)
		ops["ListNotifications"] = op(func(ctx context.Context, c service.Caller, _ *struct{}) (*events.ListOutput, error) {
			return m.List(ctx, c)
		})
		ops["DeleteNotification"] = op(m.Delete)
		ops["TestNotification"] = op(m.Test)
	}
	for name, fn := range h.cfg.Auth.AdminOps() {
		ops[name] = func(ctx context.Context, c service.Caller, body []byte) (any, error) {
			var in auth.AdminRequest
			if err := decode(body, &in); err != nil {
				return nil, err
			}
			ac := adminCaller{authz: allowAll{}, root: true}
			if req, ok := c.Authz.(*auth.Request); ok {
				ac = adminCaller{authz: req, root: req.ID.Root()}
			}
			out, err := fn(ctx, ac, &in)
			if err != nil {
				return nil, ssm.AsError(err)
			}
			return out, nil
		}
	}
	return ops
}
