package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
)

// Authentication through a real server with signature verification on
// (servertest.WithAuth): every SDK operation refuses badly signed requests
// with the code and exact message of spec §4.4, and the credentials the
// admin API issues work, stop working, and expire as they should.

const (
	msgMissingToken = "Missing Authentication Token"
	msgBadToken     = "The security token included in the request is invalid."
	msgMismatch     = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	sigTimeFormat = "20060102T150405Z"
)

// authEnv is a server that verifies signatures, with its root credentials.
type authEnv struct {
	t        *testing.T
	ctx      context.Context
	endpoint string
	root     aws.Credentials
	rootC    *ssm.Client
}

func newAuthEnv(t *testing.T, opts ...servertest.Option) *authEnv {
	t.Helper()
	dir := t.TempDir()
	opts = append([]servertest.Option{servertest.WithAuth, func(c *server.Config) { c.DataDir = dir }}, opts...)
	_, ep := servertest.Start(t, opts...)
	id, secret := servertest.RootCredentials(t, dir)
	e := &authEnv{t: t, ctx: context.Background(), endpoint: ep,
		root: aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}}
	e.rootC = e.client(e.root)
	return e
}

// client returns an SDK client (no retries) signing with creds.
func (e *authEnv) client(creds aws.Credentials) *ssm.Client {
	return servertest.ClientWith(e.t, e.endpoint, testRegion, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
}

// request builds an unsigned API request.
func (e *authEnv) request(target, body string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.endpoint+"/", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	return req
}

// signed builds a request signed by the aws-sdk-go-v2 v4 signer for
// service ssm in region at the given time.
func (e *authEnv) signed(target, body string, creds aws.Credentials, region string, at time.Time) *http.Request {
	e.t.Helper()
	req := e.request(target, body)
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(e.ctx, creds, req, hex.EncodeToString(sum[:]), "ssm", region, at); err != nil {
		e.t.Fatalf("SignHTTP: %v", err)
	}
	return req
}

// wireResult is a raw answer: status, error code and message (empty on
// success) and body.
type wireResult struct {
	status    int
	code, msg string
	errorType string // the X-Amzn-ErrorType header
	body      []byte
}

func send(t *testing.T, req *http.Request) wireResult {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s: %v", req.Header.Get("X-Amz-Target"), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	res := wireResult{status: resp.StatusCode, body: raw, errorType: resp.Header.Get("X-Amzn-ErrorType")}
	if resp.StatusCode != http.StatusOK {
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("got status %d with body %q, want a JSON error", resp.StatusCode, raw)
		}
		res.code = m["__type"]
		res.msg = m["message"] + m["Message"]
	}
	return res
}

// wantWire checks a refused request: HTTP 400, the code in the body and
// in the X-Amzn-ErrorType header, and exactly the message.
func wantWire(t *testing.T, got wireResult, code, msg string) {
	t.Helper()
	if got.status != http.StatusBadRequest || got.code != code || got.errorType != code {
		t.Fatalf("got status %d, code %q (header %q), body %s; want 400 %s", got.status, got.code, got.errorType, got.body, code)
	}
	if got.msg != msg {
		t.Errorf("%s: got message %q, want %q", code, got.msg, msg)
	}
}

// admin calls a Paramstore.* admin operation signed with creds.
func (e *authEnv) admin(creds aws.Credentials, op string, in any) wireResult {
	e.t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		e.t.Fatal(err)
	}
	return send(e.t, e.signed("Paramstore."+op, string(body), creds, testRegion, time.Now()))
}

// rootAdmin calls an admin operation as root, fails the test unless it
// succeeds, and decodes the answer into out (if not nil).
func (e *authEnv) rootAdmin(op string, in, out any) {
	e.t.Helper()
	res := e.admin(e.root, op, in)
	if res.status != http.StatusOK {
		e.t.Fatalf("%s as root: got %d %s %q, want 200", op, res.status, res.code, res.msg)
	}
	if out != nil {
		if err := json.Unmarshal(res.body, out); err != nil {
			e.t.Fatalf("%s: decode %s: %v", op, res.body, err)
		}
	}
}

