package service

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paramstore/paramstore/internal/ssm"
)

// Parameter policies (spec §11): validated and stored; enforcement of
// expiration and notifications is not implemented yet.

const maxPolicies = 10

func policyAttrErr(msg string) error { return ssm.NewError(ssm.CodeInvalidPolicyAttribute, msg) }

// normalizePolicies validates the Policies text and returns it as a compact
// JSON array of the non-empty policy objects ("" when none: "[]" and "[{}]"
// remove all policies).
func normalizePolicies(text string) (string, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(text), &raws); err != nil {
		return "", policyAttrErr("Invalid policies input")
	}
	var kept []json.RawMessage
	for _, raw := range raws {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			return "", policyAttrErr("Invalid policies input")
		}
		if len(obj) == 0 {
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return "", policyAttrErr("Invalid policies input")
		}
		kept = append(kept, buf.Bytes())
	}
	if len(kept) > maxPolicies {
		return "", ssm.NewError(ssm.CodePoliciesLimitExceeded, "Number of policies attached to a parameter cannot exceed 10")
	}
	expirations, notifications := 0, 0
	for _, raw := range kept {
		typ, err := checkPolicy(raw)
		if err != nil {
			return "", err
		}
		switch typ {
		case "Expiration":
			expirations++
		case "ExpirationNotification":
			notifications++
		}
	}
	if expirations > 1 {
		return "", ssm.NewError(ssm.CodeIncompatiblePolicy, "There can be only one expiration policy")
	}
	if notifications > 0 && expirations == 0 {
		return "", ssm.NewError(ssm.CodeIncompatiblePolicy, "Expiration notification policies are missing expiration policy")
	}
	if len(kept) == 0 {
		return "", nil
	}
	out, _ := json.Marshal(kept)
	return string(out), nil
}

type policyDoc struct {
	Type       *string                    `json:"Type"`
	Version    *string                    `json:"Version"`
	Attributes map[string]json.RawMessage `json:"Attributes"`
}

// checkPolicy validates one policy object and returns its type.
func checkPolicy(raw json.RawMessage) (string, error) {
	var p policyDoc
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", policyAttrErr("Invalid policies input")
	}
	typ := deref(p.Type)
	switch typ {
	case "Expiration", "ExpirationNotification", "NoChangeNotification":
	default:
		return "", ssm.NewError(ssm.CodeInvalidPolicyType, "Policy type "+typ+" is not supported.")
	}
	if deref(p.Version) != "1.0" {
		return "", policyAttrErr("Unsupported policy version.")
	}
	if p.Attributes == nil {
		return "", policyAttrErr("Mandatory policy attribute Attributes is missing.")
	}
	switch typ {
	case "Expiration":
		ts, ok := p.Attributes["Timestamp"]
		if !ok {
			return "", policyAttrErr("A valid Expiration policy must have an attribute of Timestamp.")
		}
		if _, err := policyTime(ts); err != nil {
			return "", policyAttrErr("Invalid timestamp format")
		}
	case "ExpirationNotification":
		if err := checkCountUnit(p.Attributes, "Before"); err != nil {
			return "", err
		}
	case "NoChangeNotification":
		if err := checkCountUnit(p.Attributes, "After"); err != nil {
			return "", err
		}
	}
	return typ, nil
}

func policyTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, s)
}

func checkCountUnit(attrs map[string]json.RawMessage, countKey string) error {
	count, ok := attrs[countKey]
	if !ok {
		return policyAttrErr("Mandatory policy attribute " + countKey + " is missing.")
	}
	unit, ok := attrs["Unit"]
	if !ok {
		return policyAttrErr("Mandatory policy attribute Unit is missing.")
	}
	var text string
	if err := json.Unmarshal(count, &text); err != nil {
		text = string(count) // a JSON number
	}
	if n, err := strconv.ParseInt(text, 10, 64); err != nil || n <= 0 {
		return policyAttrErr("Attribute " + countKey + " must be a positive integer.")
	}
	var u string
	if err := json.Unmarshal(unit, &u); err != nil || !(strings.EqualFold(u, "Days") || strings.EqualFold(u, "Hours")) {
		return policyAttrErr("Supported time units: DAYS HOURS")
	}
	return nil
}

// inlinePolicies renders stored policies for DescribeParameters and
// GetParameterHistory: always a list, [] when none.
func inlinePolicies(stored string, fired []string) []ssm.ParameterInlinePolicy {
	out := []ssm.ParameterInlinePolicy{}
	if stored == "" {
		return out
	}
	var raws []json.RawMessage
	if json.Unmarshal([]byte(stored), &raws) != nil {
		return out
	}
	for _, raw := range raws {
		var p policyDoc
		_ = json.Unmarshal(raw, &p)
		status := "Pending"
		if slices.Contains(fired, deref(p.Type)) {
			status = "Finished"
		}
		out = append(out, ssm.ParameterInlinePolicy{
			PolicyText:   string(raw),
			PolicyType:   deref(p.Type),
			PolicyStatus: status,
		})
	}
	return out
}
