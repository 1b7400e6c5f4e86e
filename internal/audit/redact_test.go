package audit

import (
	"context"
	"encoding/json"
	"path/filepath"
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
