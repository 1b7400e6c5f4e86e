package service_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
)

func TestPutParameterCreateAndOverwrite(t *testing.T) {
	f := newFixture(t)
	out := f.put(&ssm.PutParameterInput{Name: ptr("/app/url"), Value: ptr("v1"), Type: ptr(ssm.TypeString)})
	if out.Version != 1 || out.Tier != ssm.TierStandard {
		t.Fatalf("create: got version %d tier %q, want 1 Standard", out.Version, out.Tier)
	}
	_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/app/url"), Value: ptr("v2"), Type: ptr(ssm.TypeString)})
	wantErr(t, err, ssm.CodeParameterAlreadyExists, msgAlreadyExists)
	_, err = f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/app/url"), Value: ptr("v2"), Overwrite: ptr(false)})
	wantErr(t, err, ssm.CodeParameterAlreadyExists, msgAlreadyExists)

	if v := f.overwrite("/app/url", "v2"); v != 2 {
		t.Fatalf("overwrite: got version %d, want 2", v)
	}
	// An overwrite with an identical value still makes a version.
	if v := f.overwrite("/app/url", "v2"); v != 3 {
		t.Fatalf("identical overwrite: got version %d, want 3", v)
	}
	p := f.get("/app/url")
	got := []any{p.Name, p.Value, p.Version, p.Type, p.DataType, p.ARN, p.Selector}
	want := []any{"/app/url", "v2", int64(3), ssm.TypeString, "text", arnPrefix + "app/url", ""}
	if diff := mismatch(want, got); diff != "" {
		t.Errorf("Name, Value, Version, Type, DataType, ARN, Selector: %s", diff)
	}
	h := f.history("/app/url")
	if len(h) != 3 || h[2].LastModifiedUser != testUser {
		t.Errorf("got history %+v, want 3 versions by %s", h, testUser)
	}
}

func TestPutParameterRootNameIdentity(t *testing.T) {
	f := newFixture(t)
	f.putString("/rootparam", "v")
	_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("rootparam"), Value: ptr("x"), Type: ptr(ssm.TypeString)})
	wantErr(t, err, ssm.CodeParameterAlreadyExists, msgAlreadyExists)

	for _, spelling := range []string{"rootparam", "/rootparam"} {
		t.Run(spelling, func(t *testing.T) {
			p := f.at(t).get(spelling)
			if p.Name != spelling || p.ARN != arnPrefix+"rootparam" {
				t.Errorf("got Name %q ARN %q, want %q %q", p.Name, p.ARN, spelling, arnPrefix+"rootparam")
			}
		})
	}
	if v := f.overwrite("rootparam", "w"); v != 2 {
		t.Fatalf("overwrite via the other spelling: got version %d, want 2", v)
	}
	if _, err := f.svc.DeleteParameter(f.ctx, f.c, &ssm.NameInput{Name: ptr("rootparam")}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f.getErr("/rootparam"), ssm.CodeParameterNotFound, "")

	// Re-created under the other spelling, it starts again at version 1 and
	// keeps that spelling.
	if out := f.put(&ssm.PutParameterInput{Name: ptr("rootparam"), Value: ptr("again"), Type: ptr(ssm.TypeString)}); out.Version != 1 {
		t.Errorf("re-create: got version %d, want 1", out.Version)
	}
	if got := f.get(arnPrefix + "rootparam").Name; got != "rootparam" {
		t.Errorf("by ARN: got Name %q, want rootparam", got)
	}
}

func TestPutParameterNameRules(t *testing.T) {
	f := newFixture(t)
	deep15 := strings.Repeat("/l", 14) + "/name"
	deep16 := strings.Repeat("/l", 15) + "/name"
	longOK := "/" + repeat("n", 1011-len(arnPrefix))
	longBad := "/" + repeat("n", 1011-len(arnPrefix)+1)
	msgReserved := `Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive).`
	tests := []struct {
		name, param, wantCode, wantMsg string
	}{
		{"aws path", "/aws/x", ssm.CodeAccessDenied, "No access to reserved parameter name: /aws/x."},
		{"aws path mixed case", "/AwS/x", ssm.CodeAccessDenied, "No access to reserved parameter name: /AwS/x."},
		{"aws prefixed segment", "/awsfoo/x", ssm.CodeAccessDenied, "No access to reserved parameter name: /awsfoo/x."},
		{"aws path trimmed", " /aws/x ", ssm.CodeAccessDenied, "No access to reserved parameter name: /aws/x."},
		{"ssm path", "/ssm/x", ssm.CodeValidation, msgSubPaths},
		{"ssm path upper case", "/SSM/x", ssm.CodeValidation, msgSubPaths},
		{"ssm prefixed segment", "/ssmfoo/x", ssm.CodeValidation, msgSubPaths},
		{"aws root name", "awsTest", ssm.CodeValidation, msgReserved},
		{"ssm root name", "SSM-x", ssm.CodeValidation, msgReserved},
		{"ssm root name with slash", "/ssmX", ssm.CodeValidation, msgReserved},
		{"AWS underscore", "AWS_TEST", ssm.CodeValidation, msgReserved},
		{"not fully qualified", "a/b", ssm.CodeValidation, "Parameter name must be a fully qualified name."},
		{"trailing slash", "/a/b/", ssm.CodeValidation, "Parameter name must not end with slash."},
		{"only slash", "/", ssm.CodeValidation, "Parameter name must not end with slash."},
		{"only spaces", "   ", ssm.CodeValidation, msgSubPaths},
		{"empty segment", "/a//b", ssm.CodeValidation, msgSubPaths},
		{"inner space", "/a b", ssm.CodeValidation, msgSubPaths},
		{"bad character", "/a/b$", ssm.CodeValidation, msgSubPaths},
		{"ARN as name", arnPrefix + "x", ssm.CodeValidation, "Parameter name must be a fully qualified name."},
		{"colon in name", "/a/b:1", ssm.CodeValidation, msgSubPaths},
		{"depth 16", deep16, ssm.CodeHierarchyLevelLimit, "A hierarchy can have a maximum of 15 levels."},
		{"name too long", longBad, ssm.CodeAccessDenied, "Parameter name is too long."},
		{"empty name", "", ssm.CodeValidation, "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"depth 15", deep15, "", ""},
		{"longest name", longOK, "", ""},
		{"all allowed characters", "/a-Z_0.9/x", "", ""},
		{"root name", "plain.name-1_x", "", ""},
		{"aws inside", "/app/aws/x", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.at(t)
			_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr(tt.param), Value: ptr("v"), Type: ptr(ssm.TypeString)})
			if tt.wantCode != "" {
				wantErr(t, err, tt.wantCode, tt.wantMsg)
				return
			}
			wantOK(t, err)
			if got := f.get(tt.param).Name; got != tt.param {
				t.Errorf("got Name %q, want %q", got, tt.param)
			}
		})
	}

	t.Run("surrounding spaces are trimmed", func(t *testing.T) {
		f := f.at(t)
		f.putString("  /trimmed/name  ", "v")
		if got := f.get("/trimmed/name").Name; got != "/trimmed/name" {
			t.Errorf("got Name %q, want /trimmed/name", got)
		}
		if got := f.describeOne("/trimmed/name").Name; got != "/trimmed/name" {
			t.Errorf("got described Name %q, want /trimmed/name", got)
		}
	})
}

