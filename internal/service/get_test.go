package service_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/paramstore/paramstore/internal/ssm"
)

// readFixture: /app/db with versions 1..3 (label prod on 2), root "cfg".
func readFixture(t *testing.T) *fixture {
	f := newFixture(t)
	f.putString("/app/db", "one")
	f.overwrite("/app/db", "two")
	f.overwrite("/app/db", "three")
	f.label("/app/db", 2, "prod")
	f.putString("cfg", "root")
	return f
}

func TestGetParameterSelectors(t *testing.T) {
	f := readFixture(t)
	tests := []struct {
		name, ref                    string
		wantName, wantValue, wantSel string
		wantVersion                  int64
		wantARN                      string
	}{
		{"latest", "/app/db", "/app/db", "three", "", 3, arnPrefix + "app/db"},
		{"version selector", "/app/db:1", "/app/db", "one", ":1", 1, arnPrefix + "app/db"},
		{"latest version selector", "/app/db:3", "/app/db", "three", ":3", 3, arnPrefix + "app/db"},
		{"leading zeros", "/app/db:02", "/app/db", "two", ":02", 2, arnPrefix + "app/db"},
		{"label selector", "/app/db:prod", "/app/db", "two", ":prod", 2, arnPrefix + "app/db"},
		{"ARN", arnPrefix + "app/db", "/app/db", "three", "", 3, arnPrefix + "app/db"},
		{"ARN with version", arnPrefix + "app/db:1", "/app/db", "one", ":1", 1, arnPrefix + "app/db"},
		{"ARN with label", arnPrefix + "app/db:prod", "/app/db", "two", ":prod", 2, arnPrefix + "app/db"},
		{"root", "cfg", "cfg", "root", "", 1, arnPrefix + "cfg"},
		{"root with slash", "/cfg", "/cfg", "root", "", 1, arnPrefix + "cfg"},
		{"root ARN", arnPrefix + "cfg", "cfg", "root", "", 1, arnPrefix + "cfg"},
		{"root with selector", "/cfg:1", "/cfg", "root", ":1", 1, arnPrefix + "cfg"},
		{"surrounding spaces", " /app/db ", "/app/db", "three", "", 3, arnPrefix + "app/db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.svc.GetParameter(f.ctx, f.c, &ssm.GetParameterInput{Name: ptr(tt.ref)})
			wantOK(t, err)
			p := out.Parameter
			got := []any{p.Name, p.Value, p.Selector, p.Version, p.ARN, p.DataType, p.Type}
			want := []any{tt.wantName, tt.wantValue, tt.wantSel, tt.wantVersion, tt.wantARN, "text", ssm.TypeString}
			if diff := mismatch(want, got); diff != "" {
				t.Errorf("Name, Value, Selector, Version, ARN, DataType, Type: %s", diff)
			}
			if p.LastModifiedDate == nil {
				t.Error("got no LastModifiedDate")
			}
		})
	}

	errs := []struct {
		name, ref, code, msg string
	}{
		{"missing", "/app/nope", ssm.CodeParameterNotFound, ""},
		{"missing root", "nope", ssm.CodeParameterNotFound, ""},
		{"version not retained", "/app/db:9", ssm.CodeParameterVersionNotFound, "Systems Manager could not find version 9 of /app/db. Verify the version and try again."},
		{"version zero", "/app/db:0", ssm.CodeParameterVersionNotFound, "Systems Manager could not find version 0 of /app/db. Verify the version and try again."},
		{"version overflow", "/app/db:99999999999999999999", ssm.CodeParameterNotFound, ""},
		{"unknown label", "/app/db:staging", ssm.CodeParameterNotFound, ""},
		{"labels are case-sensitive", "/app/db:Prod", ssm.CodeParameterNotFound, ""},
		{"empty selector", "/app/db:", ssm.CodeParameterNotFound, ""},
		{"two selectors", "/app/db:1:2", ssm.CodeParameterNotFound, ""},
		{"empty segment", "/a//b", ssm.CodeValidation, msgSubPaths},
		{"not fully qualified", "x/b/c", ssm.CodeValidation, msgSubPaths},
		{"bad character", "/app/d b", ssm.CodeValidation, msgSubPaths},
		{"bad name before bad selector", "/a//b:1:2", ssm.CodeValidation, msgSubPaths},
		{"public parameter path is readable", "/aws/service/none", ssm.CodeParameterNotFound, ""},
		{"secrets manager reference", "/aws/reference/secretsmanager/s", ssm.CodeParameterNotFound, ""},
		{"secrets manager reference with any characters", "/aws/reference/secretsmanager/a b+c", ssm.CodeParameterNotFound, ""},
		{"ARN of another account", "arn:aws:ssm:us-east-1:111111111111:parameter/app/db", ssm.CodeParameterNotFound, ""},
		{"ARN of another partition", "arn:aws-cn:ssm:us-east-1:123456789012:parameter/app/db", ssm.CodeParameterNotFound, ""},
		{"empty name", "", ssm.CodeValidation, "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, f.at(t).getErr(tt.ref), tt.code, tt.msg)
		})
	}
}

