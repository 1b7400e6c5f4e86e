package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/paramstore/paramstore/internal/awsreq"
	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
)

// The hot paths of a request through the whole server in process (the
// handler the listener serves: SigV4 verification, policy, the read or the
// raft write, the response encoding and the audit record), without the
// network, so that allocs/op shows a regression. Run with
//
//	go test -run '^$' -bench . -benchmem ./internal/server/
//
// The per-function benchmarks are beside their functions (sigv4, api,
// audit, store).

// benchServer starts a server as users run it (auth and the audit trail
// on) and returns its handler and a signer with its root credentials.
func benchServer(b *testing.B) (http.Handler, *awsreq.Signer, *server.Server) {
	b.Helper()
	dir := b.TempDir()
	s, _ := servertest.Start(b, servertest.WithAuth, func(c *server.Config) { c.DataDir = dir })
	id, secret := servertest.RootCredentials(b, dir)
	signer := awsreq.NewSigner(aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, "")), "us-east-1", nil)
	return s.Handler(), signer, s
}

// do serves one signed call and fails unless it answers 200.
func do(b *testing.B, h http.Handler, req *http.Request, body []byte) {
	req.Body = io.NopCloser(bytes.NewReader(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("%s: status %d: %s", req.Header.Get("X-Amz-Target"), w.Code, w.Body)
	}
}

func BenchmarkGetParameter(b *testing.B) {
	h, signer, _ := benchServer(b)
	ctx := context.Background()
	for _, bc := range []struct{ name, typ, get string }{
		{"String", "String", `{"Name":"/bench/p"}`},
		{"SecureString", "SecureString", `{"Name":"/bench/s","WithDecryption":true}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			name := "/bench/p"
			if bc.typ == "SecureString" {
				name = "/bench/s"
			}
			put := []byte(fmt.Sprintf(`{"Name":%q,"Type":%q,"Value":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","Overwrite":true}`, name, bc.typ))
			req, err := signer.Post(ctx, "http://bench", "AmazonSSM.PutParameter", put)
			if err != nil {
				b.Fatal(err)
			}
			do(b, h, req, put)
			body := []byte(bc.get)
			req, err = signer.Post(ctx, "http://bench", "AmazonSSM.GetParameter", body)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				do(b, h, req, body)
			}
		})
	}
}

func BenchmarkGetParameters(b *testing.B) {
	h, signer, _ := benchServer(b)
	ctx := context.Background()
	for i := range 10 {
		put := []byte(fmt.Sprintf(`{"Name":"/bench/p%d","Type":"String","Value":"value-%d"}`, i, i))
		req, err := signer.Post(ctx, "http://bench", "AmazonSSM.PutParameter", put)
		if err != nil {
			b.Fatal(err)
		}
		do(b, h, req, put)
	}
	body := []byte(`{"Names":["/bench/p0","/bench/p1","/bench/p2","/bench/p3","/bench/p4","/bench/p5","/bench/p6","/bench/p7","/bench/p8","/bench/p9"]}`)
	req, err := signer.Post(ctx, "http://bench", "AmazonSSM.GetParameters", body)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		do(b, h, req, body)
	}
}

// BenchmarkPutParameter measures one durable overwrite at a time (no
// group commit): the cost of a write's round through raft and the state
// machine, and its fsyncs.
func BenchmarkPutParameter(b *testing.B) {
	h, signer, _ := benchServer(b)
	ctx := context.Background()
	body := []byte(`{"Name":"/bench/w","Type":"String","Value":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","Overwrite":true}`)
	b.ReportAllocs()
	for b.Loop() {
		req, err := signer.Post(ctx, "http://bench", "AmazonSSM.PutParameter", body)
		if err != nil {
			b.Fatal(err)
		}
		do(b, h, req, body)
	}
}
