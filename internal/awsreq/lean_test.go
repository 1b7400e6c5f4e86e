package awsreq

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// leanCase is one configuration of a Lean and the Signer it must match.
type leanCase struct {
	endpoint, region string
	creds            aws.Credentials
}

var leanCases = []leanCase{
	{"http://127.0.0.1:4583", "us-east-1", aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}},
	{"http://127.0.0.1:4583/", "eu-west-1", aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "s3cr3t/+=", SessionToken: "FwoGZXIvYXdzEJr//////////wEaDN+token/with+base64="}},
	{"http://localhost:80", "ap-southeast-2", aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}},
	{"https://ssm.us-west-2.amazonaws.com:443", "us-west-2", aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret, SessionToken: "tok"}},
	{"https://ssm.us-west-2.amazonaws.com", "us-west-2", aws.Credentials{AccessKeyID: testAK, SecretAccessKey: "other"}},
	{"http://[::1]:8080", "us-east-1", aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}},
	{"http://[::1]:80", "us-east-1", aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}},
}

var leanTargets = []string{
	"AmazonSSM.GetParameter", "AmazonSSM.PutParameter", "Paramstore.ListNodes",
	"  AmazonSSM.GetParameter", "AmazonSSM.Get  Parameter  ", "a\tb", "x",
}

// TestLeanMatchesSDK: for many calls (bodies empty, JSON and arbitrary
// bytes, times across days and years, with and without a session token,
// hosts with and without default ports, targets the SDK canonicalizes), the
// request Lean writes parses as HTTP/1.1 and carries exactly the headers
// and body Signer.Post (aws-sdk-go-v2's v4 signer) gives the same call:
// Authorization, X-Amz-Date and X-Amz-Security-Token byte for byte. One
// Lean per configuration serves all its calls, so its reused buffers and
// its per-day key are covered too.
func TestLeanMatchesSDK(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	for ci, c := range leanCases {
		lean, err := NewLean(c.endpoint, c.creds, c.region)
		if err != nil {
			t.Fatalf("NewLean(%q): %v", c.endpoint, err)
		}
		var buf []byte
		for i := range 400 {
			// Mostly a few days around a midnight, sometimes anywhere.
			at := time.Date(2024, 2, 28, 23, 59, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
			if i%10 == 0 {
				at = time.Unix(rng.Int64N(4e9), rng.Int64N(1e9))
			}
			if i%7 == 0 { // not UTC: both must sign in UTC
				at = at.In(time.FixedZone("X", -5*3600))
			}
			target := leanTargets[rng.IntN(len(leanTargets))]
			body := leanBody(rng, i)

			sdk := NewSigner(credentials.StaticCredentialsProvider{Value: c.creds}, c.region, func() time.Time { return at })
			want, err := sdk.Post(context.Background(), c.endpoint, target, body)
			if err != nil {
				t.Fatal(err)
			}
			buf = lean.AppendPost(buf[:0], target, body, at)
			got, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(buf)))
			if err != nil {
				t.Fatalf("case %d/%d: the request does not parse: %v\n%s", ci, i, err, buf)
			}
			gotBody, err := io.ReadAll(got.Body)
			if err != nil || !bytes.Equal(gotBody, body) {
				t.Fatalf("case %d/%d: body %q (%v), want %q", ci, i, gotBody, err, body)
			}
			wantHost := want.Host
			if wantHost == "" {
				wantHost = want.URL.Host
			}
			if got.Method != "POST" || got.RequestURI != "/" || got.Host != wantHost || got.ContentLength != int64(len(body)) {
				t.Errorf("case %d/%d: %s %s host %q length %d; want POST / host %q length %d",
					ci, i, got.Method, got.RequestURI, got.Host, got.ContentLength, wantHost, len(body))
			}
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Target", "Content-Type"} {
				w := want.Header.Values(h)
				if h == "X-Amz-Target" && len(w) == 1 {
					// On the wire the SDK's request sends it as given; a
					// server's parser drops its outer white space, as
					// ReadRequest did for Lean's.
					w = []string{strings.Trim(w[0], " \t")}
				}
				if g := got.Header.Values(h); fmt.Sprintf("%q", g) != fmt.Sprintf("%q", w) {
					t.Fatalf("case %d/%d (%s, %d-byte body, target %q, at %v): %s\n got %q\nwant %q",
						ci, i, c.endpoint, len(body), target, at, h, g, w)
				}
			}
			if want.Header.Get("Authorization") == "" {
				t.Fatal("the SDK request has no Authorization header: the comparison proves nothing")
			}
		}
	}
}

