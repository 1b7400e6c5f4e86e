package api_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// readFixture: /app/db with versions 1..3 (label prod on 2), root "cfg".
func readFixture(t *testing.T) *env {
	e := newEnv(t)
	e.putString("/app/db", "one")
	e.overwrite("/app/db", "two")
	e.overwrite("/app/db", "three")
	if _, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/app/db"), ParameterVersion: aws.Int64(2), Labels: []string{"prod"}}); err != nil {
		t.Fatal(err)
	}
	e.putString("cfg", "root")
	return e
}

func TestSDKGetParameter(t *testing.T) {
	e := readFixture(t)
	tests := []struct {
		name         string
		ref          string
		wantName     string
		wantValue    string
		wantVersion  int64
		wantSelector string
		wantARN      string
	}{
		{"latest", "/app/db", "/app/db", "three", 3, "", arnPrefix + "app/db"},
		{"version selector", "/app/db:1", "/app/db", "one", 1, ":1", arnPrefix + "app/db"},
		{"latest version selector", "/app/db:3", "/app/db", "three", 3, ":3", arnPrefix + "app/db"},
		{"label selector", "/app/db:prod", "/app/db", "two", 2, ":prod", arnPrefix + "app/db"},
		{"ARN", arnPrefix + "app/db", "/app/db", "three", 3, "", arnPrefix + "app/db"},
		{"ARN with selector", arnPrefix + "app/db:prod", "/app/db", "two", 2, ":prod", arnPrefix + "app/db"},
		{"root", "cfg", "cfg", "root", 1, "", arnPrefix + "cfg"},
		{"root with slash", "/cfg", "/cfg", "root", 1, "", arnPrefix + "cfg"},
		{"root ARN", arnPrefix + "cfg", "cfg", "root", 1, "", arnPrefix + "cfg"},
		{"root with selector", "/cfg:1", "/cfg", "root", 1, ":1", arnPrefix + "cfg"},
		{"surrounding spaces", " /app/db ", "/app/db", "three", 3, "", arnPrefix + "app/db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			out, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String(tt.ref)})
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			p := out.Parameter
			got := []any{aws.ToString(p.Name), aws.ToString(p.Value), p.Version, aws.ToString(p.Selector), aws.ToString(p.ARN), aws.ToString(p.DataType), p.Type}
			want := []any{tt.wantName, tt.wantValue, tt.wantVersion, tt.wantSelector, tt.wantARN, "text", types.ParameterTypeString}
			if diff := mismatch(want, got); diff != "" {
				t.Errorf("got Name, Value, Version, Selector, ARN, DataType, Type\n%s", diff)
			}
			if tt.wantSelector == "" && p.Selector != nil {
				t.Errorf("got Selector %q, want none", aws.ToString(p.Selector))
			}
		})
	}

	errs := []struct {
		name, ref, code, msg string
	}{
		{"missing", "/app/nope", "ParameterNotFound", ""},
		{"missing root", "nope", "ParameterNotFound", ""},
		{"version not retained", "/app/db:9", "ParameterVersionNotFound", "Systems Manager could not find version 9 of /app/db. Verify the version and try again."},
		{"unknown label", "/app/db:staging", "ParameterNotFound", ""},
		{"labels are case-sensitive", "/app/db:Prod", "ParameterNotFound", ""},
		{"two selectors", "/app/db:1:2", "ParameterNotFound", ""},
		{"empty segment", "/a//b", "ValidationException", msgSubPaths},
		{"not fully qualified", "x/b/c", "ValidationException", msgSubPaths},
		{"bad character", "/app/d b", "ValidationException", msgSubPaths},
		{"public parameter path is readable", "/aws/service/none", "ParameterNotFound", ""},
		{"secrets manager reference", "/aws/reference/secretsmanager/s", "ParameterNotFound", ""},
		{"ARN of another account", "arn:aws:ssm:us-east-1:111111111111:parameter/app/db", "ParameterNotFound", ""},
		{"empty name", "", "ValidationException", "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			_, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String(tt.ref)})
			wantAPIError(t, err, tt.code, tt.msg)
		})
	}

	t.Run("not found body has no message", func(t *testing.T) {
		e := e.at(t)
		var rec recorder
		_, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/app/nope")}, rec.with)
		wantAPIError(t, err, "ParameterNotFound", "")
		if rec.status != http.StatusBadRequest || string(rec.body) != `{"__type":"ParameterNotFound"}` {
			t.Errorf("got %d %s, want 400 {\"__type\":\"ParameterNotFound\"}", rec.status, rec.body)
		}
	})
}

