package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/server"
)

// The audit trail as a real server writes it: what reaches it from the
// admin API, from error messages and from bodies that do not decode.

// auditEnv is an authEnv whose audit trail the test reads.
type auditEnv struct {
	*authEnv
	trail string
}

func newAuditEnv(t *testing.T) *auditEnv {
	t.Helper()
	trail := filepath.Join(t.TempDir(), "audit.log")
	return &auditEnv{authEnv: newAuthEnv(t, func(c *server.Config) { c.AuditFile = trail }), trail: trail}
}

// auditLine is one record of the trail, raw and decoded.
type auditLine struct {
	raw string
	rec map[string]any
}

func (l auditLine) str(name string) string {
	s, _ := l.rec[name].(string)
	return s
}

// records waits until the trail holds at least n records whose line
// contains substr (records of reads are written within the flush interval)
// and returns them in file order.
func (e *auditEnv) records(substr string, n int) []auditLine {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		raw, err := os.ReadFile(e.trail)
		if err != nil {
			e.t.Fatal(err)
		}
		var got []auditLine
		for _, line := range strings.Split(string(raw), "\n") {
			if line == "" || !strings.Contains(line, substr) {
				continue
			}
			l := auditLine{raw: line}
			if err := json.Unmarshal([]byte(line), &l.rec); err != nil {
				e.t.Fatalf("audit line is not JSON: %v\n%s", err, line)
			}
			got = append(got, l)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the audit trail has %d records containing %q, want %d:\n%s", len(got), substr, n, raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ofType waits for a record of eventType typ whose line contains substr
// and returns the first one.
func (e *auditEnv) ofType(typ, substr string) auditLine {
	e.t.Helper()
	recs := e.records(`"eventType":"`+typ+`"`, 0)
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, l := range recs {
			if strings.Contains(l.raw, substr) {
				return l
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no %s record containing %q in the audit trail", typ, substr)
		}
		time.Sleep(20 * time.Millisecond)
		recs = e.records(`"eventType":"`+typ+`"`, 0)
	}
}

// trailText returns the whole trail once it holds a record containing
// substr.
func (e *auditEnv) trailText(substr string) string {
	e.t.Helper()
	e.records(substr, 1)
	raw, err := os.ReadFile(e.trail)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(raw)
}

// member follows a path of object members in a decoded record.
func member(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// TestAuditAdminCredentialsHidden is issue 10 item 1: the records of
// CreateAccessKey and AssumeRole carried the new SecretAccessKey and
// SessionToken in clear. The admin API is now recorded default deny: the
// members named safe keep their values, every other one (the secret, the
// token, a member nobody listed) is HIDDEN_DUE_TO_SECURITY_REASONS, in the
// request and in the response.
func TestAuditAdminCredentialsHidden(t *testing.T) {
	e := newAuditEnv(t)
	const unlisted = "UNLISTEDMARKER-7f3a"
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}]}`
	e.rootAdmin("CreateUser", map[string]string{"UserName": "audited", "PolicyDocument": policy}, nil)
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	e.rootAdmin("CreateAccessKey", map[string]string{"UserName": "audited", "Password": unlisted}, &key)
	e.rootAdmin("CreateRole", map[string]string{"RoleName": "audited-role", "PolicyDocument": policy}, nil)
	var role struct {
		Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	}
	e.rootAdmin("AssumeRole", map[string]any{"RoleName": "audited-role", "DurationSeconds": 900}, &role)
	if key.AccessKey.SecretAccessKey == "" || role.Credentials.SessionToken == "" {
		t.Fatalf("admin API returned no credentials: %+v %+v", key, role)
	}

	trail := e.trailText(role.Credentials.AccessKeyId)
	for name, secret := range map[string]string{
		"CreateAccessKey SecretAccessKey": key.AccessKey.SecretAccessKey,
		"AssumeRole SecretAccessKey":      role.Credentials.SecretAccessKey,
		"AssumeRole SessionToken":         role.Credentials.SessionToken,
		"unlisted request member":         unlisted,
	} {
		if strings.Contains(trail, secret) {
			t.Errorf("the audit trail holds the %s in clear", name)
		}
	}

	result := e.ofType(audit.EventType, `"eventName":"CreateAccessKey"`)
	intent := e.ofType(audit.EventTypeIntent, `"eventName":"CreateAccessKey"`)
	for _, l := range []auditLine{intent, result} {
		if got := member(l.rec, "requestParameters", "UserName"); got != "audited" {
			t.Errorf("requestParameters.UserName = %v, want audited (a listed member keeps its value)", got)
		}
		if got := member(l.rec, "requestParameters", "Password"); got != audit.Hidden {
			t.Errorf("requestParameters.Password = %v, want %s", got, audit.Hidden)
		}
	}
	ak := member(result.rec, "responseElements", "AccessKey")
	for name, want := range map[string]any{
		"AccessKeyId": key.AccessKey.AccessKeyId, "UserName": "audited", "Status": "Active",
		"SecretAccessKey": audit.Hidden,
	} {
		if got := member(ak, name); got != want {
			t.Errorf("CreateAccessKey responseElements.AccessKey.%s = %v, want %v", name, got, want)
		}
	}

	assumed := e.ofType(audit.EventType, `"eventName":"AssumeRole"`)
	creds := member(assumed.rec, "responseElements", "Credentials")
	for name, want := range map[string]any{
		"AccessKeyId": role.Credentials.AccessKeyId, "UserName": "audited-role",
		"SecretAccessKey": audit.Hidden, "SessionToken": audit.Hidden,
	} {
		if got := member(creds, name); got != want {
			t.Errorf("AssumeRole responseElements.Credentials.%s = %v, want %v", name, got, want)
		}
	}
	if got := member(assumed.rec, "requestParameters", "DurationSeconds"); got != 900.0 {
		t.Errorf("AssumeRole requestParameters.DurationSeconds = %v, want 900", got)
	}
	created := e.ofType(audit.EventType, `"eventName":"CreateUser"`)
	if got := member(created.rec, "requestParameters", "PolicyDocument"); got != policy {
		t.Errorf("CreateUser requestParameters.PolicyDocument = %v, want the policy (who granted what is the point of a trail)", got)
	}
}

// TestAuditErrorMessagesHoldNoValue is issue 10 item 1's second half: a
// String value refused by the aws:ec2:image check was echoed into the
// record's errorMessage. The caller still gets AWS's wording; the record
// keeps the message without the value. The same goes for an
// Authorization header that SigV4 errors echo (a token sent by mistake).
func TestAuditErrorMessagesHoldNoValue(t *testing.T) {
	e := newAuditEnv(t)
	const value = "VALUEMARKER-notanami-91c2"
	_, err := e.rootC.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/audit/ami"), Value: aws.String(value),
		Type: types.ParameterTypeString, DataType: aws.String("aws:ec2:image")})
	wantAPIError(t, err, "ValidationException", "Parameter value, "+value+", is not a valid image ID for data type aws:ec2:image.")
	res := e.ofType(audit.EventType, `"/audit/ami"`)
	if got, want := res.str("errorMessage"), "Parameter value, (value not recorded), is not a valid image ID for data type aws:ec2:image."; got != want {
		t.Errorf("audit errorMessage = %q, want %q", got, want)
	}

	const token = "TOKENMARKER-4d1e"
	req := e.request("AmazonSSM.GetParameter", `{"Name":"/audit/auth-echo"}`)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 "+token)
	got := send(t, req)
	if got.code != "IncompleteSignatureException" || !strings.Contains(got.msg, "Authorization=AWS4-HMAC-SHA256 "+token) {
		t.Fatalf("got %d %s %q, want IncompleteSignatureException echoing the header as AWS does", got.status, got.code, got.msg)
	}
	rec := e.records(`"/audit/auth-echo"`, 1)[0]
	if msg := rec.str("errorMessage"); strings.Contains(rec.raw, token) || !strings.HasSuffix(msg, "Authorization=(not recorded)") {
		t.Errorf("audit record of a refused signature: errorMessage %q; want the header left out\n%s", msg, rec.raw)
	}
}

// TestAuditBodyWrappedInUnicodeSpace is issue 10 item 3: a body wrapped in
// U+00A0 or U+0085 was decoded (bytes.TrimSpace) and executed, but its
// record had requestParameters: null, so a read of a SecureString or a
// write left no trace of which parameter. Only JSON whitespace is
// accepted now, as AWS accepts it; anything else is the
// SerializationException of a malformed body, and what runs is what the
// trail records.
func TestAuditBodyWrappedInUnicodeSpace(t *testing.T) {
	e := newAuditEnv(t)
	if _, err := e.rootC.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/evade/secret"),
		Value: aws.String("s3cr3t"), Type: types.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, target, body string
	}{
		{"get wrapped in NBSP", "GetParameter", "\u00a0{\"Name\":\"/evade/secret\",\"WithDecryption\":true}\u00a0"},
		{"get wrapped in NEL", "GetParameter", "\u0085{\"Name\":\"/evade/secret\",\"WithDecryption\":true}\u0085"},
		{"put after NBSP", "PutParameter", "\u00a0{\"Name\":\"/evade/put-nbsp\",\"Value\":\"v\",\"Type\":\"String\"}"},
		{"put before NEL", "PutParameter", "{\"Name\":\"/evade/put-nel\",\"Value\":\"v\",\"Type\":\"String\"}\u0085"},
		{"delete wrapped in NBSP", "DeleteParameter", "\u00a0{\"Name\":\"/evade/secret\"}\u00a0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := send(t, e.signed("AmazonSSM."+tc.target, tc.body, e.root, testRegion, time.Now()))
			wantWire(t, got, "SerializationException", "Malformed JSON request body.")
		})
	}
	// Nothing ran: the parameter is still there, the puts created nothing.
	if _, err := e.rootC.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/evade/secret")}); err != nil {
		t.Errorf("GetParameter /evade/secret after the refused delete: %v", err)
	}
	for _, name := range []string{"/evade/put-nbsp", "/evade/put-nel"} {
		_, err := e.rootC.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		var nf *types.ParameterNotFound
		if !errors.As(err, &nf) {
			t.Errorf("GetParameter %s after the refused put: %v, want ParameterNotFound", name, err)
		}
	}
	// JSON whitespace is whitespace: the call runs and its record holds
	// the request.
	body := " \t\r\n{\"Name\":\"/evade/json-space\",\"Value\":\"v\",\"Type\":\"String\"}\n\t "
	if got := send(t, e.signed("AmazonSSM.PutParameter", body, e.root, testRegion, time.Now())); got.status != http.StatusOK {
		t.Fatalf("PutParameter in JSON whitespace: got %d %s %q, want 200", got.status, got.code, got.msg)
	}
	for _, l := range []auditLine{e.ofType(audit.EventTypeIntent, `"/evade/json-space"`), e.ofType(audit.EventType, `"/evade/json-space"`)} {
		if got := member(l.rec, "requestParameters", "Name"); got != "/evade/json-space" {
			t.Errorf("%s record of the executed put has requestParameters.Name %v", l.str("eventType"), got)
		}
	}
	// Every record of a call that ran has its requestParameters.
	raw, _ := os.ReadFile(e.trail)
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["requestParameters"] == nil && rec["errorCode"] == nil {
			t.Errorf("a call ran with requestParameters: null:\n%s", line)
		}
	}
}

// TestAuditRepeatedMemberRefused closes the same gap as the Unicode
// spaces with repeated member names: encoding/json matches names
// case-insensitively and the last one wins, so
// {"Name":"/harmless","name":"/evade/secret"} read /evade/secret while its
// record showed "Name":"/harmless" first (AWS, matching names exactly,
// would read /harmless). A body naming a member twice in one object,
// ignoring case and escapes, is refused before anything runs.
func TestAuditRepeatedMemberRefused(t *testing.T) {
	e := newAuditEnv(t)
	for _, name := range []string{"/evade/harmless", "/evade/secret"} {
		if _, err := e.rootC.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String(name),
			Value: aws.String("value of " + name), Type: types.ParameterTypeSecureString}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ name, target, body string }{
		{"get, case variant", "GetParameter", `{"Name":"/evade/harmless","name":"/evade/secret","WithDecryption":true}`},
		{"get, exact repeat", "GetParameter", `{"Name":"/evade/harmless","Name":"/evade/secret","WithDecryption":true}`},
		{"get, escaped spelling", "GetParameter", `{"Name":"/evade/harmless","\u006eame":"/evade/secret","WithDecryption":true}`},
		{"delete, case variant", "DeleteParameter", `{"Name":"/evade/harmless","NAME":"/evade/secret"}`},
		{"put, repeated in a tag", "PutParameter", `{"Name":"/evade/new","Value":"v","Type":"String","Tags":[{"Key":"a","key":"b","Value":"c"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := send(t, e.signed("AmazonSSM."+tc.target, tc.body, e.root, testRegion, time.Now()))
			wantWire(t, got, "SerializationException", "Duplicate member name in the request body.")
		})
	}
	if _, err := e.rootC.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/evade/secret")}); err != nil {
		t.Errorf("GetParameter /evade/secret after the refused delete: %v", err)
	}
	_, err := e.rootC.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/evade/new")})
	var nf *types.ParameterNotFound
	if !errors.As(err, &nf) {
		t.Errorf("GetParameter /evade/new after the refused put: %v, want ParameterNotFound", err)
	}
}