func TestPutParameterValueRules(t *testing.T) {
	f := newFixture(t)
	msgStd := "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
	msgAdv := "Advanced-tier parameters support a maximum parameter value of 8192 characters."
	msgNested := `Parameter value can't nest another parameter. Do not use "{{}}" in the value.`
	tests := []struct {
		name, value, tier string
		wantCode, wantMsg string
		wantTier          string
	}{
		{"empty", "", "", ssm.CodeValidation, "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1", ""},
		{"standard 4096", repeat("a", 4096), "", "", "", ssm.TierStandard},
		{"standard 4096 multibyte", repeat("é", 4096), "", "", "", ssm.TierStandard},
		{"standard 4097", repeat("a", 4097), ssm.TierStandard, ssm.CodeValidation, msgStd, ""},
		{"default tier 4097", repeat("a", 4097), "", ssm.CodeValidation, msgStd, ""},
		{"advanced 8192", repeat("a", 8192), ssm.TierAdvanced, "", "", ssm.TierAdvanced},
		{"advanced 8193", repeat("a", 8193), ssm.TierAdvanced, ssm.CodeValidation, msgAdv, ""},
		{"advanced 32768", repeat("a", 32768), ssm.TierAdvanced, ssm.CodeValidation, msgAdv, ""},
		{"framework cap 32769", repeat("a", 32769), ssm.TierAdvanced, ssm.CodeValidation, "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length less than or equal to 32768", ""},
		{"nested parameter", "x {{ssm:/other}} y", "", ssm.CodeValidation, msgNested, ""},
		{"nested empty braces", "{{}}", "", ssm.CodeValidation, msgNested, ""},
		{"open braces only", "a{{b", "", "", "", ssm.TierStandard},
		{"braces reversed", "}} {{", "", "", "", ssm.TierStandard},
		{"multi-line", "line1\nline2", "", "", "", ssm.TierStandard},
		{"surrounding spaces kept", "  v  ", "", "", "", ssm.TierStandard},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.at(t)
			name := fmt.Sprintf("/values/p%d", i)
			in := &ssm.PutParameterInput{Name: &name, Value: ptr(tt.value), Type: ptr(ssm.TypeString)}
			if tt.tier != "" {
				in.Tier = ptr(tt.tier)
			}
			out, err := f.svc.PutParameter(f.ctx, f.c, in)
			if tt.wantCode != "" {
				wantErr(t, err, tt.wantCode, tt.wantMsg)
				wantErr(t, f.getErr(name), ssm.CodeParameterNotFound, "")
				return
			}
			wantOK(t, err)
			if out.Tier != tt.wantTier {
				t.Errorf("got tier %q, want %q", out.Tier, tt.wantTier)
			}
			if got := f.get(name).Value; got != tt.value {
				t.Errorf("got value of %d chars, want it verbatim (%d chars)", len(got), len(tt.value))
			}
		})
	}
}