// newUser creates a user with an inline policy (none if "") and returns a
// new access key of it.
func (e *authEnv) newUser(name, policy string) aws.Credentials {
	e.t.Helper()
	e.rootAdmin("CreateUser", map[string]string{"UserName": name, "PolicyDocument": policy}, nil)
	return e.newKey(name)
}

func (e *authEnv) newKey(user string) aws.Credentials {
	e.t.Helper()
	var out struct {
		AccessKey struct {
			AccessKeyId, SecretAccessKey, Status string
		}
	}
	e.rootAdmin("CreateAccessKey", map[string]string{"UserName": user}, &out)
	k := out.AccessKey
	if !strings.HasPrefix(k.AccessKeyId, "AKIA") || len(k.SecretAccessKey) != 40 || k.Status != "Active" {
		e.t.Fatalf("CreateAccessKey %s: got %+v, want an active AKIA key with a 40-character secret", user, k)
	}
	return aws.Credentials{AccessKeyID: k.AccessKeyId, SecretAccessKey: k.SecretAccessKey}
}

// ssmOp is one SSM operation with a body that succeeds, as root, against
// authFixture, when the operations run in table order.
type ssmOp struct {
	name string
	body string
}

const highThroughput = "/ssm/parameter-store/high-throughput-enabled"

// allSSMOps are the 16 operations of spec §1.1.
var allSSMOps = []ssmOp{
	{"PutParameter", `{"Name":"/auth/put","Value":"v","Type":"String"}`},
	{"GetParameter", `{"Name":"/auth/p"}`},
	{"GetParameters", `{"Names":["/auth/p"]}`},
	{"GetParametersByPath", `{"Path":"/auth"}`},
	{"GetParameterHistory", `{"Name":"/auth/p"}`},
	{"DescribeParameters", `{}`},
	{"LabelParameterVersion", `{"Name":"/auth/p","ParameterVersion":1,"Labels":["blue"]}`},
	{"UnlabelParameterVersion", `{"Name":"/auth/p","ParameterVersion":1,"Labels":["blue"]}`},
	{"AddTagsToResource", `{"ResourceType":"Parameter","ResourceId":"/auth/p","Tags":[{"Key":"team","Value":"a"}]}`},
	{"ListTagsForResource", `{"ResourceType":"Parameter","ResourceId":"/auth/p"}`},
	{"RemoveTagsFromResource", `{"ResourceType":"Parameter","ResourceId":"/auth/p","TagKeys":["team"]}`},
	{"GetServiceSetting", `{"SettingId":"` + highThroughput + `"}`},
	{"UpdateServiceSetting", `{"SettingId":"` + highThroughput + `","SettingValue":"true"}`},
	{"ResetServiceSetting", `{"SettingId":"` + highThroughput + `"}`},
	{"DeleteParameter", `{"Name":"/auth/del1"}`},
	{"DeleteParameters", `{"Names":["/auth/del2"]}`},
}

// authFixture creates the parameters allSSMOps use.
func (e *authEnv) authFixture() {
	e.t.Helper()
	for _, n := range []string{"/auth/p", "/auth/del1", "/auth/del2"} {
		_, err := e.rootC.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String("v1"), Type: types.ParameterTypeString})
		if err != nil {
			e.t.Fatalf("PutParameter %s as root through the SDK: %v", n, err)
		}
	}
}

// authState summarizes what allSSMOps can change, as root sees it.
type authState struct {
	versions     int
	labels       []string
	tags         int
	putExists    bool
	del1, del2   bool
	settingState string
}