// TestAuditUndecodableWriteNoIntent: a write whose body does not decode
// into its input (a member of the wrong type) is refused before it runs,
// as a malformed one is, and leaves only its result record, with the
// decoding error: no intent, since it changes nothing. A write that
// decodes leaves both, the intent first. (DeleteParameter: its intent is
// written to the trail before it runs, not carried in the raft log.)
func TestAuditUndecodableWriteNoIntent(t *testing.T) {
	e := newAuditEnv(t)
	got := send(t, e.signed("AmazonSSM.DeleteParameter", `{"Name":["/undecodable"]}`, e.root, testRegion, time.Now()))
	wantWire(t, got, "SerializationException", "Unexpected value type for member 'Name'.")
	if _, err := e.rootC.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/decodable"), Value: aws.String("v"),
		Type: types.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rootC.DeleteParameter(e.ctx, &ssm.DeleteParameterInput{Name: aws.String("/decodable")}); err != nil {
		t.Fatal(err)
	}
	// The delete's result is the last of these records the trail writes.
	deleted := func(recs []auditLine) bool {
		return slices.ContainsFunc(recs, func(l auditLine) bool {
			return strings.Contains(l.raw, `"/decodable"`) && l.str("eventType") == audit.EventType
		})
	}
	recs := e.records(`"eventName":"DeleteParameter"`, 0)
	for deadline := time.Now().Add(20 * time.Second); !deleted(recs); recs = e.records(`"eventName":"DeleteParameter"`, 0) {
		if time.Now().After(deadline) {
			t.Fatal("no result record of the delete in the trail")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var undecodable, decodable []string
	for _, l := range recs {
		switch {
		case strings.Contains(l.raw, `"/decodable"`):
			decodable = append(decodable, l.str("eventType")+" "+l.str("errorCode"))
		default:
			undecodable = append(undecodable, l.str("eventType")+" "+l.str("errorCode"))
		}
	}
	if want := []string{audit.EventType + " SerializationException"}; !slices.Equal(undecodable, want) {
		t.Errorf("records of the undecodable delete: %q, want %q", undecodable, want)
	}
	if want := []string{audit.EventTypeIntent + " ", audit.EventType + " "}; !slices.Equal(decodable, want) {
		t.Errorf("records of the delete: %q, want %q", decodable, want)
	}
}

// TestAuditWriteRecords: a SecureString write's intent and result records,
// as the SDK sends it. The request's members are written sorted by name
// with the Value replaced by its HMAC and the tag values kept; the result
// record's responseElements are the response the client got (as the
// handler encoded it), sorted as before; the value is nowhere.
func TestAuditWriteRecords(t *testing.T) {
	e := newAuditEnv(t)
	const value = "SECRETMARKER-<&>-ünï-77"
	out, err := e.rootC.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/audit/w"), Value: aws.String(value),
		Type: types.ParameterTypeSecureString, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("tag+välue")}}})
	if err != nil {
		t.Fatal(err)
	}
	intent := e.ofType(audit.EventTypeIntent, `"/audit/w"`)
	result := e.ofType(audit.EventType, `"/audit/w"`)
	for _, l := range []auditLine{intent, result} {
		if strings.Contains(l.raw, "SECRETMARKER") {
			t.Fatalf("the value is in the record: %s", l.raw)
		}
		_, req, _ := strings.Cut(l.raw, `"requestParameters":`)
		wantPrefix := `{"Name":"/audit/w","Tags":[{"Key":"team","Value":"tag+välue"}],"Type":"SecureString","Value":"hmac-sha256:`
		if !strings.HasPrefix(req, wantPrefix) {
			t.Errorf("requestParameters = %.200s, want it to start %s", req, wantPrefix)
		}
	}
	want := `"responseElements":{"Tier":"Standard","Version":` + strconv.FormatInt(out.Version, 10) + `}`
	if !strings.Contains(result.raw, want) {
		t.Errorf("result record %s\nwant %s", result.raw, want)
	}
	if !strings.Contains(intent.raw, `"responseElements":null`) {
		t.Errorf("intent record %s, want no response", intent.raw)
	}
}

