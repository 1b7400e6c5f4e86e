package service_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/ssm"
)

// listFixture builds a small tree:
//
//	/app (a parameter and a path), /app/a (String), /app/b (SecureString),
//	/app/sub/c (StringList, Advanced), /app/sub/deep/d, /apple, root r1, /r2
//
// /app/a has version 2 with label "stable" on version 1.
func listFixture(t *testing.T) *fixture {
	f := newFixture(t)
	f.putString("/app", "app")
	f.put(&ssm.PutParameterInput{Name: ptr("/app/a"), Value: ptr("a1"), Type: ptr(ssm.TypeString), Description: ptr("first"),
		Tags: []ssm.Tag{{Key: ptr("env"), Value: ptr("prod")}, {Key: ptr("team"), Value: ptr("core")}}})
	f.overwrite("/app/a", "a2")
	f.label("/app/a", 1, "stable")
	f.put(&ssm.PutParameterInput{Name: ptr("/app/b"), Value: ptr("b"), Type: ptr(ssm.TypeSecureString),
		Tags: []ssm.Tag{{Key: ptr("env"), Value: ptr("production")}}})
	f.put(&ssm.PutParameterInput{Name: ptr("/app/sub/c"), Value: ptr("c1,c2"), Type: ptr(ssm.TypeStringList), Tier: ptr(ssm.TierAdvanced)})
	f.put(&ssm.PutParameterInput{Name: ptr("/app/sub/deep/d"), Value: ptr("ami-12345678"), Type: ptr(ssm.TypeString), DataType: ptr("aws:ec2:image")})
	f.putString("/apple", "apple")
	f.putString("r1", "r1")
	f.putString("/r2", "r2")
	return f
}