func TestSDKGetParameterSecureString(t *testing.T) {
	e := newEnv(t)
	e.put(&ssm.PutParameterInput{Name: aws.String("/sec/p"), Value: aws.String("s3cret"), Type: types.ParameterTypeSecureString})

	read := func(decrypt *bool) string {
		t.Helper()
		out, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/sec/p"), WithDecryption: decrypt})
		if err != nil {
			t.Fatal(err)
		}
		if out.Parameter.Type != types.ParameterTypeSecureString {
			t.Errorf("got type %q, want SecureString", out.Parameter.Type)
		}
		return aws.ToString(out.Parameter.Value)
	}
	c1, c2 := read(nil), read(aws.Bool(false))
	if c1 == "" || strings.Contains(c1, "s3cret") {
		t.Errorf("got ciphertext %q, want an opaque non-empty value", c1)
	}
	if c1 != c2 {
		t.Errorf("got ciphertexts %q and %q, want the same stable ciphertext", c1, c2)
	}
	if got := read(aws.Bool(true)); got != "s3cret" {
		t.Errorf("got %q with decryption, want s3cret", got)
	}

	// GetParameters, GetParametersByPath and GetParameterHistory follow the flag too.
	gp, err := e.c.GetParameters(e.ctx, &ssm.GetParametersInput{Names: []string{"/sec/p"}})
	if err != nil || len(gp.Parameters) != 1 || aws.ToString(gp.Parameters[0].Value) != c1 {
		t.Errorf("GetParameters without decryption: got %+v %v, want the ciphertext", gp, err)
	}
	gp, err = e.c.GetParameters(e.ctx, &ssm.GetParametersInput{Names: []string{"/sec/p"}, WithDecryption: aws.Bool(true)})
	if err != nil || len(gp.Parameters) != 1 || aws.ToString(gp.Parameters[0].Value) != "s3cret" {
		t.Errorf("GetParameters with decryption: got %+v %v, want s3cret", gp, err)
	}
	bp, err := e.c.GetParametersByPath(e.ctx, &ssm.GetParametersByPathInput{Path: aws.String("/sec"), WithDecryption: aws.Bool(true)})
	if err != nil || len(bp.Parameters) != 1 || aws.ToString(bp.Parameters[0].Value) != "s3cret" {
		t.Errorf("GetParametersByPath with decryption: got %+v %v, want s3cret", bp, err)
	}
	bp, err = e.c.GetParametersByPath(e.ctx, &ssm.GetParametersByPathInput{Path: aws.String("/sec")})
	if err != nil || len(bp.Parameters) != 1 || aws.ToString(bp.Parameters[0].Value) != c1 {
		t.Errorf("GetParametersByPath without decryption: got %+v %v, want the ciphertext", bp, err)
	}
	h, err := e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/sec/p")})
	if err != nil || len(h.Parameters) != 1 || aws.ToString(h.Parameters[0].Value) != c1 || aws.ToString(h.Parameters[0].KeyId) != "alias/aws/ssm" {
		t.Errorf("GetParameterHistory: got %+v %v, want the ciphertext and KeyId alias/aws/ssm", h, err)
	}
	h, err = e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/sec/p"), WithDecryption: aws.Bool(true)})
	if err != nil || len(h.Parameters) != 1 || aws.ToString(h.Parameters[0].Value) != "s3cret" {
		t.Errorf("GetParameterHistory with decryption: got %+v %v, want s3cret", h, err)
	}
	// WithDecryption is ignored for other types.
	e.putString("/sec/plain", "open")
	out, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/sec/plain"), WithDecryption: aws.Bool(false)})
	if err != nil || aws.ToString(out.Parameter.Value) != "open" {
		t.Errorf("got %v %v, want open", out, err)
	}
}