func (e *authEnv) state() authState {
	e.t.Helper()
	var s authState
	h, err := e.rootC.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/auth/p")})
	if err != nil {
		e.t.Fatalf("GetParameterHistory: %v", err)
	}
	s.versions = len(h.Parameters)
	for _, v := range h.Parameters {
		s.labels = append(s.labels, v.Labels...)
	}
	tags, err := e.rootC.ListTagsForResource(e.ctx, &ssm.ListTagsForResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String("/auth/p")})
	if err != nil {
		e.t.Fatalf("ListTagsForResource: %v", err)
	}
	s.tags = len(tags.TagList)
	out, err := e.rootC.GetParameters(e.ctx, &ssm.GetParametersInput{Names: []string{"/auth/put", "/auth/del1", "/auth/del2"}})
	if err != nil {
		e.t.Fatalf("GetParameters: %v", err)
	}
	for _, p := range out.Parameters {
		switch aws.ToString(p.Name) {
		case "/auth/put":
			s.putExists = true
		case "/auth/del1":
			s.del1 = true
		case "/auth/del2":
			s.del2 = true
		}
	}
	set, err := e.rootC.GetServiceSetting(e.ctx, &ssm.GetServiceSettingInput{SettingId: aws.String(highThroughput)})
	if err != nil {
		e.t.Fatalf("GetServiceSetting: %v", err)
	}
	s.settingState = aws.ToString(set.ServiceSetting.Status)
	return s
}

var (
	expiredRe = regexp.MustCompile(`^Signature expired: (\d{8}T\d{6}Z) is now earlier than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) - 15 min\.\)$`)
	futureRe  = regexp.MustCompile(`^Signature not yet current: (\d{8}T\d{6}Z) is still later than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) \+ 15 min\.\)$`)
)

// wantSkewMessage checks a "Signature expired" or "not yet current"
// message: the request time as signed, the server time (which must lie
// between before and after, to the second) and the bound 15 minutes from it.
func wantSkewMessage(t *testing.T, re *regexp.Regexp, msg string, signedAt, before, after time.Time, sign time.Duration) {
	t.Helper()
	m := re.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("got message %q, want it to match %s", msg, re)
	}
	if want := signedAt.UTC().Format(sigTimeFormat); m[1] != want {
		t.Errorf("got request time %s, want %s", m[1], want)
	}
	server, err := time.Parse(sigTimeFormat, m[3])
	if err != nil {
		t.Fatal(err)
	}
	if server.Before(before.Truncate(time.Second)) || server.After(after) {
		t.Errorf("got server time %s, want between %s and %s", m[3], before.UTC().Format(sigTimeFormat), after.UTC().Format(sigTimeFormat))
	}
	if want := server.Add(sign * 15 * time.Minute).Format(sigTimeFormat); m[2] != want {
		t.Errorf("got bound %s, want %s (server time %s 15 min)", m[2], want, m[3])
	}
}

