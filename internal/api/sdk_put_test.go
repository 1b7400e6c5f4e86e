package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/server"
)

func TestSDKPutParameterCreateAndOverwrite(t *testing.T) {
	e := newEnv(t)
	out := e.put(&ssm.PutParameterInput{Name: aws.String("/app/url"), Value: aws.String("v1"), Type: types.ParameterTypeString})
	if out.Version != 1 || out.Tier != types.ParameterTierStandard {
		t.Fatalf("create: got version %d tier %q, want 1 Standard", out.Version, out.Tier)
	}

	_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/app/url"), Value: aws.String("v2"), Type: types.ParameterTypeString})
	wantAPIError(t, err, "ParameterAlreadyExists", msgAlreadyExists)

	_, err = e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/app/url"), Value: aws.String("v2"), Overwrite: aws.Bool(false)})
	wantAPIError(t, err, "ParameterAlreadyExists", msgAlreadyExists)

	if v := e.overwrite("/app/url", "v2"); v != 2 {
		t.Fatalf("overwrite: got version %d, want 2", v)
	}
	// An overwrite with an identical value still makes a version.
	if v := e.overwrite("/app/url", "v2"); v != 3 {
		t.Fatalf("identical overwrite: got version %d, want 3", v)
	}
	p := e.get("/app/url")
	if got, want := aws.ToString(p.Value), "v2"; got != want {
		t.Errorf("got value %q, want %q", got, want)
	}
	if p.Version != 3 || p.Type != types.ParameterTypeString || aws.ToString(p.DataType) != "text" {
		t.Errorf("got version %d type %q data type %q, want 3 String text", p.Version, p.Type, aws.ToString(p.DataType))
	}
	if got, want := aws.ToString(p.ARN), arnPrefix+"app/url"; got != want {
		t.Errorf("got ARN %q, want %q", got, want)
	}
	if p.LastModifiedDate == nil || p.LastModifiedDate.IsZero() {
		t.Errorf("got LastModifiedDate %v, want a time", p.LastModifiedDate)
	}
	if p.Selector != nil {
		t.Errorf("got Selector %q without a selector, want none", aws.ToString(p.Selector))
	}
}

func TestSDKPutParameterRootNameIdentity(t *testing.T) {
	e := newEnv(t)
	e.putString("/rootparam", "v")

	_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("rootparam"), Value: aws.String("x"), Type: types.ParameterTypeString})
	wantAPIError(t, err, "ParameterAlreadyExists", msgAlreadyExists)

	for _, spelling := range []string{"rootparam", "/rootparam"} {
		t.Run(spelling, func(t *testing.T) {
			e := e.at(t)
			p := e.get(spelling)
			if got, want := aws.ToString(p.Name), spelling; got != want {
				t.Errorf("got Name %q, want the spelling asked for %q", got, want)
			}
			if got, want := aws.ToString(p.ARN), arnPrefix+"rootparam"; got != want {
				t.Errorf("got ARN %q, want %q", got, want)
			}
			if strings.Contains(aws.ToString(p.ARN), "parameter//") {
				t.Errorf("ARN %q contains parameter//", aws.ToString(p.ARN))
			}
		})
	}
	if v := e.overwrite("rootparam", "w"); v != 2 {
		t.Fatalf("overwrite via the other spelling: got version %d, want 2", v)
	}
	if _, err := e.c.DeleteParameter(e.ctx, &ssm.DeleteParameterInput{Name: aws.String("rootparam")}); err != nil {
		t.Fatalf("DeleteParameter rootparam: %v", err)
	}
	_, err = e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/rootparam")})
	wantAPIError(t, err, "ParameterNotFound", "")

	// Re-created under the other spelling, it starts again at version 1.
	out := e.put(&ssm.PutParameterInput{Name: aws.String("rootparam"), Value: aws.String("again"), Type: types.ParameterTypeString})
	if out.Version != 1 {
		t.Errorf("re-create: got version %d, want 1", out.Version)
	}
	if got, want := aws.ToString(e.get(arnPrefix+"rootparam").Name), "rootparam"; got != want {
		t.Errorf("by ARN: got Name %q, want the spelling of the re-creation %q", got, want)
	}
}