func TestSDKSecureStringKeys(t *testing.T) {
	e := newEnv(t)
	id, keyARN := e.createKey(testRegion, "alias/myapp")
	if !strings.HasPrefix(keyARN, "arn:aws:kms:us-east-1:123456789012:key/") {
		t.Fatalf("got key ARN %q, want a KMS key ARN", keyARN)
	}
	tests := []struct {
		name     string
		keyID    *string
		wantKey  string
		wantCode string
		wantMsg  string
	}{
		{"default", nil, "alias/aws/ssm", "", ""},
		{"default alias", aws.String("alias/aws/ssm"), "alias/aws/ssm", "", ""},
		{"named alias", aws.String("alias/myapp"), "alias/myapp", "", ""},
		{"named key id", aws.String(id), id, "", ""},
		{"named key ARN", aws.String(keyARN), keyARN, "", ""},
		{"named alias ARN", aws.String("arn:aws:kms:us-east-1:123456789012:alias/myapp"), "arn:aws:kms:us-east-1:123456789012:alias/myapp", "", ""},
		// AWS relays KMS's text (spec §9.5).
		{"unknown alias", aws.String("alias/nope"), "", "InvalidKeyId", "Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found."},
		{"unknown alias ARN", aws.String("arn:aws:kms:us-east-1:123456789012:alias/nope"), "", "InvalidKeyId", "Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found."},
		{"unknown key id", aws.String("0f0e0d0c-0000-4000-8000-000000000000"), "", "InvalidKeyId", "Key 'arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0000-4000-8000-000000000000' does not exist"},
		{"unknown key ARN", aws.String("arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0000-4000-8000-000000000000"), "", "InvalidKeyId", "Key 'arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0000-4000-8000-000000000000' does not exist"},
		{"key ARN of another region", aws.String("arn:aws:kms:eu-west-1:123456789012:key/" + id), "", "InvalidKeyId", "Key 'arn:aws:kms:eu-west-1:123456789012:key/" + id + "' does not exist"},
		{"alias ARN of another account", aws.String("arn:aws:kms:us-east-1:210987654321:alias/myapp"), "", "InvalidKeyId", "Alias arn:aws:kms:us-east-1:210987654321:alias/myapp is not found."},
		{"ARN of another service", aws.String("arn:aws:s3:::bucket"), "", "InvalidKeyId", "Invalid keyId arn:aws:s3:::bucket"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			name := fmt.Sprintf("/keys/p%d", i)
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("secret" + name), Type: types.ParameterTypeSecureString, KeyId: tt.keyID})
			if tt.wantCode != "" {
				wantAPIError(t, err, tt.wantCode, tt.wantMsg)
				return
			}
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if got := aws.ToString(e.get(name).Value); got != "secret"+name {
				t.Errorf("got %q, want the plaintext", got)
			}
			md := e.describeAll(types.ParameterStringFilter{Key: aws.String("Name"), Values: []string{name}})
			if len(md) != 1 || aws.ToString(md[0].KeyId) != tt.wantKey {
				t.Errorf("got %+v, want KeyId %q", md, tt.wantKey)
			}
		})
	}

	t.Run("keys are per region", func(t *testing.T) {
		e := e.at(t)
		_, err := e.client("eu-west-1").PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/keys/eu"), Value: aws.String("v"), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/myapp")})
		wantAPIError(t, err, "InvalidKeyId", "Alias arn:aws:kms:eu-west-1:123456789012:alias/myapp is not found.")
	})
	t.Run("overwrite without KeyId uses the default key", func(t *testing.T) {
		e := e.at(t)
		e.put(&ssm.PutParameterInput{Name: aws.String("/keys/ow"), Value: aws.String("a"), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/myapp")})
		e.overwrite("/keys/ow", "b")
		md := e.describeAll(types.ParameterStringFilter{Key: aws.String("Name"), Values: []string{"/keys/ow"}})
		if len(md) != 1 || aws.ToString(md[0].KeyId) != "alias/aws/ssm" {
			t.Errorf("got %+v, want KeyId alias/aws/ssm", md)
		}
		if got := aws.ToString(e.get("/keys/ow:1").Value); got != "a" {
			t.Errorf("got version 1 %q, want a (still readable with the named key)", got)
		}
	})
	t.Run("KeyId ignored for String", func(t *testing.T) {
		e := e.at(t)
		e.put(&ssm.PutParameterInput{Name: aws.String("/keys/str"), Value: aws.String("v"), Type: types.ParameterTypeString, KeyId: aws.String("alias/nope")})
		md := e.describeAll(types.ParameterStringFilter{Key: aws.String("Name"), Values: []string{"/keys/str"}})
		if len(md) != 1 || md[0].KeyId != nil {
			t.Errorf("got %+v, want no KeyId", md)
		}
	})
}

// TestSDKRootNameEcho: "p" and "/p" are one root parameter, and AWS answers
// GetParameter and GetParameters with the spelling the caller asked for,
// whichever was used to create it; the ARN is the same either way, and a
// read by ARN answers with the stored name (spec §6.2).
func TestSDKRootNameEcho(t *testing.T) {
	e := newEnv(t)
	e.putString("plain", "p")    // created without the slash
	e.putString("/slashed", "s") // created with it
	tests := []struct {
		ref, wantName, wantARN string
	}{
		{"plain", "plain", arnPrefix + "plain"},
		{"/plain", "/plain", arnPrefix + "plain"},
		{"/plain:1", "/plain", arnPrefix + "plain"},
		{arnPrefix + "plain", "plain", arnPrefix + "plain"},
		{"/slashed", "/slashed", arnPrefix + "slashed"},
		{"slashed", "slashed", arnPrefix + "slashed"},
		{"slashed:1", "slashed", arnPrefix + "slashed"},
		{arnPrefix + "slashed", "/slashed", arnPrefix + "slashed"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			e := e.at(t)
			out, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String(tt.ref)})
			if err != nil {
				t.Fatalf("GetParameter: got %v, want success", err)
			}
			if got := []string{aws.ToString(out.Parameter.Name), aws.ToString(out.Parameter.ARN)}; got[0] != tt.wantName || got[1] != tt.wantARN {
				t.Errorf("GetParameter: got Name, ARN %q, want %q, %q", got, tt.wantName, tt.wantARN)
			}
			many, err := e.c.GetParameters(e.ctx, &ssm.GetParametersInput{Names: []string{tt.ref}})
			if err != nil {
				t.Fatalf("GetParameters: got %v, want success", err)
			}
			if len(many.Parameters) != 1 || len(many.InvalidParameters) != 0 {
				t.Fatalf("GetParameters: got %d parameters, invalid %q, want 1 and none", len(many.Parameters), many.InvalidParameters)
			}
			if got := []string{aws.ToString(many.Parameters[0].Name), aws.ToString(many.Parameters[0].ARN)}; got[0] != tt.wantName || got[1] != tt.wantARN {
				t.Errorf("GetParameters: got Name, ARN %q, want %q, %q", got, tt.wantName, tt.wantARN)
			}
		})
	}
	t.Run("both spellings in one call", func(t *testing.T) {
		e := e.at(t)
		out, err := e.c.GetParameters(e.ctx, &ssm.GetParametersInput{Names: []string{"plain", "/plain", "/gone", "gone"}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range out.Parameters {
			names = append(names, aws.ToString(p.Name))
		}
		if diff := mismatch([]string{"/plain", "plain"}, names); diff != "" {
			t.Errorf("Parameters (sorted by Name):\n%s", diff)
		}
		if diff := mismatch([]string{"/gone", "gone"}, out.InvalidParameters); diff != "" {
			t.Errorf("InvalidParameters (as asked):\n%s", diff)
		}
	})
}

func TestSDKGetParameters(t *testing.T) {
	e := readFixture(t)
	e.putString("/app/a", "a")
	var rec recorder
	out, err := e.c.GetParameters(e.ctx, &ssm.GetParametersInput{Names: []string{
		"/app/db:prod", "/app/missing", "/app/a", "cfg", "/app/db:9", "/app/db:nolabel", "/a//b", "/app/a", "/app/db:1:2", arnPrefix + "app/db",
	}}, rec.with)
	if err != nil {
		t.Fatal(err)
	}
	type item struct {
		Name, Value, Selector string
		Version               int64
	}
	var got []item
	for _, p := range out.Parameters {
		got = append(got, item{aws.ToString(p.Name), aws.ToString(p.Value), aws.ToString(p.Selector), p.Version})
	}
	want := []item{
		{"/app/a", "a", "", 1},
		{"/app/db", "two", ":prod", 2},
		{"/app/db", "three", "", 3},
		{"cfg", "root", "", 1},
	}
	if diff := mismatch(want, got); diff != "" {
		t.Errorf("Parameters:\n%s", diff)
	}
	wantInvalid := []string{"/app/missing", "/app/db:9", "/app/db:nolabel", "/a//b", "/app/db:1:2"}
	if diff := mismatch(wantInvalid, out.InvalidParameters); diff != "" {
		t.Errorf("InvalidParameters:\n%s", diff)
	}

	t.Run("InvalidParameters always present", func(t *testing.T) {
		e := e.at(t)
		var rec recorder
		out, err := e.c.GetParameters(e.ctx, &ssm.GetParametersInput{Names: []string{"cfg"}}, rec.with)
		if err != nil {
			t.Fatal(err)
		}
		if out.InvalidParameters == nil || len(out.InvalidParameters) != 0 || !strings.Contains(string(rec.body), `"InvalidParameters":[]`) {
			t.Errorf("got %q (body %s), want an empty InvalidParameters list", out.InvalidParameters, rec.body)
		}
		out, err = e.c.GetParameters(e.ctx, &ssm.GetParametersInput{Names: []string{"/none"}}, rec.with)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(rec.body), `"Parameters":[]`) || len(out.Parameters) != 0 {
			t.Errorf("got body %s, want an empty Parameters list", rec.body)
		}
	})
	t.Run("eleven names", func(t *testing.T) {
		e := e.at(t)
		var ns []string
		for i := 1; i <= 11; i++ {
			ns = append(ns, fmt.Sprintf("n%d", i))
		}
		_, err := e.c.GetParameters(e.ctx, &ssm.GetParametersInput{Names: ns})
		wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '[n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10")
	})
}

