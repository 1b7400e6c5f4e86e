package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/sigv4"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
	testBody    = `{"Name":"/app/db"}`
	paramARN    = "arn:aws:ssm:us-east-1:123456789012:parameter/app/db"
)

// testStore applies commands straight to a store.DB with increasing log
// indexes: the state machine without raft. afterView, when set, runs after
// every View closure returns, to interleave an identity change between a
// read and what the reader does with it.
type testStore struct {
	db *store.DB

	mu        sync.Mutex // serializes Apply, as raft's FSM goroutine does
	index     uint64
	afterView func()
}

var _ Store = (*testStore)(nil)

func (s *testStore) View(ctx context.Context, fn func(r *store.Reader) error) error {
	err := s.db.View(ctx, fn)
	s.mu.Lock()
	hook := s.afterView
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return err
}

func (s *testStore) Apply(ctx context.Context, cmd *store.Command) error {
	data, err := cmd.Marshal()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index++
	return s.db.ApplyBatch([]store.Entry{{Index: s.index, Data: data}})[0]
}

func (s *testStore) setAfterView(fn func()) {
	s.mu.Lock()
	s.afterView = fn
	s.mu.Unlock()
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var start = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// newTestAuth returns an Authenticator over a fresh state machine whose
// clock starts at start.
func newTestAuth(t testing.TB) (*Authenticator, *testStore, *clock) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kr, err := crypto.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st := &testStore{db: db}
	clk := &clock{t: start}
	a, err := New(Config{Store: st, Keyring: kr, Account: testAccount, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return a, st, clk
}

// rootCaller is an admin caller allowed everything, as root is.
type rootCaller struct{}

func (rootCaller) Authorize(string, string) error { return nil }
func (rootCaller) Root() bool                     { return true }

var allowAll Caller = rootCaller{}

// adminOps are the admin operations by name (the API routes
// Paramstore.<name> to each).
func adminOps(a *Authenticator) map[string]func(context.Context, Caller, *AdminRequest) (any, error) {
	return map[string]func(context.Context, Caller, *AdminRequest) (any, error){
		"CreateUser":       a.CreateUser,
		"CreateRole":       a.CreateRole,
		"DeleteUser":       a.DeleteUser,
		"ListUsers":        a.ListUsers,
		"PutUserPolicy":    a.PutUserPolicy,
		"DeleteUserPolicy": a.DeleteUserPolicy,
		"CreateAccessKey":  a.CreateAccessKey,
		"UpdateAccessKey":  a.UpdateAccessKey,
		"DeleteAccessKey":  a.DeleteAccessKey,
		"ListAccessKeys":   a.ListAccessKeys,
		"AssumeRole":       a.AssumeRole,
	}
}

// admin runs an admin operation as root.
func admin(t testing.TB, a *Authenticator, op string, in *AdminRequest) any {
	t.Helper()
	out, err := adminOps(a)[op](context.Background(), allowAll, in)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return out
}

// newUser creates a user with one policy and an access key.
func newUser(t testing.TB, a *Authenticator, name, policy string) *AccessKeyInfo {
	t.Helper()
	admin(t, a, "CreateUser", &AdminRequest{UserName: name, PolicyDocument: policy})
	out := admin(t, a, "CreateAccessKey", &AdminRequest{UserName: name})
	return out.(map[string]any)["AccessKey"].(*AccessKeyInfo)
}

// signed returns a GetParameter request signed by the aws-sdk-go-v2 signer
// at the given time.
func signed(t testing.TB, id, secret, token string, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4583/", strings.NewReader(testBody))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	sum := sha256.Sum256([]byte(testBody))
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "ssm", testRegion, at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return r
}

// authenticate signs a request at the authenticator's current time and
// authenticates it.
func authenticate(t testing.TB, a *Authenticator, id, secret, token string) (*Identity, error) {
	t.Helper()
	ident, region, err := a.Authenticate(signed(t, id, secret, token, a.now()), []byte(testBody))
	if err == nil && region != testRegion {
		t.Errorf("got region %q, want %q", region, testRegion)
	}
	return ident, err
}

// wantSigv4Error checks that err is the sigv4 refusal code with message msg.
func wantSigv4Error(t *testing.T, err error, code, msg string) {
	t.Helper()
	var se *sigv4.Error
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if se.Code != code || se.Message != msg {
		t.Fatalf("got %s %q, want %s %q", se.Code, se.Message, code, msg)
	}
}

// wantDenied checks that err is AccessDeniedException with message msg.
func wantDenied(t *testing.T, err error, msg string) {
	t.Helper()
	var e *ssm.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want AccessDeniedException", err)
	}
	if e.Code != ssm.CodeAccessDenied || e.Message != msg {
		t.Fatalf("got %s %q, want AccessDeniedException %q", e.Code, e.Message, msg)
	}
}

const (
	msgInvalidToken = "The security token included in the request is invalid."
	msgExpiredToken = "The security token included in the request is expired"
)

var credFileRe = regexp.MustCompile(`^\[default\]\naws_access_key_id = (AKIA[A-Z2-7]{16})\naws_secret_access_key = ([A-Za-z0-9+/]{40})\n$`)

func readRootFile(t *testing.T, path string) (raw []byte, id, secret string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := credFileRe.FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatalf("got credentials file %q, want profile default with a key and a secret", raw)
	}
	return raw, m[1], m[2]
}