func TestSDKPutParameterNameRules(t *testing.T) {
	e := newEnv(t)
	deep15 := strings.Repeat("/l", 14) + "/name"
	deep16 := strings.Repeat("/l", 15) + "/name"
	// The usable length is 1011 characters including the 45-character ARN
	// prefix of us-east-1 with a 12-digit account.
	longOK := "/" + repeat("n", 1011-len(arnPrefix))
	longBad := "/" + repeat("n", 1011-len(arnPrefix)+1)
	msgReserved := `Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive).`
	tests := []struct {
		name     string
		param    string
		wantCode string
		wantMsg  string
	}{
		{"aws path", "/aws/x", "AccessDeniedException", "No access to reserved parameter name: /aws/x."},
		{"aws path mixed case", "/AwS/x", "AccessDeniedException", "No access to reserved parameter name: /AwS/x."},
		{"aws prefixed segment", "/awsfoo/x", "AccessDeniedException", "No access to reserved parameter name: /awsfoo/x."},
		{"ssm path", "/ssm/x", "ValidationException", msgSubPaths},
		{"ssm path upper case", "/SSM/x", "ValidationException", msgSubPaths},
		{"ssm prefixed segment", "/ssmfoo/x", "ValidationException", msgSubPaths},
		{"aws root name", "awsTest", "ValidationException", msgReserved},
		{"ssm root name", "SSM-x", "ValidationException", msgReserved},
		{"ssm root name with slash", "/ssmX", "ValidationException", msgReserved},
		{"AWS underscore", "AWS_TEST", "ValidationException", msgReserved},
		{"not fully qualified", "a/b", "ValidationException", "Parameter name must be a fully qualified name."},
		{"trailing slash", "/a/b/", "ValidationException", "Parameter name must not end with slash."},
		{"only slash", "/", "ValidationException", "Parameter name must not end with slash."},
		{"empty segment", "/a//b", "ValidationException", msgSubPaths},
		{"inner space", "/a b", "ValidationException", msgSubPaths},
		{"bad character", "/a/b$", "ValidationException", msgSubPaths},
		{"ARN as name", arnPrefix + "x", "ValidationException", "Parameter name must be a fully qualified name."},
		{"colon in name", "/a/b:1", "ValidationException", msgSubPaths},
		{"depth 16", deep16, "HierarchyLevelLimitExceededException", "A hierarchy can have a maximum of 15 levels."},
		{"name too long", longBad, "AccessDeniedException", "Parameter name is too long."},
		{"empty name", "", "ValidationException", "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"depth 15", deep15, "", ""},
		{"longest name", longOK, "", ""},
		{"all allowed characters", "/a-Z_0.9/x", "", ""},
		{"root name", "plain.name-1_x", "", ""},
		{"aws inside", "/app/aws/x", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String(tt.param), Value: aws.String("v"), Type: types.ParameterTypeString})
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				if got := aws.ToString(e.get(tt.param).Name); got != tt.param {
					t.Errorf("got Name %q, want %q", got, tt.param)
				}
				return
			}
			wantAPIError(t, err, tt.wantCode, tt.wantMsg)
		})
	}

	t.Run("surrounding spaces are trimmed", func(t *testing.T) {
		e := e.at(t)
		e.put(&ssm.PutParameterInput{Name: aws.String("  /trimmed/name  "), Value: aws.String("v"), Type: types.ParameterTypeString})
		if got := aws.ToString(e.get("/trimmed/name").Name); got != "/trimmed/name" {
			t.Errorf("got Name %q, want /trimmed/name", got)
		}
	})
}

func TestSDKPutParameterValueRules(t *testing.T) {
	e := newEnv(t)
	msgStd := "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
	msgAdv := "Advanced-tier parameters support a maximum parameter value of 8192 characters."
	msgNested := `Parameter value can't nest another parameter. Do not use "{{}}" in the value.`
	tests := []struct {
		name     string
		value    string
		tier     types.ParameterTier
		wantCode string
		wantMsg  string
		wantTier types.ParameterTier
	}{
		{"empty", "", "", "ValidationException", "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1", ""},
		{"standard 4096", repeat("a", 4096), "", "", "", types.ParameterTierStandard},
		{"standard 4096 multibyte", repeat("é", 4096), "", "", "", types.ParameterTierStandard},
		{"standard 4097", repeat("a", 4097), types.ParameterTierStandard, "ValidationException", msgStd, ""},
		{"default tier 4097", repeat("a", 4097), "", "ValidationException", msgStd, ""},
		{"advanced 8192", repeat("a", 8192), types.ParameterTierAdvanced, "", "", types.ParameterTierAdvanced},
		{"advanced 8193", repeat("a", 8193), types.ParameterTierAdvanced, "ValidationException", msgAdv, ""},
		{"advanced 32768", repeat("a", 32768), types.ParameterTierAdvanced, "ValidationException", msgAdv, ""},
		{"framework cap 32769", repeat("a", 32769), types.ParameterTierAdvanced, "ValidationException", "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length less than or equal to 32768", ""},
		{"nested parameter", "x {{ssm:/other}} y", "", "ValidationException", msgNested, ""},
		{"nested empty braces", "{{}}", "", "ValidationException", msgNested, ""},
		{"open braces only", "a{{b", "", "", "", types.ParameterTierStandard},
		{"braces reversed", "}} {{", "", "", "", types.ParameterTierStandard},
		{"multi-line", "line1\nline2", "", "", "", types.ParameterTierStandard},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			name := fmt.Sprintf("/values/p%d", i)
			out, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(tt.value), Type: types.ParameterTypeString, Tier: tt.tier})
			if tt.wantCode != "" {
				wantAPIError(t, err, tt.wantCode, tt.wantMsg)
				_, gerr := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String(name)})
				wantAPIError(t, gerr, "ParameterNotFound", "")
				return
			}
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if out.Tier != tt.wantTier {
				t.Errorf("got tier %q, want %q", out.Tier, tt.wantTier)
			}
			if got := aws.ToString(e.get(name).Value); got != tt.value {
				t.Errorf("got value of %d chars, want it verbatim (%d chars)", len(got), len(tt.value))
			}
		})
	}
}

func TestSDKPutParameterModelValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		in   ssm.PutParameterInput
		want string
	}{
		{"bad type", ssm.PutParameterInput{Name: aws.String("/m/a"), Value: aws.String("v"), Type: "str"},
			"1 validation error detected: Value 'str' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]"},
		{"bad type and tier", ssm.PutParameterInput{Name: aws.String("/m/a"), Value: aws.String("v"), Type: "str", Tier: "Gold"},
			"2 validation errors detected: Value 'str' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]; Value 'Gold' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Standard, Advanced, Intelligent-Tiering]"},
		{"description too long", ssm.PutParameterInput{Name: aws.String("/m/a"), Value: aws.String("v"), Type: types.ParameterTypeString, Description: aws.String(repeat("d", 1025))},
			"1 validation error detected: Value '" + repeat("d", 1025) + "' at 'description' failed to satisfy constraint: Member must have length less than or equal to 1024"},
		{"key id pattern", ssm.PutParameterInput{Name: aws.String("/m/a"), Value: aws.String("v"), Type: types.ParameterTypeSecureString, KeyId: aws.String("bad key!")},
			"1 validation error detected: Value 'bad key!' at 'keyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-zA-Z0-9:/_-]+)$"},
		{"tag key pattern", ssm.PutParameterInput{Name: aws.String("/m/a"), Value: aws.String("v"), Type: types.ParameterTypeString, Tags: []types.Tag{{Key: aws.String("ok"), Value: aws.String("v")}, {Key: aws.String("bad#"), Value: aws.String("v")}}},
			`1 validation error detected: Value 'bad#' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`},
		{"empty policies", ssm.PutParameterInput{Name: aws.String("/m/a"), Value: aws.String("v"), Type: types.ParameterTypeString, Policies: aws.String("")},
			"1 validation error detected: Value '' at 'policies' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"tags with overwrite before name rules", ssm.PutParameterInput{Name: aws.String("/aws/x"), Value: aws.String("v"), Type: types.ParameterTypeString, Overwrite: aws.Bool(true), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}},
			"Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource."},
		{"type required on create", ssm.PutParameterInput{Name: aws.String("/m/a"), Value: aws.String("v")},
			"A parameter type is required when you create a parameter."},
		{"tags with overwrite on create", ssm.PutParameterInput{Name: aws.String("/m/a"), Value: aws.String("v"), Type: types.ParameterTypeString, Overwrite: aws.Bool(true), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}},
			"Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			_, err := e.c.PutParameter(e.ctx, &tt.in)
			wantAPIError(t, err, "ValidationException", tt.want)
			_, gerr := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/m/a")})
			wantAPIError(t, gerr, "ParameterNotFound", "")
		})
	}
}

func TestSDKPutParameterTagsAndOverwriteOnExisting(t *testing.T) {
	e := newEnv(t)
	e.putString("/to/p", "v")
	_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/to/p"), Value: aws.String("w"), Overwrite: aws.Bool(true), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantAPIError(t, err, "ValidationException", "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
	if p := e.get("/to/p"); p.Version != 1 {
		t.Errorf("got version %d after the rejected put, want 1", p.Version)
	}
}

