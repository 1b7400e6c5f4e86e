package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeAPI answers 200 to calls signed by key AKGOOD and
// UnrecognizedClientException to any other, recording the user agent and
// target of the last call.
type fakeAPI struct{ ua, target string }

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.ua, f.target = r.UserAgent(), r.Header.Get("X-Amz-Target")
	if !strings.Contains(r.Header.Get("Authorization"), "Credential=AKGOOD/") {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"UnrecognizedClientException","message":"bad key"}`))
		return
	}
	w.Write([]byte(`{"Parameters":[]}`))
}

type fixture struct {
	t   *testing.T
	h   *Handler
	api *fakeAPI
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, api: &fakeAPI{}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h, err := New(Config{API: f.api, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
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
	w := f.do("POST", "/console/api/signin", `{"AccessKeyId":"AKGOOD","SecretAccessKey":"s"}`, map[string]string{"Origin": "http://console.test"})
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
	if !strings.HasPrefix(f.api.ua, UserAgent) || f.api.target != "AmazonSSM.DescribeParameters" {
		t.Errorf("verification call: got %q %q, want the console's user agent and DescribeParameters", f.api.ua, f.api.target)
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
		{"action not offered", `{"Action":"DeleteParameter","Input":{"Name":"/a"}}`, same, true, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cs []*http.Cookie
			if tc.cookie {
				cs = append(cs, c)
			}
			if w := f.do("POST", "/console/api/call", tc.body, tc.hdr, cs...); w.Code != tc.want {
				t.Errorf("got %d %s, want %d", w.Code, w.Body, tc.want)
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