func TestPutParameterModelValidation(t *testing.T) {
	f := newFixture(t)
	tag := func(k, v string) ssm.Tag { return ssm.Tag{Key: &k, Value: &v} }
	tests := []struct {
		name string
		in   ssm.PutParameterInput
		want string
	}{
		{"bad type", ssm.PutParameterInput{Name: ptr("/m/a"), Value: ptr("v"), Type: ptr("str")},
			"1 validation error detected: Value 'str' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]"},
		{"bad type and tier", ssm.PutParameterInput{Name: ptr("/m/a"), Value: ptr("v"), Type: ptr("str"), Tier: ptr("Gold")},
			"2 validation errors detected: Value 'str' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]; Value 'Gold' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Standard, Advanced, Intelligent-Tiering]"},
		{"missing name and value", ssm.PutParameterInput{Type: ptr(ssm.TypeString)},
			"2 validation errors detected: Value null at 'name' failed to satisfy constraint: Member must not be null; Value null at 'value' failed to satisfy constraint: Member must not be null"},
		{"description too long", ssm.PutParameterInput{Name: ptr("/m/a"), Value: ptr("v"), Type: ptr(ssm.TypeString), Description: ptr(repeat("d", 1025))},
			"1 validation error detected: Value '" + repeat("d", 1025) + "' at 'description' failed to satisfy constraint: Member must have length less than or equal to 1024"},
		{"key id pattern", ssm.PutParameterInput{Name: ptr("/m/a"), Value: ptr("v"), Type: ptr(ssm.TypeSecureString), KeyId: ptr("bad key!")},
			"1 validation error detected: Value 'bad key!' at 'keyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-zA-Z0-9:/_-]+)$"},
		{"tag key pattern", ssm.PutParameterInput{Name: ptr("/m/a"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tags: []ssm.Tag{tag("ok", "v"), tag("bad#", "v")}},
			`1 validation error detected: Value 'bad#' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`},
		{"empty policies", ssm.PutParameterInput{Name: ptr("/m/a"), Value: ptr("v"), Type: ptr(ssm.TypeString), Policies: ptr("")},
			"1 validation error detected: Value '' at 'policies' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"type required on create", ssm.PutParameterInput{Name: ptr("/m/a"), Value: ptr("v")},
			"A parameter type is required when you create a parameter."},
		{"tags with overwrite on create", ssm.PutParameterInput{Name: ptr("/m/a"), Value: ptr("v"), Type: ptr(ssm.TypeString), Overwrite: ptr(true), Tags: []ssm.Tag{tag("k", "v")}},
			msgTagsOverwrite},
		{"aws: tag key", ssm.PutParameterInput{Name: ptr("/m/a"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tags: []ssm.Tag{tag("aws:k", "v")}},
			"Tag keys must not start with aws:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.at(t)
			_, err := f.svc.PutParameter(f.ctx, f.c, &tt.in)
			wantErr(t, err, ssm.CodeValidation, tt.want)
			wantErr(t, f.getErr("/m/a"), ssm.CodeParameterNotFound, "")
		})
	}

	t.Run("too many tags", func(t *testing.T) {
		f := f.at(t)
		var tags []ssm.Tag
		for i := 0; i < 51; i++ {
			tags = append(tags, tag(fmt.Sprintf("k%d", i), "v"))
		}
		_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/m/a"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tags: tags})
		wantErr(t, err, ssm.CodeTooManyTags, "")
	})
}

// TestPutParameterValidationOrder pins which failure wins when a request
// breaks several rules: the order of spec §7.1, one pair of adjacent steps
// per case.
func TestPutParameterValidationOrder(t *testing.T) {
	f := newFixture(t, func(l *service.Limits) {
		l.MaxVersions = 2
		l.AdvancedParameters = 1
	})
	f.putString("/ord/std", "v")
	f.put(&ssm.PutParameterInput{Name: ptr("/ord/adv"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierAdvanced)})
	// /ord/full holds MaxVersions versions, the oldest labelled.
	f.putString("/ord/full", "v1")
	f.overwrite("/ord/full", "v2")
	f.label("/ord/full", 1, "pinned")

	badPolicy := `[{"Type":"Rotation","Version":"1.0","Attributes":{}}]`
	goodPolicy := `[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"2","Unit":"Days"}}]`
	tags := []ssm.Tag{{Key: ptr("k"), Value: ptr("v")}}
	tests := []struct {
		name     string
		in       ssm.PutParameterInput
		wantCode string
		wantMsg  string
	}{
		{"model before tags and overwrite", ssm.PutParameterInput{Name: ptr("/aws/x"), Value: ptr("v"), Type: ptr("str"), Overwrite: ptr(true), Tags: tags},
			ssm.CodeValidation, "1 validation error detected: Value 'str' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]"},
		{"tags and overwrite before name", ssm.PutParameterInput{Name: ptr("/aws/x"), Value: ptr("v"), Type: ptr(ssm.TypeString), Overwrite: ptr(true), Tags: tags},
			ssm.CodeValidation, msgTagsOverwrite},
		{"name before nested value", ssm.PutParameterInput{Name: ptr("/ord//x"), Value: ptr("{{x}}"), Type: ptr(ssm.TypeString)},
			ssm.CodeValidation, msgSubPaths},
		{"nested value before tag keys", ssm.PutParameterInput{Name: ptr("/ord/x"), Value: ptr("{{x}}"), Type: ptr(ssm.TypeString), Tags: []ssm.Tag{{Key: ptr("aws:k"), Value: ptr("v")}}},
			ssm.CodeValidation, `Parameter value can't nest another parameter. Do not use "{{}}" in the value.`},
		{"tag keys before existence", ssm.PutParameterInput{Name: ptr("/ord/std"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tags: []ssm.Tag{{Key: ptr("aws:k"), Value: ptr("v")}}},
			ssm.CodeValidation, "Tag keys must not start with aws:"},
		{"type required before data type", ssm.PutParameterInput{Name: ptr("/ord/new"), Value: ptr("v"), DataType: ptr("Text")},
			ssm.CodeValidation, "A parameter type is required when you create a parameter."},
		{"already exists before data type", ssm.PutParameterInput{Name: ptr("/ord/std"), Value: ptr("v"), DataType: ptr("Text")},
			ssm.CodeParameterAlreadyExists, msgAlreadyExists},
		{"data type before size", ssm.PutParameterInput{Name: ptr("/ord/new"), Value: ptr(repeat("a", 4097)), Type: ptr(ssm.TypeString), DataType: ptr("number")},
			ssm.CodeValidation, "The following data type is not supported: number (Data type names are all lowercase.)"},
		{"size before policies", ssm.PutParameterInput{Name: ptr("/ord/new"), Value: ptr(repeat("a", 4097)), Type: ptr(ssm.TypeString), Policies: ptr(badPolicy)},
			ssm.CodeValidation, "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"},
		{"downgrade before policies", ssm.PutParameterInput{Name: ptr("/ord/adv"), Value: ptr("v"), Overwrite: ptr(true), Tier: ptr(ssm.TierStandard), Policies: ptr(badPolicy)},
			ssm.CodeValidation, msgDowngrade},
		{"policy error before policies on standard", ssm.PutParameterInput{Name: ptr("/ord/new"), Value: ptr("v"), Type: ptr(ssm.TypeString), Policies: ptr(badPolicy)},
			ssm.CodeInvalidPolicyType, "Policy type Rotation is not supported."},
		{"policies on standard before pattern", ssm.PutParameterInput{Name: ptr("/ord/new"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierStandard), Policies: ptr(goodPolicy), AllowedPattern: ptr(`\d+`)},
			ssm.CodeValidation, "You can't assign parameter policies to a standard-parameter tier."},
		{"pattern before key", ssm.PutParameterInput{Name: ptr("/ord/new"), Value: ptr("v"), Type: ptr(ssm.TypeSecureString), KeyId: ptr("alias/nope"), AllowedPattern: ptr(`\d+`)},
			ssm.CodePatternMismatch, `Parameter value, cannot be validated against allowedPattern: \d+`},
		{"key before version retention", ssm.PutParameterInput{Name: ptr("/ord/full"), Value: ptr("v"), Overwrite: ptr(true), Type: ptr(ssm.TypeSecureString), KeyId: ptr("alias/nope")},
			ssm.CodeInvalidKeyID, "Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found."},
		{"version retention before quota", ssm.PutParameterInput{Name: ptr("/ord/full"), Value: ptr("v"), Overwrite: ptr(true), Tier: ptr(ssm.TierAdvanced)},
			ssm.CodeMaxVersionLimitExceeded, "You attempted to create a new version of /ord/full by calling the PutParameter API with the overwrite flag. Version 1, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again."},
		{"quota last", ssm.PutParameterInput{Name: ptr("/ord/std"), Value: ptr("v"), Overwrite: ptr(true), Tier: ptr(ssm.TierAdvanced)},
			ssm.CodeParameterLimitExceeded, "You have reached the maximum number of advanced parameters for this AWS account and Region (1)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.at(t)
			_, err := f.svc.PutParameter(f.ctx, f.c, &tt.in)
			wantErr(t, err, tt.wantCode, tt.wantMsg)
		})
	}
	// Nothing above changed anything.
	for name, want := range map[string]int64{"/ord/std": 1, "/ord/adv": 1, "/ord/full": 2} {
		if p := f.get(name); p.Version != want {
			t.Errorf("%s: got version %d, want %d", name, p.Version, want)
		}
	}
	wantErr(t, f.getErr("/ord/new"), ssm.CodeParameterNotFound, "")
}

// TestPutParameterAuthorization: the name is checked before the caller is,
// the caller before the existence rules, and each action the request
// implies is asked for.
func TestPutParameterAuthorization(t *testing.T) {
	f := newFixture(t)
	f.putString("/authz/old", "v")
	tests := []struct {
		name      string
		deny      string
		in        ssm.PutParameterInput
		wantCode  string
		wantCalls []string
	}{
		{"bad name asks nothing", "ssm:PutParameter", ssm.PutParameterInput{Name: ptr("/authz//x"), Value: ptr("v"), Type: ptr(ssm.TypeString)},
			ssm.CodeValidation, nil},
		{"refused before type required", "ssm:PutParameter", ssm.PutParameterInput{Name: ptr("/authz/new"), Value: ptr("v")},
			ssm.CodeAccessDenied, []string{"ssm:PutParameter " + arnPrefix + "authz/new"}},
		{"refused before already exists", "ssm:PutParameter", ssm.PutParameterInput{Name: ptr("/authz/old"), Value: ptr("v"), Type: ptr(ssm.TypeString)},
			ssm.CodeAccessDenied, []string{"ssm:PutParameter " + arnPrefix + "authz/old"}},
		{"tags need AddTagsToResource", "ssm:AddTagsToResource", ssm.PutParameterInput{Name: ptr("/authz/new"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tags: []ssm.Tag{{Key: ptr("k"), Value: ptr("v")}}},
			ssm.CodeAccessDenied, []string{"ssm:PutParameter " + arnPrefix + "authz/new", "ssm:AddTagsToResource " + arnPrefix + "authz/new"}},
		{"secure string needs kms:Encrypt", "kms:Encrypt", ssm.PutParameterInput{Name: ptr("/authz/new"), Value: ptr("v"), Type: ptr(ssm.TypeSecureString)},
			ssm.CodeAccessDenied, []string{"ssm:PutParameter " + arnPrefix + "authz/new", "kms:Encrypt arn:aws:kms:us-east-1:123456789012:key/aws/ssm"}},
		{"root name ARN has no double slash", "", ssm.PutParameterInput{Name: ptr("/authzroot"), Value: ptr("v"), Type: ptr(ssm.TypeString)},
			"", []string{"ssm:PutParameter " + arnPrefix + "authzroot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			authz := &recordingAuthz{deny: map[string]bool{tt.deny: true}}
			c := f.c
			c.Authz = authz
			_, err := f.svc.PutParameter(f.ctx, c, &tt.in)
			if tt.wantCode == "" {
				wantOK(t, err)
			} else {
				wantMsg := "denied " + tt.deny // recordingAuthz's refusal
				if tt.wantCode == ssm.CodeValidation {
					wantMsg = msgSubPaths
				}
				wantErr(t, err, tt.wantCode, wantMsg)
			}
			if diff := mismatch(tt.wantCalls, authz.calls); diff != "" {
				t.Errorf("authorization calls: %s", diff)
			}
		})
	}
	if p := f.get("/authz/old"); p.Version != 1 {
		t.Errorf("got version %d of /authz/old, want 1", p.Version)
	}
	wantErr(t, f.getErr("/authz/new"), ssm.CodeParameterNotFound, "")
}

func TestPutParameterOverwriteKeepsAttributes(t *testing.T) {
	f := newFixture(t)
	f.put(&ssm.PutParameterInput{Name: ptr("/keep/p"), Value: ptr("1234"), Type: ptr(ssm.TypeStringList), AllowedPattern: ptr(`\d{1,4}`), Description: ptr("desc")})

	_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/keep/p"), Value: ptr("10,000"), Overwrite: ptr(true)})
	wantErr(t, err, ssm.CodePatternMismatch, `Parameter value, cannot be validated against allowedPattern: \d{1,4}`)

	if v := f.overwrite("/keep/p", "42"); v != 2 {
		t.Fatalf("got version %d, want 2", v)
	}
	md := f.describeOne("/keep/p")
	if got, want := []string{md.Type, md.AllowedPattern, md.Description}, []string{ssm.TypeStringList, `\d{1,4}`, "desc"}; mismatch(want, got) != "" {
		t.Errorf("got Type, AllowedPattern, Description %q, want the kept %q", got, want)
	}
	// An empty description clears it; a new pattern replaces the old one;
	// "" clears it.
	f.put(&ssm.PutParameterInput{Name: ptr("/keep/p"), Value: ptr("43"), Overwrite: ptr(true), Description: ptr("")})
	if md := f.describeOne("/keep/p"); md.Description != "" {
		t.Errorf("got Description %q, want none", md.Description)
	}
	f.put(&ssm.PutParameterInput{Name: ptr("/keep/p"), Value: ptr("abc"), Overwrite: ptr(true), AllowedPattern: ptr("[a-c]+")})
	_, err = f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/keep/p"), Value: ptr("123"), Overwrite: ptr(true)})
	wantErr(t, err, ssm.CodePatternMismatch, "Parameter value, cannot be validated against allowedPattern: [a-c]+")
	f.put(&ssm.PutParameterInput{Name: ptr("/keep/p"), Value: ptr("anything, really"), Overwrite: ptr(true), AllowedPattern: ptr("")})
	if md := f.describeOne("/keep/p"); md.AllowedPattern != "" || md.Version != 5 {
		t.Errorf("got AllowedPattern %q version %d, want none and 5", md.AllowedPattern, md.Version)
	}

	t.Run("type change accepted and kept", func(t *testing.T) {
		f := f.at(t)
		f.putString("/keep/type", "plain")
		f.put(&ssm.PutParameterInput{Name: ptr("/keep/type"), Value: ptr("secret"), Overwrite: ptr(true), Type: ptr(ssm.TypeSecureString)})
		if p := f.get("/keep/type"); p.Type != ssm.TypeSecureString || p.Value != "secret" {
			t.Errorf("got %q %q, want SecureString secret", p.Type, p.Value)
		}
		f.overwrite("/keep/type", "secret2")
		out, err := f.svc.GetParameter(f.ctx, f.c, &ssm.GetParameterInput{Name: ptr("/keep/type")})
		wantOK(t, err)
		if out.Parameter.Type != ssm.TypeSecureString || out.Parameter.Value == "secret2" || out.Parameter.Value == "" {
			t.Errorf("got %q %q, want SecureString with a ciphertext", out.Parameter.Type, out.Parameter.Value)
		}
		if p := f.get("/keep/type"); p.Value != "secret2" {
			t.Errorf("got %q decrypted, want secret2", p.Value)
		}
	})
	t.Run("tags kept, labels stay on their versions", func(t *testing.T) {
		f := f.at(t)
		f.put(&ssm.PutParameterInput{Name: ptr("/keep/tags"), Value: ptr("v1"), Type: ptr(ssm.TypeString), Tags: []ssm.Tag{{Key: ptr("env"), Value: ptr("prod")}}})
		f.label("/keep/tags", 1, "first")
		f.overwrite("/keep/tags", "v2")
		tags, err := f.svc.ListTagsForResource(f.ctx, f.c, &ssm.TagsInput{ResourceType: ptr("Parameter"), ResourceId: ptr("/keep/tags")})
		wantOK(t, err)
		if diff := mismatch([]ssm.TagPair{{Key: "env", Value: "prod"}}, tags.TagList); diff != "" {
			t.Errorf("tags: %s", diff)
		}
		if diff := mismatch(map[int64][]string{1: {"first"}, 2: {}}, f.labelsByVersion("/keep/tags")); diff != "" {
			t.Errorf("labels: %s", diff)
		}
	})
}

func TestPutParameterAllowedPattern(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, pattern, value, typ string
		wantCode, wantMsg         string
	}{
		{"full match required", `\d+`, "12a", ssm.TypeString, ssm.CodePatternMismatch, `Parameter value, cannot be validated against allowedPattern: \d+`},
		{"prefix does not suffice", `abc`, "abcd", ssm.TypeString, ssm.CodePatternMismatch, "Parameter value, cannot be validated against allowedPattern: abc"},
		{"match", `\d{1,4}`, "1234", ssm.TypeString, "", ""},
		{"alternation is grouped", `a|b`, "ab", ssm.TypeString, ssm.CodePatternMismatch, "Parameter value, cannot be validated against allowedPattern: a|b"},
		{"secure string", `.{8,20}`, "short", ssm.TypeSecureString, ssm.CodePatternMismatch, "Parameter value, cannot be validated against allowedPattern: .{8,20}"},
		{"secure string match", `.{8,20}`, "long enough", ssm.TypeSecureString, "", ""},
		{"string list whole value", `[a-z,]+`, "a,b,c", ssm.TypeStringList, "", ""},
		{"java lookahead", `(?=.*\d)\w+`, "abc1", ssm.TypeString, "", ""},
		{"invalid pattern", `([`, "x", ssm.TypeString, ssm.CodeInvalidAllowedPattern, "The request doesn't meet the regular expression requirement."},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.at(t)
			_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr(fmt.Sprintf("/pat/p%d", i)), Value: ptr(tt.value), Type: ptr(tt.typ), AllowedPattern: ptr(tt.pattern)})
			if tt.wantCode == "" {
				wantOK(t, err)
				return
			}
			wantErr(t, err, tt.wantCode, tt.wantMsg)
		})
	}
}