func TestSDKPutParameterOverwriteKeepsAttributes(t *testing.T) {
	e := newEnv(t)
	e.put(&ssm.PutParameterInput{Name: aws.String("/keep/p"), Value: aws.String("1234"), Type: types.ParameterTypeStringList,
		AllowedPattern: aws.String(`\d{1,4}`), Description: aws.String("desc")})

	_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/keep/p"), Value: aws.String("10,000"), Overwrite: aws.Bool(true)})
	wantAPIError(t, err, "ParameterPatternMismatchException", `Parameter value, cannot be validated against allowedPattern: \d{1,4}`)

	if v := e.overwrite("/keep/p", "42"); v != 2 {
		t.Fatalf("got version %d, want 2", v)
	}
	md := e.describeAll(types.ParameterStringFilter{Key: aws.String("Name"), Values: []string{"/keep/p"}})
	if len(md) != 1 {
		t.Fatalf("got %d items, want 1", len(md))
	}
	if md[0].Type != types.ParameterTypeStringList {
		t.Errorf("got type %q, want the kept StringList", md[0].Type)
	}
	if got := aws.ToString(md[0].AllowedPattern); got != `\d{1,4}` {
		t.Errorf("got AllowedPattern %q, want the kept pattern", got)
	}
	if got := aws.ToString(md[0].Description); got != "desc" {
		t.Errorf("got Description %q, want the kept desc", got)
	}

	// An empty description clears it.
	e.put(&ssm.PutParameterInput{Name: aws.String("/keep/p"), Value: aws.String("43"), Overwrite: aws.Bool(true), Description: aws.String("")})
	if md := e.describeAll(types.ParameterStringFilter{Key: aws.String("Name"), Values: []string{"/keep/p"}}); len(md) != 1 || md[0].Description != nil {
		t.Errorf("got %+v, want no Description", md)
	}

	// A new pattern replaces the old one; "" clears it.
	e.put(&ssm.PutParameterInput{Name: aws.String("/keep/p"), Value: aws.String("abc"), Overwrite: aws.Bool(true), AllowedPattern: aws.String("[a-c]+")})
	e.put(&ssm.PutParameterInput{Name: aws.String("/keep/p"), Value: aws.String("anything, really"), Overwrite: aws.Bool(true), AllowedPattern: aws.String("")})

	t.Run("policies kept", func(t *testing.T) {
		e := e.at(t)
		pol := `[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2099-12-02T21:34:33.000Z"}}]`
		e.put(&ssm.PutParameterInput{Name: aws.String("/keep/pol"), Value: aws.String("v"), Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced, Policies: aws.String(pol)})
		out := e.put(&ssm.PutParameterInput{Name: aws.String("/keep/pol"), Value: aws.String("w"), Overwrite: aws.Bool(true)})
		if out.Tier != types.ParameterTierAdvanced {
			t.Errorf("got tier %q, want Advanced kept", out.Tier)
		}
		md := e.describeAll(types.ParameterStringFilter{Key: aws.String("Name"), Values: []string{"/keep/pol"}})
		if len(md) != 1 || len(md[0].Policies) != 1 {
			t.Fatalf("got %+v, want one item with one policy", md)
		}
		got := md[0].Policies[0]
		want := `{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2099-12-02T21:34:33.000Z"}}`
		if aws.ToString(got.PolicyText) != want || aws.ToString(got.PolicyType) != "Expiration" || aws.ToString(got.PolicyStatus) != "Pending" {
			t.Errorf("got policy %q %q %q, want %q Expiration Pending", aws.ToString(got.PolicyText), aws.ToString(got.PolicyType), aws.ToString(got.PolicyStatus), want)
		}
		for _, clear := range []string{"[{}]", "[]"} {
			e.put(&ssm.PutParameterInput{Name: aws.String("/keep/pol"), Value: aws.String("x"), Overwrite: aws.Bool(true), Policies: aws.String(clear)})
			md = e.describeAll(types.ParameterStringFilter{Key: aws.String("Name"), Values: []string{"/keep/pol"}})
			if len(md) != 1 || md[0].Policies == nil || len(md[0].Policies) != 0 {
				t.Errorf("after Policies=%s: got %+v, want an empty Policies list", clear, md)
			}
			e.put(&ssm.PutParameterInput{Name: aws.String("/keep/pol"), Value: aws.String("x"), Overwrite: aws.Bool(true), Policies: aws.String(pol)})
		}
	})

	t.Run("type change accepted", func(t *testing.T) {
		e := e.at(t)
		e.putString("/keep/type", "plain")
		e.put(&ssm.PutParameterInput{Name: aws.String("/keep/type"), Value: aws.String("secret"), Overwrite: aws.Bool(true), Type: types.ParameterTypeSecureString})
		p := e.get("/keep/type")
		if p.Type != types.ParameterTypeSecureString || aws.ToString(p.Value) != "secret" {
			t.Errorf("got %q %q, want SecureString secret", p.Type, aws.ToString(p.Value))
		}
		// Type kept on an overwrite that omits it: still encrypted.
		e.overwrite("/keep/type", "secret2")
		out, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/keep/type")})
		if err != nil {
			t.Fatal(err)
		}
		if out.Parameter.Type != types.ParameterTypeSecureString || aws.ToString(out.Parameter.Value) == "secret2" {
			t.Errorf("got %q %q, want SecureString with a ciphertext", out.Parameter.Type, aws.ToString(out.Parameter.Value))
		}
	})
}