// TestGetParameterRootNameEcho: "p" and "/p" are one root parameter; reads
// answer with the spelling asked for, and a read by ARN with the stored one.
func TestGetParameterRootNameEcho(t *testing.T) {
	f := newFixture(t)
	f.putString("plain", "p")
	f.putString("/slashed", "s")
	tests := []struct{ ref, wantName, wantARN string }{
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
			p := f.at(t).get(tt.ref)
			if p.Name != tt.wantName || p.ARN != tt.wantARN {
				t.Errorf("GetParameter: got Name %q ARN %q, want %q %q", p.Name, p.ARN, tt.wantName, tt.wantARN)
			}
			many, err := f.svc.GetParameters(f.ctx, f.c, &ssm.GetParametersInput{Names: []string{tt.ref}})
			wantOK(t, err)
			if len(many.Parameters) != 1 || len(many.InvalidParameters) != 0 {
				t.Fatalf("GetParameters: got %d parameters, invalid %q, want 1 and none", len(many.Parameters), many.InvalidParameters)
			}
			if got := many.Parameters[0]; got.Name != tt.wantName || got.ARN != tt.wantARN {
				t.Errorf("GetParameters: got Name %q ARN %q, want %q %q", got.Name, got.ARN, tt.wantName, tt.wantARN)
			}
		})
	}
	t.Run("both spellings in one call", func(t *testing.T) {
		out, err := f.svc.GetParameters(f.ctx, f.c, &ssm.GetParametersInput{Names: []string{"plain", "/plain", "/gone", "gone"}})
		wantOK(t, err)
		if diff := mismatch([]string{"/plain", "plain"}, names(out.Parameters)); diff != "" {
			t.Errorf("Parameters (sorted by Name): %s", diff)
		}
		if diff := mismatch([]string{"/gone", "gone"}, out.InvalidParameters); diff != "" {
			t.Errorf("InvalidParameters (as asked): %s", diff)
		}
	})
}

func TestGetParameters(t *testing.T) {
	f := readFixture(t)
	f.putString("/app/a", "a")
	out, err := f.svc.GetParameters(f.ctx, f.c, &ssm.GetParametersInput{Names: []string{
		"/app/db:prod", "/app/missing", "/app/a", "cfg", "/app/db:9", "/app/db:nolabel", "/a//b", "/app/a", "/app/db:1:2", arnPrefix + "app/db",
	}})
	wantOK(t, err)
	type item struct {
		Name, Value, Selector string
		Version               int64
	}
	var got []item
	for _, p := range out.Parameters {
		got = append(got, item{p.Name, p.Value, p.Selector, p.Version})
	}
	want := []item{
		{"/app/a", "a", "", 1},
		{"/app/db", "two", ":prod", 2},
		{"/app/db", "three", "", 3},
		{"cfg", "root", "", 1},
	}
	if diff := mismatch(want, got); diff != "" {
		t.Errorf("Parameters: %s", diff)
	}
	if diff := mismatch([]string{"/app/missing", "/app/db:9", "/app/db:nolabel", "/a//b", "/app/db:1:2"}, out.InvalidParameters); diff != "" {
		t.Errorf("InvalidParameters: %s", diff)
	}

	t.Run("lists are never nil", func(t *testing.T) {
		out, err := f.svc.GetParameters(f.ctx, f.c, &ssm.GetParametersInput{Names: []string{"cfg"}})
		wantOK(t, err)
		if out.InvalidParameters == nil || len(out.InvalidParameters) != 0 {
			t.Errorf("got InvalidParameters %#v, want an empty list", out.InvalidParameters)
		}
		out, err = f.svc.GetParameters(f.ctx, f.c, &ssm.GetParametersInput{Names: []string{"/none"}})
		wantOK(t, err)
		if out.Parameters == nil || len(out.Parameters) != 0 {
			t.Errorf("got Parameters %#v, want an empty list", out.Parameters)
		}
	})
	t.Run("eleven names", func(t *testing.T) {
		var ns []string
		for i := 1; i <= 11; i++ {
			ns = append(ns, fmt.Sprintf("n%d", i))
		}
		_, err := f.svc.GetParameters(f.ctx, f.c, &ssm.GetParametersInput{Names: ns})
		wantErr(t, err, ssm.CodeValidation, "1 validation error detected: Value '[n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10")
	})
}

