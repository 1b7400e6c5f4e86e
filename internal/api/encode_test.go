package api

import (
	"encoding/json"
	"math"
	"reflect"
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
	checkSame(t, &ssm.PutParameterOutput{})
	checkSame(t, &ssm.PutParameterOutput{Version: 12, Tier: ssm.TierStandard})
	checkSame(t, &ssm.PutParameterOutput{Version: math.MinInt64, Tier: "<\u2028\xff\"\\>"})
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
		checkSame(t, &ssm.PutParameterOutput{Version: version, Tier: typ})
	})
}

// fastInputs are the inputs decodeFast decodes, by FuzzDecodeFast's kind.
var fastInputs = []func() any{
	func() any { return new(ssm.GetParameterInput) },
	func() any { return new(ssm.GetParametersInput) },
	func() any { return new(ssm.PutParameterInput) },
}

// FuzzDecodeFast checks that whenever decodeFast accepts a body, the
// general path (encoding/json) accepts it too and decodes the same input.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{`{"Name":"/a/b"}`, ` { "Name" : "p" , "WithDecryption" : true } `, `{"WithDecryption":false,"Name":"x"}`,
		`{"Name":"a","Name":"b"}`, `{"name":"a"}`, `{"Name":"a\"b"}`, `{"Name":"a"}x`, `{}`, `{"Name":null}`, `{"WithDecryption":"true"}`,
		`{"Name":"a",}`, `{"Name":"é"}`, `{"Names":["/a","/b"],"WithDecryption":true}`, `{"Names":[]}`, `{"Names":["a",]}`,
		`{"Name":"/a","Value":"v","Type":"SecureString","Overwrite":true,"Tags":[{"Key":"k","Value":"v"}],"Tier":"Standard"}`,
		`{"Name":"/a","Value":"v","Tags":[{"Key":"k","Key":"v"}]}`, `{"Tags":[]}`, `{"Tags":[{}]}`, `{"Overwrite":false,"KeyId":"alias/x"}`} {
		for kind := range fastInputs {
			f.Add([]byte(s), uint8(kind))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, kind uint8) {
		newIn := fastInputs[int(kind)%len(fastInputs)]
		fast := newIn()
		if !decodeFast(body, fast) {
			return
		}
		slow := newIn()
		err := json.Unmarshal(body, slow)
		if err != nil || repeatedMember(body) {
			t.Fatalf("decodeFast accepted %q, which the general path refuses (%v)", body, err)
		}
		if !reflect.DeepEqual(fast, slow) { // nil and empty slices told apart
			t.Fatalf("decodeFast(%q) = %s, encoding/json %s", body, describe(fast), describe(slow))
		}
	})
}

func describe(in any) string {
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
	for body, accepted := range map[string]bool{
		`{"Name":"/a","Value":"postgres://db:5432/app","Type":"String","Overwrite":true}`:                                  true,
		`{"Name":"/a","Value":"v","Type":"SecureString","KeyId":"alias/k","Tags":[{"Key":"k","Value":"v"},{"Value":"w"}]}`: true,
		`{"Description":"d","AllowedPattern":"^a$","Tier":"Standard","Policies":"[]","DataType":"text","Tags":[]}`:         true,
		`{"Name":"/a","Value":"v","Value":"w"}`: false, `{"Name":"/a","value":"v"}`: false, `{"Name":"/a","Value":"a\"b"}`: false,
		`{"Name":"/a","Overwrite":"true"}`: false, `{"Tags":[{"Key":"k","Key":"l"}]}`: false, `{"Tags":[{"key":"k"}]}`: false,
		`{"Tags":null}`: false, `{"Tags":[null]}`: false, `{"Name":"/a","Other":1}`: false, `{"Value":"ünï"}`: false,
	} {
		var in ssm.PutParameterInput
		if got := decodeFast([]byte(body), &in); got != accepted {
			t.Errorf("decodeFast(%s) into PutParameterInput = %v, want %v", body, got, accepted)
		}
	}
	for body, accepted := range map[string]bool{
		`{"Names":["/a","/b"],"WithDecryption":true}`: true, `{"Names":[]}`: true, `{"Names":["/a",]}`: false,
		`{"Names":["/a"],"Names":["/b"]}`: false, `{"Names":[1]}`: false, `{"Names":null}`: false,
	} {
		var in ssm.GetParametersInput
		if got := decodeFast([]byte(body), &in); got != accepted {
			t.Errorf("decodeFast(%s) into GetParametersInput = %v, want %v", body, got, accepted)
		}
	}
}
