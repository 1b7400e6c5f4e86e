package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	// stmt wraps one statement body in a valid document.
	stmt := func(body string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"},{` + body + `}]}`
	}
	const ok = `"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"`
	withCond := func(cond string) string { return stmt(ok + `,"Condition":` + cond) }

	tests := []struct {
		name string
		doc  string
		want string // the full error message
	}{
		{"empty", ``, `policy: invalid JSON: unexpected end of document`},
		{"not JSON", `{"Version":`, `policy: invalid JSON: unexpected end of document`},
		{"bad JSON", `{"Version" "x"}`, `policy: invalid JSON: invalid character '"' after object key`},
		{"trailing data", `{"Statement":[{` + ok + `}]} {}`, `policy: invalid JSON: unexpected data after the document`},
		{"not an object", `["Statement"]`, `policy: document must be a JSON object`},
		{"null", `null`, `policy: document must be a JSON object`},
		{"invalid UTF-8", "{\"Id\":\"\xff\"}", `policy: document is not valid UTF-8`},
		{"too large", `{"Id":"` + strings.Repeat("x", MaxDocumentSize) + `"}`, `policy: document is 10249 bytes, more than the limit of 10240`},
		{"too deep", `{"Statement":[[[[[[[[[]]]]]]]]]}`, `policy: document is nested more than 8 levels deep`},
		{"duplicate key", `{"Version":"2012-10-17","Version":"2012-10-17","Statement":{` + ok + `}}`, `policy: duplicate key "Version"`},
		{"bad version", `{"Version":"2012-10-18","Statement":{` + ok + `}}`, `policy: Version must be "2012-10-17" or "2008-10-17"`},
		{"version not string", `{"Version":2012,"Statement":{` + ok + `}}`, `policy: Version must be "2012-10-17" or "2008-10-17"`},
		{"id not string", `{"Id":1,"Statement":{` + ok + `}}`, `policy: Id must be a string`},
		{"unknown top-level element", `{"statement":{` + ok + `}}`, `policy: unknown element "statement" (expected Version, Id or Statement)`},
		{"missing statement", `{"Version":"2012-10-17"}`, `policy: missing Statement`},
		{"empty statement array", `{"Statement":[]}`, `policy: Statement must not be empty`},
		{"statement not object", `{"Statement":"Allow"}`, `policy: Statement must be an object or an array of objects`},
		{"statement element not object", `{"Statement":[{` + ok + `},1]}`, `policy: statement 2: must be a JSON object`},
		{"bad effect", stmt(`"Effect":"allow","Action":"ssm:GetParameter","Resource":"*"`), `policy: statement 2: Effect must be "Allow" or "Deny"`},
		{"effect not string", stmt(`"Effect":true,"Action":"ssm:GetParameter","Resource":"*"`), `policy: statement 2: Effect must be "Allow" or "Deny"`},
		{"missing effect", stmt(`"Action":"ssm:GetParameter","Resource":"*"`), `policy: statement 2: missing Effect ("Allow" or "Deny")`},
		{"missing action", stmt(`"Effect":"Allow","Resource":"*"`), `policy: statement 2: missing Action or NotAction`},
		{"action and notaction", stmt(`"Effect":"Allow","Action":"ssm:A","NotAction":"ssm:B","Resource":"*"`), `policy: statement 2: must have exactly one of Action or NotAction, not both`},
		{"missing resource", stmt(`"Effect":"Allow","Action":"ssm:A"`), `policy: statement 2: missing Resource or NotResource`},
		{"resource and notresource", stmt(`"Effect":"Allow","Action":"ssm:A","Resource":"*","NotResource":"*"`), `policy: statement 2: must have exactly one of Resource or NotResource, not both`},
		{"principal", stmt(ok + `,"Principal":"*"`), `policy: statement 2: Principal is not allowed in an identity-based policy`},
		{"notprincipal", stmt(ok + `,"NotPrincipal":{"AWS":"*"}`), `policy: statement 2: NotPrincipal is not allowed in an identity-based policy`},
		{"unknown statement element", stmt(ok + `,"Actions":"ssm:A"`), `policy: statement 2: unknown element "Actions"`},
		{"sid not string", stmt(ok + `,"Sid":1`), `policy: statement 2: Sid must be a string`},
		{"sid bad characters", stmt(ok + `,"Sid":"read only"`), `policy: statement 2: Sid "read only" must contain only ASCII letters and digits`},
		{"duplicate sid", `{"Statement":[{"Sid":"A",` + ok + `},{"Sid":"A",` + ok + `}]}`, `policy: statement 2: duplicate Sid "A"`},
		{"action not string", stmt(`"Effect":"Allow","Action":5,"Resource":"*"`), `policy: statement 2: Action must be a string or an array of strings`},
		{"action array with number", stmt(`"Effect":"Allow","Action":["ssm:A",5],"Resource":"*"`), `policy: statement 2: Action must be a string or an array of strings`},
		{"action empty array", stmt(`"Effect":"Allow","Action":[],"Resource":"*"`), `policy: statement 2: Action must not be an empty array`},
		{"action empty string", stmt(`"Effect":"Allow","Action":"","Resource":"*"`), `policy: statement 2: Action must not be empty`},
		{"action empty in array", stmt(`"Effect":"Allow","Action":["ssm:A",""],"Resource":"*"`), `policy: statement 2: Action must not contain an empty string`},
		{"action without service", stmt(`"Effect":"Allow","Action":"GetParameter","Resource":"*"`), `policy: statement 2: Action "GetParameter" must be "*" or "service:ActionName", e.g. "ssm:GetParameter"`},
		{"action bad characters", stmt(`"Effect":"Allow","NotAction":"ssm:Get Parameter","Resource":"*"`), `policy: statement 2: NotAction "ssm:Get Parameter" must be "*" or "service:ActionName", e.g. "ssm:GetParameter"`},
		{"action wildcard service", stmt(`"Effect":"Allow","Action":"s*:GetParameter","Resource":"*"`), `policy: statement 2: Action "s*:GetParameter" must be "*" or "service:ActionName", e.g. "ssm:GetParameter"`},
		{"resource not ARN", stmt(`"Effect":"Allow","Action":"ssm:A","Resource":"parameter/app"`), `policy: statement 2: Resource "parameter/app" must be "*" or an ARN (arn:partition:service:region:account:resource)`},
		{"resource short ARN", stmt(`"Effect":"Allow","Action":"ssm:A","NotResource":["arn:aws:ssm:*"]`), `policy: statement 2: NotResource "arn:aws:ssm:*" must be "*" or an ARN (arn:partition:service:region:account:resource)`},
		{"resource variable colons do not count", stmt(`"Effect":"Allow","Action":"ssm:A","Resource":"arn:${aws:a}${aws:b}${aws:c}${aws:d}"`), `policy: statement 2: Resource "arn:${aws:a}${aws:b}${aws:c}${aws:d}" must be "*" or an ARN (arn:partition:service:region:account:resource)`},
		{"resource unterminated variable", stmt(`"Effect":"Allow","Action":"ssm:A","Resource":"arn:aws:ssm:*:*:parameter/${aws:username"`), `policy: statement 2: Resource "arn:aws:ssm:*:*:parameter/${aws:username": unterminated policy variable in "${aws:username"`},
		{"resource bad variable", stmt(`"Effect":"Allow","Action":"ssm:A","Resource":"arn:aws:ssm:*:*:parameter/${username}"`), `policy: statement 2: Resource "arn:aws:ssm:*:*:parameter/${username}": invalid policy variable ${username}`},
		{"resource empty variable", stmt(`"Effect":"Allow","Action":"ssm:A","Resource":"arn:aws:ssm:*:*:parameter/${}"`), `policy: statement 2: Resource "arn:aws:ssm:*:*:parameter/${}": invalid policy variable ${}`},
		{"variable default unquoted", stmt(`"Effect":"Allow","Action":"ssm:A","Resource":"arn:aws:ssm:*:*:parameter/${aws:username, anon}"`), `policy: statement 2: Resource "arn:aws:ssm:*:*:parameter/${aws:username, anon}": invalid policy variable ${aws:username, anon}: default value must be in single quotes`},
		{"variable default stray quote", stmt(`"Effect":"Allow","Action":"ssm:A","Resource":"arn:aws:ssm:*:*:parameter/${aws:username, 'a'b'}"`), `policy: statement 2: Resource "arn:aws:ssm:*:*:parameter/${aws:username, 'a'b'}": unterminated policy variable in "${aws:username, 'a'b'}"`},
		{"condition not object", withCond(`"x"`), `policy: statement 2: Condition must be an object of {operator: {key: value}}`},
		{"unknown operator", withCond(`{"StringEqual":{"aws:username":"a"}}`), `policy: statement 2: unknown condition operator "StringEqual"`},
		{"unknown qualifier", withCond(`{"ForSomeValues:StringEquals":{"aws:username":"a"}}`), `policy: statement 2: unknown condition operator "ForSomeValues:StringEquals"`},
		{"operator case", withCond(`{"stringequals":{"aws:username":"a"}}`), `policy: statement 2: unknown condition operator "stringequals"`},
		{"NullIfExists", withCond(`{"NullIfExists":{"aws:username":"true"}}`), `policy: statement 2: condition operator "NullIfExists": Null takes no IfExists suffix or set qualifier`},
		{"ForAnyValue Null", withCond(`{"ForAnyValue:Null":{"aws:username":"true"}}`), `policy: statement 2: condition operator "ForAnyValue:Null": Null takes no IfExists suffix or set qualifier`},
		{"operator body not object", withCond(`{"StringEquals":["aws:username"]}`), `policy: statement 2: condition StringEquals must be an object of {key: value}`},
		{"operator no keys", withCond(`{"StringEquals":{}}`), `policy: statement 2: condition StringEquals has no keys`},
		{"key without prefix", withCond(`{"StringEquals":{"username":"a"}}`), `policy: statement 2: condition StringEquals: key "username" must be "prefix:name", e.g. "aws:SourceIp"`},
		{"duplicate key by case", withCond(`{"StringEquals":{"aws:username":"a","AWS:UserName":"b"}}`), `policy: statement 2: condition StringEquals: duplicate key "aws:username" (keys are case-insensitive)`},
		{"value null", withCond(`{"StringEquals":{"aws:username":null}}`), `policy: statement 2: condition StringEquals aws:username: value must be a string, number, boolean or an array of them`},
		{"value object", withCond(`{"StringEquals":{"aws:username":{"a":"b"}}}`), `policy: statement 2: condition StringEquals aws:username: value must be a string, number, boolean or an array of them`},
		{"value empty array", withCond(`{"StringEquals":{"aws:username":[]}}`), `policy: statement 2: condition StringEquals aws:username: value must not be an empty array`},
		{"value nested array", withCond(`{"StringEquals":{"aws:username":[["a"]]}}`), `policy: statement 2: condition StringEquals aws:username: array elements must be strings, numbers or booleans`},
		{"numeric not number", withCond(`{"NumericLessThan":{"ssm:x":"ten"}}`), `policy: statement 2: condition NumericLessThan ssm:x: value "ten" is not a number`},
		{"numeric infinity", withCond(`{"NumericLessThan":{"ssm:x":"Inf"}}`), `policy: statement 2: condition NumericLessThan ssm:x: value "Inf" is not a number`},
		{"numeric hex", withCond(`{"NumericLessThan":{"ssm:x":"0x10"}}`), `policy: statement 2: condition NumericLessThan ssm:x: value "0x10" is not a number`},
		{"numeric variable not expanded", withCond(`{"NumericEquals":{"ssm:x":"${ssm:y}"}}`), `policy: statement 2: condition NumericEquals ssm:x: value "${ssm:y}" is not a number`},
		{"date bad", withCond(`{"DateLessThan":{"aws:CurrentTime":"2025-02-30"}}`), `policy: statement 2: condition DateLessThan aws:CurrentTime: value "2025-02-30" is not an ISO 8601 date or epoch seconds`},
		{"bool bad", withCond(`{"Bool":{"aws:SecureTransport":"yes"}}`), `policy: statement 2: condition Bool aws:SecureTransport: value "yes" is not "true" or "false"`},
		{"bool number", withCond(`{"Bool":{"aws:SecureTransport":1}}`), `policy: statement 2: condition Bool aws:SecureTransport: value "1" is not "true" or "false"`},
		{"null bad", withCond(`{"Null":{"aws:username":"absent"}}`), `policy: statement 2: condition Null aws:username: value "absent" is not "true" or "false"`},
		{"ip bad", withCond(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`), `policy: statement 2: condition IpAddress aws:SourceIp: value "10.0.0.0/33" is not an IP address or CIDR block`},
		{"ip hostname", withCond(`{"NotIpAddress":{"aws:SourceIp":"example.com"}}`), `policy: statement 2: condition NotIpAddress aws:SourceIp: value "example.com" is not an IP address or CIDR block`},
		{"ip zone", withCond(`{"IpAddress":{"aws:SourceIp":"fe80::1%eth0"}}`), `policy: statement 2: condition IpAddress aws:SourceIp: value "fe80::1%eth0" is not an IP address or CIDR block`},
		{"arn bad", withCond(`{"ArnLike":{"aws:PrincipalArn":"*"}}`), `policy: statement 2: condition ArnLike aws:PrincipalArn: value "*" is not an ARN (arn:partition:service:region:account:resource)`},
		{"string bad variable", withCond(`{"StringLike":{"aws:username":"${nope}"}}`), `policy: statement 2: condition StringLike aws:username: invalid policy variable ${nope}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded with %s, want error %q", p, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got error %T %v, want *ParseError", err, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got error %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseStatementNumber(t *testing.T) {
	_, err := Parse([]byte(`{"Statement":[{"Effect":"Allow","Action":"ssm:A","Resource":"*"},{"Effect":"Allow","Action":"ssm:A","Resource":"*"},{"Effect":"Maybe"}]}`))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want *ParseError", err)
	}
	if pe.Statement != 3 {
		t.Errorf("got Statement %d, want 3", pe.Statement)
	}
}

func TestParseString(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{
			name: "single statement and strings become arrays",
			doc:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}}`,
			want: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:GetParameter"],"Resource":["*"]}]}`,
		},
		{
			name: "empty condition block is dropped",
			doc:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*","Condition":{}}}`,
			want: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:GetParameter"],"Resource":["*"]}]}`,
		},
		{
			name: "missing version is made explicit",
			doc:  `{"Statement":[{"Effect":"Deny","NotAction":"ssm:*","NotResource":"arn:aws:ssm:*:*:parameter/<a&b>"}]}`,
			want: `{"Version":"2008-10-17","Statement":[{"Effect":"Deny","NotAction":["ssm:*"],"NotResource":["arn:aws:ssm:*:*:parameter/<a&b>"]}]}`,
		},
		{
			name: "element order, id and sid",
			doc: `{"Statement":[{"Resource":"*","Condition":{"StringLike":{"b:k":"x","a:k":["y","z"]},"Bool":{"aws:SecureTransport":true},
				"NumericLessThan":{"ssm:n":1.50}},"Action":["ssm:A","ssm:B"],"Effect":"Allow","Sid":"S1"}],"Id":"P","Version":"2012-10-17"}`,
			want: `{"Version":"2012-10-17","Id":"P","Statement":[{"Sid":"S1","Effect":"Allow","Action":["ssm:A","ssm:B"],"Resource":["*"],` +
				`"Condition":{"Bool":{"aws:SecureTransport":["true"]},"NumericLessThan":{"ssm:n":["1.50"]},"StringLike":{"a:k":["y","z"],"b:k":["x"]}}}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.doc)
			if got := p.String(); got != tt.want {
				t.Errorf("String() =\n%s\nwant\n%s", got, tt.want)
			}
			q := mustParse(t, p.String())
			if got := q.String(); got != tt.want {
				t.Errorf("String() after re-parse =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseAccessors(t *testing.T) {
	tests := []struct {
		doc         string
		wantVersion string
		wantID      string
	}{
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, Version2008, ""},
		{`{"Version":"2012-10-17","Id":"x-1","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, Version2012, "x-1"},
		{"\n\t {\"Version\":\"2008-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}} \n", Version2008, ""},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			p := mustParse(t, tt.doc)
			if p.Version() != tt.wantVersion || p.ID() != tt.wantID {
				t.Errorf("got Version %q Id %q, want %q %q", p.Version(), p.ID(), tt.wantVersion, tt.wantID)
			}
		})
	}
}

func TestParseLimitBoundary(t *testing.T) {
	base := `{"Id":"","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`
	pad := MaxDocumentSize - len(base)
	doc := `{"Id":"` + strings.Repeat("x", pad) + `","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`
	if len(doc) != MaxDocumentSize {
		t.Fatalf("test document is %d bytes, want %d", len(doc), MaxDocumentSize)
	}
	if _, err := Parse([]byte(doc)); err != nil {
		t.Errorf("document of exactly %d bytes: got %v, want success", MaxDocumentSize, err)
	}
	if _, err := Parse([]byte(doc + " ")); err == nil {
		t.Errorf("document of %d bytes: got success, want error", MaxDocumentSize+1)
	}
}