func TestGetParameterSecureString(t *testing.T) {
	f := newFixture(t)
	f.put(&ssm.PutParameterInput{Name: ptr("/sec/p"), Value: ptr("s3cret"), Type: ptr(ssm.TypeSecureString)})
	read := func(decrypt *bool) string {
		t.Helper()
		out, err := f.svc.GetParameter(f.ctx, f.c, &ssm.GetParameterInput{Name: ptr("/sec/p"), WithDecryption: decrypt})
		wantOK(t, err)
		if out.Parameter.Type != ssm.TypeSecureString {
			t.Errorf("got type %q, want SecureString", out.Parameter.Type)
		}
		return out.Parameter.Value
	}
	c1, c2 := read(nil), read(ptr(false))
	if c1 == "" || strings.Contains(c1, "s3cret") || c1 != c2 {
		t.Errorf("got ciphertexts %q and %q, want one stable opaque value", c1, c2)
	}
	if got := read(ptr(true)); got != "s3cret" {
		t.Errorf("got %q with decryption, want s3cret", got)
	}
	// GetParameters, GetParametersByPath and GetParameterHistory follow the flag too.
	for _, tt := range []struct {
		decrypt *bool
		want    string
	}{{nil, c1}, {ptr(true), "s3cret"}} {
		gp, err := f.svc.GetParameters(f.ctx, f.c, &ssm.GetParametersInput{Names: []string{"/sec/p"}, WithDecryption: tt.decrypt})
		wantOK(t, err)
		bp, err := f.svc.GetParametersByPath(f.ctx, f.c, &ssm.GetParametersByPathInput{Path: ptr("/sec"), WithDecryption: tt.decrypt})
		wantOK(t, err)
		h, err := f.svc.GetParameterHistory(f.ctx, f.c, &ssm.GetParameterHistoryInput{Name: ptr("/sec/p"), WithDecryption: tt.decrypt})
		wantOK(t, err)
		if len(gp.Parameters) != 1 || gp.Parameters[0].Value != tt.want {
			t.Errorf("GetParameters decrypt=%v: got %+v, want %q", deref(tt.decrypt), gp.Parameters, tt.want)
		}
		if len(bp.Parameters) != 1 || bp.Parameters[0].Value != tt.want {
			t.Errorf("GetParametersByPath decrypt=%v: got %+v, want %q", deref(tt.decrypt), bp.Parameters, tt.want)
		}
		if len(h.Parameters) != 1 || h.Parameters[0].Value != tt.want || h.Parameters[0].KeyId != "alias/aws/ssm" {
			t.Errorf("GetParameterHistory decrypt=%v: got %+v, want %q with KeyId alias/aws/ssm", deref(tt.decrypt), h.Parameters, tt.want)
		}
	}
	// A root SecureString decrypts under both spellings, whichever wrote it.
	f.put(&ssm.PutParameterInput{Name: ptr("/secroot"), Value: ptr("r1"), Type: ptr(ssm.TypeSecureString)})
	f.put(&ssm.PutParameterInput{Name: ptr("secroot"), Value: ptr("r2"), Overwrite: ptr(true)})
	for _, ref := range []string{"secroot:1", "/secroot:1", "secroot", "/secroot"} {
		want := map[bool]string{true: "r1", false: "r2"}[strings.HasSuffix(ref, ":1")]
		if got := f.get(ref).Value; got != want {
			t.Errorf("%s: got %q, want %q", ref, got, want)
		}
	}
	// WithDecryption is ignored for other types.
	f.putString("/sec/plain", "open")
	out, err := f.svc.GetParameter(f.ctx, f.c, &ssm.GetParameterInput{Name: ptr("/sec/plain"), WithDecryption: ptr(false)})
	wantOK(t, err)
	if out.Parameter.Value != "open" {
		t.Errorf("got %q, want open", out.Parameter.Value)
	}
}