// leanBody is the i-th body of TestLeanMatchesSDK: empty, a JSON call,
// or random bytes of up to 5000.
func leanBody(rng *rand.Rand, i int) []byte {
	switch i % 4 {
	case 0:
		if i%8 == 0 {
			return nil
		}
		return []byte(`{}`)
	case 1:
		return fmt.Appendf(nil, `{"Name":"/loadgen/p%07d","Value":%q,"Type":"String","Overwrite":true}`, rng.IntN(1e6), strings.Repeat("x", rng.IntN(300)))
	}
	b := make([]byte, rng.IntN(5000))
	for j := range b {
		b[j] = byte(rng.Uint32())
	}
	return b
}

// TestLeanVerified: the server's verifier accepts Lean's requests, and
// refuses one whose body was changed after signing, or that is replayed
// with another call's signature.
func TestLeanVerified(t *testing.T) {
	lean, err := NewLean("http://127.0.0.1:4583", aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	parse := func(raw []byte) (*http.Request, []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatal(err)
		}
		return req, body
	}
	body := []byte(`{"Name":"/app/url"}`)
	req, got := parse(lean.AppendPost(nil, "AmazonSSM.GetParameter", body, signTime))
	res, err := verifier(t).Verify(req, got)
	if err != nil {
		t.Fatalf("the server refuses Lean's signature: %v", err)
	}
	if res.AccessKeyID != testAK || res.Region != "eu-west-1" || res.Service != "ssm" || !res.SignedAt.Equal(signTime) {
		t.Errorf("verified as %+v, want %s in eu-west-1 for ssm at %v", res, testAK, signTime)
	}
	if _, err := verifier(t).Verify(req, []byte(`{"Name":"/app/urk"}`)); err == nil {
		t.Error("a changed body was accepted")
	}
	other, _ := parse(lean.AppendPost(nil, "AmazonSSM.GetParameter", []byte(`{"Name":"/other"}`), signTime))
	req.Header.Set("Authorization", other.Header.Get("Authorization"))
	if _, err := verifier(t).Verify(req, got); err == nil {
		t.Error("another call's signature was accepted")
	}
}

func TestNewLeanRefuses(t *testing.T) {
	ok := aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}
	for _, c := range []struct {
		endpoint string
		creds    aws.Credentials
	}{
		{"http://127.0.0.1:4583/prefix", ok},
		{"http://127.0.0.1:4583/?a=b", ok},
		{"ftp://127.0.0.1:4583", ok},
		{"127.0.0.1:4583", ok},
		{"http://127.0.0.1:4583", aws.Credentials{AccessKeyID: testAK}},
		{"http://127.0.0.1:4583", aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret, SessionToken: "a\r\nX-Evil: 1"}},
	} {
		if _, err := NewLean(c.endpoint, c.creds, "us-east-1"); err == nil {
			t.Errorf("NewLean(%q, %+v) accepted", c.endpoint, c.creds.SessionToken)
		}
	}
}

// BenchmarkSign compares the cost of signing one GetParameter call: the
// SDK's signer through Signer.Post, and Lean.
func BenchmarkSign(b *testing.B) {
	body := []byte(`{"Name":"/loadgen/p0000001"}`)
	creds := aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}
	b.Run("sdk", func(b *testing.B) {
		s := NewSigner(credentials.StaticCredentialsProvider{Value: creds}, "us-east-1", nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Post(context.Background(), "http://127.0.0.1:4583", "AmazonSSM.GetParameter", body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lean", func(b *testing.B) {
		l, err := NewLean("http://127.0.0.1:4583", creds, "us-east-1")
		if err != nil {
			b.Fatal(err)
		}
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = l.AppendPost(buf[:0], "AmazonSSM.GetParameter", body, time.Now())
		}
	})
}
