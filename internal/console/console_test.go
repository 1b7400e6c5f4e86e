package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/ssm"
)

// fakeAPI stands in for the server's API handler and authenticator:
// sign-in accepts key AKGOOD with secret "s" (and AKTEMP, temporary
// credentials that expire at tempExpires); calls answer 200 and record
// the user agent, target and principal of the last one.
type fakeAPI struct {
	ua, target  string
	p           Principal
	tempExpires time.Time
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request, p Principal) {
	f.ua, f.target, f.p = r.UserAgent(), r.Header.Get("X-Amz-Target"), p
	w.Write([]byte(`{"Parameters":[]}`))
}

func (f *fakeAPI) check(_ *http.Request, key, secret, token, region string) (time.Time, error) {
	switch {
	case key == "AKGOOD" && secret == "s":
		return time.Time{}, nil
	case key == "AKTEMP" && secret == "s" && token == "t":
		return f.tempExpires, nil
	}
	return time.Time{}, ssm.NewError("UnrecognizedClientException", "The security token included in the request is invalid.")
}

type fixture struct {
	t    *testing.T
	h    *Handler
	api  *fakeAPI
	now  time.Time
	file string
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, api: &fakeAPI{}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), file: filepath.Join(t.TempDir(), "sessions.json")}
	f.restart(0)
	return f
}

// restart makes a new handler over the same session file, as a server
// restart does.
func (f *fixture) restart(max int) {
	h, err := New(Config{Serve: f.api.serve, CheckSecret: f.api.check, SessionFile: f.file, MaxSessions: max,
		Now: func() time.Time { return f.now }})
	if err != nil {
		f.t.Fatal(err)
	}
	f.h = h
}

func (f *fixture) do(method, path, body string, hdr map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://console.test"+path, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// signin signs in with AKGOOD and returns the cookie and CSRF token.
func (f *fixture) signin() (*http.Cookie, string) {
	return f.signinWith(`{"AccessKeyId":"AKGOOD","SecretAccessKey":"s"}`)
}

func (f *fixture) signinWith(body string) (*http.Cookie, string) {
	w := f.do("POST", "/console/api/signin", body, map[string]string{"Origin": "http://console.test"})
	if w.Code != http.StatusOK {
		f.t.Fatalf("signin: %d %s", w.Code, w.Body)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		f.t.Fatalf("signin set %d cookies, want 1", len(cs))
	}
	tok := w.Body.String()
	i := strings.Index(tok, `"CsrfToken":"`)
	tok = tok[i+len(`"CsrfToken":"`):]
	return cs[0], tok[:strings.Index(tok, `"`)]
}

func TestSignin(t *testing.T) {
	f := newFixture(t)
	w := f.do("POST", "/console/api/signin", `{"AccessKeyId":"AKBAD","SecretAccessKey":"s"}`, nil)
	if w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
		t.Errorf("bad key: got %d with %d cookies, want 401 and none", w.Code, len(w.Result().Cookies()))
	}
	w = f.do("POST", "/console/api/signin", `{"AccessKeyId":"AKGOOD","SecretAccessKey":"s"}`, map[string]string{"Origin": "http://evil.test"})
	if w.Code != http.StatusForbidden {
		t.Errorf("cross-origin sign-in: got %d, want 403", w.Code)
	}
	c, _ := f.signin()
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.MaxAge != int(SessionTTL/time.Second) || c.Path != "/console/" {
		t.Errorf("cookie: got %+v, want HttpOnly, SameSite=Strict, Max-Age %v, Path /console/", c, SessionTTL)
	}
}

