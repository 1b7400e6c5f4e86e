package policy

import (
	"testing"
)

const (
	arnProdDB  = "arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/db"
	arnDevDB   = "arn:aws:ssm:us-east-1:123456789012:parameter/app/dev/db"
	arnOtherDB = "arn:aws:ssm:eu-west-1:210987654321:parameter/other/db"
)

func mustParse(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	const readProd = `{"Version":"2012-10-17","Statement":[{"Sid":"ReadProd","Effect":"Allow",
		"Action":["ssm:GetParameter","ssm:GetParameters"],"Resource":"arn:aws:ssm:*:*:parameter/app/prod/*"}]}`
	const allSSM = `{"Version":"2012-10-17","Statement":{"Sid":"All","Effect":"Allow","Action":"ssm:*","Resource":"*"}}`
	const denyProdWrite = `{"Version":"2012-10-17","Statement":[{"Sid":"NoProdWrite","Effect":"Deny",
		"Action":["ssm:Put*","ssm:Delete*"],"Resource":"arn:aws:ssm:*:*:parameter/app/prod/*"}]}`

	tests := []struct {
		name     string
		policies []string
		req      Request
		want     Effect
		wantSid  string
		wantPol  int
	}{
		{
			name:     "allow by exact action",
			policies: []string{readProd},
			req:      Request{Action: "ssm:GetParameter", Resource: arnProdDB},
			want:     Allow, wantSid: "ReadProd",
		},
		{
			name:     "action not listed is implicitly denied",
			policies: []string{readProd},
			req:      Request{Action: "ssm:PutParameter", Resource: arnProdDB},
			want:     ImplicitDeny, wantPol: -1,
		},
		{
			name:     "resource outside path is implicitly denied",
			policies: []string{readProd},
			req:      Request{Action: "ssm:GetParameter", Resource: arnDevDB},
			want:     ImplicitDeny, wantPol: -1,
		},
		{
			name:     "path wildcard spans slashes",
			policies: []string{readProd},
			req:      Request{Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/a/b/c"},
			want:     Allow, wantSid: "ReadProd",
		},
		{
			name:     "path wildcard needs the trailing slash",
			policies: []string{readProd},
			req:      Request{Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:123456789012:parameter/app/production"},
			want:     ImplicitDeny, wantPol: -1,
		},
		{
			name: "action wildcard suffix",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Get","Effect":"Allow",
				"Action":"ssm:GetParameter*","Resource":"*"}]}`},
			req:  Request{Action: "ssm:GetParametersByPath", Resource: arnDevDB},
			want: Allow, wantSid: "Get",
		},
		{
			name: "action wildcard does not match other prefix",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Get","Effect":"Allow",
				"Action":"ssm:GetParameter*","Resource":"*"}]}`},
			req:  Request{Action: "ssm:DescribeParameters", Resource: arnDevDB},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "action question mark matches one character",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Q","Effect":"Allow",
				"Action":"ssm:GetParameter?","Resource":"*"}]}`},
			req:  Request{Action: "ssm:GetParameters", Resource: arnDevDB},
			want: Allow, wantSid: "Q",
		},
		{
			name: "action question mark needs exactly one character",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Q","Effect":"Allow",
				"Action":"ssm:GetParameter?","Resource":"*"}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: arnDevDB},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "star action matches any service",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow",
				"Action":"*","Resource":"*"}]}`},
			req:  Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:123456789012:key/abc"},
			want: Allow, wantSid: "Admin",
		},
		{
			name:     "service wildcard does not match another service",
			policies: []string{allSSM},
			req:      Request{Action: "kms:Decrypt", Resource: "*"},
			want:     ImplicitDeny, wantPol: -1,
		},
		{
			name:     "actions are case-insensitive",
			policies: []string{readProd},
			req:      Request{Action: "SSM:getparameter", Resource: arnProdDB},
			want:     Allow, wantSid: "ReadProd",
		},
		{
			name: "action pattern in mixed case",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"M","Effect":"Allow",
				"Action":"SSM:getPARAMETER","Resource":"*"}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: arnProdDB},
			want: Allow, wantSid: "M",
		},
		{
			name:     "resources are case-sensitive",
			policies: []string{readProd},
			req:      Request{Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:123456789012:parameter/App/Prod/db"},
			want:     ImplicitDeny, wantPol: -1,
		},
		{
			name: "resource wildcard in region and account",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Dev","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:us-east-1:123456789012:parameter/app/dev/*"}]}`},
			req:  Request{Action: "ssm:PutParameter", Resource: arnDevDB},
			want: Allow, wantSid: "Dev",
		},
		{
			name: "resource in other region is denied",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Dev","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:us-east-1:123456789012:parameter/app/dev/*"}]}`},
			req:  Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-west-2:123456789012:parameter/app/dev/db"},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "resource question mark",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Q","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:*:parameter/app/dev/d?"}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: arnDevDB},
			want: Allow, wantSid: "Q",
		},
		{
			name: "star spans colons",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Mid","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:*:parameter/*"}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:1:parameter/a:b:c"},
			want: Allow, wantSid: "Mid",
		},
		{
			name:     "explicit deny beats allow in another policy",
			policies: []string{allSSM, denyProdWrite},
			req:      Request{Action: "ssm:PutParameter", Resource: arnProdDB},
			want:     ExplicitDeny, wantSid: "NoProdWrite", wantPol: 1,
		},
		{
			name:     "deny not matching leaves allow",
			policies: []string{allSSM, denyProdWrite},
			req:      Request{Action: "ssm:PutParameter", Resource: arnDevDB},
			want:     Allow, wantSid: "All",
		},
		{
			name: "explicit deny beats allow in the same policy",
			policies: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"A","Effect":"Allow","Action":"ssm:*","Resource":"*"},
				{"Sid":"D","Effect":"Deny","Action":"ssm:DeleteParameter","Resource":"*"}]}`},
			req:  Request{Action: "ssm:DeleteParameter", Resource: arnDevDB},
			want: ExplicitDeny, wantSid: "D",
		},
		{
			name:     "deny alone is still a deny",
			policies: []string{denyProdWrite},
			req:      Request{Action: "ssm:DeleteParameter", Resource: arnProdDB},
			want:     ExplicitDeny, wantSid: "NoProdWrite",
		},
		{
			name:     "no policies is implicit deny",
			policies: nil,
			req:      Request{Action: "ssm:GetParameter", Resource: arnProdDB},
			want:     ImplicitDeny, wantPol: -1,
		},
		{
			name:     "second policy allows",
			policies: []string{readProd, allSSM},
			req:      Request{Action: "ssm:PutParameter", Resource: arnDevDB},
			want:     Allow, wantSid: "All", wantPol: 1,
		},
		{
			name:     "first allowing policy is reported",
			policies: []string{readProd, allSSM},
			req:      Request{Action: "ssm:GetParameter", Resource: arnProdDB},
			want:     Allow, wantSid: "ReadProd",
		},
		{
			name: "NotAction allows everything else",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"NA","Effect":"Allow",
				"NotAction":["ssm:Delete*","ssm:Put*"],"Resource":"*"}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: arnProdDB},
			want: Allow, wantSid: "NA",
		},
		{
			name: "NotAction excludes listed actions",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"NA","Effect":"Allow",
				"NotAction":["ssm:Delete*","ssm:Put*"],"Resource":"*"}]}`},
			req:  Request{Action: "ssm:DeleteParameters", Resource: arnProdDB},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "Deny with NotAction denies all but listed",
			policies: []string{allSSM, `{"Version":"2012-10-17","Statement":[{"Sid":"OnlyRead","Effect":"Deny",
				"NotAction":"ssm:Get*","Resource":"*"}]}`},
			req:  Request{Action: "ssm:PutParameter", Resource: arnDevDB},
			want: ExplicitDeny, wantSid: "OnlyRead", wantPol: 1,
		},
		{
			name: "Deny with NotAction spares listed",
			policies: []string{allSSM, `{"Version":"2012-10-17","Statement":[{"Sid":"OnlyRead","Effect":"Deny",
				"NotAction":"ssm:Get*","Resource":"*"}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: arnDevDB},
			want: Allow, wantSid: "All",
		},
		{
			name: "NotResource allows outside the list",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"NR","Effect":"Allow",
				"Action":"ssm:*","NotResource":"arn:aws:ssm:*:*:parameter/app/prod/*"}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: arnDevDB},
			want: Allow, wantSid: "NR",
		},
		{
			name: "NotResource excludes the list",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"NR","Effect":"Allow",
				"Action":"ssm:*","NotResource":"arn:aws:ssm:*:*:parameter/app/prod/*"}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: arnProdDB},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "Deny with NotResource fences off everything else",
			policies: []string{allSSM, `{"Version":"2012-10-17","Statement":[{"Sid":"Fence","Effect":"Deny",
				"Action":"ssm:*","NotResource":["arn:aws:ssm:*:*:parameter/app/dev/*"]}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: arnOtherDB},
			want: ExplicitDeny, wantSid: "Fence", wantPol: 1,
		},
		{
			name: "NotAction and NotResource together",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Both","Effect":"Allow",
				"NotAction":"ssm:Delete*","NotResource":"arn:aws:ssm:*:*:parameter/app/prod/*"}]}`},
			req:  Request{Action: "ssm:PutParameter", Resource: arnDevDB},
			want: Allow, wantSid: "Both",
		},
		{
			name: "tag condition StringEquals matches",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Tag","Effect":"Allow","Action":"ssm:GetParameter",
				"Resource":"*","Condition":{"StringEquals":{"ssm:ResourceTag/env":"dev"}}}]}`},
			req: Request{Action: "ssm:GetParameter", Resource: arnDevDB,
				Context: map[string][]string{"ssm:ResourceTag/env": {"dev"}}},
			want: Allow, wantSid: "Tag",
		},
		{
			name: "tag condition StringEquals differs",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Tag","Effect":"Allow","Action":"ssm:GetParameter",
				"Resource":"*","Condition":{"StringEquals":{"ssm:ResourceTag/env":"dev"}}}]}`},
			req: Request{Action: "ssm:GetParameter", Resource: arnProdDB,
				Context: map[string][]string{"ssm:ResourceTag/env": {"prod"}}},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "tag condition with untagged parameter",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Tag","Effect":"Allow","Action":"ssm:GetParameter",
				"Resource":"*","Condition":{"StringEquals":{"ssm:ResourceTag/env":"dev"}}}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: arnProdDB},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "tag condition key is case-insensitive",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Tag","Effect":"Allow","Action":"ssm:GetParameter",
				"Resource":"*","Condition":{"StringLike":{"SSM:RESOURCETAG/Env":"dev-*"}}}]}`},
			req: Request{Action: "ssm:GetParameter", Resource: arnDevDB,
				Context: map[string][]string{"ssm:resourceTag/env": {"dev-eu"}}},
			want: Allow, wantSid: "Tag",
		},
		{
			name: "deny by tag overrides allow",
			policies: []string{allSSM, `{"Version":"2012-10-17","Statement":[{"Sid":"Locked","Effect":"Deny","Action":"ssm:Put*",
				"Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/locked":"true"}}}]}`},
			req: Request{Action: "ssm:PutParameter", Resource: arnDevDB,
				Context: map[string][]string{"aws:ResourceTag/locked": {"true"}}},
			want: ExplicitDeny, wantSid: "Locked", wantPol: 1,
		},
		{
			name: "source IP inside CIDR",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Net","Effect":"Allow","Action":"ssm:*",
				"Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}]}`},
			req: Request{Action: "ssm:GetParameter", Resource: arnDevDB,
				Context: map[string][]string{"aws:SourceIp": {"10.1.2.3"}}},
			want: Allow, wantSid: "Net",
		},
		{
			name: "deny from outside the network",
			policies: []string{allSSM, `{"Version":"2012-10-17","Statement":[{"Sid":"Out","Effect":"Deny","Action":"*",
				"Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}]}`},
			req: Request{Action: "ssm:GetParameter", Resource: arnDevDB,
				Context: map[string][]string{"aws:SourceIp": {"192.0.2.1"}}},
			want: ExplicitDeny, wantSid: "Out", wantPol: 1,
		},
		{
			name: "secure transport required",
			policies: []string{allSSM, `{"Version":"2012-10-17","Statement":[{"Sid":"TLS","Effect":"Deny","Action":"*",
				"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`},
			req: Request{Action: "ssm:GetParameter", Resource: arnDevDB,
				Context: map[string][]string{"aws:SecureTransport": {"false"}}},
			want: ExplicitDeny, wantSid: "TLS", wantPol: 1,
		},
		{
			name: "secure transport present",
			policies: []string{allSSM, `{"Version":"2012-10-17","Statement":[{"Sid":"TLS","Effect":"Deny","Action":"*",
				"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`},
			req: Request{Action: "ssm:GetParameter", Resource: arnDevDB,
				Context: map[string][]string{"aws:SecureTransport": {"true"}}},
			want: Allow, wantSid: "All",
		},
		{
			name: "policy variable in resource",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Home","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:${aws:PrincipalAccount}:parameter/home/${aws:username}/*"}]}`},
			req: Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-1:123456789012:parameter/home/alice/x",
				Context: map[string][]string{"aws:username": {"alice"}, "aws:PrincipalAccount": {"123456789012"}}},
			want: Allow, wantSid: "Home",
		},
		{
			name: "policy variable for another user",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Home","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username}/*"}]}`},
			req: Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-1:123456789012:parameter/home/bob/x",
				Context: map[string][]string{"aws:username": {"alice"}}},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "substituted value is literal, not a wildcard",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Home","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username}/x"}]}`},
			req: Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-1:123456789012:parameter/home/bob/x",
				Context: map[string][]string{"aws:username": {"*"}}},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "unresolved variable matches nothing",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Home","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username}/*"}]}`},
			req:  Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-1:123456789012:parameter/home//x"},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "variable default value",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Home","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username, 'it''s'}/*"}]}`},
			req:  Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-1:123456789012:parameter/home/it's/x"},
			want: Allow, wantSid: "Home",
		},
		{
			name: "variables are literal text in Version 2008-10-17",
			policies: []string{`{"Version":"2008-10-17","Statement":[{"Sid":"Old","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username}"}]}`},
			req: Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-1:1:parameter/home/${aws:username}",
				Context: map[string][]string{"aws:username": {"alice"}}},
			want: Allow, wantSid: "Old",
		},
		{
			name: "missing Version means 2008-10-17",
			policies: []string{`{"Statement":[{"Sid":"Old","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username}"}]}`},
			req: Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-1:1:parameter/home/alice",
				Context: map[string][]string{"aws:username": {"alice"}}},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "escaped star is literal",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Esc","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:*:parameter/odd/${*}${?}${$}"}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:1:parameter/odd/*?$"},
			want: Allow, wantSid: "Esc",
		},
		{
			name: "escaped star does not act as wildcard",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Sid":"Esc","Effect":"Allow","Action":"ssm:*",
				"Resource":"arn:aws:ssm:*:*:parameter/odd/${*}"}]}`},
			req:  Request{Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:1:parameter/odd/abc"},
			want: ImplicitDeny, wantPol: -1,
		},
		{
			name: "condition on a deny that does not hold",
			policies: []string{allSSM, `{"Version":"2012-10-17","Statement":[{"Sid":"Late","Effect":"Deny","Action":"*","Resource":"*",
				"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`},
			req: Request{Action: "ssm:GetParameter", Resource: arnDevDB,
				Context: map[string][]string{"aws:CurrentTime": {"2025-06-01T12:00:00Z"}}},
			want: Allow, wantSid: "All",
		},
		{
			name:     "nil policy is skipped",
			policies: []string{"", allSSM},
			req:      Request{Action: "ssm:GetParameter", Resource: arnDevDB},
			want:     Allow, wantSid: "All", wantPol: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []*Policy
			for _, doc := range tt.policies {
				if doc == "" {
					ps = append(ps, nil)
					continue
				}
				ps = append(ps, mustParse(t, doc))
			}
			got := Evaluate(ps, tt.req)
			if got.Effect != tt.want || got.Sid != tt.wantSid || got.PolicyIndex != tt.wantPol {
				t.Errorf("Evaluate = %v sid %q policy %d, want %v sid %q policy %d",
					got.Effect, got.Sid, got.PolicyIndex, tt.want, tt.wantSid, tt.wantPol)
			}
			if got.Allowed() != (tt.want == Allow) {
				t.Errorf("Allowed() = %v, want %v", got.Allowed(), tt.want == Allow)
			}
			if tt.want == ImplicitDeny && got.StatementIndex != -1 {
				t.Errorf("StatementIndex = %d, want -1", got.StatementIndex)
			}
		})
	}
}

func TestEvaluateStatementIndex(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"},
		{"Effect":"Deny","Action":"ssm:DeleteParameter","Resource":"*"}]}`)
	tests := []struct {
		action string
		want   Effect
		index  int
	}{
		{"ssm:GetParameter", Allow, 0},
		{"ssm:DeleteParameter", ExplicitDeny, 1},
		{"ssm:PutParameter", ImplicitDeny, -1},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			got := Evaluate([]*Policy{p}, Request{Action: tt.action, Resource: arnDevDB})
			if got.Effect != tt.want || got.StatementIndex != tt.index || got.Sid != "" {
				t.Errorf("got %v at statement %d sid %q, want %v at %d sid \"\"", got.Effect, got.StatementIndex, got.Sid, tt.want, tt.index)
			}
		})
	}
}

func TestEffectString(t *testing.T) {
	tests := []struct {
		e    Effect
		want string
	}{
		{ImplicitDeny, "ImplicitDeny"},
		{Allow, "Allow"},
		{ExplicitDeny, "ExplicitDeny"},
		{Effect(7), "Effect(?)"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("Effect(%d).String() = %q, want %q", int(tt.e), got, tt.want)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	policies := []*Policy{
		mustParse(b, `{"Version":"2012-10-17","Statement":[
			{"Sid":"Read","Effect":"Allow","Action":["ssm:GetParameter","ssm:GetParameters","ssm:GetParametersByPath"],
			 "Resource":["arn:aws:ssm:*:*:parameter/app/prod/*","arn:aws:ssm:*:*:parameter/app/shared/*"]},
			{"Sid":"Home","Effect":"Allow","Action":"ssm:*","Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username}/*"},
			{"Sid":"Tagged","Effect":"Allow","Action":"ssm:Put*","Resource":"*",
			 "Condition":{"StringEquals":{"ssm:ResourceTag/env":"dev"},"Bool":{"aws:SecureTransport":"true"}}}]}`),
		mustParse(b, `{"Version":"2012-10-17","Statement":[
			{"Sid":"Net","Effect":"Deny","Action":"*","Resource":"*",
			 "Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16","2001:db8::/32"]}}},
			{"Sid":"NoDelete","Effect":"Deny","Action":"ssm:Delete*","Resource":"arn:aws:ssm:*:*:parameter/app/prod/*"}]}`),
	}
	req := Request{
		Action:   "ssm:GetParameter",
		Resource: "arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/db/password",
		Context: map[string][]string{
			"aws:SourceIp":          {"10.20.30.40"},
			"aws:SecureTransport":   {"true"},
			"aws:username":          {"alice"},
			"ssm:ResourceTag/env":   {"prod"},
			"aws:PrincipalAccount":  {"123456789012"},
			"aws:RequestedRegion":   {"us-east-1"},
			"aws:CurrentTime":       {"2025-06-01T12:00:00Z"},
			"aws:PrincipalArn":      {"arn:aws:iam::123456789012:user/alice"},
			"aws:SecureTransportXX": {"x"},
		},
	}
	if d := Evaluate(policies, req); d.Effect != Allow || d.Sid != "Read" {
		b.Fatalf("got %v %q, want Allow Read", d.Effect, d.Sid)
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(policies, req)
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Sid":"Home","Effect":"Allow","Action":"SSM:Get*","Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username}/*",
		 "Condition":{"StringLike":{"ssm:ResourceTag/env":"dev*"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
		{"Sid":"Deny","Effect":"Deny","NotAction":"ssm:Get*","Resource":"*"}]}`)
	req := Request{
		Action:   "ssm:GetParameter",
		Resource: "arn:aws:ssm:us-east-1:1:parameter/home/alice/db",
		Context:  ctx("aws:username", "alice", "ssm:ResourceTag/env", "dev-1", "aws:SourceIp", "10.0.0.1"),
	}
	if d := Evaluate([]*Policy{p}, req); d.Effect != Allow {
		t.Fatalf("got %v, want Allow", d.Effect)
	}
	policies := []*Policy{p}
	if n := testing.AllocsPerRun(100, func() { Evaluate(policies, req) }); n != 0 {
		t.Errorf("Evaluate allocates %v times per run, want 0", n)
	}
}

func TestUsesContext(t *testing.T) {
	for _, tt := range []struct {
		name, doc string
		want      bool
	}{
		{"actions and resources", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:Get*"],"Resource":"arn:aws:ssm:*:*:parameter/app/*"},
			{"Effect":"Deny","NotAction":"ssm:Get*","NotResource":"*"}]}`, false},
		{"condition", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:Get*","Resource":"*"},
			{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, true},
		{"variable in a resource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username}/*"}}`, true},
		{"2008 text is literal", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"arn:aws:ssm:*:*:parameter/${aws:username}"}}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.doc)
			if got := p.UsesContext(); got != tt.want {
				t.Errorf("UsesContext() = %v, want %v", got, tt.want)
			}
		})
	}
}