// TestPutParameterVersionRetention is the 100-version rule of spec §8.1
// with AWS's limit: the 101st version evicts the oldest, unless the oldest
// carries a label.
func TestPutParameterVersionRetention(t *testing.T) {
	f := newFixture(t)
	if got := service.DefaultLimits().MaxVersions; got != 100 {
		t.Fatalf("got default MaxVersions %d, want AWS's 100", got)
	}
	f.putString("/ver/p", "v1")
	for i := 2; i <= 100; i++ {
		f.overwrite("/ver/p", fmt.Sprintf("v%d", i))
	}
	if got := len(f.history("/ver/p")); got != 100 {
		t.Fatalf("got %d versions, want 100 retained", got)
	}
	// Version 101 silently evicts version 1.
	if v := f.overwrite("/ver/p", "v101"); v != 101 {
		t.Fatalf("got version %d, want 101", v)
	}
	msgV1 := "Systems Manager could not find version 1 of /ver/p. Verify the version and try again."
	wantErr(t, f.getErr("/ver/p:1"), ssm.CodeParameterVersionNotFound, msgV1)
	_, err := f.svc.LabelParameterVersion(f.ctx, f.c, &ssm.LabelInput{Name: ptr("/ver/p"), ParameterVersion: ptr[int64](1), Labels: []string{"old"}})
	wantErr(t, err, ssm.CodeParameterVersionNotFound, msgV1)
	if got := f.get("/ver/p:2").Value; got != "v2" {
		t.Errorf("got version 2 value %q, want v2", got)
	}
	hist := f.history("/ver/p")
	if len(hist) != 100 || hist[0].Version != 2 || hist[99].Version != 101 {
		t.Fatalf("got %d versions from %d, want 100 versions 2..101", len(hist), hist[0].Version)
	}

	// A labelled oldest version blocks the put, and nothing changes.
	f.label("/ver/p", 2, "keep")
	_, err = f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/ver/p"), Value: ptr("v102"), Overwrite: ptr(true)})
	wantErr(t, err, ssm.CodeMaxVersionLimitExceeded, "You attempted to create a new version of /ver/p by calling the PutParameter API with the overwrite flag. Version 2, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.")
	if p := f.get("/ver/p"); p.Version != 101 || p.Value != "v101" {
		t.Errorf("got version %d %q, want 101 v101 unchanged", p.Version, p.Value)
	}
	if got := f.get("/ver/p:keep").Value; got != "v2" {
		t.Errorf("got %q by label, want v2", got)
	}
	// A label on a newer version does not block.
	f.label("/ver/p", 50, "keep")
	if v := f.overwrite("/ver/p", "v102"); v != 102 {
		t.Fatalf("got version %d, want 102", v)
	}
	wantErr(t, f.getErr("/ver/p:2"), ssm.CodeParameterVersionNotFound, "Systems Manager could not find version 2 of /ver/p. Verify the version and try again.")
	if got := f.get("/ver/p:keep").Value; got != "v50" {
		t.Errorf("got %q by moved label, want v50", got)
	}
}

