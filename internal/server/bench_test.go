package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// BenchmarkPutParameterParallel measures durable overwrites of 1000 names
// by 64 writers at once (on 2 CPUs), as bench/write-ab.sh loads a server
// but without the network: the raft batches group-commit, so the figure
// that matters is cpu-µs/op, the process's CPU time (user + system, from
// getrusage) per write, which the machine's other work inflates far less
// than ns/op. It includes the test's own requests (cloned, pre-signed)
// and recorders, the same for any build.
func BenchmarkPutParameterParallel(b *testing.B) {
	h, signer, _ := benchServer(b)
	ctx := context.Background()
	const names = 1000
	type signed struct {
		req  *http.Request
		body []byte
	}
	reqs := make([]signed, names)
	for i := range reqs {
		body := []byte(fmt.Sprintf(`{"Name":"/bench/p%d","Type":"String","Value":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","Overwrite":true}`, i))
		req, err := signer.Post(ctx, "http://bench", "AmazonSSM.PutParameter", body)
		if err != nil {
			b.Fatal(err)
		}
		do(b, h, req, body) // creates it
		reqs[i] = signed{req, body}
	}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := reqs[next.Add(1)%names]
			req := s.req.Clone(ctx)
			req.Body = io.NopCloser(bytes.NewReader(s.body))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