func TestSDKGetParameterHistory(t *testing.T) {
	e := readFixture(t)
	e.put(&ssm.PutParameterInput{Name: aws.String("/app/db"), Value: aws.String("four"), Overwrite: aws.Bool(true), Description: aws.String("d4"), AllowedPattern: aws.String("[a-z]+")})
	if _, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/app/db"), ParameterVersion: aws.Int64(2), Labels: []string{"alpha"}}); err != nil {
		t.Fatal(err)
	}

	for _, ref := range []string{"/app/db", arnPrefix + "app/db"} {
		t.Run(ref, func(t *testing.T) {
			e := e.at(t)
			var rec recorder
			out, err := e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String(ref)}, rec.with)
			if err != nil {
				t.Fatal(err)
			}
			type item struct {
				Name, Value, Desc, Pattern, User string
				Version                          int64
				Labels                           []string
				Tier                             types.ParameterTier
			}
			var got []item
			for _, h := range out.Parameters {
				got = append(got, item{aws.ToString(h.Name), aws.ToString(h.Value), aws.ToString(h.Description), aws.ToString(h.AllowedPattern), aws.ToString(h.LastModifiedUser), h.Version, h.Labels, h.Tier})
				if h.Policies == nil || h.LastModifiedDate == nil || aws.ToString(h.DataType) != "text" || h.Type != types.ParameterTypeString {
					t.Errorf("version %d: got Policies %v date %v data type %q type %q, want [] set text String", h.Version, h.Policies, h.LastModifiedDate, aws.ToString(h.DataType), h.Type)
				}
			}
			user := "arn:aws:iam::123456789012:user/AKIDTEST"
			want := []item{
				{"/app/db", "one", "", "", user, 1, []string{}, types.ParameterTierStandard},
				{"/app/db", "two", "", "", user, 2, []string{"alpha", "prod"}, types.ParameterTierStandard},
				{"/app/db", "three", "", "", user, 3, []string{}, types.ParameterTierStandard},
				{"/app/db", "four", "d4", "[a-z]+", user, 4, []string{}, types.ParameterTierStandard},
			}
			if diff := mismatch(want, got); diff != "" {
				t.Errorf("history:\n%s", diff)
			}
			if out.NextToken != nil {
				t.Errorf("got NextToken %q, want none", aws.ToString(out.NextToken))
			}
			if !strings.Contains(string(rec.body), `"Policies":[]`) || !strings.Contains(string(rec.body), `"Labels":[]`) {
				t.Errorf("got body %s, want empty Policies and Labels lists", rec.body)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		e := e.at(t)
		var versions []int64
		var tokens []string
		pg := ssm.NewGetParameterHistoryPaginator(e.c, &ssm.GetParameterHistoryInput{Name: aws.String("cfg"), MaxResults: aws.Int32(1)})
		e.overwrite("cfg", "2")
		e.overwrite("cfg", "3")
		for pg.HasMorePages() {
			page, err := pg.NextPage(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range page.Parameters {
				versions = append(versions, h.Version)
			}
			if page.NextToken != nil {
				tokens = append(tokens, *page.NextToken)
			}
		}
		if diff := mismatch([]int64{1, 2, 3}, versions); diff != "" {
			t.Errorf("versions:\n%s", diff)
		}
		if len(tokens) != 2 || tokens[0] == tokens[1] {
			t.Errorf("got tokens %q, want two different tokens", tokens)
		}
		first, err := e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String("cfg"), MaxResults: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		// The token of one parameter is not valid for another.
		_, err = e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/app/db"), NextToken: first.NextToken})
		wantAPIError(t, err, "InvalidNextToken", msgInvalidToken)
		_, err = e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String("cfg"), NextToken: aws.String(tamper(*first.NextToken))})
		wantAPIError(t, err, "InvalidNextToken", msgInvalidToken)
		// The same parameter under its other spelling keeps the token valid.
		rest, err := e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/cfg"), NextToken: first.NextToken})
		if err != nil || len(rest.Parameters) != 1 || rest.Parameters[0].Version != 3 {
			t.Errorf("got %+v %v, want version 3", rest, err)
		}
	})

	errs := []struct {
		name string
		in   ssm.GetParameterHistoryInput
		code string
		msg  string
	}{
		{"missing", ssm.GetParameterHistoryInput{Name: aws.String("/app/none")}, "ParameterNotFound", ""},
		{"bad name", ssm.GetParameterHistoryInput{Name: aws.String("/app//db")}, "ValidationException", msgSubPaths},
		{"max results 51", ssm.GetParameterHistoryInput{Name: aws.String("/app/db"), MaxResults: aws.Int32(51)}, "ValidationException", "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"garbage token", ssm.GetParameterHistoryInput{Name: aws.String("/app/db"), NextToken: aws.String("garbage")}, "InvalidNextToken", msgInvalidToken},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			_, err := e.c.GetParameterHistory(e.ctx, &tt.in)
			wantAPIError(t, err, tt.code, tt.msg)
		})
	}
}