func TestSDKPutParameterAllowedPattern(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name     string
		pattern  string
		value    string
		typ      types.ParameterType
		wantCode string
		wantMsg  string
	}{
		{"full match required", `\d+`, "12a", types.ParameterTypeString, "ParameterPatternMismatchException", `Parameter value, cannot be validated against allowedPattern: \d+`},
		{"prefix does not suffice", `abc`, "abcd", types.ParameterTypeString, "ParameterPatternMismatchException", "Parameter value, cannot be validated against allowedPattern: abc"},
		{"match", `\d{1,4}`, "1234", types.ParameterTypeString, "", ""},
		{"alternation is grouped", `a|b`, "ab", types.ParameterTypeString, "ParameterPatternMismatchException", "Parameter value, cannot be validated against allowedPattern: a|b"},
		{"secure string", `.{8,20}`, "short", types.ParameterTypeSecureString, "ParameterPatternMismatchException", "Parameter value, cannot be validated against allowedPattern: .{8,20}"},
		{"secure string match", `.{8,20}`, "long enough", types.ParameterTypeSecureString, "", ""},
		{"string list whole value", `[a-z,]+`, "a,b,c", types.ParameterTypeStringList, "", ""},
		{"java lookahead", `(?=.*\d)\w+`, "abc1", types.ParameterTypeString, "", ""},
		{"invalid pattern", `([`, "x", types.ParameterTypeString, "InvalidAllowedPatternException", "The request doesn't meet the regular expression requirement."},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/pat/p%d", i)), Value: aws.String(tt.value), Type: tt.typ, AllowedPattern: aws.String(tt.pattern)})
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			wantAPIError(t, err, tt.wantCode, tt.wantMsg)
		})
	}
}

func TestSDKPutParameterVersionRetention(t *testing.T) {
	e := newEnv(t)
	e.putString("/ver/p", "v1")
	for i := 2; i <= 100; i++ {
		e.overwrite("/ver/p", fmt.Sprintf("v%d", i))
	}
	// Version 101 silently evicts version 1.
	if v := e.overwrite("/ver/p", "v101"); v != 101 {
		t.Fatalf("got version %d, want 101", v)
	}
	_, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/ver/p:1")})
	wantAPIError(t, err, "ParameterVersionNotFound", "Systems Manager could not find version 1 of /ver/p. Verify the version and try again.")
	_, err = e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/ver/p"), ParameterVersion: aws.Int64(1), Labels: []string{"old"}})
	wantAPIError(t, err, "ParameterVersionNotFound", "Systems Manager could not find version 1 of /ver/p. Verify the version and try again.")
	if got := aws.ToString(e.get("/ver/p:2").Value); got != "v2" {
		t.Errorf("got version 2 value %q, want v2", got)
	}
	var hist []types.ParameterHistory
	pg := ssm.NewGetParameterHistoryPaginator(e.c, &ssm.GetParameterHistoryInput{Name: aws.String("/ver/p")})
	for pg.HasMorePages() {
		page, err := pg.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		hist = append(hist, page.Parameters...)
	}
	if len(hist) != 100 || hist[0].Version != 2 || hist[99].Version != 101 {
		t.Fatalf("got %d versions from %d, want 100 versions 2..101", len(hist), hist[0].Version)
	}

	// A labelled oldest version blocks the put, and nothing changes.
	if _, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/ver/p"), ParameterVersion: aws.Int64(2), Labels: []string{"keep"}}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/ver/p"), Value: aws.String("v102"), Overwrite: aws.Bool(true)})
	wantAPIError(t, err, "ParameterMaxVersionLimitExceeded", "You attempted to create a new version of /ver/p by calling the PutParameter API with the overwrite flag. Version 2, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.")
	if p := e.get("/ver/p"); p.Version != 101 || aws.ToString(p.Value) != "v101" {
		t.Errorf("got version %d %q, want 101 v101 unchanged", p.Version, aws.ToString(p.Value))
	}
	if got := aws.ToString(e.get("/ver/p:keep").Value); got != "v2" {
		t.Errorf("got %q by label, want v2", got)
	}

	// Moving the label away lets the put evict version 2.
	if _, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/ver/p"), ParameterVersion: aws.Int64(50), Labels: []string{"keep"}}); err != nil {
		t.Fatal(err)
	}
	if v := e.overwrite("/ver/p", "v102"); v != 102 {
		t.Fatalf("got version %d, want 102", v)
	}
	_, err = e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/ver/p:2")})
	wantAPIError(t, err, "ParameterVersionNotFound", "Systems Manager could not find version 2 of /ver/p. Verify the version and try again.")
}