// TestReadAuthorization: reads ask for their action on the parameter's ARN
// before saying whether it exists.
func TestReadAuthorization(t *testing.T) {
	f := readFixture(t)
	tests := []struct {
		name string
		call func(c *fixture) error
		want []string
	}{
		{"GetParameter of a missing name", func(c *fixture) error { return c.getErr("/app/none") },
			[]string{"ssm:GetParameter " + arnPrefix + "app/none"}},
		{"GetParameter of a root name by its ARN", func(c *fixture) error { return c.getErr(arnPrefix + "cfg:1") },
			[]string{"ssm:GetParameter " + arnPrefix + "cfg"}},
		{"GetParameter of another account's ARN", func(c *fixture) error {
			return c.getErr("arn:aws:ssm:us-east-1:111111111111:parameter/app/db")
		}, []string{"ssm:GetParameter " + arnPrefix + "app/db"}},
		{"GetParameter of a secrets manager reference", func(c *fixture) error { return c.getErr("/aws/reference/secretsmanager/s") },
			[]string{"ssm:GetParameter " + arnPrefix + "aws/reference/secretsmanager/s"}},
		{"GetParameters", func(c *fixture) error {
			_, err := c.svc.GetParameters(c.ctx, c.c, &ssm.GetParametersInput{Names: []string{"/app/db", "/cfg"}})
			return err
		}, []string{"ssm:GetParameters " + arnPrefix + "app/db"}},
		{"GetParameterHistory", func(c *fixture) error {
			_, err := c.svc.GetParameterHistory(c.ctx, c.c, &ssm.GetParameterHistoryInput{Name: ptr("/cfg")})
			return err
		}, []string{"ssm:GetParameterHistory " + arnPrefix + "cfg"}},
		{"GetParametersByPath", func(c *fixture) error {
			_, err := c.svc.GetParametersByPath(c.ctx, c.c, &ssm.GetParametersByPathInput{Path: ptr("/app/")})
			return err
		}, []string{"ssm:GetParametersByPath " + arnPrefix + "app"}},
		{"DescribeParameters", func(c *fixture) error {
			_, err := c.svc.DescribeParameters(c.ctx, c.c, &ssm.DescribeParametersInput{})
			return err
		}, []string{"ssm:DescribeParameters arn:aws:ssm:us-east-1:123456789012:*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			authz := &recordingAuthz{deny: map[string]bool{
				"ssm:GetParameter": true, "ssm:GetParameters": true, "ssm:GetParameterHistory": true,
				"ssm:GetParametersByPath": true, "ssm:DescribeParameters": true,
			}}
			c := f.c
			c.Authz = authz
			err := tt.call(f.at(t).as(c))
			wantErr(t, err, ssm.CodeAccessDenied, "denied "+strings.Fields(tt.want[0])[0])
			if diff := mismatch(tt.want, authz.calls); diff != "" {
				t.Errorf("authorization calls: %s", diff)
			}
		})
	}
	t.Run("decryption needs kms:Decrypt", func(t *testing.T) {
		f := f.at(t)
		f.put(&ssm.PutParameterInput{Name: ptr("/app/sec"), Value: ptr("s"), Type: ptr(ssm.TypeSecureString)})
		authz := &recordingAuthz{deny: map[string]bool{"kms:Decrypt": true}}
		c := f.c
		c.Authz = authz
		_, err := f.svc.GetParameter(f.ctx, c, &ssm.GetParameterInput{Name: ptr("/app/sec"), WithDecryption: ptr(true)})
		wantErr(t, err, ssm.CodeAccessDenied, "denied kms:Decrypt")
		if _, err := f.svc.GetParameter(f.ctx, c, &ssm.GetParameterInput{Name: ptr("/app/sec")}); err != nil {
			t.Errorf("without decryption: got %v, want success", err)
		}
		want := []string{"ssm:GetParameter " + arnPrefix + "app/sec", "kms:Decrypt arn:aws:kms:us-east-1:123456789012:key/aws/ssm", "ssm:GetParameter " + arnPrefix + "app/sec"}
		if diff := mismatch(want, authz.calls); diff != "" {
			t.Errorf("authorization calls: %s", diff)
		}
	})
}