func TestCallChecks(t *testing.T) {
	f := newFixture(t)
	c, tok := f.signin()
	body := `{"Action":"DescribeParameters","Input":{}}`
	same := map[string]string{"Origin": "http://console.test", "X-Csrf-Token": tok}
	for _, tc := range []struct {
		name   string
		body   string
		hdr    map[string]string
		cookie bool
		want   int
	}{
		{"allowed", body, same, true, http.StatusOK},
		{"no cookie", body, same, false, http.StatusUnauthorized},
		{"no CSRF token", body, map[string]string{"Origin": "http://console.test"}, true, http.StatusForbidden},
		{"wrong CSRF token", body, map[string]string{"X-Csrf-Token": tok + "0"}, true, http.StatusForbidden},
		{"other origin", body, map[string]string{"Origin": "http://evil.test", "X-Csrf-Token": tok}, true, http.StatusForbidden},
		{"cross-site fetch", body, map[string]string{"Sec-Fetch-Site": "cross-site", "X-Csrf-Token": tok}, true, http.StatusForbidden},
		{"action not offered", `{"Action":"DeleteUser","Input":{"UserName":"a"}}`, same, true, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cs []*http.Cookie
			if tc.cookie {
				cs = append(cs, c)
			}
			f.api.target = ""
			if w := f.do("POST", "/console/api/call", tc.body, tc.hdr, cs...); w.Code != tc.want {
				t.Errorf("got %d %s, want %d", w.Code, w.Body, tc.want)
			}
			if tc.want == http.StatusOK {
				if !strings.HasPrefix(f.api.ua, UserAgent) || f.api.target != "AmazonSSM.DescribeParameters" || f.api.p != (Principal{"AKGOOD", "us-east-1"}) {
					t.Errorf("call: got %q %q as %+v, want the console's user agent, DescribeParameters, as AKGOOD in us-east-1", f.api.ua, f.api.target, f.api.p)
				}
			} else if f.api.target != "" {
				t.Errorf("a refused call reached the API: %s", f.api.target)
			}
		})
	}
}

func TestSessionEnds(t *testing.T) {
	f := newFixture(t)
	c, tok := f.signin()
	hdr := map[string]string{"X-Csrf-Token": tok}
	f.now = f.now.Add(SessionTTL + time.Second)
	if w := f.do("POST", "/console/api/call", `{"Action":"DescribeParameters"}`, hdr, c); w.Code != http.StatusUnauthorized {
		t.Errorf("expired session: got %d, want 401", w.Code)
	}
	c, tok = f.signin()
	hdr = map[string]string{"X-Csrf-Token": tok}
	if w := f.do("POST", "/console/api/signout", "", hdr, c); w.Code != http.StatusOK {
		t.Fatalf("signout: got %d", w.Code)
	}
	if w := f.do("GET", "/console/api/session", "", nil, c); w.Code != http.StatusUnauthorized {
		t.Errorf("session after sign-out: got %d, want 401", w.Code)
	}
}

func TestStatic(t *testing.T) {
	f := newFixture(t)
	w := f.do("GET", "/console/", "", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<script src="app.js"`) {
		t.Fatalf("index: got %d", w.Code)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP: got %q", csp)
	}
	for _, p := range []string{"/console/app.js", "/console/app.css"} {
		if w := f.do("GET", p, "", nil); w.Code != http.StatusOK {
			t.Errorf("%s: got %d", p, w.Code)
		}
	}
}

// TestSessionsSurviveRestart: a session signed in before a restart still
// acts after it, with the same CSRF token; sign-out before a restart stays
// signed out after it.
func TestSessionsSurviveRestart(t *testing.T) {
	f := newFixture(t)
	c, tok := f.signin()
	out, _ := f.signin()
	if w := f.do("POST", "/console/api/signout", "", map[string]string{"X-Csrf-Token": f.csrfOf(out)}, out); w.Code != http.StatusOK {
		t.Fatalf("signout: got %d %s", w.Code, w.Body)
	}
	f.restart(0)
	w := f.do("GET", "/console/api/session", "", nil, c)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"CsrfToken":"`+tok+`"`) {
		t.Errorf("session after restart: got %d %s, want 200 with the same CSRF token", w.Code, w.Body)
	}
	if w := f.do("POST", "/console/api/call", `{"Action":"DescribeParameters"}`, map[string]string{"X-Csrf-Token": tok}, c); w.Code != http.StatusOK {
		t.Errorf("call after restart: got %d %s, want 200", w.Code, w.Body)
	}
	if w := f.do("GET", "/console/api/session", "", nil, out); w.Code != http.StatusUnauthorized {
		t.Errorf("signed-out session after restart: got %d, want 401", w.Code)
	}
}

// csrfOf is the CSRF token the page would get for cookie c.
func (f *fixture) csrfOf(c *http.Cookie) string {
	w := f.do("GET", "/console/api/session", "", nil, c)
	var s sessionInfo
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || w.Code != http.StatusOK {
		f.t.Fatalf("session: got %d %s", w.Code, w.Body)
	}
	return s.CsrfToken
}

