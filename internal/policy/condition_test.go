package policy

import (
	"testing"
)

// ctx builds a request context from key, value pairs; a key may repeat to
// give several values.
func ctx(kv ...string) map[string][]string {
	m := make(map[string][]string)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return m
}

func TestConditions(t *testing.T) {
	tests := []struct {
		name string
		cond string // the Condition object
		ctx  map[string][]string
		want bool
	}{
		// String operators.
		{"StringEquals match", `{"StringEquals":{"ssm:ResourceTag/env":"dev"}}`, ctx("ssm:ResourceTag/env", "dev"), true},
		{"StringEquals is case-sensitive", `{"StringEquals":{"ssm:ResourceTag/env":"dev"}}`, ctx("ssm:ResourceTag/env", "Dev"), false},
		{"StringEquals missing key", `{"StringEquals":{"ssm:ResourceTag/env":"dev"}}`, nil, false},
		{"StringEquals empty values is missing", `{"StringEquals":{"ssm:ResourceTag/env":"dev"}}`, map[string][]string{"ssm:ResourceTag/env": {}}, false},
		{"StringEquals any of several values", `{"StringEquals":{"ssm:ResourceTag/env":["dev","test"]}}`, ctx("ssm:ResourceTag/env", "test"), true},
		{"StringEquals star is literal", `{"StringEquals":{"ssm:ResourceTag/env":"d*"}}`, ctx("ssm:ResourceTag/env", "dev"), false},
		{"StringEquals number value", `{"StringEquals":{"ssm:ResourceTag/tier":1}}`, ctx("ssm:ResourceTag/tier", "1"), true},
		{"StringNotEquals differs", `{"StringNotEquals":{"ssm:ResourceTag/env":["prod","stage"]}}`, ctx("ssm:ResourceTag/env", "dev"), true},
		{"StringNotEquals equal", `{"StringNotEquals":{"ssm:ResourceTag/env":["prod","stage"]}}`, ctx("ssm:ResourceTag/env", "stage"), false},
		{"StringNotEquals missing key", `{"StringNotEquals":{"ssm:ResourceTag/env":"prod"}}`, nil, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:username":"Alice"}}`, ctx("aws:username", "aLICE"), true},
		{"StringEqualsIgnoreCase differs", `{"StringEqualsIgnoreCase":{"aws:username":"Alice"}}`, ctx("aws:username", "bob"), false},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:username":"Alice"}}`, ctx("aws:username", "ALICE"), false},
		{"StringLike prefix", `{"StringLike":{"ssm:ResourceTag/env":"dev-*"}}`, ctx("ssm:ResourceTag/env", "dev-eu-1"), true},
		{"StringLike question mark", `{"StringLike":{"ssm:ResourceTag/env":"dev-??"}}`, ctx("ssm:ResourceTag/env", "dev-eu"), true},
		{"StringLike no match", `{"StringLike":{"ssm:ResourceTag/env":"dev-*"}}`, ctx("ssm:ResourceTag/env", "prod"), false},
		{"StringNotLike", `{"StringNotLike":{"ssm:ResourceTag/env":"prod*"}}`, ctx("ssm:ResourceTag/env", "dev"), true},
		{"StringNotLike matches", `{"StringNotLike":{"ssm:ResourceTag/env":"prod*"}}`, ctx("ssm:ResourceTag/env", "production"), false},
		{"StringLike escaped star", `{"StringLike":{"ssm:ResourceTag/env":"a${*}"}}`, ctx("ssm:ResourceTag/env", "ab"), false},
		{"StringLike variable", `{"StringLike":{"ssm:ResourceTag/owner":"${aws:username}"}}`, ctx("ssm:ResourceTag/owner", "alice", "aws:username", "alice"), true},
		{"StringEquals variable other user", `{"StringEquals":{"ssm:ResourceTag/owner":"${aws:username}"}}`, ctx("ssm:ResourceTag/owner", "bob", "aws:username", "alice"), false},
		{"StringEquals variable unresolved", `{"StringEquals":{"ssm:ResourceTag/owner":"${aws:username}"}}`, ctx("ssm:ResourceTag/owner", ""), false},
		{"StringEqualsIgnoreCase variable", `{"StringEqualsIgnoreCase":{"ssm:ResourceTag/owner":"u-${aws:userid}"}}`, ctx("ssm:ResourceTag/owner", "U-AIDA", "aws:userid", "aida"), true},
		{"StringNotEquals variable unresolved", `{"StringNotEquals":{"ssm:ResourceTag/owner":"${aws:username}"}}`, ctx("ssm:ResourceTag/owner", "bob"), true},

		// Several keys AND, several operators AND.
		{"two keys both hold", `{"StringEquals":{"ssm:ResourceTag/env":"dev","aws:RequestedRegion":"us-east-1"}}`,
			ctx("ssm:ResourceTag/env", "dev", "aws:RequestedRegion", "us-east-1"), true},
		{"two keys one fails", `{"StringEquals":{"ssm:ResourceTag/env":"dev","aws:RequestedRegion":"us-east-1"}}`,
			ctx("ssm:ResourceTag/env", "dev", "aws:RequestedRegion", "eu-west-1"), false},
		{"two operators one fails", `{"StringEquals":{"ssm:ResourceTag/env":"dev"},"Bool":{"aws:SecureTransport":"true"}}`,
			ctx("ssm:ResourceTag/env", "dev", "aws:SecureTransport", "false"), false},
		{"two operators both hold", `{"StringEquals":{"ssm:ResourceTag/env":"dev"},"Bool":{"aws:SecureTransport":"true"}}`,
			ctx("ssm:ResourceTag/env", "dev", "aws:SecureTransport", "true"), true},

		// IfExists.
		{"StringEqualsIfExists missing", `{"StringEqualsIfExists":{"ssm:ResourceTag/env":"dev"}}`, nil, true},
		{"StringEqualsIfExists present differs", `{"StringEqualsIfExists":{"ssm:ResourceTag/env":"dev"}}`, ctx("ssm:ResourceTag/env", "prod"), false},
		{"StringEqualsIfExists present equal", `{"StringEqualsIfExists":{"ssm:ResourceTag/env":"dev"}}`, ctx("ssm:ResourceTag/env", "dev"), true},
		{"BoolIfExists missing", `{"BoolIfExists":{"aws:SecureTransport":"true"}}`, nil, true},
		{"NumericLessThanIfExists present", `{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"3600"}}`, ctx("aws:MultiFactorAuthAge", "7200"), false},

		// Set qualifiers.
		{"ForAnyValue one matches", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx("aws:TagKeys", "owner", "aws:TagKeys", "team"), true},
		{"ForAnyValue none matches", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx("aws:TagKeys", "owner"), false},
		{"ForAnyValue missing", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}`, nil, false},
		{"ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["env"]}}`, nil, true},
		{"ForAllValues all match", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx("aws:TagKeys", "env", "aws:TagKeys", "team"), true},
		{"ForAllValues one outside", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx("aws:TagKeys", "env", "aws:TagKeys", "owner"), false},
		{"ForAllValues missing holds", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, nil, true},
		{"ForAllValues StringLike", `{"ForAllValues:StringLike":{"aws:TagKeys":["app-*"]}}`, ctx("aws:TagKeys", "app-a", "aws:TagKeys", "app-b"), true},
		{"ForAnyValue StringNotEquals one differs", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, ctx("aws:TagKeys", "env", "aws:TagKeys", "x"), true},
		{"ForAnyValue StringNotEquals none differs", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, ctx("aws:TagKeys", "env"), false},
		{"ForAllValues StringNotLike all differ", `{"ForAllValues:StringNotLike":{"aws:TagKeys":["secret*"]}}`, ctx("aws:TagKeys", "a", "aws:TagKeys", "b"), true},
		{"ForAllValues StringNotLike one matches", `{"ForAllValues:StringNotLike":{"aws:TagKeys":["secret*"]}}`, ctx("aws:TagKeys", "a", "aws:TagKeys", "secret1"), false},
		{"unqualified multi-valued key any", `{"StringEquals":{"aws:TagKeys":"env"}}`, ctx("aws:TagKeys", "x", "aws:TagKeys", "env"), true},
		{"unqualified negated multi-valued key", `{"StringNotEquals":{"aws:TagKeys":"env"}}`, ctx("aws:TagKeys", "x", "aws:TagKeys", "env"), false},

		// Null.
		{"Null true and absent", `{"Null":{"ssm:ResourceTag/env":"true"}}`, nil, true},
		{"Null true and present", `{"Null":{"ssm:ResourceTag/env":"true"}}`, ctx("ssm:ResourceTag/env", "dev"), false},
		{"Null false and present", `{"Null":{"ssm:ResourceTag/env":false}}`, ctx("ssm:ResourceTag/env", "dev"), true},
		{"Null false and absent", `{"Null":{"ssm:ResourceTag/env":false}}`, nil, false},
		{"Null with empty value list is absent", `{"Null":{"ssm:ResourceTag/env":"true"}}`, map[string][]string{"ssm:ResourceTag/env": nil}, true},

		// Numeric.
		{"NumericEquals", `{"NumericEquals":{"ssm:x":10}}`, ctx("ssm:x", "10.0"), true},
		{"NumericEquals differs", `{"NumericEquals":{"ssm:x":10}}`, ctx("ssm:x", "11"), false},
		{"NumericNotEquals", `{"NumericNotEquals":{"ssm:x":"10"}}`, ctx("ssm:x", "11"), true},
		{"NumericNotEquals equal", `{"NumericNotEquals":{"ssm:x":"10"}}`, ctx("ssm:x", "10"), false},
		{"NumericLessThan", `{"NumericLessThan":{"ssm:x":"10"}}`, ctx("ssm:x", "9.5"), true},
		{"NumericLessThan equal", `{"NumericLessThan":{"ssm:x":"10"}}`, ctx("ssm:x", "10"), false},
		{"NumericLessThanEquals equal", `{"NumericLessThanEquals":{"ssm:x":"10"}}`, ctx("ssm:x", "10"), true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"ssm:x":"-1"}}`, ctx("ssm:x", "0"), true},
		{"NumericGreaterThan less", `{"NumericGreaterThan":{"ssm:x":"-1"}}`, ctx("ssm:x", "-2"), false},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"ssm:x":"3"}}`, ctx("ssm:x", "3"), true},
		{"Numeric request value not a number", `{"NumericGreaterThanEquals":{"ssm:x":"3"}}`, ctx("ssm:x", "three"), false},
		{"Numeric missing key", `{"NumericLessThan":{"ssm:x":"3"}}`, nil, false},

		// Date.
		{"DateLessThan ISO", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "2025-06-01T12:00:00Z"), true},
		{"DateLessThan after", `{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "2025-06-01T12:00:00Z"), false},
		{"DateGreaterThan date only", `{"DateGreaterThan":{"aws:CurrentTime":"2025-01-01"}}`, ctx("aws:CurrentTime", "2025-06-01T12:00:00Z"), true},
		{"DateEquals across zones", `{"DateEquals":{"aws:CurrentTime":"2025-06-01T14:00:00+02:00"}}`, ctx("aws:CurrentTime", "2025-06-01T12:00:00Z"), true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2025-06-01T12:00:00Z"}}`, ctx("aws:CurrentTime", "2025-06-01T12:00:01Z"), true},
		{"DateLessThanEquals equal", `{"DateLessThanEquals":{"aws:CurrentTime":"2025-06-01T12:00:00Z"}}`, ctx("aws:CurrentTime", "2025-06-01T12:00:00Z"), true},
		{"DateGreaterThanEquals epoch", `{"DateGreaterThanEquals":{"aws:EpochTime":"1748779200"}}`, ctx("aws:EpochTime", "1748779200"), true},
		{"Date epoch policy ISO request", `{"DateGreaterThan":{"aws:CurrentTime":1700000000}}`, ctx("aws:CurrentTime", "2025-06-01T12:00:00Z"), true},
		{"Date fractional seconds", `{"DateLessThan":{"aws:CurrentTime":"2025-06-01T12:00:00.5Z"}}`, ctx("aws:CurrentTime", "2025-06-01T12:00:00Z"), true},
		{"Date request not a date", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01"}}`, ctx("aws:CurrentTime", "yesterday"), false},

		// Bool.
		{"Bool true", `{"Bool":{"aws:SecureTransport":true}}`, ctx("aws:SecureTransport", "true"), true},
		{"Bool case-insensitive", `{"Bool":{"aws:SecureTransport":"True"}}`, ctx("aws:SecureTransport", "TRUE"), true},
		{"Bool false vs true", `{"Bool":{"aws:SecureTransport":"false"}}`, ctx("aws:SecureTransport", "true"), false},
		{"Bool request not a bool", `{"Bool":{"aws:SecureTransport":"true"}}`, ctx("aws:SecureTransport", "yes"), false},
		{"Bool missing", `{"Bool":{"aws:SecureTransport":"false"}}`, nil, false},

		// IP.
		{"IpAddress v4 CIDR", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp", "203.0.113.7"), true},
		{"IpAddress v4 outside", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp", "203.0.114.7"), false},
		{"IpAddress single address", `{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, ctx("aws:SourceIp", "203.0.113.7"), true},
		{"IpAddress single address other", `{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, ctx("aws:SourceIp", "203.0.113.8"), false},
		{"IpAddress v6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctx("aws:SourceIp", "2001:db8:1::5"), true},
		{"IpAddress v6 outside", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctx("aws:SourceIp", "2001:db9::5"), false},
		{"IpAddress v4 block and v6 request", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx("aws:SourceIp", "2001:db8::1"), false},
		{"IpAddress v4-mapped request", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx("aws:SourceIp", "::ffff:10.1.2.3"), true},
		{"IpAddress v4-mapped block", `{"IpAddress":{"aws:SourceIp":"::ffff:10.0.0.0/104"}}`, ctx("aws:SourceIp", "10.1.2.3"), true},
		{"IpAddress non-canonical block", `{"IpAddress":{"aws:SourceIp":"10.9.9.9/8"}}`, ctx("aws:SourceIp", "10.1.2.3"), true},
		{"IpAddress request not an IP", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, ctx("aws:SourceIp", "localhost"), false},
		{"NotIpAddress outside", `{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}`, ctx("aws:SourceIp", "8.8.8.8"), true},
		{"NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}`, ctx("aws:SourceIp", "192.168.1.1"), false},
		{"NotIpAddress missing", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, nil, true},

		// ARN.
		{"ArnEquals", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/alice"}}`, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/alice"), true},
		{"ArnEquals differs", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/alice"}}`, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/bob"), false},
		{"ArnLike wildcard", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}`, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:role/admin-ops"), true},
		{"ArnLike star stays in its component", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/x"}}`, ctx("aws:PrincipalArn", "arn:aws:iam::1:2:role/x"), false},
		{"ArnLike resource part keeps colons", `{"ArnLike":{"aws:SourceArn":"arn:aws:ssm:*:*:a:*"}}`, ctx("aws:SourceArn", "arn:aws:ssm:r:1:a:b:c"), true},
		{"ArnLike request not an ARN", `{"ArnLike":{"aws:PrincipalArn":"arn:*:*:*:*:*"}}`, ctx("aws:PrincipalArn", "alice"), false},
		{"ArnLike is case-sensitive", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Admin"}}`, ctx("aws:PrincipalArn", "arn:aws:iam::1:role/admin"), false},
		{"ArnNotLike", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}`, ctx("aws:PrincipalArn", "arn:aws:iam::1:user/alice"), true},
		{"ArnNotEquals equal", `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::1:user/alice"}}`, ctx("aws:PrincipalArn", "arn:aws:iam::1:user/alice"), false},
		{"ArnEquals variable", `{"ArnEquals":{"aws:SourceArn":"${aws:PrincipalArn}"}}`,
			ctx("aws:SourceArn", "arn:aws:iam::1:user/alice", "aws:PrincipalArn", "arn:aws:iam::1:user/alice"), true},
		{"ArnEquals variable account", `{"ArnLike":{"aws:SourceArn":"arn:aws:iam::${aws:PrincipalAccount}:user/*"}}`,
			ctx("aws:SourceArn", "arn:aws:iam::1:user/alice", "aws:PrincipalAccount", "2"), false},
		{"ArnEquals variable unresolved", `{"ArnEquals":{"aws:SourceArn":"${aws:PrincipalArn}"}}`,
			ctx("aws:SourceArn", "arn:aws:iam::1:user/alice"), false},
		{"ArnEquals variable not an ARN", `{"ArnEquals":{"aws:SourceArn":"${aws:username}"}}`,
			ctx("aws:SourceArn", "arn:aws:iam::1:user/alice", "aws:username", "alice"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"C","Effect":"Allow","Action":"ssm:*","Resource":"*","Condition":`+tt.cond+`}}`)
			got := Evaluate([]*Policy{p}, Request{Action: "ssm:GetParameter", Resource: arnDevDB, Context: tt.ctx})
			if got.Allowed() != tt.want {
				t.Errorf("condition %s with context %v: got allowed=%v, want %v", tt.cond, tt.ctx, got.Allowed(), tt.want)
			}
			// A Deny statement with the same condition must deny exactly
			// when the Allow allows.
			d := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ssm:*","Resource":"*","Condition":`+tt.cond+`}}`)
			got = Evaluate([]*Policy{p, d}, Request{Action: "ssm:GetParameter", Resource: arnDevDB, Context: tt.ctx})
			if want := map[bool]Effect{true: ExplicitDeny, false: ImplicitDeny}[tt.want]; got.Effect != want {
				t.Errorf("with Deny: got %v, want %v", got.Effect, want)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // Unix seconds
		ok   bool
	}{
		{"2025-06-01T12:00:00Z", 1748779200, true},
		{"2025-06-01T12:00Z", 1748779200, true},
		{"2025-06-01T12:00:00", 1748779200, true},
		{"2025-06-01T14:00:00+02:00", 1748779200, true},
		{"20250601T120000Z", 1748779200, true},
		{"2025-06-01", 1748736000, true},
		{"1748779200", 1748779200, true},
		{"0", 0, true},
		{"", 0, false},
		{"-5", 0, false},
		{"2025-13-01", 0, false},
		{"99999999999999999999", 0, false},
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseDate(tt.in)
			if ok != tt.ok || (ok && got.Unix() != tt.want) {
				t.Errorf("parseDate(%q) = %v, %v; want %d, %v", tt.in, got.Unix(), ok, tt.want, tt.ok)
			}
		})
	}
}