func TestGetParametersByPath(t *testing.T) {
	f := listFixture(t)
	typeFilter := func(option string, values ...string) []ssm.ParameterStringFilter {
		return []ssm.ParameterStringFilter{filter("Type", option, values...)}
	}
	tests := []struct {
		name      string
		in        ssm.GetParametersByPathInput
		want      []string
		wantValue map[string]string
	}{
		{"one level", ssm.GetParametersByPathInput{Path: ptr("/app")}, []string{"/app/a", "/app/b"}, map[string]string{"/app/a": "a2"}},
		{"trailing slash", ssm.GetParametersByPathInput{Path: ptr("/app/")}, []string{"/app/a", "/app/b"}, nil},
		{"recursive", ssm.GetParametersByPathInput{Path: ptr("/app"), Recursive: ptr(true)}, []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d"}, map[string]string{"/app/sub/c": "c1,c2"}},
		{"sub path", ssm.GetParametersByPathInput{Path: ptr("/app/sub")}, []string{"/app/sub/c"}, nil},
		{"root one level", ssm.GetParametersByPathInput{Path: ptr("/")}, []string{"/app", "/apple", "r1", "/r2"}, nil},
		{"root recursive", ssm.GetParametersByPathInput{Path: ptr("/"), Recursive: ptr(true), MaxResults: ptr[int64](10)}, []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d", "/app", "/apple", "r1", "/r2"}, nil},
		{"no such path", ssm.GetParametersByPathInput{Path: ptr("/none")}, []string{}, nil},
		{"a parameter is not its own child", ssm.GetParametersByPathInput{Path: ptr("/app/a")}, []string{}, nil},
		{"public path readable", ssm.GetParametersByPathInput{Path: ptr("/aws/service")}, []string{}, nil},
		{"type filter", ssm.GetParametersByPathInput{Path: ptr("/app"), Recursive: ptr(true), ParameterFilters: typeFilter("", "SecureString", "StringList")}, []string{"/app/b", "/app/sub/c"}, nil},
		{"type filter begins with", ssm.GetParametersByPathInput{Path: ptr("/app"), Recursive: ptr(true), ParameterFilters: typeFilter("BeginsWith", "String")}, []string{"/app/a", "/app/sub/c", "/app/sub/deep/d"}, nil},
		{"key id filter", ssm.GetParametersByPathInput{Path: ptr("/app"), Recursive: ptr(true), ParameterFilters: []ssm.ParameterStringFilter{filter("KeyId", "", "alias/aws/ssm")}}, []string{"/app/b"}, nil},
		{"label filter", ssm.GetParametersByPathInput{Path: ptr("/app"), Recursive: ptr(true), ParameterFilters: []ssm.ParameterStringFilter{filter("Label", "", "stable")}}, []string{"/app/a"}, map[string]string{"/app/a": "a1"}},
		{"label filter with type", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: []ssm.ParameterStringFilter{filter("Label", "", "nope", "stable"), filter("Type", "", "String")}}, []string{"/app/a"}, map[string]string{"/app/a": "a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.svc.GetParametersByPath(f.ctx, f.c, &tt.in)
			wantOK(t, err)
			if diff := mismatch(tt.want, names(out.Parameters)); diff != "" {
				t.Errorf("names: %s", diff)
			}
			if out.NextToken != "" {
				t.Errorf("got NextToken %q, want none", out.NextToken)
			}
			for _, p := range out.Parameters {
				if want, ok := tt.wantValue[p.Name]; ok && p.Value != want {
					t.Errorf("%s: got value %q, want %q", p.Name, p.Value, want)
				}
				if p.Selector != "" || p.ARN != arnPrefix+strings.TrimPrefix(p.Name, "/") || p.LastModifiedDate == nil {
					t.Errorf("%s: got Selector %q ARN %q date %v, want no selector, its ARN and a date", p.Name, p.Selector, p.ARN, p.LastModifiedDate)
				}
			}
		})
	}

	errs := []struct {
		name string
		in   ssm.GetParametersByPathInput
		code string
		msg  string
	}{
		{"no leading slash", ssm.GetParametersByPathInput{Path: ptr("app")}, ssm.CodeValidation, msgPathRequired},
		{"empty segment", ssm.GetParametersByPathInput{Path: ptr("/app//sub")}, ssm.CodeValidation, msgPathRequired},
		{"bad character", ssm.GetParametersByPathInput{Path: ptr("/app/$")}, ssm.CodeValidation, msgPathRequired},
		{"max results 11", ssm.GetParametersByPathInput{Path: ptr("/app"), MaxResults: ptr[int64](11)}, ssm.CodeValidation, "1 validation error detected: Value '11' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10"},
		{"max results 0", ssm.GetParametersByPathInput{Path: ptr("/app"), MaxResults: ptr[int64](0)}, ssm.CodeValidation, "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"name filter", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: []ssm.ParameterStringFilter{filter("Name", "", "x")}}, ssm.CodeInvalidFilterKey, "The following filter key is not valid: Name. Valid filter keys include: [Type, KeyId]."},
		{"path filter", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: []ssm.ParameterStringFilter{filter("Path", "", "/x")}}, ssm.CodeInvalidFilterKey, "The following filter key is not valid: Path. Valid filter keys include: [Type, KeyId]."},
		{"tier filter", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: []ssm.ParameterStringFilter{filter("Tier", "", "Standard")}}, ssm.CodeInvalidFilterKey, "The following filter key is not valid: Tier. Valid filter keys include: [Type, KeyId]."},
		{"data type filter", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: []ssm.ParameterStringFilter{filter("DataType", "", "text")}}, ssm.CodeInvalidFilterKey, "The following filter key is not valid: DataType. Valid filter keys include: [Type, KeyId]."},
		{"tag filter", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: []ssm.ParameterStringFilter{filter("tag:env", "", "prod")}}, ssm.CodeInvalidFilterKey, "The following filter key is not valid: tag:env. Valid filter keys include: [Type, KeyId]."},
		{"duplicate filter", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: append(typeFilter("", "String"), typeFilter("", "String")...)}, ssm.CodeInvalidFilterKey, "The following filter is duplicated in the request: Type. A request can contain only one occurrence of a specific filter."},
		{"label without values", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: []ssm.ParameterStringFilter{{Key: ptr("Label")}}}, ssm.CodeInvalidFilterValue, "The following filter values are missing : null for filter key Label."},
		{"label begins with", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: []ssm.ParameterStringFilter{filter("Label", "BeginsWith", "st")}}, ssm.CodeInvalidFilterOption, "The following filter option is not valid: BeginsWith. Valid options include: [BeginsWith, Equals]."},
		{"type contains", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: typeFilter("Contains", "S")}, ssm.CodeInvalidFilterOption, "The following filter option is not valid: Contains. Valid options include: [BeginsWith, Equals]."},
		{"bad type value", ssm.GetParametersByPathInput{Path: ptr("/app"), ParameterFilters: typeFilter("", "Str")}, ssm.CodeInvalidFilterValue, "The following filter value is not valid: Str. Valid values include: [String, StringList, SecureString]."},
		{"path before filters", ssm.GetParametersByPathInput{Path: ptr("app"), ParameterFilters: typeFilter("", "Str")}, ssm.CodeValidation, msgPathRequired},
		{"garbage token", ssm.GetParametersByPathInput{Path: ptr("/app"), NextToken: ptr("garbage")}, ssm.CodeInvalidNextToken, msgInvalidToken},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.GetParametersByPath(f.ctx, f.c, &tt.in)
			wantErr(t, err, tt.code, tt.msg)
		})
	}
}