// TestPutParameterVersionLimit checks the same rule with a configured
// limit, and that the name in the message is the stored spelling.
func TestPutParameterVersionLimit(t *testing.T) {
	f := newFixture(t, func(l *service.Limits) { l.MaxVersions = 3 })
	f.putString("/lim", "v1")
	f.overwrite("lim", "v2")
	f.overwrite("lim", "v3")
	f.label("lim", 1, "a")
	_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("lim"), Value: ptr("v4"), Overwrite: ptr(true)})
	wantErr(t, err, ssm.CodeMaxVersionLimitExceeded, "You attempted to create a new version of /lim by calling the PutParameter API with the overwrite flag. Version 1, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.")
	_, err = f.svc.UnlabelParameterVersion(f.ctx, f.c, &ssm.LabelInput{Name: ptr("lim"), ParameterVersion: ptr[int64](1), Labels: []string{"a"}})
	wantOK(t, err)
	f.overwrite("lim", "v4")
	var got []int64
	for _, h := range f.history("lim") {
		got = append(got, h.Version)
	}
	if diff := mismatch([]int64{2, 3, 4}, got); diff != "" {
		t.Errorf("retained versions: %s", diff)
	}
}

func TestPutParameterTiers(t *testing.T) {
	f := newFixture(t, func(l *service.Limits) { l.StandardParameters = 3 })
	pol := `[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"20","Unit":"Days"}}]`
	tests := []struct {
		name  string
		in    ssm.PutParameterInput
		want  string
		setup func(f *fixture)
	}{
		{"intelligent small", ssm.PutParameterInput{Name: ptr("/tier/small"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierIntelligent)}, ssm.TierStandard, nil},
		{"intelligent large", ssm.PutParameterInput{Name: ptr("/tier/large"), Value: ptr(repeat("x", 4097)), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierIntelligent)}, ssm.TierAdvanced, nil},
		{"intelligent policies", ssm.PutParameterInput{Name: ptr("/tier/pol"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierIntelligent), Policies: ptr(pol)}, ssm.TierAdvanced, nil},
		{"intelligent keeps advanced", ssm.PutParameterInput{Name: ptr("/tier/large"), Value: ptr("small now"), Overwrite: ptr(true), Tier: ptr(ssm.TierIntelligent)}, ssm.TierAdvanced, nil},
		{"absent keeps advanced", ssm.PutParameterInput{Name: ptr("/tier/large"), Value: ptr("small again"), Overwrite: ptr(true)}, ssm.TierAdvanced, nil},
		{"upgrade", ssm.PutParameterInput{Name: ptr("/tier/small"), Value: ptr("v"), Overwrite: ptr(true), Tier: ptr(ssm.TierAdvanced)}, ssm.TierAdvanced, nil},
		{"explicit standard", ssm.PutParameterInput{Name: ptr("/tier/std"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierStandard)}, ssm.TierStandard, nil},
		{"intelligent with standard quota full", ssm.PutParameterInput{Name: ptr("/tier/overflow"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierIntelligent)}, ssm.TierAdvanced,
			func(f *fixture) { f.putString("/tier/fill1", "v"); f.putString("/tier/fill2", "v") }},
		{"intelligent overwrite with quota full stays standard", ssm.PutParameterInput{Name: ptr("/tier/std"), Value: ptr("w"), Overwrite: ptr(true), Tier: ptr(ssm.TierIntelligent)}, ssm.TierStandard, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.at(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			out, err := f.svc.PutParameter(f.ctx, f.c, &tt.in)
			wantOK(t, err)
			if out.Tier != tt.want {
				t.Errorf("got tier %q, want %q", out.Tier, tt.want)
			}
			if md := f.describeOne(*tt.in.Name); md.Tier != tt.want {
				t.Errorf("got described tier %q, want %q", md.Tier, tt.want)
			}
		})
	}
	t.Run("no downgrade", func(t *testing.T) {
		f := f.at(t)
		_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/tier/large"), Value: ptr("v"), Overwrite: ptr(true), Tier: ptr(ssm.TierStandard)})
		wantErr(t, err, ssm.CodeValidation, msgDowngrade)
		if md := f.describeOne("/tier/large"); md.Tier != ssm.TierAdvanced || md.Version != 3 {
			t.Errorf("got tier %q version %d, want Advanced 3 unchanged", md.Tier, md.Version)
		}
	})
	t.Run("policies on standard", func(t *testing.T) {
		f := f.at(t)
		_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/tier/stdpol"), Value: ptr("v"), Type: ptr(ssm.TypeString), Policies: ptr(pol)})
		wantErr(t, err, ssm.CodeValidation, "You can't assign parameter policies to a standard-parameter tier.")
	})
}

