package policy

import (
	"errors"
	"reflect"
	"testing"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}}`,
		`{"Statement":[{"Sid":"A","Effect":"Deny","NotAction":["ssm:Put*","ssm:Delete?"],"NotResource":"arn:aws:ssm:*:*:parameter/a/*"}]}`,
		`{"Version":"2012-10-17","Id":"x","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:ssm:*:${aws:PrincipalAccount}:parameter/home/${aws:username, 'it''s'}/${*}${?}${$}",
			"Condition":{"StringEquals":{"ssm:ResourceTag/env":["dev",1,true]},"ForAllValues:StringLikeIfExists":{"aws:TagKeys":"a*"},
			"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32","::ffff:1.2.3.4"]},"Bool":{"aws:SecureTransport":false},
			"DateLessThan":{"aws:CurrentTime":["2030-01-01T00:00:00Z",1700000000]},"NumericGreaterThanEquals":{"ssm:n":"-1.5e3"},
			"ArnLike":{"aws:PrincipalArn":["arn:aws:iam::*:role/x","${aws:SourceArn}"]},"Null":{"kms:RequestAlias":"true"},
			"StringNotEqualsIgnoreCase":{"aws:username":"${aws:userid}"}}}]}`,
		`{"Statement":[]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:A","Resource":"*","Principal":"*"}}`,
		`[[[[[[[[[[]]]]]]]]]]`,
		`{"Statement":{"Effect":"Allow","Action":"ssm:A","Resource":"*","Condition":{"NullIfExists":{"a:b":"true"}}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	reqs := []Request{
		{Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:1:parameter/home/alice/x"},
		{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-1:1:parameter/a/b", Context: map[string][]string{
			"aws:username": {"alice"}, "aws:SourceIp": {"10.1.1.1"}, "aws:CurrentTime": {"2025-01-01T00:00:00Z"},
			"aws:TagKeys": {"a", "b"}, "ssm:n": {"7"}, "aws:PrincipalArn": {"arn:aws:iam::1:role/x"}, "aws:SecureTransport": {"false"},
			"ssm:ResourceTag/env": {"dev"}, "aws:SourceArn": {"arn:aws:iam::1:role/x"},
		}},
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error %T %v is not a *ParseError", err, err)
			}
			return
		}
		q, err := Parse([]byte(p.String()))
		if err != nil {
			t.Fatalf("re-parsing String() %s: %v", p.String(), err)
		}
		if q.String() != p.String() {
			t.Fatalf("String() not stable:\n%s\n%s", p.String(), q.String())
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("re-parsed policy differs from the original for %s", p.String())
		}
		for _, r := range reqs {
			a := Evaluate([]*Policy{p}, r)
			if b := Evaluate([]*Policy{q}, r); a != b {
				t.Fatalf("Evaluate(%v) = %+v for the original, %+v after re-parse", r, a, b)
			}
			// The fast path of callers (auth): a policy that does not use
			// the context is decided the same without it.
			if !p.UsesContext() {
				if b := Evaluate([]*Policy{p}, Request{Action: r.Action, Resource: r.Resource}); a != b {
					t.Fatalf("UsesContext() = false for %s, but Evaluate(%v) = %+v with the context, %+v without", p.String(), r, a, b)
				}
			}
		}
	})
}