// TestAuthSignatureChecks sends every SSM operation signed wrongly in each
// way of spec §4.4 and checks the refusal, then checks that none of them
// changed anything, then sends each one correctly signed as root.
func TestAuthSignatureChecks(t *testing.T) {
	e := newAuthEnv(t)
	e.authFixture()
	before := e.state()
	root := e.root

	type check struct {
		name string
		// req builds the request for op.
		req  func(op ssmOp) *http.Request
		code string
		msg  string
		// skew, when set, checks the message instead of msg.
		skew *regexp.Regexp
		sign time.Duration
		at   time.Duration
	}
	target := func(op ssmOp) string { return "AmazonSSM." + op.name }
	checks := []check{
		{
			name: "unsigned",
			req:  func(op ssmOp) *http.Request { return e.request(target(op), op.body) },
			code: "MissingAuthenticationTokenException", msg: msgMissingToken,
		},
		{
			name: "wrong secret",
			req: func(op ssmOp) *http.Request {
				c := root
				c.SecretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
				return e.signed(target(op), op.body, c, testRegion, time.Now())
			},
			code: "InvalidSignatureException", msg: msgMismatch,
		},
		{
			name: "unknown access key",
			req: func(op ssmOp) *http.Request {
				c := root
				c.AccessKeyID = "AKIAIOSFODNN7EXAMPLE"
				return e.signed(target(op), op.body, c, testRegion, time.Now())
			},
			code: "UnrecognizedClientException", msg: msgBadToken,
		},
		{
			name: "session token with a long-term key",
			req: func(op ssmOp) *http.Request {
				c := root
				c.SessionToken = "FwoGZXIvYXdzEXAMPLE"
				return e.signed(target(op), op.body, c, testRegion, time.Now())
			},
			code: "UnrecognizedClientException", msg: msgBadToken,
		},
		{
			name: "signed 20 minutes ago",
			at:   -20 * time.Minute,
			code: "InvalidSignatureException", skew: expiredRe, sign: -1,
		},
		{
			name: "signed 20 minutes ahead",
			at:   20 * time.Minute,
			code: "InvalidSignatureException", skew: futureRe, sign: 1,
		},
		{
			name: "body tampered after signing",
			req: func(op ssmOp) *http.Request {
				req := e.signed(target(op), op.body, root, testRegion, time.Now())
				// Same length, so only the payload hash differs.
				tampered := strings.Replace(op.body, "{", " ", 1)
				req.Body = io.NopCloser(strings.NewReader(tampered))
				req.ContentLength = int64(len(tampered))
				return req
			},
			code: "InvalidSignatureException", msg: msgMismatch,
		},
		{
			name: "X-Amz-Target changed after signing",
			req: func(op ssmOp) *http.Request {
				req := e.signed(target(op), op.body, root, testRegion, time.Now())
				other := "AmazonSSM.DeleteParameter"
				if op.name == "DeleteParameter" {
					other = "AmazonSSM.DeleteParameters"
				}
				req.Header.Set("X-Amz-Target", other)
				return req
			},
			code: "InvalidSignatureException", msg: msgMismatch,
		},
		{
			name: "replayed with another region in the scope",
			req: func(op ssmOp) *http.Request {
				req := e.signed(target(op), op.body, root, testRegion, time.Now())
				h := req.Header.Get("Authorization")
				replayed := strings.Replace(h, "/us-east-1/ssm/aws4_request", "/eu-west-1/ssm/aws4_request", 1)
				if replayed == h {
					t.Fatalf("Authorization %q has no us-east-1 scope", h)
				}
				req.Header.Set("Authorization", replayed)
				return req
			},
			code: "InvalidSignatureException", msg: msgMismatch,
		},
	}
	for _, op := range allSSMOps {
		t.Run(op.name, func(t *testing.T) {
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) {
					if c.skew != nil {
						signedAt := time.Now().Add(c.at)
						req := e.signed(target(op), op.body, root, testRegion, signedAt)
						t0 := time.Now()
						got := send(t, req)
						wantWire(t, got, c.code, got.msg)
						wantSkewMessage(t, c.skew, got.msg, signedAt, t0, time.Now(), c.sign)
						return
					}
					wantWire(t, send(t, c.req(op)), c.code, c.msg)
				})
			}
		})
	}
	if after := e.state(); mismatch(before, after) != "" {
		t.Fatalf("refused requests changed the state: %s", mismatch(before, after))
	}

	// Correctly signed by root, every operation succeeds.
	for _, op := range allSSMOps {
		t.Run(op.name+"/signed by root", func(t *testing.T) {
			got := send(t, e.signed(target(op), op.body, root, testRegion, time.Now()))
			if got.status != http.StatusOK {
				t.Fatalf("got %d %s %q, want 200", got.status, got.code, got.msg)
			}
			if !json.Valid(got.body) || !bytes.HasPrefix(got.body, []byte("{")) {
				t.Errorf("got body %q, want a JSON object", got.body)
			}
		})
	}
	want := authState{versions: 1, putExists: true, settingState: "Default"}
	if got := e.state(); mismatch(want, got) != "" {
		t.Errorf("after the signed calls: %s", mismatch(want, got))
	}
}