// TestPutParameterDefaultTier: without a Tier, the tenancy's
// default-parameter-tier setting decides, with the same rules.
func TestPutParameterDefaultTier(t *testing.T) {
	const setting = "/ssm/parameter-store/default-parameter-tier"
	tests := []struct {
		name, setting string
		value         string
		want          string
	}{
		{"advanced", ssm.TierAdvanced, "v", ssm.TierAdvanced},
		{"intelligent small", ssm.TierIntelligent, "v", ssm.TierStandard},
		{"intelligent large", ssm.TierIntelligent, repeat("x", 4097), ssm.TierAdvanced},
		{"standard refuses large", ssm.TierStandard, repeat("x", 4097), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.svc.UpdateServiceSetting(f.ctx, f.c, &ssm.SettingInput{SettingId: ptr(setting), SettingValue: ptr(tt.setting)})
			wantOK(t, err)
			out, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/dt/p"), Value: ptr(tt.value), Type: ptr(ssm.TypeString)})
			if tt.want == "" {
				wantErr(t, err, ssm.CodeValidation, "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html")
				return
			}
			wantOK(t, err)
			if out.Tier != tt.want {
				t.Errorf("got tier %q, want %q", out.Tier, tt.want)
			}
			// The setting is per region.
			out, err = f.svc.PutParameter(f.ctx, callerIn("eu-west-1"), &ssm.PutParameterInput{Name: ptr("/dt/p"), Value: ptr(tt.value), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierIntelligent)})
			wantOK(t, err)
			if want := map[bool]string{true: ssm.TierAdvanced, false: ssm.TierStandard}[len(tt.value) > 4096]; out.Tier != want {
				t.Errorf("eu-west-1: got tier %q, want %q", out.Tier, want)
			}
		})
	}
	t.Run("explicit standard on advanced default", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.svc.UpdateServiceSetting(f.ctx, f.c, &ssm.SettingInput{SettingId: ptr(setting), SettingValue: ptr(ssm.TierAdvanced)})
		wantOK(t, err)
		out := f.put(&ssm.PutParameterInput{Name: ptr("/dt/std"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierStandard)})
		if out.Tier != ssm.TierStandard {
			t.Errorf("got tier %q, want Standard", out.Tier)
		}
		// An Advanced parameter overwritten without a Tier stays Advanced,
		// whatever the default.
		f.put(&ssm.PutParameterInput{Name: ptr("/dt/adv"), Value: ptr("v"), Type: ptr(ssm.TypeString)})
		_, err = f.svc.ResetServiceSetting(f.ctx, f.c, &ssm.SettingInput{SettingId: ptr(setting)})
		wantOK(t, err)
		if out := f.put(&ssm.PutParameterInput{Name: ptr("/dt/adv"), Value: ptr("w"), Overwrite: ptr(true)}); out.Tier != ssm.TierAdvanced {
			t.Errorf("got tier %q after reset, want Advanced kept", out.Tier)
		}
	})
}

func TestPutParameterQuota(t *testing.T) {
	f := newFixture(t, func(l *service.Limits) {
		l.StandardParameters = 2
		l.AdvancedParameters = 1
	})
	msgStd := "You have reached the maximum number of standard parameters for this AWS account and Region (2). To add more parameters, either delete existing parameters or upgrade to the advanced-parameter tier (charges apply)."
	msgAdv := "You have reached the maximum number of advanced parameters for this AWS account and Region (1)."
	f.putString("/q/a", "v")
	f.putString("q-root", "v")
	_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/q/c"), Value: ptr("v"), Type: ptr(ssm.TypeString)})
	wantErr(t, err, ssm.CodeParameterLimitExceeded, msgStd)

	// Overwrites do not count; other regions have their own quota.
	f.overwrite("/q/a", "w")
	_, err = f.svc.PutParameter(f.ctx, callerIn("eu-west-1"), &ssm.PutParameterInput{Name: ptr("/q/c"), Value: ptr("v"), Type: ptr(ssm.TypeString)})
	wantOK(t, err)

	f.put(&ssm.PutParameterInput{Name: ptr("/q/adv1"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierAdvanced)})
	_, err = f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/q/adv2"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierAdvanced)})
	wantErr(t, err, ssm.CodeParameterLimitExceeded, msgAdv)

	// Deleting frees a slot.
	_, err = f.svc.DeleteParameter(f.ctx, f.c, &ssm.NameInput{Name: ptr("/q/a")})
	wantOK(t, err)
	f.putString("/q/c", "v")
	// Upgrading a Standard parameter needs an Advanced slot.
	_, err = f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/q/c"), Value: ptr("v"), Overwrite: ptr(true), Tier: ptr(ssm.TierAdvanced)})
	wantErr(t, err, ssm.CodeParameterLimitExceeded, msgAdv)
	if md := f.describeOne("/q/c"); md.Tier != ssm.TierStandard || md.Version != 1 {
		t.Errorf("got tier %q version %d, want Standard 1 unchanged", md.Tier, md.Version)
	}
}

func TestPutParameterDataType(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, typ         string
		dataType          *string
		value             string
		wantCode, wantMsg string
		wantDT            string
	}{
		{"default text", ssm.TypeString, nil, "v", "", "", "text"},
		{"explicit text", ssm.TypeSecureString, ptr("text"), "v", "", "", "text"},
		{"ec2 image", ssm.TypeString, ptr("aws:ec2:image"), "ami-0123456789abcdef0", "", "", "aws:ec2:image"},
		{"ec2 image short id", ssm.TypeString, ptr("aws:ec2:image"), "ami-12345678", "", "", "aws:ec2:image"},
		{"ec2 image bad id", ssm.TypeString, ptr("aws:ec2:image"), "ami-xyz", ssm.CodeValidation, "Parameter value, ami-xyz, is not a valid image ID for data type aws:ec2:image.", ""},
		{"ec2 image upper hex", ssm.TypeString, ptr("aws:ec2:image"), "ami-ABCDEF12", ssm.CodeValidation, "Parameter value, ami-ABCDEF12, is not a valid image ID for data type aws:ec2:image.", ""},
		{"ec2 image string list", ssm.TypeStringList, ptr("aws:ec2:image"), "ami-12345678", ssm.CodeValidation, "The aws:ec2:image data type is not supported for the following input type: StringList", ""},
		{"ec2 image secure", ssm.TypeSecureString, ptr("aws:ec2:image"), "ami-12345678", ssm.CodeValidation, "The aws:ec2:image data type is not supported for the following input type: SecureString", ""},
		{"integration", ssm.TypeSecureString, ptr("aws:ssm:integration"), `{"url":"https://x"}`, "", "", "aws:ssm:integration"},
		{"empty is text", ssm.TypeString, ptr(""), "v", "", "", "text"},
		{"upper case", ssm.TypeString, ptr("Text"), "v", ssm.CodeValidation, "The following data type is not supported: Text (Data type names are all lowercase.)", ""},
		{"unknown", ssm.TypeString, ptr("number"), "v", ssm.CodeValidation, "The following data type is not supported: number (Data type names are all lowercase.)", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.at(t)
			name := fmt.Sprintf("/dt/p%d", i)
			_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: &name, Value: ptr(tt.value), Type: ptr(tt.typ), DataType: tt.dataType})
			if tt.wantCode != "" {
				wantErr(t, err, tt.wantCode, tt.wantMsg)
				return
			}
			wantOK(t, err)
			if got := f.get(name).DataType; got != tt.wantDT {
				t.Errorf("got DataType %q, want %q", got, tt.wantDT)
			}
		})
	}
	t.Run("the recorded message does not echo the value", func(t *testing.T) {
		_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/dt/secret"), Value: ptr("ami-s3cret"), Type: ptr(ssm.TypeString), DataType: ptr("aws:ec2:image")})
		wantErr(t, err, ssm.CodeValidation, "Parameter value, ami-s3cret, is not a valid image ID for data type aws:ec2:image.")
		if got := ssm.AsError(err).RecordedMessage(); got != "Parameter value, (value not recorded), is not a valid image ID for data type aws:ec2:image." {
			t.Errorf("got recorded message %q, want it without the value", got)
		}
	})
	t.Run("kept on overwrite", func(t *testing.T) {
		f := f.at(t)
		f.put(&ssm.PutParameterInput{Name: ptr("/dt/keep"), Value: ptr("ami-12345678"), Type: ptr(ssm.TypeString), DataType: ptr("aws:ec2:image")})
		_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/dt/keep"), Value: ptr("not-an-ami"), Overwrite: ptr(true)})
		wantErr(t, err, ssm.CodeValidation, "Parameter value, not-an-ami, is not a valid image ID for data type aws:ec2:image.")
	})
}

