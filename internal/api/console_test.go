package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// consoleSession is a console sign-in seen from a browser: its cookie and
// CSRF token.
type consoleSession struct {
	e      *auditEnv
	cookie *http.Cookie
	csrf   string
}

func (e *auditEnv) consoleSignIn(id, secret string) (*consoleSession, int) {
	e.t.Helper()
	body := `{"AccessKeyId":"` + id + `","SecretAccessKey":"` + secret + `"}`
	req, _ := http.NewRequest(http.MethodPost, e.endpoint+"/console/api/signin", strings.NewReader(body))
	req.Header.Set("Origin", e.endpoint)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ CsrfToken string }
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	return &consoleSession{e: e, cookie: resp.Cookies()[0], csrf: out.CsrfToken}, resp.StatusCode
}

// call makes a console API call and returns the status and body.
func (s *consoleSession) call(action, input string) (int, string) {
	s.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.e.endpoint+"/console/api/call",
		strings.NewReader(`{"Action":"`+action+`","Input":`+input+`}`))
	req.Header.Set("Origin", s.e.endpoint)
	req.Header.Set("X-Csrf-Token", s.csrf)
	req.Header.Set("User-Agent", "test-browser")
	req.AddCookie(s.cookie)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		s.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConsoleActsAsItsKey: the console keeps no secret, yet its calls are
// the signed-in key's: authorized by the key's policies, recorded in the
// audit trail as that identity with the console in the user agent (and the
// sign-ins as ConsoleLogin records without the secret), and refused as
// soon as the key is deleted. Nothing on the wire can claim a console
// principal: an unsigned API request is refused.
func TestConsoleActsAsItsKey(t *testing.T) {
	e := newAuditEnv(t)
	const value = "console-value-7f3a"
	if _, code := e.consoleSignIn(e.root.AccessKeyID, e.root.SecretAccessKey+"x"); code != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong secret: got %d, want 401", code)
	}
	root, code := e.consoleSignIn(e.root.AccessKeyID, e.root.SecretAccessKey)
	if root == nil {
		t.Fatalf("sign-in: got %d", code)
	}
	if status, body := root.call("PutParameter", `{"Name":"/c/secret","Value":"`+value+`","Type":"SecureString"}`); status != http.StatusOK {
		t.Fatalf("PutParameter through the console: got %d %s", status, body)
	}
	rec := e.ofType("AwsApiCall", `"eventName":"PutParameter"`)
	if ua := rec.str("userAgent"); ua != "paramstore-console/1 test-browser" {
		t.Errorf("userAgent: got %q, want the console's and the browser's", ua)
	}
	if got := member(rec.rec, "userIdentity", "accessKeyId"); got != e.root.AccessKeyID {
		t.Errorf("identity: got %v, want the signed-in key %s", got, e.root.AccessKeyID)
	}
	logins := e.records(`"eventName":"ConsoleLogin"`, 2)
	if logins[0].str("errorCode") != "UnrecognizedClientException" || logins[1].str("errorCode") != "" {
		t.Errorf("ConsoleLogin records: got %s and %s, want the refused one, then the accepted one", logins[0].raw, logins[1].raw)
	}
	if trail := e.trailText(`"eventName":"ConsoleLogin"`); strings.Contains(trail, e.root.SecretAccessKey) || strings.Contains(trail, value) {
		t.Error("the audit trail holds the secret access key or the value")
	}

	// The audit trail read back through the console: names, never values.
	status, body := root.call("LookupAuditEvents", `{"EventName":"PutParameter","Name":"/c/"}`)
	if status != http.StatusOK || !strings.Contains(body, `"Names":["/c/secret"]`) || !strings.Contains(body, `"UserAgent":"paramstore-console/1 test-browser"`) ||
		strings.Contains(body, value) {
		t.Errorf("LookupAuditEvents: got %d %s, want the console's PutParameter of /c/secret without its value", status, body)
	}
	if status, body := root.call("LookupAuditEvents", `{"NextToken":"not-a-token"}`); status != http.StatusBadRequest || !strings.Contains(body, "ValidationException") {
		t.Errorf("a made-up NextToken: got %d %s, want ValidationException", status, body)
	}

	// A user allowed only GetParameter is refused the rest, by the API.
	send(t, e.signed("Paramstore.CreateUser", `{"UserName":"reader","PolicyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ssm:GetParameter\",\"Resource\":\"*\"}]}"}`, e.root, testRegion, time.Now()))
	res := send(t, e.signed("Paramstore.CreateAccessKey", `{"UserName":"reader"}`, e.root, testRegion, time.Now()))
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	if err := json.Unmarshal(res.body, &key); err != nil || key.AccessKey.AccessKeyId == "" {
		t.Fatalf("CreateAccessKey: %d %s", res.status, res.body)
	}
	reader, code := e.consoleSignIn(key.AccessKey.AccessKeyId, key.AccessKey.SecretAccessKey)
	if reader == nil {
		t.Fatalf("reader sign-in: got %d", code)
	}
	if status, body := reader.call("GetParameter", `{"Name":"/c/secret"}`); status != http.StatusOK {
		t.Errorf("reader GetParameter: got %d %s, want 200", status, body)
	}
	for action, input := range map[string]string{"PutParameter": `{"Name":"/c/x","Value":"v"}`, "LookupAuditEvents": `{}`, "ListNodes": `{}`} {
		if status, body := reader.call(action, input); status != http.StatusBadRequest || !strings.Contains(body, "AccessDeniedException") {
			t.Errorf("reader %s: got %d %s, want AccessDeniedException", action, status, body)
		}
	}
	send(t, e.signed("Paramstore.DeleteAccessKey", `{"AccessKeyId":"`+key.AccessKey.AccessKeyId+`"}`, e.root, testRegion, time.Now()))
	if status, body := reader.call("GetParameter", `{"Name":"/c/secret"}`); status != http.StatusBadRequest || !strings.Contains(body, "UnrecognizedClientException") {
		t.Errorf("a deleted key's session: got %d %s, want UnrecognizedClientException", status, body)
	}

	// No header makes an unsigned call a console call.
	res = send(t, e.request("AmazonSSM.GetParameter", `{"Name":"/c/secret"}`))
	if res.status == http.StatusOK {
		t.Errorf("unsigned GetParameter: got 200 %s", res.body)
	}
}