// TestAuthAccessKeyLifecycle checks that a key works while active, and
// stops working when made inactive, deleted, or when its user is deleted.
func TestAuthAccessKeyLifecycle(t *testing.T) {
	e := newAuthEnv(t)
	e.authFixture()
	const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:*","Resource":"*"}]}`
	k1 := e.newUser("alice", allowAll)
	k2 := e.newKey("alice")

	steps := []struct {
		name   string
		change func()
		// ok lists, per key, whether it must authenticate.
		ok1, ok2 bool
	}{
		{name: "both keys active", ok1: true, ok2: true},
		{name: "first key inactive", change: func() {
			e.rootAdmin("UpdateAccessKey", map[string]string{"AccessKeyId": k1.AccessKeyID, "Status": "Inactive"}, nil)
		}, ok2: true},
		{name: "first key active again", change: func() {
			e.rootAdmin("UpdateAccessKey", map[string]string{"AccessKeyId": k1.AccessKeyID, "Status": "Active"}, nil)
		}, ok1: true, ok2: true},
		{name: "first key deleted", change: func() {
			e.rootAdmin("DeleteAccessKey", map[string]string{"AccessKeyId": k1.AccessKeyID}, nil)
		}, ok2: true},
		{name: "user deleted", change: func() {
			e.rootAdmin("DeleteUser", map[string]string{"UserName": "alice"}, nil)
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.change != nil {
				s.change()
			}
			for i, k := range []aws.Credentials{k1, k2} {
				_, err := e.client(k).GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/auth/p")})
				if ok := []bool{s.ok1, s.ok2}[i]; ok {
					if err != nil {
						t.Errorf("key %d: got %v, want success", i+1, err)
					}
					continue
				}
				wantAPIError(t, err, "UnrecognizedClientException", msgBadToken)
			}
		})
	}
}

// TestAuthAssumeRole checks temporary credentials: they need their session
// token, carry the role's permissions, and expire after DurationSeconds
// (expiry itself is tested with an injected clock in package auth).
func TestAuthAssumeRole(t *testing.T) {
	e := newAuthEnv(t)
	e.authFixture()
	e.rootAdmin("CreateRole", map[string]string{"RoleName": "reader",
		"PolicyDocument": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}}`}, nil)

	for _, d := range []int{899, 43201} {
		res := e.admin(e.root, "AssumeRole", map[string]any{"RoleName": "reader", "DurationSeconds": d})
		wantWire(t, res, "ValidationException", "DurationSeconds must be between 900 and 43200.")
	}

	var out struct {
		Credentials struct {
			AccessKeyId, SecretAccessKey, SessionToken string
			Expiration                                 float64
		}
	}
	t0 := time.Now()
	e.rootAdmin("AssumeRole", map[string]any{"RoleName": "reader", "DurationSeconds": 900}, &out)
	t1 := time.Now()
	c := out.Credentials
	if !strings.HasPrefix(c.AccessKeyId, "ASIA") || c.SecretAccessKey == "" || c.SessionToken == "" {
		t.Fatalf("got credentials %+v, want an ASIA key with a secret and a session token", c)
	}
	exp := time.UnixMilli(int64(c.Expiration * 1000))
	if lo, hi := t0.Add(900*time.Second).Truncate(time.Millisecond), t1.Add(900*time.Second); exp.Before(lo) || exp.After(hi) {
		t.Errorf("got Expiration %v, want 900 s after the call (%v to %v)", exp, lo, hi)
	}

	tmp := aws.Credentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	role := "arn:aws:sts::123456789012:assumed-role/reader/" + c.AccessKeyId
	tests := []struct {
		name  string
		token string
		call  func(cl *ssm.Client) error
		code  string
		msg   string
	}{
		{name: "with the session token", token: c.SessionToken, call: getAuthP},
		{name: "without the session token", call: getAuthP, code: "UnrecognizedClientException", msg: msgBadToken},
		{name: "with another session token", token: c.SessionToken[1:], call: getAuthP, code: "UnrecognizedClientException", msg: msgBadToken},
		{name: "an action the role does not allow", token: c.SessionToken, call: func(cl *ssm.Client) error {
			_, err := cl.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String("/auth/p"),
				Value: aws.String("x"), Overwrite: aws.Bool(true)})
			return err
		}, code: "AccessDeniedException", msg: "User: " + role + " is not authorized to perform: ssm:PutParameter on resource: " +
			arnPrefix + "auth/p because no identity-based policy allows the ssm:PutParameter action"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds := tmp
			creds.SessionToken = tc.token
			err := tc.call(e.client(creds))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
}

func getAuthP(cl *ssm.Client) error {
	_, err := cl.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/auth/p")})
	return err
}