func TestGetParameterHistory(t *testing.T) {
	f := readFixture(t)
	f.put(&ssm.PutParameterInput{Name: ptr("/app/db"), Value: ptr("four"), Overwrite: ptr(true), Description: ptr("d4"), AllowedPattern: ptr("[a-z]+")})
	f.label("/app/db", 2, "alpha")

	for _, ref := range []string{"/app/db", arnPrefix + "app/db", " /app/db "} {
		t.Run(ref, func(t *testing.T) {
			out, err := f.svc.GetParameterHistory(f.ctx, f.c, &ssm.GetParameterHistoryInput{Name: ptr(ref)})
			wantOK(t, err)
			type item struct {
				Name, Value, Desc, Pattern, User, Tier, DataType, Type string
				Version                                                int64
				Labels                                                 []string
				Policies                                               int
			}
			var got []item
			for _, h := range out.Parameters {
				got = append(got, item{h.Name, h.Value, h.Description, h.AllowedPattern, h.LastModifiedUser, h.Tier, h.DataType, h.Type, h.Version, h.Labels, len(h.Policies)})
				if h.Policies == nil {
					t.Errorf("version %d: got nil Policies, want an empty list", h.Version)
				}
			}
			want := []item{
				{"/app/db", "one", "", "", testUser, ssm.TierStandard, "text", ssm.TypeString, 1, []string{}, 0},
				{"/app/db", "two", "", "", testUser, ssm.TierStandard, "text", ssm.TypeString, 2, []string{"alpha", "prod"}, 0},
				{"/app/db", "three", "", "", testUser, ssm.TierStandard, "text", ssm.TypeString, 3, []string{}, 0},
				{"/app/db", "four", "d4", "[a-z]+", testUser, ssm.TierStandard, "text", ssm.TypeString, 4, []string{}, 0},
			}
			if diff := mismatch(want, got); diff != "" {
				t.Errorf("history: %s", diff)
			}
			if out.NextToken != "" {
				t.Errorf("got NextToken %q, want none", out.NextToken)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		f := f.at(t)
		f.overwrite("cfg", "2")
		f.overwrite("cfg", "3")
		var versions []int64
		var tokens []string
		in := &ssm.GetParameterHistoryInput{Name: ptr("cfg"), MaxResults: ptr[int64](1)}
		for {
			page, err := f.svc.GetParameterHistory(f.ctx, f.c, in)
			wantOK(t, err)
			for _, h := range page.Parameters {
				versions = append(versions, h.Version)
			}
			if page.NextToken == "" {
				break
			}
			tokens = append(tokens, page.NextToken)
			in.NextToken = &page.NextToken
		}
		if diff := mismatch([]int64{1, 2, 3}, versions); diff != "" {
			t.Errorf("versions: %s", diff)
		}
		if len(tokens) != 2 || tokens[0] == tokens[1] {
			t.Errorf("got tokens %q, want two different tokens", tokens)
		}
		first, err := f.svc.GetParameterHistory(f.ctx, f.c, &ssm.GetParameterHistoryInput{Name: ptr("cfg"), MaxResults: ptr[int64](2)})
		wantOK(t, err)
		if len(first.Parameters) != 2 || first.NextToken == "" {
			t.Fatalf("got %d versions and token %q, want 2 and a token", len(first.Parameters), first.NextToken)
		}
		// The token of one parameter is not valid for another, nor in
		// another region, nor tampered with.
		_, err = f.svc.GetParameterHistory(f.ctx, f.c, &ssm.GetParameterHistoryInput{Name: ptr("/app/db"), NextToken: &first.NextToken})
		wantErr(t, err, ssm.CodeInvalidNextToken, msgInvalidToken)
		_, err = f.svc.GetParameterHistory(f.ctx, callerIn("eu-west-1"), &ssm.GetParameterHistoryInput{Name: ptr("cfg"), NextToken: &first.NextToken})
		wantErr(t, err, ssm.CodeInvalidNextToken, msgInvalidToken)
		_, err = f.svc.GetParameterHistory(f.ctx, f.c, &ssm.GetParameterHistoryInput{Name: ptr("cfg"), NextToken: ptr(tamper(first.NextToken))})
		wantErr(t, err, ssm.CodeInvalidNextToken, msgInvalidToken)
		// The same parameter under its other spelling keeps the token valid.
		rest, err := f.svc.GetParameterHistory(f.ctx, f.c, &ssm.GetParameterHistoryInput{Name: ptr("/cfg"), NextToken: &first.NextToken})
		wantOK(t, err)
		if len(rest.Parameters) != 1 || rest.Parameters[0].Version != 3 {
			t.Errorf("got %+v, want version 3", rest.Parameters)
		}
	})

	t.Run("default page size is 50", func(t *testing.T) {
		f := f.at(t)
		f.putString("/app/many", "v")
		for i := 2; i <= 51; i++ {
			f.overwrite("/app/many", "v")
		}
		out, err := f.svc.GetParameterHistory(f.ctx, f.c, &ssm.GetParameterHistoryInput{Name: ptr("/app/many")})
		wantOK(t, err)
		if len(out.Parameters) != 50 || out.NextToken == "" {
			t.Errorf("got %d versions, token %q, want 50 and a token", len(out.Parameters), out.NextToken)
		}
	})

	errs := []struct {
		name string
		in   ssm.GetParameterHistoryInput
		code string
		msg  string
	}{
		{"missing", ssm.GetParameterHistoryInput{Name: ptr("/app/none")}, ssm.CodeParameterNotFound, ""},
		{"ARN of another region", ssm.GetParameterHistoryInput{Name: ptr("arn:aws:ssm:eu-west-1:123456789012:parameter/app/db")}, ssm.CodeParameterNotFound, ""},
		{"bad name", ssm.GetParameterHistoryInput{Name: ptr("/app//db")}, ssm.CodeValidation, msgSubPaths},
		{"no selectors", ssm.GetParameterHistoryInput{Name: ptr("/app/db:1")}, ssm.CodeValidation, msgSubPaths},
		{"max results 51", ssm.GetParameterHistoryInput{Name: ptr("/app/db"), MaxResults: ptr[int64](51)}, ssm.CodeValidation, "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"garbage token", ssm.GetParameterHistoryInput{Name: ptr("/app/db"), NextToken: ptr("garbage")}, ssm.CodeInvalidNextToken, msgInvalidToken},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.GetParameterHistory(f.ctx, f.c, &tt.in)
			wantErr(t, err, tt.code, tt.msg)
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

func TestDeleteParameter(t *testing.T) {
	f := readFixture(t)
	_, err := f.svc.AddTagsToResource(f.ctx, f.c, &ssm.TagsInput{ResourceType: ptr("Parameter"), ResourceId: ptr("/app/db"), Tags: []ssm.Tag{{Key: ptr("k"), Value: ptr("v")}}})
	wantOK(t, err)
	_, err = f.svc.DeleteParameter(f.ctx, f.c, &ssm.NameInput{Name: ptr(" /app/db ")})
	wantOK(t, err)
	wantErr(t, f.getErr("/app/db"), ssm.CodeParameterNotFound, "")
	_, err = f.svc.DeleteParameter(f.ctx, f.c, &ssm.NameInput{Name: ptr("/app/db")})
	wantErr(t, err, ssm.CodeParameterNotFound, "")

	// Re-created: version 1, no labels, no tags.
	f.putString("/app/db", "new")
	if diff := mismatch(map[int64][]string{1: {}}, f.labelsByVersion("/app/db")); diff != "" {
		t.Errorf("labels: %s", diff)
	}
	wantErr(t, f.getErr("/app/db:prod"), ssm.CodeParameterNotFound, "")
	tags, err := f.svc.ListTagsForResource(f.ctx, f.c, &ssm.TagsInput{ResourceType: ptr("Parameter"), ResourceId: ptr("/app/db")})
	wantOK(t, err)
	if len(tags.TagList) != 0 {
		t.Errorf("got tags %+v, want none", tags.TagList)
	}

	errs := []struct{ name, param, code, msg string }{
		{"missing", "/app/none", ssm.CodeParameterNotFound, ""},
		{"bad name", "/app//x", ssm.CodeValidation, msgSubPaths},
		{"ARN", arnPrefix + "app/db", ssm.CodeValidation, msgSubPaths},
		{"selector", "/app/db:1", ssm.CodeValidation, msgSubPaths},
		{"empty", "", ssm.CodeValidation, "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.DeleteParameter(f.ctx, f.c, &ssm.NameInput{Name: ptr(tt.param)})
			wantErr(t, err, tt.code, tt.msg)
		})
	}
	t.Run("root under the other spelling", func(t *testing.T) {
		_, err := f.svc.DeleteParameter(f.ctx, f.c, &ssm.NameInput{Name: ptr("/cfg")})
		wantOK(t, err)
		wantErr(t, f.getErr("cfg"), ssm.CodeParameterNotFound, "")
	})
}

func TestDeleteParameters(t *testing.T) {
	f := readFixture(t)
	f.putString("/app/x", "x")
	out, err := f.svc.DeleteParameters(f.ctx, f.c, &ssm.NamesInput{Names: []string{"/app/x", "/cfg", "/app/missing", "/app//bad", "/app/x", "/app/db"}})
	wantOK(t, err)
	if diff := mismatch([]string{"/app/x", "/cfg", "/app/db"}, out.DeletedParameters); diff != "" {
		t.Errorf("DeletedParameters: %s", diff)
	}
	if diff := mismatch([]string{"/app/missing", "/app//bad"}, out.InvalidParameters); diff != "" {
		t.Errorf("InvalidParameters: %s", diff)
	}
	for _, n := range []string{"/app/x", "cfg", "/app/db"} {
		wantErr(t, f.getErr(n), ssm.CodeParameterNotFound, "")
	}
	out, err = f.svc.DeleteParameters(f.ctx, f.c, &ssm.NamesInput{Names: []string{"/app/x"}})
	wantOK(t, err)
	if out.DeletedParameters == nil || len(out.DeletedParameters) != 0 || len(out.InvalidParameters) != 1 {
		t.Errorf("got %+v, want an empty DeletedParameters list and one invalid", out)
	}
	var ns []string
	for i := 1; i <= 11; i++ {
		ns = append(ns, fmt.Sprintf("/d%d", i))
	}
	_, err = f.svc.DeleteParameters(f.ctx, f.c, &ssm.NamesInput{Names: ns})
	wantErr(t, err, ssm.CodeValidation, "1 validation error detected: Value '[/d1, /d2, /d3, /d4, /d5, /d6, /d7, /d8, /d9, /d10, /d11]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10")

	t.Run("a refusal deletes nothing", func(t *testing.T) {
		f := f.at(t)
		f.putString("/del/a", "v")
		f.putString("/del/b", "v")
		authz := &recordingAuthz{deny: map[string]bool{}}
		c := f.c
		c.Authz = denyResource{authz, arnPrefix + "del/b"}
		_, err := f.svc.DeleteParameters(f.ctx, c, &ssm.NamesInput{Names: []string{"/del/a", "/del//bad", " /del/b"}})
		wantErr(t, err, ssm.CodeAccessDenied, "denied")
		f.get("/del/a")
		f.get("/del/b")
		want := []string{"ssm:DeleteParameters " + arnPrefix + "del/a", "ssm:DeleteParameters " + arnPrefix + "del/b"}
		if diff := mismatch(want, authz.calls); diff != "" {
			t.Errorf("authorization calls: %s", diff)
		}
	})
}

// denyResource refuses every action on one resource.
type denyResource struct {
	rec      *recordingAuthz
	resource string
}

func (d denyResource) Authorize(action, resource string, tags map[string]string) error {
	_ = d.rec.Authorize(action, resource, tags)
	if resource == d.resource {
		return ssm.NewError(ssm.CodeAccessDenied, "denied")
	}
	return nil
}
