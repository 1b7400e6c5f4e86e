package sigv4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAK     = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	tempAK     = "ASIATEMPEXAMPLE"
	tempSecret = "tempSecretKeyEXAMPLE/+"
	tempToken  = "FwoGZXIvYXdzEXAMPLETOKEN//+=="
	testBody   = `{"Name": "/test/param", "WithDecryption": true}`
	testURL    = "http://127.0.0.1:4566/"
)

// signTime is the signing time of every SDK-signed request in these tests.
var signTime = time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)

// testCreds are the keys the test verifiers know.
var testCreds = map[string]Credentials{
	testAK: {SecretAccessKey: testSecret},
	tempAK: {SecretAccessKey: tempSecret, SessionToken: tempToken, Expires: signTime.Add(time.Hour)},
	"AKIDBOTOCORE": {
		SecretAccessKey: "botocoreSecretKey/+EXAMPLE",
		SessionToken:    "SESSIONTOKENBOTO",
	},
	"AKIDBOTOCORE2": {SecretAccessKey: "botocoreSecretKey/+EXAMPLE"},
}

func lookupTestCreds(id string) (Credentials, error) {
	c, ok := testCreds[id]
	if !ok {
		return Credentials{}, fmt.Errorf("key %q: %w", id, ErrUnknownAccessKey)
	}
	return c, nil
}