func TestPutParameterPolicies(t *testing.T) {
	f := newFixture(t)
	exp := `{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2099-12-02T21:34:33.000Z"}}`
	noChange := `{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"20","Unit":"Days"}}`
	eleven := "[" + strings.TrimSuffix(strings.Repeat(noChange+",", 11), ",") + "]"
	ten := "[" + strings.TrimSuffix(strings.Repeat(noChange+",", 10), ",") + "]"
	tests := []struct {
		name, policies    string
		wantCode, wantMsg string
	}{
		{"not an array", `{"Type":"Expiration"}`, ssm.CodeInvalidPolicyAttribute, "Invalid policies input"},
		{"not json", `nope`, ssm.CodeInvalidPolicyAttribute, "Invalid policies input"},
		{"array of non-objects", `[1]`, ssm.CodeInvalidPolicyAttribute, "Invalid policies input"},
		{"null element", `[null]`, ssm.CodeInvalidPolicyAttribute, "Invalid policies input"},
		{"eleven policies", eleven, ssm.CodePoliciesLimitExceeded, "Number of policies attached to a parameter cannot exceed 10"},
		{"unknown type", `[{"Type":"Rotation","Version":"1.0","Attributes":{}}]`, ssm.CodeInvalidPolicyType, "Policy type Rotation is not supported."},
		{"type is case-sensitive", `[{"Type":"expiration","Version":"1.0","Attributes":{"Timestamp":"2099-12-02T21:34:33.000Z"}}]`, ssm.CodeInvalidPolicyType, "Policy type expiration is not supported."},
		{"bad version", `[{"Type":"Expiration","Version":"2.0","Attributes":{"Timestamp":"2099-12-02T21:34:33.000Z"}}]`, ssm.CodeInvalidPolicyAttribute, "Unsupported policy version."},
		{"attributes missing", `[{"Type":"Expiration","Version":"1.0"}]`, ssm.CodeInvalidPolicyAttribute, "Mandatory policy attribute Attributes is missing."},
		{"timestamp missing", `[{"Type":"Expiration","Version":"1.0","Attributes":{}}]`, ssm.CodeInvalidPolicyAttribute, "A valid Expiration policy must have an attribute of Timestamp."},
		{"before missing", `[` + exp + `,{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Unit":"Days"}}]`, ssm.CodeInvalidPolicyAttribute, "Mandatory policy attribute Before is missing."},
		{"unit missing", `[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"2"}}]`, ssm.CodeInvalidPolicyAttribute, "Mandatory policy attribute Unit is missing."},
		{"bad timestamp", `[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"tomorrow"}}]`, ssm.CodeInvalidPolicyAttribute, "Invalid timestamp format"},
		{"after zero", `[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"0","Unit":"Days"}}]`, ssm.CodeInvalidPolicyAttribute, "Attribute After must be a positive integer."},
		{"before not a number", `[` + exp + `,{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"soon","Unit":"Days"}}]`, ssm.CodeInvalidPolicyAttribute, "Attribute Before must be a positive integer."},
		{"bad unit", `[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"2","Unit":"Weeks"}}]`, ssm.CodeInvalidPolicyAttribute, "Supported time units: DAYS HOURS"},
		{"two expirations", `[` + exp + `,` + exp + `]`, ssm.CodeIncompatiblePolicy, "There can be only one expiration policy"},
		{"notification without expiration", `[{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"15","Unit":"Days"}}]`, ssm.CodeIncompatiblePolicy, "Expiration notification policies are missing expiration policy"},
		{"first failure wins", `[{"Type":"Rotation","Version":"1.0","Attributes":{}},{"Type":"Expiration","Version":"2.0","Attributes":{}}]`, ssm.CodeInvalidPolicyType, "Policy type Rotation is not supported."},
		{"ten policies", ten, "", ""},
		{"all three", `[` + exp + `,{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":15,"Unit":"hours"}},` + noChange + `]`, "", ""},
		{"offset timestamp", `[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2019-11-01T22:13:48.87+10:30"}}]`, "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.at(t)
			name := fmt.Sprintf("/pol/p%d", i)
			_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: &name, Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierAdvanced), Policies: ptr(tt.policies)})
			if tt.wantCode != "" {
				wantErr(t, err, tt.wantCode, tt.wantMsg)
				wantErr(t, f.getErr(name), ssm.CodeParameterNotFound, "")
				return
			}
			wantOK(t, err)
			h := f.history(name)
			want := strings.Count(tt.policies, `"Type"`)
			if len(h) != 1 || len(h[0].Policies) != want {
				t.Fatalf("got history %+v, want one version with %d policies", h, want)
			}
			for _, p := range h[0].Policies {
				if p.PolicyStatus != "Pending" || p.PolicyType == "" || strings.ContainsAny(p.PolicyText, " \n") {
					t.Errorf("got policy %+v, want a compact text, a type and status Pending", p)
				}
			}
		})
	}

	t.Run("kept, replaced and cleared", func(t *testing.T) {
		f := f.at(t)
		pol := "[" + exp + "]"
		f.put(&ssm.PutParameterInput{Name: ptr("/pol/keep"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tier: ptr(ssm.TierAdvanced), Policies: ptr(`[ ` + exp + ` ]`)})
		if out := f.put(&ssm.PutParameterInput{Name: ptr("/pol/keep"), Value: ptr("w"), Overwrite: ptr(true)}); out.Tier != ssm.TierAdvanced {
			t.Errorf("got tier %q, want Advanced kept", out.Tier)
		}
		md := f.describeOne("/pol/keep")
		want := []ssm.ParameterInlinePolicy{{PolicyText: exp, PolicyType: "Expiration", PolicyStatus: "Pending"}}
		if diff := mismatch(want, md.Policies); diff != "" {
			t.Errorf("kept policies: %s", diff)
		}
		f.put(&ssm.PutParameterInput{Name: ptr("/pol/keep"), Value: ptr("x"), Overwrite: ptr(true), Policies: ptr("[" + noChange + "]")})
		want = []ssm.ParameterInlinePolicy{{PolicyText: noChange, PolicyType: "NoChangeNotification", PolicyStatus: "Pending"}}
		if diff := mismatch(want, f.describeOne("/pol/keep").Policies); diff != "" {
			t.Errorf("replaced policies: %s", diff)
		}
		for _, clear := range []string{"[{}]", "[]"} {
			f.put(&ssm.PutParameterInput{Name: ptr("/pol/keep"), Value: ptr("x"), Overwrite: ptr(true), Policies: ptr(clear)})
			if got := f.describeOne("/pol/keep").Policies; got == nil || len(got) != 0 {
				t.Errorf("after Policies=%s: got %+v, want an empty list", clear, got)
			}
			f.put(&ssm.PutParameterInput{Name: ptr("/pol/keep"), Value: ptr("x"), Overwrite: ptr(true), Policies: ptr(pol)})
		}
		// Policies are history: each version keeps its own.
		h := f.history("/pol/keep")
		var counts []int
		for _, v := range h {
			counts = append(counts, len(v.Policies))
		}
		if diff := mismatch([]int{1, 1, 1, 0, 1, 0, 1}, counts); diff != "" {
			t.Errorf("policies per version: %s", diff)
		}
	})
	t.Run("empty policies on standard are no policies", func(t *testing.T) {
		f := f.at(t)
		out := f.put(&ssm.PutParameterInput{Name: ptr("/pol/none"), Value: ptr("v"), Type: ptr(ssm.TypeString), Policies: ptr("[{}]")})
		if out.Tier != ssm.TierStandard {
			t.Errorf("got tier %q, want Standard", out.Tier)
		}
	})
}

