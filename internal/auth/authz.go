package auth

import (
	"errors"
	"maps"
	"strconv"
	"time"

	"github.com/paramstore/paramstore/internal/policy"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

type compiledPolicy = *policy.Policy

func parsePolicy(doc string) (*policy.Policy, error) {
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		var pe *policy.ParseError
		if errors.As(err, &pe) {
			return nil, ssm.NewError(CodeMalformedPolicy, pe.Error())
		}
		return nil, ssm.NewError(CodeMalformedPolicy, "The policy document is not valid.")
	}
	return p, nil
}

func compilePolicies(docs map[string]string) ([]compiledPolicy, error) {
	out := make([]compiledPolicy, 0, len(docs))
	for _, name := range sortedKeys(docs) {
		p, err := policy.Parse([]byte(docs[name]))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// usesContext reports whether evaluating pols can read the request's
// condition keys.
func usesContext(pols []compiledPolicy) bool {
	for _, p := range pols {
		if p.UsesContext() {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// Request is one authenticated API call: the identity and the request
// facts that policy conditions may test. It implements the service's
// authorizer.
type Request struct {
	ID       *Identity
	SourceIP string
	Secure   bool
	Region   string
	Now      time.Time
	base     map[string][]string
}

// Authorize decides whether the caller may perform action on resource,
// whose tags (nil when it has none or does not exist) feed the
// ssm:ResourceTag/* and aws:ResourceTag/* condition keys. A refusal is an
// AccessDeniedException worded as AWS words it.
func (r *Request) Authorize(action, resource string, tags map[string]string) error {
	if r.ID == nil || r.ID.Root() {
		return nil
	}
	d := r.decide(action, resource, tags)
	if d.Allowed() {
		return nil
	}
	msg := "User: " + r.ID.ARN + " is not authorized to perform: " + action + " on resource: " + resource
	if d.Effect == policy.ExplicitDeny {
		msg += " with an explicit deny in an identity-based policy"
	} else {
		msg += " because no identity-based policy allows the " + action + " action"
	}
	return ssm.NewError(ssm.CodeAccessDenied, msg)
}

// decide evaluates the identity's policies. The condition keys are built
// only when a policy can read them (Identity.context): a principal whose
// policies name actions and resources alone is decided without them, with
// no allocation.
func (r *Request) decide(action, resource string, tags map[string]string) policy.Decision {
	if !r.ID.context {
		return policy.Evaluate(r.ID.policies, policy.Request{Action: action, Resource: resource})
	}
	if r.base == nil {
		r.base = map[string][]string{
			"aws:SourceIp":         {r.SourceIP},
			"aws:SecureTransport":  {strconv.FormatBool(r.Secure)},
			"aws:PrincipalArn":     {r.ID.ARN},
			"aws:PrincipalAccount": {r.ID.Account},
			"aws:PrincipalType":    {principalType(r.ID.Kind)},
			"aws:userid":           {r.ID.AccessKeyID},
			"aws:RequestedRegion":  {r.Region},
			"aws:CurrentTime":      {r.Now.UTC().Format(time.RFC3339)},
			"aws:EpochTime":        {strconv.FormatInt(r.Now.Unix(), 10)},
		}
		if r.ID.Kind == store.KindUser {
			r.base["aws:username"] = []string{r.ID.Name}
		}
	}
	ctx := r.base
	if len(tags) > 0 {
		ctx = maps.Clone(r.base)
		for k, v := range tags {
			ctx["ssm:ResourceTag/"+k] = []string{v}
			ctx["aws:ResourceTag/"+k] = []string{v}
		}
	}
	return policy.Evaluate(r.ID.policies, policy.Request{Action: action, Resource: resource, Context: ctx})
}

func principalType(kind string) string {
	switch kind {
	case store.KindRoot:
		return "Account"
	case store.KindRole:
		return "AssumedRole"
	}
	return "User"
}