// TestAuditReadRequestParameters checks the requestParameters of reads as
// the trail holds them, byte for byte: a body decodeFast parsed without
// JSON whitespace goes into the record as it is (audit.Compact), one with
// whitespace compacted, and a body the general decoder took compacted too.
func TestAuditReadRequestParameters(t *testing.T) {
	e := newAuditEnv(t)
	for _, name := range []string{"/rp/compact", "/rp/spaced", "/rp/general"} {
		if _, err := e.rootC.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"),
			Type: types.ParameterTypeString}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ body, want string }{
		{`{"Name":"/rp/compact","WithDecryption":false}`, `"requestParameters":{"Name":"/rp/compact","WithDecryption":false},`},
		{"{ \"Name\" :\t\"/rp/spaced\" }\n", `"requestParameters":{"Name":"/rp/spaced"},`},
		{`{"Name":"/rp/general","WithDecryption":null}`, `"requestParameters":{"Name":"/rp/general","WithDecryption":null},`},
	} {
		if got := send(t, e.signed("AmazonSSM.GetParameter", tc.body, e.root, testRegion, time.Now())); got.status != http.StatusOK {
			t.Fatalf("GetParameter %q: got %d %s %q, want 200", tc.body, got.status, got.code, got.msg)
		}
		if l := e.ofType(audit.EventType, tc.want); !strings.Contains(l.raw, `"eventName":"GetParameter"`) {
			t.Errorf("the record with %s is not GetParameter's: %s", tc.want, l.raw)
		}
	}
}

