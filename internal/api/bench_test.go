package api

import (
	"testing"

	"github.com/paramstore/paramstore/internal/ssm"
)

// Benchmarks of the API's per-call functions: request decoding (the fast
// path of GetParameter and encoding/json's) and response encoding (by hand
// for GetParameter(s) and PutParameter, encoding/json for the rest). The
// whole call, with SigV4, the read or the write and the audit records, is
// internal/server's BenchmarkGetParameter and BenchmarkPutParameter*.

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		body string
		in   func() any
	}{
		{"GetParameter", `{"Name":"/app/prod/db-url","WithDecryption":true}`, func() any { return new(ssm.GetParameterInput) }},
		{"GetParameters", `{"Names":["/app/prod/a","/app/prod/b"],"WithDecryption":true}`, func() any { return new(ssm.GetParametersInput) }},
		{"PutParameter", `{"Name":"/app/prod/db-url","Value":"postgres://db:5432/app","Type":"String","Overwrite":true}`, func() any { return new(ssm.PutParameterInput) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := []byte(bc.body)
			b.ReportAllocs()
			for b.Loop() {
				if err := decode(body, bc.in()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	ts := ssm.TimestampMillis(1764500000123)
	p := ssm.Parameter{Name: "/app/prod/db-url", Type: ssm.TypeString, Value: "postgres://db:5432/app", Version: 3,
		LastModifiedDate: &ts, ARN: "arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/db-url", DataType: ssm.DataTypeText}
	for _, bc := range []struct {
		name string
		out  any
	}{
		{"GetParameter", &ssm.GetParameterOutput{Parameter: &p}},
		{"GetParameters", &ssm.GetParametersOutput{Parameters: []ssm.Parameter{p, p, p}, InvalidParameters: []string{}}},
		{"PutParameter", &ssm.PutParameterOutput{Version: 3, Tier: "Standard"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = encodeResponse(buf[:0], bc.out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