func rootKeys(t *testing.T, st *testStore) []store.AccessKey {
	t.Helper()
	var keys []store.AccessKey
	err := st.View(context.Background(), func(r *store.Reader) error {
		var err error
		keys, err = r.AccessKeys(RootName)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestEnsureRoot(t *testing.T) {
	tests := []struct {
		name string
		// prepare runs before the first EnsureRoot.
		prepare func(t *testing.T, st *testStore, path string)
	}{
		{name: "empty store"},
		{name: "stale world-readable file is replaced", prepare: func(t *testing.T, _ *testStore, path string) {
			if err := os.WriteFile(path, []byte("[default]\naws_access_key_id = AKIAOLD\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{
			// A crash between committing the root principal and its key
			// must not lock root out for good (EnsureRoot's contract).
			name: "root principal without a key",
			prepare: func(t *testing.T, st *testStore, _ string) {
				err := st.Apply(context.Background(), &store.Command{Op: store.OpPutPrincipal, Create: true,
					Principal: &store.Principal{Name: RootName, Kind: store.KindRoot}})
				if err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, st, _ := newTestAuth(t)
			path := filepath.Join(t.TempDir(), "root-credentials")
			if tc.prepare != nil {
				tc.prepare(t, st, path)
			}
			created, err := a.EnsureRoot(context.Background(), path)
			if err != nil || !created {
				t.Fatalf("first EnsureRoot: got (%v, %v), want (true, nil)", created, err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("got file mode %v, want 0600", got)
			}
			raw, id, secret := readRootFile(t, path)

			id2, err := authenticate(t, a, id, secret, "")
			if err != nil {
				t.Fatalf("authenticate with the root key: %v", err)
			}
			if !id2.Root() || id2.ARN != "arn:aws:iam::123456789012:root" || id2.AccessKeyID != id {
				t.Errorf("got identity %+v, want root arn:aws:iam::123456789012:root with key %s", id2, id)
			}
			if err := (&Request{ID: id2}).Authorize("iam:CreateUser", "*", nil); err != nil {
				t.Errorf("root Authorize: got %v, want allowed", err)
			}
			_, err = authenticate(t, a, id, secret+"x", "")
			wantSigv4Error(t, err, sigv4.CodeInvalidSignature, "The request signature we calculated does not match "+
				"the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")

			// Idempotent: a second start changes nothing.
			created, err = a.EnsureRoot(context.Background(), path)
			if err != nil || created {
				t.Fatalf("second EnsureRoot: got (%v, %v), want (false, nil)", created, err)
			}
			again, _, _ := readRootFile(t, path)
			if !bytes.Equal(again, raw) {
				t.Errorf("second EnsureRoot rewrote the file: got %q, want %q", again, raw)
			}
			if keys := rootKeys(t, st); len(keys) != 1 || keys[0].ID != id {
				t.Errorf("got root keys %+v, want exactly %s", keys, id)
			}
			if _, err := authenticate(t, a, id, secret, ""); err != nil {
				t.Errorf("authenticate after the second EnsureRoot: %v", err)
			}
		})
	}
}

const (
	policyGet    = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}}`
	policyPut    = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:PutParameter","Resource":"*"}}`
	policyDenyGe = `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ssm:Get*","Resource":"*"}}`
)

// TestIdentityCacheInvalidation checks that every identity change takes
// effect on the very next request, although identities are cached.
func TestIdentityCacheInvalidation(t *testing.T) {
	a, _, _ := newTestAuth(t)
	key := newUser(t, a, "alice", policyGet)
	denied := func(action, why string) string {
		return "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: " + action +
			" on resource: " + paramARN + why
	}
	implicit := func(action string) string {
		return denied(action, " because no identity-based policy allows the "+action+" action")
	}
	explicit := denied("ssm:GetParameter", " with an explicit deny in an identity-based policy")

	steps := []struct {
		name   string
		change func(t *testing.T)
		// wantGet and wantPut are "" for allowed, else the denial message.
		wantGet, wantPut string
		wantAuth         string // a sigv4 code when authentication fails
	}{
		{name: "initial policy", wantPut: implicit("ssm:PutParameter")},
		{name: "PutUserPolicy adds an allow", change: func(t *testing.T) {
			admin(t, a, "PutUserPolicy", &AdminRequest{UserName: "alice", PolicyName: "put", PolicyDocument: policyPut})
		}},
		{name: "PutUserPolicy adds a deny", change: func(t *testing.T) {
			admin(t, a, "PutUserPolicy", &AdminRequest{UserName: "alice", PolicyName: "deny", PolicyDocument: policyDenyGe})
		}, wantGet: explicit},
		{name: "PutUserPolicy replaces a policy", change: func(t *testing.T) {
			admin(t, a, "PutUserPolicy", &AdminRequest{UserName: "alice", PolicyName: "deny", PolicyDocument: policyPut})
		}},
		{name: "DeleteUserPolicy", change: func(t *testing.T) {
			admin(t, a, "DeleteUserPolicy", &AdminRequest{UserName: "alice", PolicyName: "put"})
			admin(t, a, "DeleteUserPolicy", &AdminRequest{UserName: "alice", PolicyName: "deny"})
		}, wantPut: implicit("ssm:PutParameter")},
		{name: "key made inactive", change: func(t *testing.T) {
			admin(t, a, "UpdateAccessKey", &AdminRequest{AccessKeyId: key.AccessKeyId, Status: "Inactive"})
		}, wantAuth: sigv4.CodeUnrecognizedClient},
		{name: "key made active again", change: func(t *testing.T) {
			admin(t, a, "UpdateAccessKey", &AdminRequest{AccessKeyId: key.AccessKeyId, Status: "Active"})
		}, wantPut: implicit("ssm:PutParameter")},
		{name: "user deleted", change: func(t *testing.T) {
			admin(t, a, "DeleteUser", &AdminRequest{UserName: "alice"})
		}, wantAuth: sigv4.CodeUnrecognizedClient},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.change != nil {
				s.change(t)
			}
			id, err := authenticate(t, a, key.AccessKeyId, key.SecretAccessKey, "")
			if s.wantAuth != "" {
				wantSigv4Error(t, err, s.wantAuth, msgInvalidToken)
				return
			}
			if err != nil {
				t.Fatalf("authenticate: %v", err)
			}
			for action, want := range map[string]string{"ssm:GetParameter": s.wantGet, "ssm:PutParameter": s.wantPut} {
				err := (&Request{ID: id, Region: testRegion, Now: start}).Authorize(action, paramARN, nil)
				if want == "" {
					if err != nil {
						t.Errorf("%s: got %v, want allowed", action, err)
					}
					continue
				}
				wantDenied(t, err, want)
			}
		})
	}
}

// TestIdentityCacheNoStaleEntry interleaves an identity change between the
// moment a request reads an access key and the moment it caches it, with a
// cache refresh in between (another request): the entry read before the
// change must not survive it.
func TestIdentityCacheNoStaleEntry(t *testing.T) {
	a, st, _ := newTestAuth(t)
	key := newUser(t, a, "bob", policyGet)

	var once sync.Once
	st.setAfterView(func() {
		once.Do(func() {
			// Runs right after the first View of the next Authenticate:
			// its cache refresh. Let that finish, then arm the real hook
			// for the load that follows.
			st.setAfterView(func() {
				st.setAfterView(nil)
				admin(t, a, "UpdateAccessKey", &AdminRequest{AccessKeyId: key.AccessKeyId, Status: "Inactive"})
				if err := a.refresh(context.Background()); err != nil {
					t.Error(err)
				}
			})
		})
	})
	// This request read the key while it was active; it may or may not be
	// let through, but what it read must not be cached.
	authenticate(t, a, key.AccessKeyId, key.SecretAccessKey, "")
	st.setAfterView(nil)

	_, err := authenticate(t, a, key.AccessKeyId, key.SecretAccessKey, "")
	wantSigv4Error(t, err, sigv4.CodeUnrecognizedClient, msgInvalidToken)
}

func TestAssumeRoleCredentialsExpire(t *testing.T) {
	tests := []struct {
		name     string
		duration int64
		want     time.Duration
	}{
		{name: "default one hour", want: time.Hour},
		{name: "minimum", duration: 900, want: 15 * time.Minute},
		{name: "maximum", duration: 43200, want: 12 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _, clk := newTestAuth(t)
			admin(t, a, "CreateRole", &AdminRequest{RoleName: "reader", PolicyDocument: policyGet})
			out := admin(t, a, "AssumeRole", &AdminRequest{RoleName: "reader", DurationSeconds: tc.duration})
			c := out.(map[string]any)["Credentials"].(*AccessKeyInfo)
			expires := start.Add(tc.want)
			if got := time.UnixMilli(int64(c.Expiration * 1000)).UTC(); !got.Equal(expires) {
				t.Errorf("got Expiration %v, want %v", got, expires)
			}
			if !strings.HasPrefix(c.AccessKeyId, "ASIA") || c.SessionToken == "" || c.SecretAccessKey == "" {
				t.Fatalf("got credentials %+v, want an ASIA key with a secret and a session token", c)
			}

			checks := []struct {
				name  string
				at    time.Time
				token string
				code  string // "" = authenticated
				msg   string
			}{
				{name: "at issue", at: start, token: c.SessionToken},
				{name: "without the token", at: start, code: sigv4.CodeUnrecognizedClient, msg: msgInvalidToken},
				{name: "with another token", at: start, token: c.SessionToken + "x", code: sigv4.CodeUnrecognizedClient, msg: msgInvalidToken},
				{name: "one second before expiry", at: expires.Add(-time.Second), token: c.SessionToken},
				{name: "at expiry", at: expires, token: c.SessionToken, code: sigv4.CodeExpiredToken, msg: msgExpiredToken},
				{name: "a day later", at: expires.Add(24 * time.Hour), token: c.SessionToken, code: sigv4.CodeExpiredToken, msg: msgExpiredToken},
			}
			for _, ck := range checks {
				t.Run(ck.name, func(t *testing.T) {
					clk.Set(ck.at)
					id, err := authenticate(t, a, c.AccessKeyId, c.SecretAccessKey, ck.token)
					if ck.code != "" {
						wantSigv4Error(t, err, ck.code, ck.msg)
						return
					}
					if err != nil {
						t.Fatalf("authenticate: %v", err)
					}
					wantARN := "arn:aws:sts::123456789012:assumed-role/reader/" + c.AccessKeyId
					if id.Kind != store.KindRole || id.ARN != wantARN {
						t.Errorf("got identity %s %s, want role %s", id.Kind, id.ARN, wantARN)
					}
					if err := (&Request{ID: id}).Authorize("ssm:GetParameter", paramARN, nil); err != nil {
						t.Errorf("GetParameter: got %v, want allowed by the role's policy", err)
					}
				})
			}
		})
	}
}

func TestAssumeRoleDurationBounds(t *testing.T) {
	a, _, _ := newTestAuth(t)
	admin(t, a, "CreateRole", &AdminRequest{RoleName: "reader", PolicyDocument: policyGet})
	for _, d := range []int64{-1, 899, 43201} {
		_, err := adminOps(a)["AssumeRole"](context.Background(), allowAll, &AdminRequest{RoleName: "reader", DurationSeconds: d})
		var e *ssm.Error
		if !errors.As(err, &e) || e.Code != ssm.CodeValidation || e.Message != "DurationSeconds must be between 900 and 43200." {
			t.Errorf("DurationSeconds %d: got %v, want ValidationException", d, err)
		}
	}
	// A user is not a role.
	newUser(t, a, "carol", policyGet)
	_, err := adminOps(a)["AssumeRole"](context.Background(), allowAll, &AdminRequest{RoleName: "carol"})
	var e *ssm.Error
	if !errors.As(err, &e) || e.Code != CodeNoSuchEntity || e.Message != "The role with name carol cannot be found." {
		t.Errorf("AssumeRole of a user: got %v, want NoSuchEntity", err)
	}
}

// powerUser is a non-root admin caller whose policies allow everything.
type powerUser struct{}

func (powerUser) Authorize(string, string) error { return nil }
func (powerUser) Root() bool                     { return false }

func TestRootKeysOnlyForRoot(t *testing.T) {
	a, _, _ := newTestAuth(t)
	path := filepath.Join(t.TempDir(), "root-credentials")
	if _, err := a.EnsureRoot(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	out := admin(t, a, "ListAccessKeys", &AdminRequest{UserName: RootName}).(map[string]any)
	keys := out["AccessKeyMetadata"].([]AccessKeyInfo)
	if len(keys) != 1 {
		t.Fatalf("got %d root keys, want 1", len(keys))
	}
	rootKey := keys[0].AccessKeyId
	for _, op := range []struct {
		name string
		in   *AdminRequest
	}{
		{"UpdateAccessKey", &AdminRequest{AccessKeyId: rootKey, Status: "Inactive"}},
		{"DeleteAccessKey", &AdminRequest{AccessKeyId: rootKey}},
	} {
		_, err := adminOps(a)[op.name](context.Background(), powerUser{}, op.in)
		var e *ssm.Error
		if !errors.As(err, &e) || e.Code != ssm.CodeAccessDenied {
			t.Errorf("%s of the root key by a user allowed iam:*: got %v, want AccessDeniedException", op.name, err)
		}
	}
	// Root itself may.
	admin(t, a, "UpdateAccessKey", &AdminRequest{AccessKeyId: rootKey, Status: "Inactive"})
}