// TestStolenSessionFile: the session file holds neither the cookie's
// value, nor the CSRF token, nor the secret; it is readable by its owner
// only; and presenting what it holds as a cookie signs nobody in.
func TestStolenSessionFile(t *testing.T) {
	f := newFixture(t)
	c, tok := f.signin()
	st, err := os.Stat(f.file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("session file mode: got %v, want 0600", st.Mode().Perm())
	}
	data, err := os.ReadFile(f.file)
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{"session ID": c.Value, "CSRF token": tok, "secret": `"s"`} {
		if strings.Contains(string(data), s) {
			t.Errorf("session file holds the %s: %s", what, data)
		}
	}
	var sf sessionFile
	if err := json.Unmarshal(data, &sf); err != nil || len(sf.Sessions) != 1 {
		t.Fatalf("session file: got %s (%v), want one session", data, err)
	}
	s := sf.Sessions[0]
	if s.AccessKeyID != "AKGOOD" || s.IDHash != sha256Hex(c.Value) || s.CSRFHash != sha256Hex(tok) {
		t.Errorf("session record: got %+v, want AKGOOD and the hashes of the ID and token", s)
	}
	for _, forged := range []string{s.IDHash, s.CSRFHash} {
		fake := &http.Cookie{Name: CookieName, Value: forged}
		if w := f.do("GET", "/console/api/session", "", nil, fake); w.Code != http.StatusUnauthorized {
			t.Errorf("cookie made from the file: got %d, want 401", w.Code)
		}
		if w := f.do("POST", "/console/api/call", `{"Action":"DescribeParameters"}`, map[string]string{"X-Csrf-Token": s.CSRFHash}, fake); w.Code != http.StatusUnauthorized {
			t.Errorf("call with a cookie made from the file: got %d, want 401", w.Code)
		}
	}
}

// TestSessionBounds: temporary credentials end the session when they
// expire if that is before SessionTTL; the table holds at most
// MaxSessions, a new sign-in ending the oldest.
func TestSessionBounds(t *testing.T) {
	f := newFixture(t)
	f.api.tempExpires = f.now.Add(5 * time.Minute)
	c, _ := f.signinWith(`{"AccessKeyId":"AKTEMP","SecretAccessKey":"s","SessionToken":"t"}`)
	if c.MaxAge != 300 {
		t.Errorf("cookie of 5-minute credentials: Max-Age %d, want 300", c.MaxAge)
	}
	f.now = f.now.Add(5 * time.Minute)
	if w := f.do("GET", "/console/api/session", "", nil, c); w.Code != http.StatusUnauthorized {
		t.Errorf("session when its credentials expired: got %d, want 401", w.Code)
	}
	f.restart(3)
	var cs []*http.Cookie
	for i := 0; i < 5; i++ {
		f.now = f.now.Add(time.Second)
		c, _ := f.signin()
		cs = append(cs, c)
	}
	if n := f.h.sessions.len(); n != 3 {
		t.Errorf("table: %d sessions, want 3", n)
	}
	for i, c := range cs {
		want := http.StatusOK
		if i < 2 {
			want = http.StatusUnauthorized
		}
		if w := f.do("GET", "/console/api/session", "", nil, c); w.Code != want {
			t.Errorf("session %d of 5 with room for 3: got %d, want %d", i+1, w.Code, want)
		}
	}
}

// TestSessionFileDamaged: a truncated or foreign session file signs
// everyone out but does not stop the console, and the next sign-in
// replaces it.
func TestSessionFileDamaged(t *testing.T) {
	for name, content := range map[string]string{"truncated": `{"version":1,"sessions":[{"id_sha`, "other version": `{"version":9}`, "empty": ""} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			c, _ := f.signin()
			if err := os.WriteFile(f.file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			f.restart(0)
			if w := f.do("GET", "/console/api/session", "", nil, c); w.Code != http.StatusUnauthorized {
				t.Errorf("session from a damaged file: got %d, want 401", w.Code)
			}
			c, _ = f.signin()
			f.restart(0)
			if w := f.do("GET", "/console/api/session", "", nil, c); w.Code != http.StatusOK {
				t.Errorf("session after the file was replaced: got %d, want 200", w.Code)
			}
		})
	}
}

// TestSessionFileUnwritable: a sign-in the server cannot record is
// refused with a clear error, not half kept.
func TestSessionFileUnwritable(t *testing.T) {
	f := newFixture(t)
	f.file = filepath.Join(t.TempDir(), "missing-dir", "sessions.json")
	f.restart(0)
	w := f.do("POST", "/console/api/signin", `{"AccessKeyId":"AKGOOD","SecretAccessKey":"s"}`, nil)
	if w.Code != http.StatusServiceUnavailable || len(w.Result().Cookies()) != 0 || f.h.sessions.len() != 0 {
		t.Errorf("sign-in with an unwritable table: got %d %s, %d cookies, %d sessions; want 503, none, none", w.Code, w.Body, len(w.Result().Cookies()), f.h.sessions.len())
	}
}
