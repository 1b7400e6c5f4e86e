package audit

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	h := func(s string) string { return HMAC(testKey, s) }
	type putInput struct {
		Name  string
		Value string
		Tags  []struct{ Key, Value string }
	}
	tests := []struct {
		name string
		in   any
		want string // JSON
	}{
		{
			name: "PutParameter request",
			in:   json.RawMessage(`{"Name":"/a","Value":"s3cret","Type":"SecureString","Tags":[{"Key":"team","Value":"blue"}]}`),
			want: `{"Name":"/a","Tags":[{"Key":"team","Value":"blue"}],"Type":"SecureString","Value":"` + h("s3cret") + `"}`,
		},
		{
			name: "GetParameter response",
			in:   json.RawMessage(`{"Parameter":{"Name":"/a","Value":"s3cret","Version":3}}`),
			want: `{"Parameter":{"Name":"/a","Value":"` + h("s3cret") + `","Version":3}}`,
		},
		{
			name: "GetParameters response",
			in:   json.RawMessage(`{"Parameters":[{"Name":"/a","Value":"x"},{"Name":"/b","Value":"y"}],"InvalidParameters":["/c"]}`),
			want: `{"InvalidParameters":["/c"],"Parameters":[{"Name":"/a","Value":"` + h("x") + `"},{"Name":"/b","Value":"` + h("y") + `"}]}`,
		},
		{
			name: "AddTagsToResource TagList keeps tag values",
			in:   map[string]any{"ResourceId": "/a", "TagList": []any{map[string]any{"Key": "k", "Value": "v"}}},
			want: `{"ResourceId":"/a","TagList":[{"Key":"k","Value":"v"}]}`,
		},
		{
			name: "typed struct",
			in:   putInput{Name: "/a", Value: "s3cret", Tags: []struct{ Key, Value string }{{"k", "v"}}},
			want: `{"Name":"/a","Tags":[{"Key":"k","Value":"v"}],"Value":"` + h("s3cret") + `"}`,
		},
		{
			name: "non-string Value is hashed over its JSON",
			in:   json.RawMessage(`{"Value":{"nested":1}}`),
			want: `{"Value":"` + h(`{"nested":1}`) + `"}`,
		},
		{
			name: "null Value stays null",
			in:   json.RawMessage(`{"Value":null}`),
			want: `{"Value":null}`,
		},
		{
			name: "Value inside an object inside a tag is still hashed",
			in:   json.RawMessage(`{"Tags":[{"Key":"k","Value":"v","Extra":{"Value":"deep"}}]}`),
			want: `{"Tags":[{"Extra":{"Value":"` + h("deep") + `"},"Key":"k","Value":"v"}]}`,
		},
		{
			// The API decodes requests with encoding/json, which matches
			// member names case-insensitively: "value" is the Value.
			name: "match ignores case, not length",
			in:   json.RawMessage(`{"value":"lower","VALUE":"upper","Values":["/a"]}`),
			want: `{"VALUE":"` + h("upper") + `","Values":["/a"],"value":"` + h("lower") + `"}`,
		},
		{
			name: "numbers are kept exactly",
			in:   json.RawMessage(`{"MaxResults":10,"Big":12345678901234567890,"F":1.5e3}`),
			want: `{"Big":12345678901234567890,"F":1.5e3,"MaxResults":10}`,
		},
		{name: "nil", in: nil, want: `null`},
		{name: "invalid JSON", in: json.RawMessage(`{"Value":"s3cret"`), want: `"` + unencodable + `"`},
		{name: "unencodable", in: map[string]any{"Value": make(chan int)}, want: `"` + unencodable + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(Redact(testKey, tt.in))
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Redact:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRedactKeepsInput(t *testing.T) {
	in := map[string]any{"Value": "s3cret", "Parameter": map[string]any{"Value": "x"}}
	Redact(testKey, in)
	if in["Value"] != "s3cret" || in["Parameter"].(map[string]any)["Value"] != "x" {
		t.Errorf("Redact modified its input: %v", in)
	}
}

func TestHMAC(t *testing.T) {
	tests := []struct {
		name      string
		k1, v1    string
		k2, v2    string
		wantEqual bool
	}{
		{"same key and value", "k", "v", "k", "v", true},
		{"different value", "k", "v", "k", "w", false},
		{"different key", "k", "v", "l", "v", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := HMAC([]byte(tt.k1), tt.v1), HMAC([]byte(tt.k2), tt.v2)
			if (a == b) != tt.wantEqual {
				t.Errorf("HMAC equal = %v, want %v (%s, %s)", a == b, tt.wantEqual, a, b)
			}
			if !strings.HasPrefix(a, HMACPrefix) || len(a) != len(HMACPrefix)+64 {
				t.Errorf("HMAC = %q, want %q + 64 hex digits", a, HMACPrefix)
			}
		})
	}
}

// TestLogRedactsSecrets logs the SSM calls that carry parameter values and
// checks that no value reaches the file, while tag values and the HMACs of
// the values do.
func TestLogRedactsSecrets(t *testing.T) {
	const tagValue = "TAGVALUE-visible"
	tests := []struct {
		name    string
		secrets []string
		req     any
		resp    any
		wantTag bool // the tag value must appear
	}{
		{
			name:    "PutParameter",
			secrets: []string{"SECRET-put-1"},
			req: json.RawMessage(`{"Name":"/db/pw","Value":"SECRET-put-1","Type":"SecureString","Overwrite":false,
				"Tags":[{"Key":"owner","Value":"` + tagValue + `"}]}`),
			resp:    json.RawMessage(`{"Version":1,"Tier":"Standard"}`),
			wantTag: true,
		},
		{
			name:    "GetParameter",
			secrets: []string{"SECRET-get-1"},
			req:     map[string]any{"Name": "/db/pw", "WithDecryption": true},
			resp: map[string]any{"Parameter": map[string]any{
				"Name": "/db/pw", "Type": "SecureString", "Value": "SECRET-get-1", "Version": 1,
				"ARN": "arn:aws:ssm:us-east-1:123456789012:parameter/db/pw",
			}},
		},
		{
			name:    "GetParameters",
			secrets: []string{"SECRET-gets-1", "SECRET-gets-2"},
			req:     map[string]any{"Names": []string{"/a", "/b", "/c"}, "WithDecryption": true},
			resp: json.RawMessage(`{"Parameters":[{"Name":"/a","Value":"SECRET-gets-1"},{"Name":"/b","Value":"SECRET-gets-2"}],
				"InvalidParameters":["/c"]}`),
		},
		{
			name:    "GetParametersByPath",
			secrets: []string{"SECRET-path-1", "SECRET-path-2"},
			req:     json.RawMessage(`{"Path":"/app","Recursive":true,"WithDecryption":true}`),
			resp: json.RawMessage(`{"Parameters":[{"Name":"/app/x","Value":"SECRET-path-1","Type":"String"},
				{"Name":"/app/y/z","Value":"SECRET-path-2","Type":"StringList"}],"NextToken":"tok"}`),
		},
		{
			name:    "GetParameterHistory",
			secrets: []string{"SECRET-hist-1", "SECRET-hist-2"},
			req:     json.RawMessage(`{"Name":"/a","WithDecryption":true}`),
			resp: json.RawMessage(`{"Parameters":[
				{"Name":"/a","Value":"SECRET-hist-1","Version":1,"Labels":["prod"]},
				{"Name":"/a","Value":"SECRET-hist-2","Version":2,"Policies":[]}]}`),
		},
		{
			name:    "AddTagsToResource",
			req:     json.RawMessage(`{"ResourceType":"Parameter","ResourceId":"/a","Tags":[{"Key":"env","Value":"` + tagValue + `"}]}`),
			resp:    json.RawMessage(`{}`),
			wantTag: true,
		},
		{
			// encoding/json decodes a request's "value" or "VALUE" as Value,
			// and an escaped name too: each is the parameter's value.
			name:    "PutParameter lower-case value",
			secrets: []string{"SECRET-lower-1"},
			req:     json.RawMessage(`{"Name":"/a","value":"SECRET-lower-1","Type":"String"}`),
		},
		{
			name:    "PutParameter upper-case value",
			secrets: []string{"SECRET-upper-1"},
			req:     json.RawMessage(`{"Name":"/a","VALUE":"SECRET-upper-1","Type":"String"}`),
		},
		{
			name:    "PutParameter escaped value",
			secrets: []string{"SECRET-escaped-1"},
			req:     json.RawMessage(`{"Name":"/a","\u0056alue":"SECRET-escaped-1","Type":"String"}`),
		},
		{
			name:    "PutParameter failed",
			secrets: []string{"SECRET-put-2"},
			req:     json.RawMessage(`{"Name":"/a","Value":"SECRET-put-2"}`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			s := openTest(t, path, Options{})
			rec := testRecord(tt.name, "req-1")
			rec.EventName = strings.Fields(tt.name)[0]
			rec.RequestParameters, rec.ResponseElements = tt.req, tt.resp
			if err := s.Log(context.Background(), rec, Durable); err != nil {
				t.Fatalf("Log: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			got := readFile(t, path)
			for _, secret := range tt.secrets {
				if strings.Contains(got, secret) {
					t.Errorf("file contains secret %q:\n%s", secret, got)
				}
				if !strings.Contains(got, HMAC(testKey, secret)) {
					t.Errorf("file lacks HMAC of %q:\n%s", secret, got)
				}
			}
			if tt.wantTag && !strings.Contains(got, tagValue) {
				t.Errorf("file lacks tag value %q:\n%s", tagValue, got)
			}
			if _, err := VerifyFile(path); err != nil {
				t.Errorf("VerifyFile: %v", err)
			}
		})
	}
}

// TestKeepOnly checks default-deny redaction: a value is kept only when
// its member's name and those of all enclosing members are listed, in any
// letter case; everything else, including whole unlisted objects and a
// non-object top level, is Hidden; null stays null.
func TestKeepOnly(t *testing.T) {
	keep := NewAllowlist("UserName", "AccessKey", "AccessKeyId", "Keys", "Names", "Nested")
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"listed and not", `{"UserName":"bob","SecretAccessKey":"s"}`, `{"SecretAccessKey":"HIDDEN_DUE_TO_SECURITY_REASONS","UserName":"bob"}`},
		{"any letter case", `{"username":"bob","USERNAME":"b2"}`, `{"USERNAME":"b2","username":"bob"}`},
		{"listed container", `{"AccessKey":{"AccessKeyId":"AKIA1","SecretAccessKey":"s","SessionToken":"t"}}`,
			`{"AccessKey":{"AccessKeyId":"AKIA1","SecretAccessKey":"HIDDEN_DUE_TO_SECURITY_REASONS","SessionToken":"HIDDEN_DUE_TO_SECURITY_REASONS"}}`},
		{"unlisted container hides listed members inside", `{"Credentials":{"AccessKeyId":"AKIA1"}}`,
			`{"Credentials":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"arrays of a listed member", `{"Keys":[{"AccessKeyId":"a","Secret":"s"},"x",["y"]],"Names":["a","b"]}`,
			`{"Keys":[{"AccessKeyId":"a","Secret":"HIDDEN_DUE_TO_SECURITY_REASONS"},"x",["y"]],"Names":["a","b"]}`},
		{"unlisted array", `{"Tokens":["t1","t2"]}`, `{"Tokens":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"null and numbers", `{"Other":null,"N":3,"Nested":{"UserName":null,"X":false}}`,
			`{"N":"HIDDEN_DUE_TO_SECURITY_REASONS","Nested":{"UserName":null,"X":"HIDDEN_DUE_TO_SECURITY_REASONS"},"Other":null}`},
		{"top-level string", `"secret"`, `"HIDDEN_DUE_TO_SECURITY_REASONS"`},
		{"top-level array", `["secret"]`, `"HIDDEN_DUE_TO_SECURITY_REASONS"`},
		{"top-level null", `null`, `null`},
		{"empty object", `{}`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(KeepOnly(keep, json.RawMessage(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("KeepOnly(%s)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
	if got := KeepOnly(nil, map[string]any{"UserName": "bob"}); !reflect.DeepEqual(got, map[string]any{"UserName": Hidden}) {
		t.Errorf("KeepOnly with a nil allowlist = %v, want everything hidden", got)
	}
	if got := KeepOnly(keep, json.RawMessage(`{"UserName":`)); got != unencodable {
		t.Errorf("KeepOnly of invalid JSON = %v, want the placeholder", got)
	}
}

// TestLogKeepOnly logs admin-style records with Keep set and checks that
// no unlisted value reaches the file, in the request or the response.
func TestLogKeepOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := openTest(t, path, Options{})
	rec := testRecord("CreateAccessKey", "req-1")
	rec.Keep = NewAllowlist("UserName", "AccessKey", "AccessKeyId")
	rec.RequestParameters = json.RawMessage(`{"UserName":"bob","Comment":"SECRET-req"}`)
	rec.ResponseElements = map[string]any{"AccessKey": map[string]any{"AccessKeyId": "AKIA1", "SecretAccessKey": "SECRET-resp"}}
	if err := s.Log(context.Background(), rec, Durable); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	for _, secret := range []string{"SECRET-req", "SECRET-resp"} {
		if strings.Contains(got, secret) {
			t.Errorf("file holds %q:\n%s", secret, got)
		}
	}
	for _, kept := range []string{`"UserName":"bob"`, `"AccessKeyId":"AKIA1"`, `"SecretAccessKey":"` + Hidden + `"`} {
		if !strings.Contains(got, kept) {
			t.Errorf("file lacks %s:\n%s", kept, got)
		}
	}
}

// TestErrorMessageHidesRedactedValues checks the error message backstop:
// an errorMessage that contains the text of a value the redaction hides
// (a parameter Value, an unlisted admin member) is replaced as a whole,
// whatever code built the message; other messages are kept.
func TestErrorMessageHidesRedactedValues(t *testing.T) {
	tests := []struct {
		name string
		keep *Allowlist
		req  any
		msg  string
		want string
	}{
		{"value echoed", nil, json.RawMessage(`{"Name":"/a","Value":"ami-bad"}`),
			"Parameter value, ami-bad, is not valid.", Hidden},
		{"lower-case value echoed", nil, json.RawMessage(`{"Name":"/a","value":"s3cr3t-x"}`), "bad s3cr3t-x", Hidden},
		{"non-string value echoed", nil, map[string]any{"Value": 12345}, "got 12345", Hidden},
		{"name echoed is fine", nil, json.RawMessage(`{"Name":"/a/b","Value":"v1x"}`),
			"Systems Manager could not find version 3 of /a/b.", "Systems Manager could not find version 3 of /a/b."},
		{"tag value echoed is fine", nil, json.RawMessage(`{"Tags":[{"Key":"k","Value":"visible-tag"}]}`),
			"Value 'visible-tag' at 'tags.1.member.value' failed", "Value 'visible-tag' at 'tags.1.member.value' failed"},
		{"unlisted admin member echoed", NewAllowlist("UserName"), json.RawMessage(`{"UserName":"bob","Token":"tok-123"}`),
			"bad token tok-123", Hidden},
		{"listed admin member echoed is fine", NewAllowlist("UserName"), json.RawMessage(`{"UserName":"bob"}`),
			"The user with name bob cannot be found.", "The user with name bob cannot be found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := testRecord("PutParameter", "r")
			rec.RequestParameters, rec.Keep = tt.req, tt.keep
			rec.ErrorCode, rec.ErrorMessage = "ValidationException", tt.msg
			body, err := encodeBody(testKey, &rec)
			if err != nil {
				t.Fatal(err)
			}
			var got Record
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.ErrorMessage != tt.want {
				t.Errorf("errorMessage = %q, want %q", got.ErrorMessage, tt.want)
			}
		})
	}
}
