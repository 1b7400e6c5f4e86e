package service

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/paramstore/paramstore/internal/ssm"
)

// FuzzNormalizePolicies checks the parameter-policy parser (spec §11.2):
// it never panics, rejects with one of the policy error codes, and what it
// accepts is a compact JSON array of at most 10 objects that normalizes to
// itself and renders as that many inline policies.
func FuzzNormalizePolicies(f *testing.F) {
	for _, s := range []string{
		``, `[]`, `[{}]`, `{}`, `null`, `[null]`, `[1]`, `["x"]`, `[[]]`,
		`[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2018-12-02T21:34:33.000Z"}}]`,
		`[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2019-11-01T22:13:48.87+10:30"}}]`,
		`[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"yesterday"}}]`,
		`[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":5}}]`,
		`[{"Type":"Expiration","Version":"1.0","Attributes":{}}]`,
		`[{"Type":"Expiration","Version":"2.0","Attributes":{}}]`,
		`[{"Type":"Expiration","Version":"1.0"}]`,
		`[{"Type":"expiration","Version":"1.0","Attributes":{}}]`,
		`[{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"15","Unit":"Days"}}]`,
		`[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2030-01-01T00:00:00Z"}},{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":15,"Unit":"hours"}}]`,
		`[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"0","Unit":"Days"}}]`,
		`[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"-1","Unit":"Weeks"}}]`,
		`[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":1e3,"Unit":"Days"}}]`,
		`[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"20"}}]`,
		`[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2030-01-01T00:00:00Z"}},{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2031-01-01T00:00:00Z"}}]`,
		`[ { "Type" : "NoChangeNotification" , "Version":"1.0","Attributes":{"After":"2","Unit":"Hours","Note":"<&>"}} ]`,
		`[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"2","Unit":"Hours"},"Type":null}]`,
	} {
		f.Add(s)
	}
	codes := map[string]bool{
		ssm.CodeInvalidPolicyAttribute: true,
		ssm.CodeInvalidPolicyType:      true,
		ssm.CodePoliciesLimitExceeded:  true,
		ssm.CodeIncompatiblePolicy:     true,
	}
	f.Fuzz(func(t *testing.T, text string) {
		out, err := normalizePolicies(text)
		if err != nil {
			var e *ssm.Error
			if !errors.As(err, &e) || !codes[e.Code] || e.Message == "" {
				t.Fatalf("normalizePolicies(%q): got error %v, want a policy error with a message", text, err)
			}
			if out != "" {
				t.Fatalf("normalizePolicies(%q) returned %q with error %v", text, out, err)
			}
			return
		}
		if out == "" {
			if got := inlinePolicies(out, nil); len(got) != 0 {
				t.Fatalf("inlinePolicies(\"\") = %v, want []", got)
			}
			return
		}
		var items []map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatalf("normalizePolicies(%q) = %q, not a JSON array of objects: %v", text, out, err)
		}
		if len(items) == 0 || len(items) > maxPolicies {
			t.Fatalf("normalizePolicies(%q) = %q with %d policies", text, out, len(items))
		}
		for _, it := range items {
			if len(it) == 0 {
				t.Fatalf("normalizePolicies(%q) = %q keeps an empty policy", text, out)
			}
		}
		again, err := normalizePolicies(out)
		if err != nil || again != out {
			t.Fatalf("normalizePolicies not idempotent: %q -> %q -> %q, %v", text, out, again, err)
		}
		inline := inlinePolicies(out, nil)
		if len(inline) != len(items) {
			t.Fatalf("inlinePolicies(%q) has %d items, want %d", out, len(inline), len(items))
		}
		for _, p := range inline {
			switch p.PolicyType {
			case "Expiration", "ExpirationNotification", "NoChangeNotification":
			default:
				t.Fatalf("inlinePolicies(%q): policy type %q", out, p.PolicyType)
			}
			if !json.Valid([]byte(p.PolicyText)) {
				t.Fatalf("inlinePolicies(%q): PolicyText %q is not JSON", out, p.PolicyText)
			}
		}
	})
}
