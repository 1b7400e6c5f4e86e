package api

import (
	"context"

	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/events"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/throttle"
)

// The operations table: every X-Amz-Target the handler serves, with all
// that the handler knows of it. Adding an operation is adding a row.

// family is a set of operations that share an X-Amz-Target prefix and the
// shape of their audit records.
type family struct {
	prefix string
	// keep, when not nil, makes the audit records of the family's calls
	// default deny (audit.Record.Keep): only the members it names keep
	// their values. Nil redacts them by the SSM rules (audit.Redact).
	keep *audit.Allowlist
}

var (
	// ssmAPI is the SSM Parameter Store API.
	ssmAPI = family{prefix: "AmazonSSM."}
	// adminAPI is Paramstore's own API on the same endpoint: identities
	// (package auth), the keyring and cluster membership.
	adminAPI = family{prefix: "Paramstore.", keep: adminAuditKeep}
)

// effect is whether an operation may change state.
type effect bool

const (
	// changes: the call may change state. It runs only once its audit
	// intent record is durable, and its result record is owed to the
	// trail (audit.Applied), with its response. It plans against this
	// node's local state (store.WithWritePlan: a follower's first brought
	// up to the leader's read index); its compare-and-set commit catches
	// a change made in between.
	changes effect = false
	// readsOnly: the call changes nothing. It reads at the node's default
	// consistency (X-Paramstore-Consistency overrides), and its audit
	// record is marked readOnly, without the response, and not awaited.
	readsOnly effect = true
)

// operation is a row of the table.
type operation struct {
	family family
	name   string // without the prefix: the metrics, logs and audit eventName
	run    opFunc
	effect effect
	// class is the throttle bucket the operation takes a token from: Reads
	// and Describes are read-only, Writes change state.
	class throttle.Class
}

func (o *operation) target() string { return o.family.prefix + o.name }
func (o *operation) readOnly() bool { return o.effect == readsOnly }