func TestSDKPutParameterTiers(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Limits.StandardParameters = 3 })
	msgDowngrade := "You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier."
	pol := `[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"20","Unit":"Days"}}]`

	tests := []struct {
		name  string
		in    ssm.PutParameterInput
		want  types.ParameterTier
		setup func()
	}{
		{"intelligent small", ssm.PutParameterInput{Name: aws.String("/tier/small"), Value: aws.String("v"), Type: types.ParameterTypeString, Tier: types.ParameterTierIntelligentTiering}, types.ParameterTierStandard, nil},
		{"intelligent large", ssm.PutParameterInput{Name: aws.String("/tier/large"), Value: aws.String(repeat("x", 4097)), Type: types.ParameterTypeString, Tier: types.ParameterTierIntelligentTiering}, types.ParameterTierAdvanced, nil},
		{"intelligent policies", ssm.PutParameterInput{Name: aws.String("/tier/pol"), Value: aws.String("v"), Type: types.ParameterTypeString, Tier: types.ParameterTierIntelligentTiering, Policies: aws.String(pol)}, types.ParameterTierAdvanced, nil},
		{"intelligent keeps advanced", ssm.PutParameterInput{Name: aws.String("/tier/large"), Value: aws.String("small now"), Overwrite: aws.Bool(true), Tier: types.ParameterTierIntelligentTiering}, types.ParameterTierAdvanced, nil},
		{"absent keeps advanced", ssm.PutParameterInput{Name: aws.String("/tier/large"), Value: aws.String("small again"), Overwrite: aws.Bool(true)}, types.ParameterTierAdvanced, nil},
		{"upgrade", ssm.PutParameterInput{Name: aws.String("/tier/small"), Value: aws.String("v"), Overwrite: aws.Bool(true), Tier: types.ParameterTierAdvanced}, types.ParameterTierAdvanced, nil},
		{"explicit standard", ssm.PutParameterInput{Name: aws.String("/tier/std"), Value: aws.String("v"), Type: types.ParameterTypeString, Tier: types.ParameterTierStandard}, types.ParameterTierStandard, nil},
		{"intelligent with standard quota full", ssm.PutParameterInput{Name: aws.String("/tier/overflow"), Value: aws.String("v"), Type: types.ParameterTypeString, Tier: types.ParameterTierIntelligentTiering}, types.ParameterTierAdvanced,
			func() { e.putString("/tier/fill1", "v"); e.putString("/tier/fill2", "v") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			if tt.setup != nil {
				tt.setup()
			}
			out, err := e.c.PutParameter(e.ctx, &tt.in)
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if out.Tier != tt.want {
				t.Errorf("got tier %q, want %q", out.Tier, tt.want)
			}
			md := e.describeAll(types.ParameterStringFilter{Key: aws.String("Name"), Values: []string{aws.ToString(tt.in.Name)}})
			if len(md) != 1 || md[0].Tier != tt.want {
				t.Errorf("got described %+v, want tier %q", md, tt.want)
			}
		})
	}

	t.Run("no downgrade", func(t *testing.T) {
		e := e.at(t)
		_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/tier/large"), Value: aws.String("v"), Overwrite: aws.Bool(true), Tier: types.ParameterTierStandard})
		wantAPIError(t, err, "ValidationException", msgDowngrade)
	})
	t.Run("policies on standard", func(t *testing.T) {
		e := e.at(t)
		_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/tier/stdpol"), Value: aws.String("v"), Type: types.ParameterTypeString, Policies: aws.String(pol)})
		wantAPIError(t, err, "ValidationException", "You can't assign parameter policies to a standard-parameter tier.")
	})
}

func TestSDKPutParameterQuota(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.Limits.StandardParameters = 2
		c.Limits.AdvancedParameters = 1
	})
	e.putString("/q/a", "v")
	e.putString("q-root", "v")
	_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/q/c"), Value: aws.String("v"), Type: types.ParameterTypeString})
	wantAPIError(t, err, "ParameterLimitExceeded", "You have reached the maximum number of standard parameters for this AWS account and Region (2). To add more parameters, either delete existing parameters or upgrade to the advanced-parameter tier (charges apply).")

	// Overwrites do not count; other regions have their own quota.
	e.overwrite("/q/a", "w")
	if _, err := e.client("eu-west-1").PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/q/c"), Value: aws.String("v"), Type: types.ParameterTypeString}); err != nil {
		t.Fatalf("put in another region: %v", err)
	}

	e.put(&ssm.PutParameterInput{Name: aws.String("/q/adv1"), Value: aws.String("v"), Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced})
	_, err = e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/q/adv2"), Value: aws.String("v"), Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced})
	wantAPIError(t, err, "ParameterLimitExceeded", "You have reached the maximum number of advanced parameters for this AWS account and Region (1).")

	// Deleting frees a slot.
	if _, err := e.c.DeleteParameter(e.ctx, &ssm.DeleteParameterInput{Name: aws.String("/q/a")}); err != nil {
		t.Fatal(err)
	}
	e.putString("/q/c", "v")
	// Upgrading a Standard parameter needs an Advanced slot.
	_, err = e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/q/c"), Value: aws.String("v"), Overwrite: aws.Bool(true), Tier: types.ParameterTierAdvanced})
	wantAPIError(t, err, "ParameterLimitExceeded", "You have reached the maximum number of advanced parameters for this AWS account and Region (1).")
}