// tamper changes one character of a token's payload.
func tamper(tok string) string {
	b := []byte(tok)
	if b[2] == 'A' {
		b[2] = 'B'
	} else {
		b[2] = 'A'
	}
	return string(b)
}

func TestSDKDeleteParameter(t *testing.T) {
	e := readFixture(t)
	if _, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String("/app/db"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteParameter(e.ctx, &ssm.DeleteParameterInput{Name: aws.String("/app/db")}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/app/db")})
	wantAPIError(t, err, "ParameterNotFound", "")
	_, err = e.c.DeleteParameter(e.ctx, &ssm.DeleteParameterInput{Name: aws.String("/app/db")})
	wantAPIError(t, err, "ParameterNotFound", "")

	// Re-created: version 1, no labels, no tags.
	e.putString("/app/db", "new")
	h, err := e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/app/db")})
	if err != nil || len(h.Parameters) != 1 || h.Parameters[0].Version != 1 || len(h.Parameters[0].Labels) != 0 {
		t.Errorf("got %+v %v, want one unlabelled version 1", h, err)
	}
	_, err = e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/app/db:prod")})
	wantAPIError(t, err, "ParameterNotFound", "")
	tags, err := e.c.ListTagsForResource(e.ctx, &ssm.ListTagsForResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String("/app/db")})
	if err != nil || len(tags.TagList) != 0 {
		t.Errorf("got tags %+v %v, want none", tags, err)
	}

	errs := []struct {
		name, param, code, msg string
	}{
		{"missing", "/app/none", "ParameterNotFound", ""},
		{"bad name", "/app//x", "ValidationException", msgSubPaths},
		{"ARN", arnPrefix + "app/db", "ValidationException", msgSubPaths},
		{"empty", "", "ValidationException", "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			_, err := e.c.DeleteParameter(e.ctx, &ssm.DeleteParameterInput{Name: aws.String(tt.param)})
			wantAPIError(t, err, tt.code, tt.msg)
		})
	}
}