func TestPutParameterRegions(t *testing.T) {
	f := newFixture(t)
	eu := f.as(callerIn("eu-west-1"))
	f.putString("/region/p", "east")
	wantErr(t, eu.getErr("/region/p"), ssm.CodeParameterNotFound, "")
	if out := eu.put(&ssm.PutParameterInput{Name: ptr("/region/p"), Value: ptr("west"), Type: ptr(ssm.TypeString)}); out.Version != 1 {
		t.Fatalf("got version %d in eu-west-1, want 1", out.Version)
	}
	if got := eu.get("/region/p").ARN; got != "arn:aws:ssm:eu-west-1:123456789012:parameter/region/p" {
		t.Errorf("got ARN %q", got)
	}
	if got := f.get("/region/p").Value; got != "east" {
		t.Errorf("got us-east-1 value %q, want east", got)
	}
	// An ARN of another region names nothing in this one.
	wantErr(t, f.getErr("arn:aws:ssm:eu-west-1:123456789012:parameter/region/p"), ssm.CodeParameterNotFound, "")

	for _, tt := range []struct{ region, partition string }{{"cn-north-1", "aws-cn"}, {"us-gov-west-1", "aws-us-gov"}} {
		t.Run(tt.region, func(t *testing.T) {
			g := f.at(t).as(callerIn(tt.region))
			g.putString("rootp", "v")
			want := "arn:" + tt.partition + ":ssm:" + tt.region + ":123456789012:parameter/rootp"
			if got := g.get("rootp").ARN; got != want {
				t.Errorf("got ARN %q, want %q", got, want)
			}
			if md := g.describe(); len(md) != 1 || md[0].ARN != want {
				t.Errorf("got %+v, want one item with ARN %q", md, want)
			}
		})
	}
}

func TestPutParameterSecureStringKeys(t *testing.T) {
	f := newFixture(t)
	key, err := f.svc.CreateKey(f.ctx, f.c, "alias/myapp", "")
	wantOK(t, err)
	if !strings.HasPrefix(key.ARN, "arn:aws:kms:us-east-1:123456789012:key/") {
		t.Fatalf("got key ARN %q, want a KMS key ARN", key.ARN)
	}
	id := key.KeyID
	tests := []struct {
		name              string
		keyID             *string
		wantKey           string
		wantCode, wantMsg string
	}{
		{"default", nil, "alias/aws/ssm", "", ""},
		{"default alias", ptr("alias/aws/ssm"), "alias/aws/ssm", "", ""},
		{"named alias", ptr("alias/myapp"), "alias/myapp", "", ""},
		{"named key id", ptr(id), id, "", ""},
		{"named key ARN", ptr(key.ARN), key.ARN, "", ""},
		{"named alias ARN", ptr("arn:aws:kms:us-east-1:123456789012:alias/myapp"), "arn:aws:kms:us-east-1:123456789012:alias/myapp", "", ""},
		{"unknown alias", ptr("alias/nope"), "", ssm.CodeInvalidKeyID, "Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found."},
		{"unknown key id", ptr("0f0e0d0c-0000-4000-8000-000000000000"), "", ssm.CodeInvalidKeyID, "Key 'arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0000-4000-8000-000000000000' does not exist"},
		{"key ARN of another region", ptr("arn:aws:kms:eu-west-1:123456789012:key/" + id), "", ssm.CodeInvalidKeyID, "Key 'arn:aws:kms:eu-west-1:123456789012:key/" + id + "' does not exist"},
		{"alias ARN of another account", ptr("arn:aws:kms:us-east-1:210987654321:alias/myapp"), "", ssm.CodeInvalidKeyID, "Alias arn:aws:kms:us-east-1:210987654321:alias/myapp is not found."},
		{"ARN of another service", ptr("arn:aws:s3:::bucket"), "", ssm.CodeInvalidKeyID, "Invalid keyId arn:aws:s3:::bucket"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.at(t)
			name := fmt.Sprintf("/keys/p%d", i)
			_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: &name, Value: ptr("secret" + name), Type: ptr(ssm.TypeSecureString), KeyId: tt.keyID})
			if tt.wantCode != "" {
				wantErr(t, err, tt.wantCode, tt.wantMsg)
				return
			}
			wantOK(t, err)
			if got := f.get(name).Value; got != "secret"+name {
				t.Errorf("got %q, want the plaintext", got)
			}
			if got := f.describeOne(name).KeyId; got != tt.wantKey {
				t.Errorf("got KeyId %q, want %q", got, tt.wantKey)
			}
		})
	}
	t.Run("keys are per region", func(t *testing.T) {
		_, err := f.svc.PutParameter(f.ctx, callerIn("eu-west-1"), &ssm.PutParameterInput{Name: ptr("/keys/eu"), Value: ptr("v"), Type: ptr(ssm.TypeSecureString), KeyId: ptr("alias/myapp")})
		wantErr(t, err, ssm.CodeInvalidKeyID, "Alias arn:aws:kms:eu-west-1:123456789012:alias/myapp is not found.")
	})
	t.Run("overwrite without KeyId uses the default key", func(t *testing.T) {
		f := f.at(t)
		f.put(&ssm.PutParameterInput{Name: ptr("/keys/ow"), Value: ptr("a"), Type: ptr(ssm.TypeSecureString), KeyId: ptr("alias/myapp")})
		f.overwrite("/keys/ow", "b")
		if got := f.describeOne("/keys/ow").KeyId; got != "alias/aws/ssm" {
			t.Errorf("got KeyId %q, want alias/aws/ssm", got)
		}
		if got := f.get("/keys/ow:1").Value; got != "a" {
			t.Errorf("got version 1 %q, want a (still readable with the named key)", got)
		}
	})
	t.Run("KeyId ignored for String", func(t *testing.T) {
		f := f.at(t)
		f.put(&ssm.PutParameterInput{Name: ptr("/keys/str"), Value: ptr("v"), Type: ptr(ssm.TypeString), KeyId: ptr("alias/nope")})
		if got := f.describeOne("/keys/str").KeyId; got != "" {
			t.Errorf("got KeyId %q, want none", got)
		}
	})
	t.Run("ciphertext is bound to its parameter", func(t *testing.T) {
		f := f.at(t)
		f.put(&ssm.PutParameterInput{Name: ptr("/keys/a"), Value: ptr("same"), Type: ptr(ssm.TypeSecureString)})
		f.put(&ssm.PutParameterInput{Name: ptr("/keys/b"), Value: ptr("same"), Type: ptr(ssm.TypeSecureString)})
		a, err := f.svc.GetParameter(f.ctx, f.c, &ssm.GetParameterInput{Name: ptr("/keys/a")})
		wantOK(t, err)
		b, err := f.svc.GetParameter(f.ctx, f.c, &ssm.GetParameterInput{Name: ptr("/keys/b")})
		wantOK(t, err)
		if a.Parameter.Value == b.Parameter.Value || strings.Contains(a.Parameter.Value, "same") {
			t.Errorf("got ciphertexts %q and %q, want two different opaque values", a.Parameter.Value, b.Parameter.Value)
		}
	})
}