func TestSDKPutParameterDataType(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name     string
		typ      types.ParameterType
		dataType *string
		value    string
		wantCode string
		wantMsg  string
		wantDT   string
	}{
		{"default text", types.ParameterTypeString, nil, "v", "", "", "text"},
		{"explicit text", types.ParameterTypeSecureString, aws.String("text"), "v", "", "", "text"},
		{"ec2 image", types.ParameterTypeString, aws.String("aws:ec2:image"), "ami-0123456789abcdef0", "", "", "aws:ec2:image"},
		{"ec2 image short id", types.ParameterTypeString, aws.String("aws:ec2:image"), "ami-12345678", "", "", "aws:ec2:image"},
		{"ec2 image bad id", types.ParameterTypeString, aws.String("aws:ec2:image"), "ami-xyz", "ValidationException", "Parameter value, ami-xyz, is not a valid image ID for data type aws:ec2:image.", ""},
		{"ec2 image upper hex", types.ParameterTypeString, aws.String("aws:ec2:image"), "ami-ABCDEF12", "ValidationException", "Parameter value, ami-ABCDEF12, is not a valid image ID for data type aws:ec2:image.", ""},
		{"ec2 image string list", types.ParameterTypeStringList, aws.String("aws:ec2:image"), "ami-12345678", "ValidationException", "The aws:ec2:image data type is not supported for the following input type: StringList", ""},
		{"ec2 image secure", types.ParameterTypeSecureString, aws.String("aws:ec2:image"), "ami-12345678", "ValidationException", "The aws:ec2:image data type is not supported for the following input type: SecureString", ""},
		{"integration", types.ParameterTypeSecureString, aws.String("aws:ssm:integration"), `{"url":"https://x"}`, "", "", "aws:ssm:integration"},
		{"upper case", types.ParameterTypeString, aws.String("Text"), "v", "ValidationException", "The following data type is not supported: Text (Data type names are all lowercase.)", ""},
		{"unknown", types.ParameterTypeString, aws.String("number"), "v", "ValidationException", "The following data type is not supported: number (Data type names are all lowercase.)", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			name := fmt.Sprintf("/dt/p%d", i)
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(tt.value), Type: tt.typ, DataType: tt.dataType})
			if tt.wantCode != "" {
				wantAPIError(t, err, tt.wantCode, tt.wantMsg)
				return
			}
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if got := aws.ToString(e.get(name).DataType); got != tt.wantDT {
				t.Errorf("got DataType %q, want %q", got, tt.wantDT)
			}
		})
	}
	t.Run("kept on overwrite", func(t *testing.T) {
		e := e.at(t)
		e.put(&ssm.PutParameterInput{Name: aws.String("/dt/keep"), Value: aws.String("ami-12345678"), Type: types.ParameterTypeString, DataType: aws.String("aws:ec2:image")})
		_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/dt/keep"), Value: aws.String("not-an-ami"), Overwrite: aws.Bool(true)})
		wantAPIError(t, err, "ValidationException", "Parameter value, not-an-ami, is not a valid image ID for data type aws:ec2:image.")
	})
}

func TestSDKPutParameterStringListVerbatim(t *testing.T) {
	e := newEnv(t)
	for _, v := range []string{"Monday,Wednesday,Friday", "a, b ,c", "single", ",,"} {
		t.Run(v, func(t *testing.T) {
			e := e.at(t)
			e.put(&ssm.PutParameterInput{Name: aws.String("/sl/p"), Value: aws.String(v), Type: types.ParameterTypeStringList, Overwrite: aws.Bool(true)})
			p := e.get("/sl/p")
			if got := aws.ToString(p.Value); got != v || p.Type != types.ParameterTypeStringList {
				t.Errorf("got %q %q, want %q StringList", p.Type, got, v)
			}
		})
	}
}