func TestSDKDeleteParameters(t *testing.T) {
	e := readFixture(t)
	e.putString("/app/x", "x")
	var rec recorder
	out, err := e.c.DeleteParameters(e.ctx, &ssm.DeleteParametersInput{Names: []string{"/app/x", "/cfg", "/app/missing", "/app//bad", "/app/x", "/app/db"}}, rec.with)
	if err != nil {
		t.Fatal(err)
	}
	if diff := mismatch([]string{"/app/x", "/cfg", "/app/db"}, out.DeletedParameters); diff != "" {
		t.Errorf("DeletedParameters:\n%s", diff)
	}
	if diff := mismatch([]string{"/app/missing", "/app//bad"}, out.InvalidParameters); diff != "" {
		t.Errorf("InvalidParameters:\n%s", diff)
	}
	for _, n := range []string{"/app/x", "cfg", "/app/db"} {
		_, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String(n)})
		wantAPIError(t, err, "ParameterNotFound", "")
	}
	out, err = e.c.DeleteParameters(e.ctx, &ssm.DeleteParametersInput{Names: []string{"/app/x"}}, rec.with)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rec.body), `"DeletedParameters":[]`) || len(out.InvalidParameters) != 1 {
		t.Errorf("got body %s, want an empty DeletedParameters list and one invalid", rec.body)
	}
	var ns []string
	for i := 1; i <= 11; i++ {
		ns = append(ns, fmt.Sprintf("/d%d", i))
	}
	_, err = e.c.DeleteParameters(e.ctx, &ssm.DeleteParametersInput{Names: ns})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '[/d1, /d2, /d3, /d4, /d5, /d6, /d7, /d8, /d9, /d10, /d11]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10")
}