// operations returns the table. The cluster operations are there when the
// handler has a cluster.
func (h *Handler) operations() []operation {
	s, a := h.svc, h.cfg.Auth
	ops := []operation{
		{ssmAPI, "GetParameter", op(s.GetParameter), readsOnly, throttle.Reads},
		{ssmAPI, "GetParameters", op(s.GetParameters), readsOnly, throttle.Reads},
		{ssmAPI, "GetParametersByPath", op(s.GetParametersByPath), readsOnly, throttle.Reads},
		{ssmAPI, "GetParameterHistory", op(s.GetParameterHistory), readsOnly, throttle.Reads},
		{ssmAPI, "DescribeParameters", op(s.DescribeParameters), readsOnly, throttle.Describes},
		{ssmAPI, "ListTagsForResource", op(s.ListTagsForResource), readsOnly, throttle.Describes},
		{ssmAPI, "GetServiceSetting", op(s.GetServiceSetting), readsOnly, throttle.Describes},
		{ssmAPI, "PutParameter", op(s.PutParameter), changes, throttle.Writes},
		{ssmAPI, "DeleteParameter", op(s.DeleteParameter), changes, throttle.Writes},
		{ssmAPI, "DeleteParameters", op(s.DeleteParameters), changes, throttle.Writes},
		{ssmAPI, "LabelParameterVersion", op(s.LabelParameterVersion), changes, throttle.Writes},
		{ssmAPI, "UnlabelParameterVersion", op(s.UnlabelParameterVersion), changes, throttle.Writes},
		{ssmAPI, "AddTagsToResource", op(s.AddTagsToResource), changes, throttle.Writes},
		{ssmAPI, "RemoveTagsFromResource", op(s.RemoveTagsFromResource), changes, throttle.Writes},
		{ssmAPI, "UpdateServiceSetting", op(s.UpdateServiceSetting), changes, throttle.Writes},
		{ssmAPI, "ResetServiceSetting", op(s.ResetServiceSetting), changes, throttle.Writes},

		// The keyring (admin.go).
		{adminAPI, "CreateKey", op(h.createKey), changes, throttle.Writes},
		{adminAPI, "ListKeys", op(h.listKeys), readsOnly, throttle.Describes},

		// Identities (package auth).
		{adminAPI, "CreateUser", iam(a.CreateUser), changes, throttle.Writes},
		{adminAPI, "CreateRole", iam(a.CreateRole), changes, throttle.Writes},
		{adminAPI, "DeleteUser", iam(a.DeleteUser), changes, throttle.Writes},
		{adminAPI, "ListUsers", iam(a.ListUsers), readsOnly, throttle.Describes},
		{adminAPI, "PutUserPolicy", iam(a.PutUserPolicy), changes, throttle.Writes},
		{adminAPI, "DeleteUserPolicy", iam(a.DeleteUserPolicy), changes, throttle.Writes},
		{adminAPI, "CreateAccessKey", iam(a.CreateAccessKey), changes, throttle.Writes},
		{adminAPI, "UpdateAccessKey", iam(a.UpdateAccessKey), changes, throttle.Writes},
		{adminAPI, "DeleteAccessKey", iam(a.DeleteAccessKey), changes, throttle.Writes},
		{adminAPI, "ListAccessKeys", iam(a.ListAccessKeys), readsOnly, throttle.Describes},
		{adminAPI, "AssumeRole", iam(a.AssumeRole), changes, throttle.Writes},
	}
	if m := h.cfg.Notify; m != nil {
		// Webhook subscriptions (package events).
		ops = append(ops,
			operation{adminAPI, "PutNotification", op(m.Put), changes, throttle.Writes},
			operation{adminAPI, "ListNotifications", op(func(ctx context.Context, c service.Caller, _ *struct{}) (*events.ListOutput, error) {
				return m.List(ctx, c)
			}), readsOnly, throttle.Describes},
			operation{adminAPI, "DeleteNotification", op(m.Delete), changes, throttle.Writes},
			// A test POSTs to the receiver: not a read.
			operation{adminAPI, "TestNotification", op(m.Test), changes, throttle.Writes},
		)
	}
	if h.cfg.Cluster != nil {
		// Membership (cluster.go).
		ops = append(ops,
			operation{adminAPI, "ListNodes", op(h.listNodes), readsOnly, throttle.Describes},
			operation{adminAPI, "RemoveNode", op(h.removeNode), changes, throttle.Writes},
			operation{adminAPI, "TransferLeadership", op(h.transferLeadership), changes, throttle.Writes},
		)
	}
	if h.cfg.Incidents != nil {
		// Incidents (admin.go).
		ops = append(ops, operation{adminAPI, "ListIncidents", op(h.listIncidents), readsOnly, throttle.Describes})
	}
	if h.cfg.AuditPath != "" {
		// The audit trail, read back (admin.go).
		ops = append(ops, operation{adminAPI, "LookupAuditEvents", op(h.lookupAuditEvents), readsOnly, throttle.Describes})
	}
	if h.cfg.Faults != nil {
		// Fault injection, with --enable-fault-injection (admin.go).
		ops = append(ops,
			operation{adminAPI, "InjectFault", op(h.injectFault), changes, throttle.Writes},
			operation{adminAPI, "ClearFault", op(h.clearFault), changes, throttle.Writes},
		)
	}
	return ops
}

// opFunc runs an operation on its request body: it decodes the body, then
// has pre prepare the call (pre.ready: the intent record of a write), then
// runs the operation.
type opFunc func(ctx context.Context, c service.Caller, body []byte, pre prepare) (any, error)

// op adapts a typed operation: decode the body into its input, call it.
func op[In, Out any](fn func(context.Context, service.Caller, *In) (*Out, error)) opFunc {
	return func(ctx context.Context, c service.Caller, body []byte, pre prepare) (any, error) {
		var in In
		fast, err := decodeParsed(body, &in)
		if err != nil {
			return nil, err
		}
		if ctx, err = pre.ready(ctx, fast); err != nil {
			return nil, err
		}
		return fn(ctx, c, &in)
	}
}