func TestSDKPutParameterPolicies(t *testing.T) {
	e := newEnv(t)
	exp := `{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2099-12-02T21:34:33.000Z"}}`
	noChange := `{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"20","Unit":"Days"}}`
	eleven := "[" + strings.TrimSuffix(strings.Repeat(noChange+",", 11), ",") + "]"
	ten := "[" + strings.TrimSuffix(strings.Repeat(noChange+",", 10), ",") + "]"
	tests := []struct {
		name     string
		policies string
		wantCode string
		wantMsg  string
	}{
		{"not an array", `{"Type":"Expiration"}`, "InvalidPolicyAttributeException", "Invalid policies input"},
		{"not json", `nope`, "InvalidPolicyAttributeException", "Invalid policies input"},
		{"array of non-objects", `[1]`, "InvalidPolicyAttributeException", "Invalid policies input"},
		{"eleven policies", eleven, "PoliciesLimitExceededException", "Number of policies attached to a parameter cannot exceed 10"},
		{"unknown type", `[{"Type":"Rotation","Version":"1.0","Attributes":{}}]`, "InvalidPolicyTypeException", "Policy type Rotation is not supported."},
		{"type is case-sensitive", `[{"Type":"expiration","Version":"1.0","Attributes":{"Timestamp":"2099-12-02T21:34:33.000Z"}}]`, "InvalidPolicyTypeException", "Policy type expiration is not supported."},
		{"bad version", `[{"Type":"Expiration","Version":"2.0","Attributes":{"Timestamp":"2099-12-02T21:34:33.000Z"}}]`, "InvalidPolicyAttributeException", "Unsupported policy version."},
		{"attributes missing", `[{"Type":"Expiration","Version":"1.0"}]`, "InvalidPolicyAttributeException", "Mandatory policy attribute Attributes is missing."},
		{"timestamp missing", `[{"Type":"Expiration","Version":"1.0","Attributes":{}}]`, "InvalidPolicyAttributeException", "A valid Expiration policy must have an attribute of Timestamp."},
		{"before missing", `[` + exp + `,{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Unit":"Days"}}]`, "InvalidPolicyAttributeException", "Mandatory policy attribute Before is missing."},
		{"unit missing", `[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"2"}}]`, "InvalidPolicyAttributeException", "Mandatory policy attribute Unit is missing."},
		{"bad timestamp", `[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"tomorrow"}}]`, "InvalidPolicyAttributeException", "Invalid timestamp format"},
		{"after zero", `[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"0","Unit":"Days"}}]`, "InvalidPolicyAttributeException", "Attribute After must be a positive integer."},
		{"before not a number", `[` + exp + `,{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"soon","Unit":"Days"}}]`, "InvalidPolicyAttributeException", "Attribute Before must be a positive integer."},
		{"bad unit", `[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"2","Unit":"Weeks"}}]`, "InvalidPolicyAttributeException", "Supported time units: DAYS HOURS"},
		{"two expirations", `[` + exp + `,` + exp + `]`, "IncompatiblePolicyException", "There can be only one expiration policy"},
		{"notification without expiration", `[{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"15","Unit":"Days"}}]`, "IncompatiblePolicyException", "Expiration notification policies are missing expiration policy"},
		{"ten policies", ten, "", ""},
		{"all three", `[` + exp + `,{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":15,"Unit":"hours"}},` + noChange + `]`, "", ""},
		{"offset timestamp", `[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2019-11-01T22:13:48.87+10:30"}}]`, "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			name := fmt.Sprintf("/pol/p%d", i)
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"), Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced, Policies: aws.String(tt.policies)})
			if tt.wantCode != "" {
				wantAPIError(t, err, tt.wantCode, tt.wantMsg)
				return
			}
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			h, err := e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Count(tt.policies, `"Type"`)
			if len(h.Parameters) != 1 || len(h.Parameters[0].Policies) != want {
				t.Errorf("got history %+v, want one version with %d policies", h.Parameters, want)
			}
		})
	}
}

func TestSDKPutParameterRegions(t *testing.T) {
	e := newEnv(t)
	e.putString("/region/p", "east")
	eu := e.client("eu-west-1")
	_, err := eu.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/region/p")})
	wantAPIError(t, err, "ParameterNotFound", "")

	out, err := eu.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/region/p"), Value: aws.String("west"), Type: types.ParameterTypeString})
	if err != nil || out.Version != 1 {
		t.Fatalf("got %v %v, want version 1 in eu-west-1", out, err)
	}
	g, err := eu.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/region/p")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(g.Parameter.ARN), "arn:aws:ssm:eu-west-1:123456789012:parameter/region/p"; got != want {
		t.Errorf("got ARN %q, want %q", got, want)
	}
	if got := aws.ToString(e.get("/region/p").Value); got != "east" {
		t.Errorf("got us-east-1 value %q, want east", got)
	}
	// An ARN of another region names nothing in this one.
	_, err = e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("arn:aws:ssm:eu-west-1:123456789012:parameter/region/p")})
	wantAPIError(t, err, "ParameterNotFound", "")

	tests := []struct {
		region, partition string
	}{
		{"cn-north-1", "aws-cn"},
		{"us-gov-west-1", "aws-us-gov"},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			e := e.at(t)
			c := e.client(tt.region)
			if _, err := c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("rootp"), Value: aws.String("v"), Type: types.ParameterTypeString}); err != nil {
				t.Fatal(err)
			}
			g, err := c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("rootp")})
			if err != nil {
				t.Fatal(err)
			}
			want := "arn:" + tt.partition + ":ssm:" + tt.region + ":123456789012:parameter/rootp"
			if got := aws.ToString(g.Parameter.ARN); got != want {
				t.Errorf("got ARN %q, want %q", got, want)
			}
			d, err := c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Parameters) != 1 || aws.ToString(d.Parameters[0].ARN) != want {
				t.Errorf("got %+v, want one item with ARN %q", d.Parameters, want)
			}
			if got, want := aws.ToString(d.Parameters[0].LastModifiedUser), "arn:"+tt.partition+":iam::123456789012:user/AKIDTEST"; got != want {
				t.Errorf("got LastModifiedUser %q, want %q", got, want)
			}
		})
	}
}