// newTestVerifier returns a verifier for SSM whose clock reads now.
func newTestVerifier(t testing.TB, now time.Time, edit ...func(*Config)) *Verifier {
	t.Helper()
	c := Default()
	c.Lookup = lookupTestCreds
	c.Now = func() time.Time { return now }
	for _, e := range edit {
		e(&c)
	}
	v, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// sdkRequest describes a request to sign with the aws-sdk-go-v2 signer.
type sdkRequest struct {
	url     string // default testURL
	body    string // default testBody
	headers map[string]string
	ak      string // default testAK
	region  string // default us-east-1
	service string // default ssm
	at      time.Time
}

func (s sdkRequest) build(t testing.TB) (*http.Request, aws.Credentials, string) {
	t.Helper()
	if s.url == "" {
		s.url = testURL
	}
	if s.body == "" {
		s.body = testBody
	}
	if s.ak == "" {
		s.ak = testAK
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.service == "" {
		s.service = "ssm"
	}
	r := httptest.NewRequest(http.MethodPost, s.url, strings.NewReader(s.body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	for k, v := range s.headers {
		r.Header.Set(k, v)
	}
	c := testCreds[s.ak]
	creds := aws.Credentials{AccessKeyID: s.ak, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	return r, creds, s.region + "/" + s.service
}

// sign signs the request with SignHTTP and returns it.
func (s sdkRequest) sign(t testing.TB) *http.Request {
	t.Helper()
	r, creds, rs := s.build(t)
	region, service, _ := strings.Cut(rs, "/")
	at := s.at
	if at.IsZero() {
		at = signTime
	}
	body := s.body
	if body == "" {
		body = testBody
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hexSHA256([]byte(body)), service, region, at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return r
}

// presign presigns the request with PresignHTTP (payloadHash "" means the
// body's hash) and returns the request a client would send with the URL.
func (s sdkRequest) presign(t testing.TB, payloadHash string, expires int) *http.Request {
	t.Helper()
	r, creds, rs := s.build(t)
	region, service, _ := strings.Cut(rs, "/")
	body := s.body
	if body == "" {
		body = testBody
	}
	if payloadHash == "" {
		payloadHash = hexSHA256([]byte(body))
	}
	if expires > 0 {
		q := r.URL.Query()
		q.Set("X-Amz-Expires", fmt.Sprint(expires))
		r.URL.RawQuery = q.Encode()
	}
	at := s.at
	if at.IsZero() {
		at = signTime
	}
	uri, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, payloadHash, service, region, at)
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	out := httptest.NewRequest(http.MethodPost, uri, strings.NewReader(body))
	for k, vs := range hdr {
		if k == "Host" {
			continue
		}
		out.Header[k] = vs
	}
	return out
}

func TestVerifySDK(t *testing.T) {
	tests := []struct {
		name string
		req  func(t *testing.T) *http.Request
		want Result
	}{
		{
			name: "plain",
			req:  func(t *testing.T) *http.Request { return sdkRequest{}.sign(t) },
			want: Result{AccessKeyID: testAK, Region: "us-east-1", Service: "ssm", SignedAt: signTime},
		},
		{
			name: "session token",
			req:  func(t *testing.T) *http.Request { return sdkRequest{ak: tempAK, region: "eu-central-1"}.sign(t) },
			want: Result{AccessKeyID: tempAK, Region: "eu-central-1", Service: "ssm", SessionToken: tempToken, SignedAt: signTime},
		},
		{
			name: "extra signed headers",
			req: func(t *testing.T) *http.Request {
				r := sdkRequest{headers: map[string]string{
					"Amz-Sdk-Invocation-Id": "6ae38fff-0000-4000-8000-000000000000",
					"Amz-Sdk-Request":       "attempt=1;  max=3",
					"X-Custom":              "  padded   value ",
				}}.sign(t)
				auth := r.Header.Get("Authorization")
				for _, h := range []string{"amz-sdk-invocation-id", "amz-sdk-request", "content-length", "x-custom"} {
					if !strings.Contains(auth, h) {
						t.Fatalf("signer did not sign %s: %s", h, auth)
					}
				}
				return r
			},
			want: Result{AccessKeyID: testAK, Region: "us-east-1", Service: "ssm", SignedAt: signTime},
		},
		{
			name: "path and query",
			req: func(t *testing.T) *http.Request {
				return sdkRequest{url: "http://localhost:9999/some%20prefix/a~b%24c/?b=2&a=x%20y&a=1&c=a%2Fb&c=a-b"}.sign(t)
			},
			want: Result{AccessKeyID: testAK, Region: "us-east-1", Service: "ssm", SignedAt: signTime},
		},
		{
			name: "signed x-amz-content-sha256",
			req: func(t *testing.T) *http.Request {
				return sdkRequest{headers: map[string]string{"X-Amz-Content-Sha256": hexSHA256([]byte(testBody))}}.sign(t)
			},
			want: Result{AccessKeyID: testAK, Region: "us-east-1", Service: "ssm", SignedAt: signTime},
		},
		{
			name: "presigned body hash",
			req:  func(t *testing.T) *http.Request { return sdkRequest{}.presign(t, "", 0) },
			want: Result{AccessKeyID: testAK, Region: "us-east-1", Service: "ssm", SignedAt: signTime, Presigned: true},
		},
		{
			name: "presigned unsigned payload with token and expiry",
			req:  func(t *testing.T) *http.Request { return sdkRequest{ak: tempAK}.presign(t, unsignedPayload, 3600) },
			want: Result{
				AccessKeyID: tempAK, Region: "us-east-1", Service: "ssm", SessionToken: tempToken,
				SignedAt: signTime, Presigned: true, UnsignedPayload: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req(t)
			// An unsigned header added afterwards does not matter.
			r.Header.Set("User-Agent", "added-after-signing")
			body, err := io.ReadAll(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			v := newTestVerifier(t, signTime.Add(time.Minute))
			got, err := v.Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: got error %v, want success", err)
			}
			if *got != tt.want {
				t.Errorf("Verify: got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

// TestVerifyOverHTTP sends SDK-signed requests through a real net/http
// server, which moves Host and Content-Length out of r.Header.
func TestVerifyOverHTTP(t *testing.T) {
	v := newTestVerifier(t, signTime)
	type outcome struct {
		res *Result
		err error
	}
	got := make(chan outcome, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			got <- outcome{err: err}
			return
		}
		res, err := v.Verify(r, body)
		got <- outcome{res, err}
	}))
	defer srv.Close()

	for _, path := range []string{"/", "/some/prefix", "/a%20b/c~d"} {
		t.Run(path, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(testBody))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
			creds := aws.Credentials{AccessKeyID: tempAK, SecretAccessKey: tempSecret, SessionToken: tempToken}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hexSHA256([]byte(testBody)), "ssm", "us-east-1", signTime); err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			o := <-got
			if o.err != nil {
				t.Fatalf("Verify: got error %v, want success", o.err)
			}
			if o.res.AccessKeyID != tempAK || o.res.SessionToken != tempToken {
				t.Errorf("Verify: got %+v, want key %s with its token", *o.res, tempAK)
			}
		})
	}
}

// TestVerifyBotocore checks requests signed by botocore 1.43.11 SigV4Auth
// with get_current_datetime patched to 2025-03-04T05:06:07Z.
func TestVerifyBotocore(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name    string
		url     string
		body    string
		headers map[string]string
		want    Result
	}{
		{
			name: "session token",
			url:  "http://127.0.0.1:4566/",
			body: `{"Name": "/bc/param", "Value": "v", "Type": "String"}`,
			headers: map[string]string{
				"Content-Type":         "application/x-amz-json-1.1",
				"X-Amz-Target":         "AmazonSSM.PutParameter",
				"X-Amz-Date":           "20250304T050607Z",
				"X-Amz-Security-Token": "SESSIONTOKENBOTO",
				"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDBOTOCORE/20250304/eu-west-1/ssm/aws4_request, " +
					"SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, " +
					"Signature=92c7944e16ef46381370608dbdbf8a0030a26a0e47066c9753d0970461941c01",
			},
			want: Result{AccessKeyID: "AKIDBOTOCORE", Region: "eu-west-1", Service: "ssm", SessionToken: "SESSIONTOKENBOTO", SignedAt: at},
		},
		{
			// The secret is the same; botocore signed the key id
			// AKIDBOTOCORE, so the vector is replayed under that id.
			name: "endpoint path and query",
			url:  "http://localhost:9999/some%20prefix/a~b%24c/?b=2&a=x%20y&a=1",
			body: `{}`,
			headers: map[string]string{
				"Content-Type": "application/x-amz-json-1.1",
				"X-Amz-Target": "AmazonSSM.PutParameter",
				"X-Amz-Date":   "20250304T050607Z",
				"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDBOTOCORE/20250304/eu-west-1/ssm/aws4_request, " +
					"SignedHeaders=content-type;host;x-amz-date;x-amz-target, " +
					"Signature=85884ddda6bb210b0079ebf390e15cdb10b994a24ed244859620f5df4946cd7c",
			},
			want: Result{AccessKeyID: "AKIDBOTOCORE", Region: "eu-west-1", Service: "ssm", SignedAt: at},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.url, strings.NewReader(tt.body))
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			lookup := lookupTestCreds
			if tt.want.SessionToken == "" {
				// Same key, issued without a session token.
				lookup = func(id string) (Credentials, error) {
					c, err := lookupTestCreds(id)
					c.SessionToken = ""
					return c, err
				}
			}
			v := newTestVerifier(t, at.Add(-time.Minute), func(c *Config) { c.Lookup = lookup })
			got, err := v.Verify(r, []byte(tt.body))
			if err != nil {
				t.Fatalf("Verify: got error %v, want success", err)
			}
			if *got != tt.want {
				t.Errorf("Verify: got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

const scopeTail = "/us-east-1/ssm/aws4_request"

func TestVerifyErrors(t *testing.T) {
	replaceAuth := func(old, new string) func(r *http.Request) {
		return func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
		}
	}
	setAuth := func(h string) func(r *http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", h) }
	}
	withAuth := func(prefix string) string { return " Authorization=" + prefix }

	tests := []struct {
		name   string
		req    sdkRequest
		mutate func(r *http.Request)
		body   string // verified body; default: the signed one
		now    time.Time
		config func(*Config)
		code   string
		msg    string
	}{
		{
			name:   "unsigned",
			mutate: func(r *http.Request) { r.Header.Del("Authorization") },
			code:   CodeMissingAuthenticationToken,
			msg:    "Missing Authentication Token",
		},
		{
			name:   "missing credential",
			mutate: setAuth("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=abcd"),
			code:   CodeIncompleteSignature,
			msg: "Authorization header requires 'Credential' parameter." +
				withAuth("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=abcd"),
		},
		{
			name:   "missing signature",
			mutate: setAuth("AWS4-HMAC-SHA256 Credential=" + testAK + "/20240115" + scopeTail + ",SignedHeaders=host"),
			code:   CodeIncompleteSignature,
			msg: "Authorization header requires 'Signature' parameter." +
				withAuth("AWS4-HMAC-SHA256 Credential="+testAK+"/20240115"+scopeTail+",SignedHeaders=host"),
		},
		{
			name:   "missing signed headers",
			mutate: setAuth("AWS4-HMAC-SHA256 Credential=" + testAK + "/20240115" + scopeTail + ", Signature=abcd"),
			code:   CodeIncompleteSignature,
			msg: "Authorization header requires 'SignedHeaders' parameter." +
				withAuth("AWS4-HMAC-SHA256 Credential="+testAK+"/20240115"+scopeTail+", Signature=abcd"),
		},
		{
			name:   "missing date",
			mutate: func(r *http.Request) { r.Header.Del("X-Amz-Date") },
			code:   CodeIncompleteSignature,
			msg:    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=",
		},
		{
			name: "every part missing",
			mutate: func(r *http.Request) {
				r.Header.Del("X-Amz-Date")
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 garbage")
			},
			code: CodeIncompleteSignature,
			msg: "Authorization header requires 'Credential' parameter. " +
				"Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. " +
				"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header." +
				withAuth("AWS4-HMAC-SHA256 garbage"),
		},
		{
			name:   "other algorithm",
			mutate: setAuth("Bearer abc"),
			code:   CodeIncompleteSignature,
			msg:    "Unsupported AWS 'algorithm': 'Bearer'",
		},
		{
			name:   "credential with four elements",
			mutate: replaceAuth("/aws4_request", ""),
			code:   CodeIncompleteSignature,
			msg: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" +
				testAK + "/20240115/us-east-1/ssm'",
		},
		{
			name:   "host not signed",
			mutate: replaceAuth("content-length;content-type;host;", "content-length;content-type;"),
			code:   CodeIncompleteSignature,
			msg:    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name:   "malformed x-amz-date",
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2024-01-15T12:00:00Z") },
			code:   CodeIncompleteSignature,
			msg:    "Date must be in ISO-8601 'basic format'. Got '2024-01-15T12:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name:   "unknown key",
			mutate: replaceAuth("Credential="+testAK, "Credential=AKIDUNKNOWN"),
			code:   CodeUnrecognizedClient,
			msg:    "The security token included in the request is invalid.",
		},
		{
			name:   "session token missing",
			req:    sdkRequest{ak: tempAK},
			mutate: func(r *http.Request) { r.Header.Del("X-Amz-Security-Token") },
			code:   CodeUnrecognizedClient,
			msg:    "The security token included in the request is invalid.",
		},
		{
			name:   "session token wrong",
			req:    sdkRequest{ak: tempAK},
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", tempToken+"x") },
			code:   CodeUnrecognizedClient,
			msg:    "The security token included in the request is invalid.",
		},
		{
			name:   "session token with long-term key",
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", tempToken) },
			code:   CodeUnrecognizedClient,
			msg:    "The security token included in the request is invalid.",
		},
		{
			name: "credentials expired",
			req:  sdkRequest{ak: tempAK, at: signTime.Add(time.Hour)},
			now:  signTime.Add(time.Hour),
			code: CodeExpiredToken,
			msg:  "The security token included in the request is expired",
		},
		{
			name: "invalid region",
			req:  sdkRequest{region: "moon"},
			code: CodeInvalidSignature,
			msg:  "Credential should be scoped to a valid region, not 'moon'. ",
		},
		{
			name:   "region not in allow-list",
			req:    sdkRequest{region: "eu-west-1"},
			config: func(c *Config) { c.Regions = []string{"us-east-1"} },
			code:   CodeInvalidSignature,
			msg:    "Credential should be scoped to a valid region, not 'eu-west-1'. ",
		},
		{
			name: "wrong service",
			req:  sdkRequest{service: "sts"},
			code: CodeInvalidSignature,
			msg:  "Credential should be scoped to correct service: 'ssm'. ",
		},
		{
			name:   "wrong terminator",
			mutate: replaceAuth("/aws4_request", "/aws4_requestX"),
			code:   CodeInvalidSignature,
			msg:    "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requestX'. ",
		},
		{
			name:   "scope date mismatch",
			mutate: replaceAuth("/20240115/", "/20240114/"),
			code:   CodeInvalidSignature,
			msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: " +
				"'20240114' != '20240115', from '20240115T120000Z'.",
		},
		{
			name:   "every scope part wrong",
			req:    sdkRequest{region: "Moon", service: "s3"},
			mutate: replaceAuth("/aws4_request", "/aws5_request"),
			now:    signTime.Add(24 * time.Hour), // scope checks come before the time checks
			code:   CodeInvalidSignature,
			msg: "Credential should be scoped to a valid region, not 'Moon'. " +
				"Credential should be scoped to correct service: 'ssm'. " +
				"Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
		},
		{
			name: "signature expired",
			now:  signTime.Add(MaxSkew + time.Second),
			code: CodeInvalidSignature,
			msg:  "Signature expired: 20240115T120000Z is now earlier than 20240115T120001Z (20240115T121501Z - 15 min.)",
		},
		{
			name: "signature not yet current",
			now:  signTime.Add(-MaxSkew - time.Second),
			code: CodeInvalidSignature,
			msg:  "Signature not yet current: 20240115T120000Z is still later than 20240115T115959Z (20240115T114459Z + 15 min.)",
		},
		{
			name: "exactly 15 minutes old",
			now:  signTime.Add(MaxSkew),
		},
		{
			name: "exactly 15 minutes early",
			now:  signTime.Add(-MaxSkew),
		},
		{
			name: "wrong secret",
			config: func(c *Config) {
				c.Lookup = func(string) (Credentials, error) { return Credentials{SecretAccessKey: "other"}, nil }
			},
			code: CodeInvalidSignature,
			msg:  msgMismatch,
		},
		{
			name: "tampered body",
			body: strings.Replace(testBody, "/test/param", "/test/other", 1),
			code: CodeInvalidSignature,
			msg:  msgMismatch,
		},
		{
			name:   "tampered signed header",
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Target", "AmazonSSM.DeleteParameter") },
			code:   CodeInvalidSignature,
			msg:    msgMismatch,
		},
		{
			name:   "tampered host",
			mutate: func(r *http.Request) { r.Host = "127.0.0.1:4567" },
			code:   CodeInvalidSignature,
			msg:    msgMismatch,
		},
		{
			name:   "tampered path",
			mutate: func(r *http.Request) { r.URL.Path = "/other" },
			code:   CodeInvalidSignature,
			msg:    msgMismatch,
		},
		{
			name:   "unsigned extra header",
			mutate: func(r *http.Request) { r.Header.Set("X-Extra", "not signed") },
		},
		{
			name: "signature not hex",
			mutate: func(r *http.Request) {
				h := r.Header.Get("Authorization")
				r.Header.Set("Authorization", h[:len(h)-2]+"zz")
			},
			code: CodeInvalidSignature,
			msg:  msgMismatch,
		},
		{
			name:   "region replayed in scope",
			mutate: replaceAuth("/us-east-1/", "/us-west-2/"),
			code:   CodeInvalidSignature,
			msg:    msgMismatch,
		},
		{
			name: "signed content hash is not the body's",
			req:  sdkRequest{headers: map[string]string{"X-Amz-Content-Sha256": hexSHA256([]byte("other"))}},
			code: CodeInvalidSignature,
			msg:  msgMismatch,
		},
		{
			name: "unsigned payload needs presigning",
			req:  sdkRequest{headers: map[string]string{"X-Amz-Content-Sha256": unsignedPayload}},
			code: CodeInvalidSignature,
			msg:  msgMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req.sign(t)
			if tt.mutate != nil {
				tt.mutate(r)
			}
			body := tt.req.body
			if body == "" {
				body = testBody
			}
			if tt.body != "" {
				body = tt.body
			}
			now := tt.now
			if now.IsZero() {
				now = signTime
			}
			var edits []func(*Config)
			if tt.config != nil {
				edits = append(edits, tt.config)
			}
			checkVerify(t, newTestVerifier(t, now, edits...), r, body, tt.code, tt.msg)
		})
	}
}

// checkVerify verifies r and checks the error code and message; code ""
// means success. A message ending in "Authorization=" is completed with
// the request's Authorization header.
func checkVerify(t *testing.T, v *Verifier, r *http.Request, body, code, msg string) {
	t.Helper()
	_, err := v.Verify(r, []byte(body))
	if code == "" {
		if err != nil {
			t.Fatalf("Verify: got error %v, want success", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Verify: got error %v, want *Error with code %s", err, code)
	}
	if strings.HasSuffix(msg, "Authorization=") {
		msg += r.Header.Get("Authorization")
	}
	if e.Code != code || e.Message != msg {
		t.Errorf("Verify:\n got %s: %q\nwant %s: %q", e.Code, e.Message, code, msg)
	}
	if e.StatusCode() != http.StatusBadRequest {
		t.Errorf("StatusCode: got %d, want 400", e.StatusCode())
	}
}

func TestVerifyPresignedErrors(t *testing.T) {
	tests := []struct {
		name string
		req  func(t *testing.T) *http.Request
		body string
		now  time.Time
		code string
		msg  string
	}{
		{
			name: "missing parameters",
			req: func(t *testing.T) *http.Request {
				return httptest.NewRequest(http.MethodPost, testURL+"?X-Amz-Signature=abc", strings.NewReader(testBody))
			},
			code: CodeIncompleteSignature,
			msg: "AWS query-string parameters must include 'X-Amz-Algorithm'. " +
				"AWS query-string parameters must include 'X-Amz-Credential'. " +
				"AWS query-string parameters must include 'X-Amz-SignedHeaders'. " +
				"AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters.",
		},
		{
			name: "also an authorization header",
			req: func(t *testing.T) *http.Request {
				r := sdkRequest{}.presign(t, "", 0)
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x")
				return r
			},
			code: CodeIncompleteSignature,
			msg:  "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified",
		},
		{
			name: "x-amz-expires passed",
			req:  func(t *testing.T) *http.Request { return sdkRequest{}.presign(t, "", 60) },
			now:  signTime.Add(61 * time.Second),
			code: CodeInvalidSignature,
			msg:  "Signature expired: 20240115T120000Z is now earlier than 20240115T120001Z (20240115T120101Z - 60 sec.)",
		},
		{
			name: "x-amz-expires allows more than 15 minutes",
			req:  func(t *testing.T) *http.Request { return sdkRequest{}.presign(t, "", 3600) },
			now:  signTime.Add(59 * time.Minute),
		},
		{
			name: "x-amz-expires too long",
			req:  func(t *testing.T) *http.Request { return sdkRequest{}.presign(t, "", 604801) },
			code: CodeIncompleteSignature,
			msg:  "X-Amz-Expires must be less than a week (in seconds) that is 604800",
		},
		{
			name: "tampered body",
			req:  func(t *testing.T) *http.Request { return sdkRequest{}.presign(t, "", 0) },
			body: `{"Name": "/x"}`,
			code: CodeInvalidSignature,
			msg:  msgMismatch,
		},
		{
			name: "unsigned payload allows any body",
			req:  func(t *testing.T) *http.Request { return sdkRequest{}.presign(t, unsignedPayload, 0) },
			body: `{"Name": "/x"}`,
		},
		{
			name: "tampered query",
			req: func(t *testing.T) *http.Request {
				r := sdkRequest{}.presign(t, "", 0)
				r.URL.RawQuery += "&extra=1"
				return r
			},
			code: CodeInvalidSignature,
			msg:  msgMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := testBody
			if tt.body != "" {
				body = tt.body
			}
			now := tt.now
			if now.IsZero() {
				now = signTime
			}
			checkVerify(t, newTestVerifier(t, now), tt.req(t), body, tt.code, tt.msg)
		})
	}
}

func TestVerifyLookupFailure(t *testing.T) {
	boom := errors.New("store unavailable")
	v := newTestVerifier(t, signTime, func(c *Config) {
		c.Lookup = func(string) (Credentials, error) { return Credentials{}, boom }
	})
	_, err := v.Verify(sdkRequest{}.sign(t), []byte(testBody))
	var e *Error
	if !errors.Is(err, boom) || errors.As(err, &e) {
		t.Errorf("Verify: got %v, want a wrapped %v that is not *Error", err, boom)
	}
}

func TestVerifyDateHeader(t *testing.T) {
	// A client that sends Date instead of X-Amz-Date signs the ISO form.
	r := httptest.NewRequest(http.MethodPost, testURL, strings.NewReader(testBody))
	r.Header.Set("Date", signTime.Format(http.TimeFormat))
	scope := "20240115/us-east-1/ssm/aws4_request"
	creq := buildCanonicalRequest(r.Method, "/", "", canonicalHeaders(r, []string{"date", "host"}), "date;host", hexSHA256([]byte(testBody)))
	sig := fmt.Sprintf("%x", hmacSHA256(deriveKey(testSecret, "20240115", "us-east-1", "ssm"), []byte(stringToSign(signTime, scope, creq))))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=date;host, Signature="+sig)
	checkVerify(t, newTestVerifier(t, signTime), r, testBody, "", "")
}

func TestKeyCache(t *testing.T) {
	v := newTestVerifier(t, signTime, func(c *Config) { c.CacheSize = 2 })
	for _, region := range []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2"} {
		for range 2 {
			r := sdkRequest{region: region}.sign(t)
			if _, err := v.Verify(r, []byte(testBody)); err != nil {
				t.Fatalf("Verify in %s: %v", region, err)
			}
		}
		if n := v.keys.len(); n > 2 {
			t.Fatalf("cache holds %d keys, want at most 2", n)
		}
	}

	// A rotated secret must not reuse the key derived from the old one.
	rotated := false
	v = newTestVerifier(t, signTime, func(c *Config) {
		c.Lookup = func(id string) (Credentials, error) {
			if rotated {
				return Credentials{SecretAccessKey: "rotated"}, nil
			}
			return lookupTestCreds(id)
		}
	})
	if _, err := v.Verify(sdkRequest{}.sign(t), []byte(testBody)); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}
	if n := v.keys.len(); n != 1 {
		t.Fatalf("cache holds %d keys after one verification, want 1", n)
	}
	rotated = true
	checkVerify(t, v, sdkRequest{}.sign(t), testBody, CodeInvalidSignature, msgMismatch)

	// Size 0 caches nothing.
	v = newTestVerifier(t, signTime, func(c *Config) { c.CacheSize = 0 })
	if _, err := v.Verify(sdkRequest{}.sign(t), []byte(testBody)); err != nil {
		t.Fatalf("Verify without cache: %v", err)
	}
	if n := v.keys.len(); n != 0 {
		t.Errorf("disabled cache holds %d keys, want 0", n)
	}
}

func TestConfigValidate(t *testing.T) {
	valid := Default()
	valid.Lookup = lookupTestCreds
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"valid", func(*Config) {}, ""},
		{"no service", func(c *Config) { c.Service = "" }, "sigv4: Service is required"},
		{"no lookup", func(c *Config) { c.Lookup = nil }, "sigv4: Lookup is required"},
		{"no clock", func(c *Config) { c.Now = nil }, "sigv4: Now is required"},
		{"negative cache", func(c *Config) { c.CacheSize = -1 }, "sigv4: CacheSize -1 must not be negative"},
		{"empty region", func(c *Config) { c.Regions = []string{""} }, "sigv4: Regions must not contain an empty region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.edit(&c)
			_, err := New(c)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("New: got error %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v := newTestVerifier(t, signTime, func(c *Config) { c.CacheSize = 3 })
	regions := []string{"us-east-1", "us-east-2", "eu-west-1", "eu-west-2", "ap-south-1"}
	reqs := make([]*http.Request, len(regions))
	for i, region := range regions {
		reqs[i] = sdkRequest{region: region}.sign(t)
	}
	errs := make(chan error, 8*len(reqs))
	done := make(chan struct{})
	for w := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range reqs {
				r := reqs[(i+w)%len(reqs)]
				if _, err := v.Verify(r, []byte(testBody)); err != nil {
					errs <- err
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Errorf("Verify: %v", err)
	}
}

// BenchmarkVerify measures a verification with the signing key cached, and
// without the cache for comparison.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"cached", Default().CacheSize}, {"uncached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			v := newTestVerifier(b, signTime, func(c *Config) { c.CacheSize = bc.size })
			r := sdkRequest{ak: tempAK}.sign(b)
			body := []byte(testBody)
			if _, err := v.Verify(r, body); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(r, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