// byPathPages follows NextToken and returns every name and the page sizes.
func byPathPages(t *testing.T, f *fixture, in ssm.GetParametersByPathInput) (got []string, sizes []int) {
	t.Helper()
	tokens := map[string]bool{}
	for {
		page, err := f.svc.GetParametersByPath(f.ctx, f.c, &in)
		wantOK(t, err)
		got = append(got, names(page.Parameters)...)
		sizes = append(sizes, len(page.Parameters))
		if page.NextToken == "" {
			return got, sizes
		}
		if tokens[page.NextToken] {
			t.Fatalf("got token %q twice", page.NextToken)
		}
		tokens[page.NextToken] = true
		in.NextToken = &page.NextToken
	}
}

func TestGetParametersByPathPages(t *testing.T) {
	f := newFixture(t)
	var want []string
	for i := 0; i < 25; i++ {
		n := fmt.Sprintf("/many/p%02d", i)
		f.putString(n, "v")
		want = append(want, n)
	}
	f.putString("/many/sub/deeper", "v")
	f.putString("/other/x", "v")

	got, sizes := byPathPages(t, f, ssm.GetParametersByPathInput{Path: ptr("/many")})
	if diff := mismatch(want, got); diff != "" {
		t.Errorf("names: %s", diff)
	}
	if diff := mismatch([]int{10, 10, 5}, sizes); diff != "" {
		t.Errorf("page sizes (default 10): %s", diff)
	}
	got, sizes = byPathPages(t, f, ssm.GetParametersByPathInput{Path: ptr("/many"), Recursive: ptr(true), MaxResults: ptr[int64](7)})
	if diff := mismatch(append(append([]string{}, want...), "/many/sub/deeper"), got); diff != "" {
		t.Errorf("recursive names: %s", diff)
	}
	if diff := mismatch([]int{7, 7, 7, 5}, sizes); diff != "" {
		t.Errorf("recursive page sizes: %s", diff)
	}
	// A last page that is exactly full carries no token.
	if _, sizes = byPathPages(t, f, ssm.GetParametersByPathInput{Path: ptr("/many"), MaxResults: ptr[int64](5)}); mismatch([]int{5, 5, 5, 5, 5}, sizes) != "" {
		t.Errorf("got page sizes %v, want five pages of 5", sizes)
	}
	// Filtered pages fill up with matches only.
	f.put(&ssm.PutParameterInput{Name: ptr("/many/s1"), Value: ptr("v"), Type: ptr(ssm.TypeSecureString)})
	f.put(&ssm.PutParameterInput{Name: ptr("/many/s2"), Value: ptr("v"), Type: ptr(ssm.TypeSecureString)})
	got, sizes = byPathPages(t, f, ssm.GetParametersByPathInput{Path: ptr("/many"), MaxResults: ptr[int64](1), ParameterFilters: []ssm.ParameterStringFilter{filter("Type", "", ssm.TypeSecureString)}})
	if mismatch([]string{"/many/s1", "/many/s2"}, got) != "" || mismatch([]int{1, 1}, sizes) != "" {
		t.Errorf("filtered: got %v in pages %v, want /many/s1 and /many/s2 one a page", got, sizes)
	}

	first, err := f.svc.GetParametersByPath(f.ctx, f.c, &ssm.GetParametersByPathInput{Path: ptr("/many"), MaxResults: ptr[int64](3)})
	wantOK(t, err)
	if first.NextToken == "" {
		t.Fatal("got no token on the first page")
	}
	t.Run("MaxResults may change between pages", func(t *testing.T) {
		out, err := f.svc.GetParametersByPath(f.ctx, f.c, &ssm.GetParametersByPathInput{Path: ptr("/many"), MaxResults: ptr[int64](5), NextToken: &first.NextToken})
		wantOK(t, err)
		if diff := mismatch(want[3:8], names(out.Parameters)); diff != "" {
			t.Errorf("names: %s", diff)
		}
	})
	t.Run("a page resumes after a deleted name", func(t *testing.T) {
		f := f.at(t)
		_, err := f.svc.DeleteParameter(f.ctx, f.c, &ssm.NameInput{Name: ptr(want[2])})
		wantOK(t, err)
		out, err := f.svc.GetParametersByPath(f.ctx, f.c, &ssm.GetParametersByPathInput{Path: ptr("/many"), MaxResults: ptr[int64](2), NextToken: &first.NextToken})
		wantOK(t, err)
		if diff := mismatch(want[3:5], names(out.Parameters)); diff != "" {
			t.Errorf("names: %s", diff)
		}
	})
	desc, err := f.svc.DescribeParameters(f.ctx, f.c, &ssm.DescribeParametersInput{MaxResults: ptr[int64](1)})
	wantOK(t, err)
	bad := []struct {
		name string
		in   ssm.GetParametersByPathInput
		c    string
	}{
		{"tampered", ssm.GetParametersByPathInput{Path: ptr("/many"), NextToken: ptr(tamper(first.NextToken))}, testRegion},
		{"truncated", ssm.GetParametersByPathInput{Path: ptr("/many"), NextToken: ptr(first.NextToken[:len(first.NextToken)-2])}, testRegion},
		{"other path", ssm.GetParametersByPathInput{Path: ptr("/other"), NextToken: &first.NextToken}, testRegion},
		{"other recursive flag", ssm.GetParametersByPathInput{Path: ptr("/many"), Recursive: ptr(true), NextToken: &first.NextToken}, testRegion},
		{"other filters", ssm.GetParametersByPathInput{Path: ptr("/many"), NextToken: &first.NextToken, ParameterFilters: []ssm.ParameterStringFilter{filter("Type", "", "String")}}, testRegion},
		{"other operation", ssm.GetParametersByPathInput{Path: ptr("/many"), NextToken: &desc.NextToken}, testRegion},
		{"other region", ssm.GetParametersByPathInput{Path: ptr("/many"), NextToken: &first.NextToken}, "eu-west-1"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.GetParametersByPath(f.ctx, callerIn(tt.c), &tt.in)
			wantErr(t, err, ssm.CodeInvalidNextToken, msgInvalidToken)
		})
	}
	t.Run("same path spelled with a trailing slash", func(t *testing.T) {
		out, err := f.svc.GetParametersByPath(f.ctx, f.c, &ssm.GetParametersByPathInput{Path: ptr("/many/"), MaxResults: ptr[int64](1), NextToken: &first.NextToken})
		wantOK(t, err)
		if len(out.Parameters) != 1 {
			t.Errorf("got %v, want one parameter", names(out.Parameters))
		}
	})
}

