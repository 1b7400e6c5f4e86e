package api

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/ssm"
)

// The hand-written encoders must write what encoding/json writes.
func checkSame(t *testing.T, v any) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if p, ok := v.(*ssm.Parameter); ok {
		got = appendParameter(nil, p)
	} else if got, ok = appendResponse(nil, v); !ok {
		t.Fatalf("%T is not encoded by hand", v)
	}
	if string(got) != string(want) {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
	}
}

func TestAppendJSON(t *testing.T) {
	ts := ssm.TimestampMillis(1764500000123)
	neg := ssm.TimestampMillis(-1)
	for _, tc := range []struct {
		name string
		p    ssm.Parameter
	}{
		{"plain", ssm.Parameter{Name: "/app/db", Type: ssm.TypeString, Value: "postgres://db:5432/app", Version: 3,
			LastModifiedDate: &ts, ARN: "arn:aws:ssm:us-east-1:123456789012:parameter/app/db", DataType: ssm.DataTypeText}},
		{"selector and source", ssm.Parameter{Name: "p", Type: ssm.TypeStringList, Value: "a,b", Version: 1, Selector: ":2",
			SourceResult: "{}", ARN: "arn", DataType: "aws:ec2:image"}},
		{"escapes", ssm.Parameter{Name: "/a\"b\\c", Value: "<html>&'\u2028\u2029\x00\x1f\t\n\r\b\f\x7f é 😀 \xff\xfe",
			Version: -5, LastModifiedDate: &neg}},
		{"empty", ssm.Parameter{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			checkSame(t, &p)
			checkSame(t, &ssm.GetParameterOutput{Parameter: &p})
			checkSame(t, &ssm.GetParametersOutput{Parameters: []ssm.Parameter{p, p}, InvalidParameters: []string{"x", p.Value}})
		})
	}
	checkSame(t, &ssm.GetParameterOutput{})
	checkSame(t, &ssm.GetParametersOutput{})
	checkSame(t, &ssm.GetParametersOutput{Parameters: []ssm.Parameter{}, InvalidParameters: []string{}})
	for _, ms := range []int64{0, 1, 999, 1000, 1001, 1<<53 + 1, math.MaxInt64 / 1000000, time.Now().UnixMilli()} {
		ts := ssm.TimestampMillis(ms)
		checkSame(t, &ssm.Parameter{LastModifiedDate: &ts})
	}
}

// FuzzAppendJSON compares the hand-written encoders with encoding/json on
// any strings (a parameter's name and value are the caller's bytes).
func FuzzAppendJSON(f *testing.F) {
	f.Add("/app/db", "value", "String", int64(1), int64(1764500000123), ":1")
	f.Add("<a>", "\u2028\xff\"\\", "SecureString", int64(-1), int64(-1), "")
	f.Fuzz(func(t *testing.T, name, value, typ string, version, ms int64, sel string) {
		ts := ssm.TimestampMillis(ms)
		p := ssm.Parameter{Name: name, Type: typ, Value: value, Version: version, Selector: sel,
			LastModifiedDate: &ts, ARN: "arn:" + name, DataType: value}
		checkSame(t, &ssm.GetParameterOutput{Parameter: &p})
		checkSame(t, &ssm.GetParametersOutput{Parameters: []ssm.Parameter{p}, InvalidParameters: []string{name, value}})
	})
}

// FuzzDecodeFast checks that whenever decodeFast accepts a body, the
// general path (encoding/json) accepts it too and decodes the same input.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{`{"Name":"/a/b"}`, ` { "Name" : "p" , "WithDecryption" : true } `, `{"WithDecryption":false,"Name":"x"}`,
		`{"Name":"a","Name":"b"}`, `{"name":"a"}`, `{"Name":"a\"b"}`, `{"Name":"a"}x`, `{}`, `{"Name":null}`, `{"WithDecryption":"true"}`,
		`{"Name":"a",}`, `{"Name":"é"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast ssm.GetParameterInput
		if !decodeFast(body, &fast) {
			return
		}
		var slow ssm.GetParameterInput
		err := json.Unmarshal(body, &slow)
		if err != nil || repeatedMember(body) {
			t.Fatalf("decodeFast accepted %q, which the general path refuses (%v)", body, err)
		}
		if got, want := describe(fast), describe(slow); got != want {
			t.Fatalf("decodeFast(%q) = %s, encoding/json %s", body, got, want)
		}
	})
}

func describe(in ssm.GetParameterInput) string {
	b, _ := json.Marshal(in)
	return string(b)
}

func TestDecodeFast(t *testing.T) {
	for body, accepted := range map[string]bool{
		`{"Name":"/a/b"}`: true, ` {"Name" : "p","WithDecryption":true}`: true, `{"WithDecryption":false,"Name":"x"}`: true, `{}`: true,
		`{"Name":"a","Name":"b"}`: false, `{"name":"a"}`: false, `{"Name":"a\"b"}`: false, `{"Name":"a"}x`: false,
		`{"Name":null}`: false, `{"WithDecryption":"true"}`: false, `{"Name":"a",}`: false, `{"Name":"é"}`: false, `{"Other":1}`: false,
	} {
		var in ssm.GetParameterInput
		if got := decodeFast([]byte(body), &in); got != accepted {
			t.Errorf("decodeFast(%s) = %v, want %v", body, got, accepted)
		}
	}
}