// TestLargeAnswerNotChunked checks that an answer larger than the buffer
// net/http fills before it sends the header (2 KiB) carries its
// Content-Length rather than going chunked, and a small one too.
func TestLargeAnswerNotChunked(t *testing.T) {
	e := newAuthEnv(t)
	for i := range 12 {
		if _, err := e.rootC.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/chunk/p%02d", i)),
			Value: aws.String(strings.Repeat("v", 200)), Type: types.ParameterTypeString}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		target, body string
		min          int
	}{
		{"GetParametersByPath", `{"Path":"/chunk","MaxResults":10}`, 2049},
		{"GetParameter", `{"Name":"/chunk/p00"}`, 0},
	} {
		req := e.signed("AmazonSSM."+tc.target, tc.body, e.root, testRegion, time.Now())
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || len(raw) < tc.min {
			t.Fatalf("%s: status %d, %d bytes, want 200 and at least %d", tc.target, resp.StatusCode, len(raw), tc.min)
		}
		if len(resp.TransferEncoding) > 0 || resp.ContentLength != int64(len(raw)) {
			t.Errorf("%s: Transfer-Encoding %v, Content-Length %d for a body of %d bytes; want no chunking and the length",
				tc.target, resp.TransferEncoding, resp.ContentLength, len(raw))
		}
	}
}
