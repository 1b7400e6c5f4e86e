package ssm

import (
	"strings"
	"testing"
)

var fuzzTenancy = Tenancy{Account: "123456789012", Region: "us-east-1"}

var nameSeeds = []string{
	"", "/", "//", "x", "/x", "/a/b", "a/b", "/a//b", "/a/b/", "/a b", " /a/b ",
	"aws", "awsTest", "/aws/x", "/AwS/x", "/ssm/x", "/ssmfoo", "SSM-x", "/Aws",
	"/l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/l13/l14/l15",
	"/l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/l13/l14/l15/l16",
	"/" + strings.Repeat("n", 1000), "name:1", "name:label", "/a/b:1:2",
	"arn:aws:ssm:us-east-1:123456789012:parameter/a/b",
	"arn:aws:ssm:us-east-1:123456789012:parameter/x:3",
	"arn:aws:ssm:eu-west-1:123456789012:parameter/x",
	"arn:aws:ssm:us-east-1:123456789012:parameter/",
	"arn:aws:ssm:us-east-1:123456789012:parameter//x",
	"arn:aws:ssm:::parameter/a:b/c", "arn:", ":", "x:", ":1",
	"x:99999999999999999999", "/a/\xff", "/é", "a.b-c_d",
}

// FuzzNames checks the invariants of name validation and identity (spec
// §6.1, §6.2).
func FuzzNames(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c := Canonical(name)
		if Canonical(c) != c {
			t.Fatalf("Canonical not idempotent: %q -> %q -> %q", name, c, Canonical(c))
		}
		if c != name && "/"+c != name {
			t.Fatalf("Canonical(%q) = %q changed more than one leading slash", name, c)
		}

		readErr := CheckReadName(name)
		if readErr != nil && readErr.Code != CodeValidation {
			t.Fatalf("CheckReadName(%q) = %v, want a ValidationException", name, readErr)
		}
		// Both spellings of a root name are the same parameter: if one reads,
		// so does its canonical form.
		if readErr == nil && CheckReadName(c) != nil {
			t.Fatalf("CheckReadName accepts %q but not its canonical form %q", name, c)
		}
		if readErr == nil && (strings.ContainsAny(name, ": \t\n") || strings.Contains(name, "//") || strings.HasSuffix(name, "/")) {
			t.Fatalf("CheckReadName accepts %q", name)
		}

		putErr := CheckPutName(fuzzTenancy, name)
		if putErr == nil {
			if readErr != nil {
				t.Fatalf("CheckPutName accepts %q but CheckReadName rejects it: %v", name, readErr)
			}
			if CheckPutName(fuzzTenancy, c) != nil {
				t.Fatalf("CheckPutName accepts %q but not its canonical form %q", name, c)
			}
			stripped := strings.TrimPrefix(name, "/")
			if hasPrefixFold(stripped, "aws") || hasPrefixFold(stripped, "ssm") {
				t.Fatalf("CheckPutName accepts reserved name %q", name)
			}
			if depth := strings.Count("/"+stripped, "/"); depth > MaxDepth {
				t.Fatalf("CheckPutName accepts %q of depth %d", name, depth)
			}
			arn := fuzzTenancy.ARN(name)
			if len(arn) > MaxARNLength {
				t.Fatalf("CheckPutName accepts %q whose ARN has %d characters", name, len(arn))
			}
			if strings.Contains(arn, "parameter//") {
				t.Fatalf("ARN(%q) = %q has a double slash", name, arn)
			}
			// The ARN of an accepted name reads back as the same parameter.
			ref := ParseReference(fuzzTenancy, arn, true)
			if ref.Foreign || ref.Bad || ref.HasSel || Canonical(ref.Name) != c {
				t.Fatalf("ParseReference(ARN(%q)) = %+v, want canonical name %q", name, ref, c)
			}
		} else {
			switch putErr.Code {
			case CodeValidation, CodeAccessDenied, CodeHierarchyLevelLimit:
			default:
				t.Fatalf("CheckPutName(%q) = %v: unexpected code", name, putErr)
			}
			if putErr.Message == "" {
				t.Fatalf("CheckPutName(%q) has no message", name)
			}
		}

		// The parsed forms agree with the checks on the trimmed name.
		trimmed := strings.TrimSpace(name)
		for _, tc := range []struct {
			op    string
			parse func() (Name, *Error)
			check *Error
		}{
			{"ParseName", func() (Name, *Error) { return ParseName(name) }, CheckReadName(trimmed)},
			{"ParsePutName", func() (Name, *Error) { return ParsePutName(fuzzTenancy, name) }, CheckPutName(fuzzTenancy, trimmed)},
		} {
			n, err := tc.parse()
			if (err == nil) != (tc.check == nil) || err != nil && (*err != *tc.check || n != Name{}) {
				t.Fatalf("%s(%q) = %+v, %v; the check of %q says %v", tc.op, name, n, err, trimmed, tc.check)
			}
			if err == nil && (n.String() != trimmed || n.Key() != Canonical(trimmed) || n.ARN(fuzzTenancy) != fuzzTenancy.ARN(n.Key())) {
				t.Fatalf("%s(%q) = %q key %q ARN %q, want %q key %q", tc.op, name, n, n.Key(), n.ARN(fuzzTenancy), trimmed, Canonical(trimmed))
			}
		}

		p, perr := CheckPath(name)
		if perr == nil {
			if p != "/" && (!strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || CheckReadName(p) != nil) {
				t.Fatalf("CheckPath(%q) = %q, not a valid path", name, p)
			}
			if q, err := CheckPath(p); err != nil || q != p {
				t.Fatalf("CheckPath not idempotent: %q -> %q -> %q, %v", name, p, q, err)
			}
			if pp := PathPrefix(p); !strings.HasSuffix(pp, "/") {
				t.Fatalf("PathPrefix(%q) = %q does not end with /", p, pp)
			}
		} else if perr.Code != CodeValidation || p != "" {
			t.Fatalf("CheckPath(%q) = %q, %v", name, p, perr)
		}
	})
}

// FuzzParseReference checks the parsing of names, ARNs and selectors of
// reads (spec §6.3, §6.4).
func FuzzParseReference(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, allowSelector bool) {
		ref := ParseReference(fuzzTenancy, raw, allowSelector)
		if !allowSelector {
			if ref.HasSel || ref.Selector != "" || ref.Version != 0 || ref.Label != "" || ref.Bad {
				t.Fatalf("ParseReference(%q, false) = %+v: a selector without selectors allowed", raw, ref)
			}
			return
		}
		if strings.Contains(ref.Name, ":") {
			t.Fatalf("ParseReference(%q) = %+v: Name contains ':'", raw, ref)
		}
		if !ref.HasSel {
			if ref.Selector != "" || ref.Version != 0 || ref.Label != "" || ref.Bad {
				t.Fatalf("ParseReference(%q) = %+v: selector fields without a selector", raw, ref)
			}
			return
		}
		if ref.Bad {
			return
		}
		if ref.Selector == "" || strings.Contains(ref.Selector, ":") {
			t.Fatalf("ParseReference(%q) = %+v: bad selector not flagged", raw, ref)
		}
		if ref.Label != "" {
			if ref.Label != ref.Selector || isDigits(ref.Label) || ref.Version != 0 {
				t.Fatalf("ParseReference(%q) = %+v: inconsistent label", raw, ref)
			}
		} else if !isDigits(ref.Selector) || ref.Version < 0 {
			t.Fatalf("ParseReference(%q) = %+v: inconsistent version", raw, ref)
		}
	})
}