func TestDescribeParameters(t *testing.T) {
	f := listFixture(t)
	// Listings are in byte order of the canonical names: root names carry
	// no slash there, so hierarchical names come first.
	all := []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d", "/app", "/apple", "r1", "/r2"}
	tests := []struct {
		name    string
		filters []ssm.ParameterStringFilter
		want    []string
	}{
		{"no filter", nil, all},
		{"name equals", []ssm.ParameterStringFilter{filter("Name", "", "/app/a")}, []string{"/app/a"}},
		{"name equals root without slash", []ssm.ParameterStringFilter{filter("Name", "Equals", "r2")}, []string{"/r2"}},
		{"name equals root with slash", []ssm.ParameterStringFilter{filter("Name", "Equals", "/r1")}, []string{"r1"}},
		{"name begins with", []ssm.ParameterStringFilter{filter("Name", "BeginsWith", "/app/")}, []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d"}},
		{"name begins with root slash", []ssm.ParameterStringFilter{filter("Name", "BeginsWith", "/r")}, []string{"r1", "/r2"}},
		{"name begins with mid segment", []ssm.ParameterStringFilter{filter("Name", "BeginsWith", "/app/s")}, []string{"/app/sub/c", "/app/sub/deep/d"}},
		{"name begins with whole name", []ssm.ParameterStringFilter{filter("Name", "BeginsWith", "/app/sub/c")}, []string{"/app/sub/c"}},
		{"name begins with nothing", []ssm.ParameterStringFilter{filter("Name", "BeginsWith", "/app/zz")}, []string{}},
		{"name equals hierarchical", []ssm.ParameterStringFilter{filter("Name", "Equals", "/app/sub")}, []string{}},
		{"name begins with and path", []ssm.ParameterStringFilter{filter("Name", "BeginsWith", "/app/sub/"), filter("Path", "OneLevel", "/app/sub")}, []string{"/app/sub/c"}},
		{"name contains", []ssm.ParameterStringFilter{filter("Name", "Contains", "pp")}, []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d", "/app", "/apple"}},
		{"name several values", []ssm.ParameterStringFilter{filter("Name", "Equals", "/apple", "r1", "/none")}, []string{"/apple", "r1"}},
		{"path one level", []ssm.ParameterStringFilter{filter("Path", "", "/app")}, []string{"/app/a", "/app/b"}},
		{"path one level explicit", []ssm.ParameterStringFilter{filter("Path", "OneLevel", "/app/sub")}, []string{"/app/sub/c"}},
		{"path recursive", []ssm.ParameterStringFilter{filter("Path", "Recursive", "/app")}, []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d"}},
		{"path root", []ssm.ParameterStringFilter{filter("Path", "OneLevel", "/")}, []string{"/app", "/apple", "r1", "/r2"}},
		{"path two values", []ssm.ParameterStringFilter{filter("Path", "OneLevel", "/app/sub", "/app/sub/deep")}, []string{"/app/sub/c", "/app/sub/deep/d"}},
		{"path root and another", []ssm.ParameterStringFilter{filter("Path", "OneLevel", "/", "/app/sub")}, []string{"/app/sub/c", "/app", "/apple", "r1", "/r2"}},
		{"type equals", []ssm.ParameterStringFilter{filter("Type", "Equals", "StringList")}, []string{"/app/sub/c"}},
		{"type begins with", []ssm.ParameterStringFilter{filter("Type", "BeginsWith", "String")}, []string{"/app/a", "/app/sub/c", "/app/sub/deep/d", "/app", "/apple", "r1", "/r2"}},
		{"key id equals", []ssm.ParameterStringFilter{filter("KeyId", "Equals", "alias/aws/ssm")}, []string{"/app/b"}},
		{"key id begins with", []ssm.ParameterStringFilter{filter("KeyId", "BeginsWith", "alias/")}, []string{"/app/b"}},
		{"tier equals", []ssm.ParameterStringFilter{filter("Tier", "Equals", "Advanced")}, []string{"/app/sub/c"}},
		{"tier begins with", []ssm.ParameterStringFilter{filter("Tier", "BeginsWith", "Standard")}, []string{"/app/a", "/app/b", "/app/sub/deep/d", "/app", "/apple", "r1", "/r2"}},
		{"data type equals", []ssm.ParameterStringFilter{filter("DataType", "Equals", "aws:ec2:image")}, []string{"/app/sub/deep/d"}},
		{"data type begins with", []ssm.ParameterStringFilter{filter("DataType", "BeginsWith", "text")}, []string{"/app/a", "/app/b", "/app/sub/c", "/app", "/apple", "r1", "/r2"}},
		{"tag equals", []ssm.ParameterStringFilter{filter("tag:env", "Equals", "prod")}, []string{"/app/a"}},
		{"tag begins with", []ssm.ParameterStringFilter{filter("tag:env", "BeginsWith", "prod")}, []string{"/app/a", "/app/b"}},
		{"tag exists", []ssm.ParameterStringFilter{{Key: ptr("tag:team")}}, []string{"/app/a"}},
		{"filters are and-ed", []ssm.ParameterStringFilter{filter("Path", "Recursive", "/app"), filter("Type", "Equals", "String"), filter("tag:env", "BeginsWith", "p")}, []string{"/app/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := mismatch(tt.want, metaNames(f.at(t).describe(tt.filters...))); diff != "" {
				t.Errorf("names: %s", diff)
			}
		})
	}

	deprecated := []struct {
		name    string
		filters []ssm.ParametersFilter
		want    []string
	}{
		{"name prefix", []ssm.ParametersFilter{{Key: ptr("Name"), Values: []string{"/app/s"}}}, []string{"/app/sub/c", "/app/sub/deep/d"}},
		{"type", []ssm.ParametersFilter{{Key: ptr("Type"), Values: []string{"SecureString"}}}, []string{"/app/b"}},
		{"key id", []ssm.ParametersFilter{{Key: ptr("KeyId"), Values: []string{"alias/aws/ssm"}}}, []string{"/app/b"}},
	}
	for _, tt := range deprecated {
		t.Run("deprecated "+tt.name, func(t *testing.T) {
			out, err := f.svc.DescribeParameters(f.ctx, f.c, &ssm.DescribeParametersInput{Filters: tt.filters})
			wantOK(t, err)
			if diff := mismatch(tt.want, metaNames(out.Parameters)); diff != "" {
				t.Errorf("names: %s", diff)
			}
		})
	}

	t.Run("metadata", func(t *testing.T) {
		out, err := f.svc.DescribeParameters(f.ctx, f.c, &ssm.DescribeParametersInput{ParameterFilters: []ssm.ParameterStringFilter{filter("Name", "Equals", "/app/a", "/app/b", "/app/sub/c")}})
		wantOK(t, err)
		type meta struct {
			Name, ARN, KeyID, Desc, User, DataType, Type, Tier string
			Version                                            int64
			Policies                                           []ssm.ParameterInlinePolicy
			Modified                                           int64
		}
		var got []meta
		for _, p := range out.Parameters {
			got = append(got, meta{p.Name, p.ARN, p.KeyId, p.Description, p.LastModifiedUser, p.DataType, p.Type, p.Tier, p.Version, p.Policies, time.Time(p.LastModifiedDate).UnixMilli()})
		}
		ms := testNow.UnixMilli()
		none := []ssm.ParameterInlinePolicy{}
		want := []meta{
			{"/app/a", arnPrefix + "app/a", "", "first", testUser, "text", ssm.TypeString, ssm.TierStandard, 2, none, ms},
			{"/app/b", arnPrefix + "app/b", "alias/aws/ssm", "", testUser, "text", ssm.TypeSecureString, ssm.TierStandard, 1, none, ms},
			{"/app/sub/c", arnPrefix + "app/sub/c", "", "", testUser, "text", ssm.TypeStringList, ssm.TierAdvanced, 1, none, ms},
		}
		if diff := mismatch(want, got); diff != "" {
			t.Errorf("metadata: %s", diff)
		}
	})

	t.Run("shared", func(t *testing.T) {
		out, err := f.svc.DescribeParameters(f.ctx, f.c, &ssm.DescribeParametersInput{Shared: ptr(true)})
		wantOK(t, err)
		if out.Parameters == nil || len(out.Parameters) != 0 || out.NextToken != "" {
			t.Errorf("got %+v, want no shared parameters", out)
		}
	})

	t.Run("pages", func(t *testing.T) {
		pages := func(in ssm.DescribeParametersInput) (got []string, sizes []int) {
			t.Helper()
			for {
				page, err := f.svc.DescribeParameters(f.ctx, f.c, &in)
				wantOK(t, err)
				got = append(got, metaNames(page.Parameters)...)
				sizes = append(sizes, len(page.Parameters))
				if page.NextToken == "" {
					return got, sizes
				}
				in.NextToken = &page.NextToken
			}
		}
		got, sizes := pages(ssm.DescribeParametersInput{MaxResults: ptr[int64](3)})
		if diff := mismatch(all, got); diff != "" {
			t.Errorf("names: %s", diff)
		}
		if diff := mismatch([]int{3, 3, 2}, sizes); diff != "" {
			t.Errorf("sizes: %s", diff)
		}
		// A last page that is exactly full carries no token.
		if _, sizes = pages(ssm.DescribeParametersInput{MaxResults: ptr[int64](4)}); mismatch([]int{4, 4}, sizes) != "" {
			t.Errorf("got sizes %v, want [4 4]", sizes)
		}
		// A bounded Name prefix and a Path filter page the same way.
		got, sizes = pages(ssm.DescribeParametersInput{MaxResults: ptr[int64](1), ParameterFilters: []ssm.ParameterStringFilter{filter("Name", "BeginsWith", "/app/s")}})
		if mismatch([]string{"/app/sub/c", "/app/sub/deep/d"}, got) != "" || mismatch([]int{1, 1}, sizes) != "" {
			t.Errorf("name prefix: got %v in pages %v", got, sizes)
		}
		got, _ = pages(ssm.DescribeParametersInput{MaxResults: ptr[int64](1), ParameterFilters: []ssm.ParameterStringFilter{filter("Path", "OneLevel", "/")}})
		if diff := mismatch([]string{"/app", "/apple", "r1", "/r2"}, got); diff != "" {
			t.Errorf("root one level: %s", diff)
		}

		recursiveApp := []ssm.ParameterStringFilter{filter("Path", "Recursive", "/app")}
		first, err := f.svc.DescribeParameters(f.ctx, f.c, &ssm.DescribeParametersInput{MaxResults: ptr[int64](2), ParameterFilters: recursiveApp})
		wantOK(t, err)
		if first.NextToken == "" {
			t.Fatal("got no token")
		}
		for _, in := range []*ssm.DescribeParametersInput{
			{NextToken: &first.NextToken},
			{NextToken: &first.NextToken, ParameterFilters: recursiveApp, Shared: ptr(true)},
			{NextToken: ptr(tamper(first.NextToken)), ParameterFilters: recursiveApp},
		} {
			_, err := f.svc.DescribeParameters(f.ctx, f.c, in)
			wantErr(t, err, ssm.CodeInvalidNextToken, msgInvalidToken)
		}
		next, err := f.svc.DescribeParameters(f.ctx, f.c, &ssm.DescribeParametersInput{MaxResults: ptr[int64](50), NextToken: &first.NextToken, ParameterFilters: recursiveApp})
		wantOK(t, err)
		if diff := mismatch([]string{"/app/sub/c", "/app/sub/deep/d"}, metaNames(next.Parameters)); diff != "" {
			t.Errorf("second page: %s", diff)
		}
	})

	t.Run("default page size", func(t *testing.T) {
		f := f.at(t)
		for i := 0; i < 5; i++ {
			f.putString(fmt.Sprintf("/more/p%d", i), "v")
		}
		out, err := f.svc.DescribeParameters(f.ctx, f.c, &ssm.DescribeParametersInput{})
		wantOK(t, err)
		if len(out.Parameters) != 10 || out.NextToken == "" {
			t.Errorf("got %d items, token %q, want 10 and a token", len(out.Parameters), out.NextToken)
		}
	})
}

func TestDescribeParametersErrors(t *testing.T) {
	f := newFixture(t)
	commonPath := `Filters for common parameters can't be prefixed with "aws" or "ssm" (case-insensitive). When using global parameters, please specify within a global namespace.`
	psf := func(fs ...ssm.ParameterStringFilter) ssm.DescribeParametersInput {
		return ssm.DescribeParametersInput{ParameterFilters: fs}
	}
	tests := []struct {
		name string
		in   ssm.DescribeParametersInput
		code string
		msg  string
	}{
		{"label key", psf(filter("Label", "", "x")), ssm.CodeInvalidFilterKey, "The following filter key is not valid: Label. Valid filter keys include: [Path, Name, Type, KeyId, Tier]."},
		{"duplicate key", psf(filter("Name", "", "a"), filter("Name", "", "b")), ssm.CodeInvalidFilterKey, "The following filter is duplicated in the request: Name. A request can contain only one occurrence of a specific filter."},
		{"missing values", psf(ssm.ParameterStringFilter{Key: ptr("Name")}), ssm.CodeInvalidFilterValue, "The following filter values are missing : null for filter key Name."},
		{"missing path values", psf(ssm.ParameterStringFilter{Key: ptr("Path")}), ssm.CodeInvalidFilterValue, "The following filter values are missing : null for filter key Path."},
		{"path option", psf(filter("Path", "Equals", "/a")), ssm.CodeInvalidFilterOption, "The following filter option is not valid: Equals. Valid options include: [Recursive, OneLevel]."},
		{"type contains", psf(filter("Type", "Contains", "S")), ssm.CodeInvalidFilterOption, "The following filter option is not valid: Contains. Valid options include: [BeginsWith, Equals]."},
		{"tag contains", psf(filter("tag:k", "Contains", "S")), ssm.CodeInvalidFilterOption, "The following filter option is not valid: Contains. Valid options include: [BeginsWith, Equals]."},
		{"name option", psf(filter("Name", "Like", "x")), ssm.CodeInvalidFilterOption, "The following filter option is not valid: Like. Valid options include: [BeginsWith, Equals]."},
		{"aws path", psf(filter("Path", "", "/aws/service")), ssm.CodeValidation, commonPath},
		{"ssm path any case", psf(filter("Path", "Recursive", "/SSM")), ssm.CodeValidation, commonPath},
		{"path without slash", psf(filter("Path", "", "app")), ssm.CodeValidation, msgPathRequired},
		{"path empty segment", psf(filter("Path", "", "/a//b")), ssm.CodeValidation, msgPathRequired},
		{"tier value", psf(filter("Tier", "", "Gold")), ssm.CodeInvalidFilterValue, "The following filter value is not valid: Gold. Valid values include: [Standard, Advanced, Intelligent-Tiering]."},
		{"type value", psf(filter("Type", "", "string")), ssm.CodeInvalidFilterValue, "The following filter value is not valid: string. Valid values include: [String, StringList, SecureString]."},
		{"type prefix is not a type", psf(filter("Type", "BeginsWith", "Secure")), ssm.CodeInvalidFilterValue, "The following filter value is not valid: Secure. Valid values include: [String, StringList, SecureString]."},
		{"data type value", psf(filter("DataType", "", "Text")), ssm.CodeInvalidFilterValue, "The following filter value is not valid: Text. Valid values include: [text, aws:ec2:image, aws:ssm:integration]."},
		{"first failure wins", psf(filter("Tier", "", "Gold"), filter("Label", "", "x")), ssm.CodeInvalidFilterValue, "The following filter value is not valid: Gold. Valid values include: [Standard, Advanced, Intelligent-Tiering]."},
		{"both filter kinds", ssm.DescribeParametersInput{Filters: []ssm.ParametersFilter{{Key: ptr("Name"), Values: []string{"a"}}}, ParameterFilters: []ssm.ParameterStringFilter{filter("Name", "", "a")}}, ssm.CodeValidation, "You can use either Filters or ParameterFilters in a single request."},
		{"model violations aggregated", psf(filter("Name", "over 10 chars", "a"), filter("key", "", "a")), ssm.CodeValidation,
			"2 validation errors detected: Value 'over 10 chars' at 'parameterFilters.1.member.option' failed to satisfy constraint: Member must have length less than or equal to 10; Value 'key' at 'parameterFilters.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: tag:.+|Name|Type|KeyId|Path|Label|Tier|DataType"},
		{"deprecated key enum", ssm.DescribeParametersInput{Filters: []ssm.ParametersFilter{{Key: ptr("Path"), Values: []string{"/a"}}}}, ssm.CodeValidation,
			"1 validation error detected: Value 'Path' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [Name, Type, KeyId]"},
		{"max results 51", ssm.DescribeParametersInput{MaxResults: ptr[int64](51)}, ssm.CodeValidation, "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"garbage token", ssm.DescribeParametersInput{NextToken: ptr("garbage")}, ssm.CodeInvalidNextToken, msgInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.DescribeParameters(f.ctx, f.c, &tt.in)
			wantErr(t, err, tt.code, tt.msg)
		})
	}
}
