package policy

// Effect is the outcome of an evaluation. The zero value is ImplicitDeny.
type Effect int

const (
	// ImplicitDeny means no statement allowed or denied the request.
	ImplicitDeny Effect = iota
	// Allow means a statement allowed the request and none denied it.
	Allow
	// ExplicitDeny means a Deny statement matched the request.
	ExplicitDeny
)

func (e Effect) String() string {
	switch e {
	case ImplicitDeny:
		return "ImplicitDeny"
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "Effect(?)"
}

// Request is what a caller asks to do.
type Request struct {
	// Action is "service:Name", e.g. "ssm:GetParameter". It is matched
	// case-insensitively (ASCII letters only, as action names are ASCII).
	Action string
	// Resource is the ARN acted on, e.g.
	// "arn:aws:ssm:us-east-1:123456789012:parameter/app/db". It is matched
	// case-sensitively.
	Resource string
	// Context holds the condition keys of the request and their values,
	// e.g. "aws:SourceIp" or "ssm:ResourceTag/env". Key names are matched
	// case-insensitively; values per the operator. Keys that differ only
	// in case must not both be present. A key with no values is absent.
	Context map[string][]string
}

// Decision is the result of Evaluate.
type Decision struct {
	Effect Effect
	// Sid is the Sid of the deciding statement ("" for ImplicitDeny or a
	// statement without one).
	Sid string
	// PolicyIndex and StatementIndex locate the deciding statement: the
	// 0-based index into the policies passed to Evaluate and into that
	// policy's statements. Both are -1 for ImplicitDeny.
	PolicyIndex    int
	StatementIndex int
}

// Allowed reports whether the decision is Allow.
func (d Decision) Allowed() bool { return d.Effect == Allow }

// Evaluate decides req against policies, as AWS does for identity-based
// policies: a matching Deny statement in any policy wins; otherwise the
// first matching Allow statement allows; otherwise the request is
// implicitly denied. Nil policies are skipped.
func Evaluate(policies []*Policy, req Request) Decision {
	allow := Decision{Effect: ImplicitDeny, PolicyIndex: -1, StatementIndex: -1}
	for pi, p := range policies {
		if p == nil {
			continue
		}
		for si := range p.statements {
			st := &p.statements[si]
			if !st.deny && allow.Effect == Allow {
				continue // only a Deny can change the outcome now
			}
			if !st.matches(req.Action, req.Resource, req.Context) {
				continue
			}
			d := Decision{Effect: Allow, Sid: st.sid, PolicyIndex: pi, StatementIndex: si}
			if st.deny {
				d.Effect = ExplicitDeny
				return d
			}
			allow = d
		}
	}
	return allow
}

// matches reports whether the statement applies to the request.
func (st *statement) matches(action, resource string, ctx map[string][]string) bool {
	if anyMatch(st.actions, action, nil) == st.notAction {
		return false
	}
	if anyMatch(st.resources, resource, ctx) == st.notResource {
		return false
	}
	for i := range st.conditions {
		if !st.conditions[i].eval(ctx) {
			return false
		}
	}
	return true
}

func anyMatch(pats []pattern, s string, ctx map[string][]string) bool {
	for i := range pats {
		if pats[i].match(s, ctx) {
			return true
		}
	}
	return false
}