// TestAuditIntentInLog: on a node without peers a PutParameter's intent
// travels in the raft log, and reaches the trail with the entry's raft
// index, before the call's result; a put refused before it proposed
// anything (the name exists, no Overwrite) has no intent, only its result
// with the error; a call of another kind keeps the intent written before
// it runs (no raft index).
func TestAuditIntentInLog(t *testing.T) {
	e := newAuditEnv(t)
	put := func(overwrite bool) error {
		_, err := e.rootC.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/audit/inlog"), Value: aws.String("v"),
			Type: types.ParameterTypeString, Overwrite: aws.Bool(overwrite)})
		return err
	}
	if err := put(false); err != nil {
		t.Fatal(err)
	}
	if err := put(false); err == nil {
		t.Fatal("a second put without Overwrite succeeded")
	}
	if _, err := e.rootC.DeleteParameter(e.ctx, &ssm.DeleteParameterInput{Name: aws.String("/audit/inlog")}); err != nil {
		t.Fatal(err)
	}
	recs := e.records(`"/audit/inlog"`, 5)
	var kinds []string
	for _, l := range recs {
		kind := l.str("eventName") + " " + l.str("eventType")
		if idx, ok := l.rec["raftIndex"].(float64); ok && idx > 0 {
			kind += " raftIndex"
		}
		if l.str("errorCode") != "" {
			kind += " " + l.str("errorCode")
		}
		kinds = append(kinds, kind)
	}
	want := []string{
		"PutParameter AwsApiCallIntent raftIndex",
		"PutParameter AwsApiCall",
		"PutParameter AwsApiCall ParameterAlreadyExists",
		"DeleteParameter AwsApiCallIntent",
		"DeleteParameter AwsApiCall",
	}
	if strings.Join(kinds, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
}
