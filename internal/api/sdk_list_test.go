package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// listFixture builds a small tree:
//
//	/app (a parameter and a path), /app/a (String), /app/b (SecureString),
//	/app/sub/c (StringList, Advanced), /app/sub/deep/d, /apple, root r1, /r2
//
// /app/a has version 2 with label "stable" on version 1.
func listFixture(t *testing.T) *env {
	e := newEnv(t)
	e.putString("/app", "app")
	e.put(&ssm.PutParameterInput{Name: aws.String("/app/a"), Value: aws.String("a1"), Type: types.ParameterTypeString, Description: aws.String("first"),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("core")}}})
	e.overwrite("/app/a", "a2")
	if _, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/app/a"), ParameterVersion: aws.Int64(1), Labels: []string{"stable"}}); err != nil {
		t.Fatal(err)
	}
	e.put(&ssm.PutParameterInput{Name: aws.String("/app/b"), Value: aws.String("b"), Type: types.ParameterTypeSecureString,
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("production")}}})
	e.put(&ssm.PutParameterInput{Name: aws.String("/app/sub/c"), Value: aws.String("c1,c2"), Type: types.ParameterTypeStringList, Tier: types.ParameterTierAdvanced})
	e.put(&ssm.PutParameterInput{Name: aws.String("/app/sub/deep/d"), Value: aws.String("ami-12345678"), Type: types.ParameterTypeString, DataType: aws.String("aws:ec2:image")})
	e.putString("/apple", "apple")
	e.putString("r1", "r1")
	e.putString("/r2", "r2")
	return e
}

func TestSDKGetParametersByPath(t *testing.T) {
	e := listFixture(t)
	tests := []struct {
		name      string
		in        ssm.GetParametersByPathInput
		want      []string
		wantValue map[string]string
	}{
		{"one level", ssm.GetParametersByPathInput{Path: aws.String("/app")}, []string{"/app/a", "/app/b"}, map[string]string{"/app/a": "a2"}},
		{"trailing slash", ssm.GetParametersByPathInput{Path: aws.String("/app/")}, []string{"/app/a", "/app/b"}, nil},
		{"recursive", ssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true)}, []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d"}, map[string]string{"/app/sub/c": "c1,c2"}},
		{"sub path", ssm.GetParametersByPathInput{Path: aws.String("/app/sub")}, []string{"/app/sub/c"}, nil},
		{"root one level", ssm.GetParametersByPathInput{Path: aws.String("/")}, []string{"/app", "/apple", "r1", "/r2"}, nil},
		{"root recursive", ssm.GetParametersByPathInput{Path: aws.String("/"), Recursive: aws.Bool(true), MaxResults: aws.Int32(10)}, []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d", "/app", "/apple", "r1", "/r2"}, nil},
		{"no such path", ssm.GetParametersByPathInput{Path: aws.String("/none")}, []string{}, nil},
		{"public path readable", ssm.GetParametersByPathInput{Path: aws.String("/aws/service")}, []string{}, nil},
		{"type filter", ssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Type"), Values: []string{"SecureString", "StringList"}}}}, []string{"/app/b", "/app/sub/c"}, nil},
		{"type filter begins with", ssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Type"), Option: aws.String("BeginsWith"), Values: []string{"String"}}}}, []string{"/app/a", "/app/sub/c", "/app/sub/deep/d"}, nil},
		{"key id filter", ssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("KeyId"), Values: []string{"alias/aws/ssm"}}}}, []string{"/app/b"}, nil},
		{"label filter", ssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Label"), Values: []string{"stable"}}}}, []string{"/app/a"}, map[string]string{"/app/a": "a1"}},
		{"label filter with type", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Label"), Values: []string{"nope", "stable"}}, {Key: aws.String("Type"), Values: []string{"String"}}}}, []string{"/app/a"}, map[string]string{"/app/a": "a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			out, err := e.c.GetParametersByPath(e.ctx, &tt.in)
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if diff := mismatch(tt.want, names(out.Parameters)); diff != "" {
				t.Errorf("names: %s", diff)
			}
			if out.NextToken != nil {
				t.Errorf("got NextToken %q, want none", aws.ToString(out.NextToken))
			}
			for _, p := range out.Parameters {
				if want, ok := tt.wantValue[aws.ToString(p.Name)]; ok && aws.ToString(p.Value) != want {
					t.Errorf("%s: got value %q, want %q", aws.ToString(p.Name), aws.ToString(p.Value), want)
				}
				if p.Selector != nil || p.ARN == nil || p.LastModifiedDate == nil {
					t.Errorf("%s: got Selector %v ARN %v date %v, want no selector, an ARN and a date", aws.ToString(p.Name), p.Selector, p.ARN, p.LastModifiedDate)
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
		{"no leading slash", ssm.GetParametersByPathInput{Path: aws.String("app")}, "ValidationException", msgPathRequired},
		{"empty segment", ssm.GetParametersByPathInput{Path: aws.String("/app//sub")}, "ValidationException", msgPathRequired},
		{"bad character", ssm.GetParametersByPathInput{Path: aws.String("/app/$")}, "ValidationException", msgPathRequired},
		{"max results 11", ssm.GetParametersByPathInput{Path: aws.String("/app"), MaxResults: aws.Int32(11)}, "ValidationException", "1 validation error detected: Value '11' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10"},
		{"max results 0", ssm.GetParametersByPathInput{Path: aws.String("/app"), MaxResults: aws.Int32(0)}, "ValidationException", "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"name filter", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{"x"}}}}, "InvalidFilterKey", "The following filter key is not valid: Name. Valid filter keys include: [Type, KeyId]."},
		{"path filter", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Path"), Values: []string{"/x"}}}}, "InvalidFilterKey", "The following filter key is not valid: Path. Valid filter keys include: [Type, KeyId]."},
		{"tier filter", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Tier"), Values: []string{"Standard"}}}}, "InvalidFilterKey", "The following filter key is not valid: Tier. Valid filter keys include: [Type, KeyId]."},
		{"data type filter", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("DataType"), Values: []string{"text"}}}}, "InvalidFilterKey", "The following filter key is not valid: DataType. Valid filter keys include: [Type, KeyId]."},
		{"tag filter", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("tag:env"), Values: []string{"prod"}}}}, "InvalidFilterKey", "The following filter key is not valid: tag:env. Valid filter keys include: [Type, KeyId]."},
		{"duplicate filter", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Type"), Values: []string{"String"}}, {Key: aws.String("Type"), Values: []string{"String"}}}}, "InvalidFilterKey", "The following filter is duplicated in the request: Type. A request can contain only one occurrence of a specific filter."},
		{"label without values", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Label")}}}, "InvalidFilterValue", "The following filter values are missing : null for filter key Label."},
		{"label begins with", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Label"), Option: aws.String("BeginsWith"), Values: []string{"st"}}}}, "InvalidFilterOption", "The following filter option is not valid: BeginsWith. Valid options include: [BeginsWith, Equals]."},
		{"type contains", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Type"), Option: aws.String("Contains"), Values: []string{"S"}}}}, "InvalidFilterOption", "The following filter option is not valid: Contains. Valid options include: [BeginsWith, Equals]."},
		{"bad type value", ssm.GetParametersByPathInput{Path: aws.String("/app"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Type"), Values: []string{"Str"}}}}, "InvalidFilterValue", "The following filter value is not valid: Str. Valid values include: [String, StringList, SecureString]."},
		{"garbage token", ssm.GetParametersByPathInput{Path: aws.String("/app"), NextToken: aws.String("garbage")}, "InvalidNextToken", msgInvalidToken},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			var rec recorder
			_, err := e.c.GetParametersByPath(e.ctx, &tt.in, rec.with)
			wantError(t, &rec, err, tt.code, tt.msg)
		})
	}
}

func TestSDKGetParametersByPathPages(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := 0; i < 25; i++ {
		n := fmt.Sprintf("/many/p%02d", i)
		e.putString(n, "v")
		want = append(want, n)
	}
	e.putString("/many/sub/deeper", "v")
	e.putString("/other/x", "v")

	var got []string
	var sizes []int
	tokens := map[string]bool{}
	pg := ssm.NewGetParametersByPathPaginator(e.c, &ssm.GetParametersByPathInput{Path: aws.String("/many")})
	for pg.HasMorePages() {
		page, err := pg.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, names(page.Parameters)...)
		sizes = append(sizes, len(page.Parameters))
		if page.NextToken != nil {
			if *page.NextToken == "" || tokens[*page.NextToken] {
				t.Errorf("got token %q, want a fresh non-empty token", *page.NextToken)
			}
			tokens[*page.NextToken] = true
		}
	}
	if diff := mismatch(want, got); diff != "" {
		t.Errorf("names: %s", diff)
	}
	if diff := mismatch([]int{10, 10, 5}, sizes); diff != "" {
		t.Errorf("page sizes (default 10): %s", diff)
	}

	first, err := e.c.GetParametersByPath(e.ctx, &ssm.GetParametersByPathInput{Path: aws.String("/many"), MaxResults: aws.Int32(3)})
	if err != nil || first.NextToken == nil {
		t.Fatalf("got %v %v, want a first page with a token", first, err)
	}
	t.Run("MaxResults may change between pages", func(t *testing.T) {
		e := e.at(t)
		out, err := e.c.GetParametersByPath(e.ctx, &ssm.GetParametersByPathInput{Path: aws.String("/many"), MaxResults: aws.Int32(5), NextToken: first.NextToken})
		if err != nil {
			t.Fatal(err)
		}
		if diff := mismatch(want[3:8], names(out.Parameters)); diff != "" {
			t.Errorf("names: %s", diff)
		}
	})
	desc, err := e.c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{MaxResults: aws.Int32(1)})
	if err != nil || desc.NextToken == nil {
		t.Fatalf("got %v %v, want a DescribeParameters token", desc, err)
	}
	bad := []struct {
		name string
		in   ssm.GetParametersByPathInput
	}{
		{"tampered", ssm.GetParametersByPathInput{Path: aws.String("/many"), NextToken: aws.String(tamper(*first.NextToken))}},
		{"truncated", ssm.GetParametersByPathInput{Path: aws.String("/many"), NextToken: aws.String((*first.NextToken)[:len(*first.NextToken)-2])}},
		{"other path", ssm.GetParametersByPathInput{Path: aws.String("/other"), NextToken: first.NextToken}},
		{"other recursive flag", ssm.GetParametersByPathInput{Path: aws.String("/many"), Recursive: aws.Bool(true), NextToken: first.NextToken}},
		{"other filters", ssm.GetParametersByPathInput{Path: aws.String("/many"), NextToken: first.NextToken, ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Type"), Values: []string{"String"}}}}},
		{"other operation", ssm.GetParametersByPathInput{Path: aws.String("/many"), NextToken: desc.NextToken}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			_, err := e.c.GetParametersByPath(e.ctx, &tt.in)
			wantAPIError(t, err, "InvalidNextToken", msgInvalidToken)
		})
	}
	t.Run("other region", func(t *testing.T) {
		e := e.at(t)
		_, err := e.client("eu-west-1").GetParametersByPath(e.ctx, &ssm.GetParametersByPathInput{Path: aws.String("/many"), NextToken: first.NextToken})
		wantAPIError(t, err, "InvalidNextToken", msgInvalidToken)
	})
	t.Run("recursive pages", func(t *testing.T) {
		e := e.at(t)
		var got []string
		pg := ssm.NewGetParametersByPathPaginator(e.c, &ssm.GetParametersByPathInput{Path: aws.String("/many"), Recursive: aws.Bool(true), MaxResults: aws.Int32(7)})
		for pg.HasMorePages() {
			page, err := pg.NextPage(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, names(page.Parameters)...)
		}
		if diff := mismatch(append(append([]string{}, want...), "/many/sub/deeper"), got); diff != "" {
			t.Errorf("names: %s", diff)
		}
	})
}

func TestSDKDescribeParameters(t *testing.T) {
	e := listFixture(t)
	f := func(key, option string, values ...string) types.ParameterStringFilter {
		pf := types.ParameterStringFilter{Key: aws.String(key), Values: values}
		if option != "" {
			pf.Option = aws.String(option)
		}
		return pf
	}
	// Listings are in byte order of the canonical names: root names carry
	// no slash there, so hierarchical names come first.
	all := []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d", "/app", "/apple", "r1", "/r2"}
	tests := []struct {
		name    string
		filters []types.ParameterStringFilter
		want    []string
	}{
		{"no filter", nil, all},
		{"name equals", []types.ParameterStringFilter{f("Name", "", "/app/a")}, []string{"/app/a"}},
		{"name equals root without slash", []types.ParameterStringFilter{f("Name", "Equals", "r2")}, []string{"/r2"}},
		{"name equals root with slash", []types.ParameterStringFilter{f("Name", "Equals", "/r1")}, []string{"r1"}},
		{"name begins with", []types.ParameterStringFilter{f("Name", "BeginsWith", "/app/")}, []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d"}},
		{"name begins with root slash", []types.ParameterStringFilter{f("Name", "BeginsWith", "/r")}, []string{"r1", "/r2"}},
		// Hierarchical prefixes bound the scan (no Path filter): mid-segment,
		// a whole name, nothing, and combined with a Path filter.
		{"name begins with mid segment", []types.ParameterStringFilter{f("Name", "BeginsWith", "/app/s")}, []string{"/app/sub/c", "/app/sub/deep/d"}},
		{"name begins with whole name", []types.ParameterStringFilter{f("Name", "BeginsWith", "/app/sub/c")}, []string{"/app/sub/c"}},
		{"name begins with no match", []types.ParameterStringFilter{f("Name", "BeginsWith", "/app/zz")}, []string{}},
		{"name equals hierarchical", []types.ParameterStringFilter{f("Name", "Equals", "/app/sub")}, []string{}},
		{"name begins with and path", []types.ParameterStringFilter{f("Name", "BeginsWith", "/app/sub/"), f("Path", "OneLevel", "/app/sub")}, []string{"/app/sub/c"}},
		{"name contains", []types.ParameterStringFilter{f("Name", "Contains", "pp")}, []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d", "/app", "/apple"}},
		{"name several values", []types.ParameterStringFilter{f("Name", "Equals", "/apple", "r1", "/none")}, []string{"/apple", "r1"}},
		{"path one level", []types.ParameterStringFilter{f("Path", "", "/app")}, []string{"/app/a", "/app/b"}},
		{"path one level explicit", []types.ParameterStringFilter{f("Path", "OneLevel", "/app/sub")}, []string{"/app/sub/c"}},
		{"path recursive", []types.ParameterStringFilter{f("Path", "Recursive", "/app")}, []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d"}},
		{"path root", []types.ParameterStringFilter{f("Path", "OneLevel", "/")}, []string{"/app", "/apple", "r1", "/r2"}},
		{"path two values", []types.ParameterStringFilter{f("Path", "OneLevel", "/app/sub", "/app/sub/deep")}, []string{"/app/sub/c", "/app/sub/deep/d"}},
		{"type equals", []types.ParameterStringFilter{f("Type", "Equals", "StringList")}, []string{"/app/sub/c"}},
		{"type begins with", []types.ParameterStringFilter{f("Type", "BeginsWith", "String")}, []string{"/app/a", "/app/sub/c", "/app/sub/deep/d", "/app", "/apple", "r1", "/r2"}},
		{"key id equals", []types.ParameterStringFilter{f("KeyId", "Equals", "alias/aws/ssm")}, []string{"/app/b"}},
		{"key id begins with", []types.ParameterStringFilter{f("KeyId", "BeginsWith", "alias/")}, []string{"/app/b"}},
		{"tier equals", []types.ParameterStringFilter{f("Tier", "Equals", "Advanced")}, []string{"/app/sub/c"}},
		{"tier begins with", []types.ParameterStringFilter{f("Tier", "BeginsWith", "Standard")}, []string{"/app/a", "/app/b", "/app/sub/deep/d", "/app", "/apple", "r1", "/r2"}},
		{"data type equals", []types.ParameterStringFilter{f("DataType", "Equals", "aws:ec2:image")}, []string{"/app/sub/deep/d"}},
		{"data type begins with", []types.ParameterStringFilter{f("DataType", "BeginsWith", "text")}, []string{"/app/a", "/app/b", "/app/sub/c", "/app", "/apple", "r1", "/r2"}},
		{"tag equals", []types.ParameterStringFilter{f("tag:env", "Equals", "prod")}, []string{"/app/a"}},
		{"tag begins with", []types.ParameterStringFilter{f("tag:env", "BeginsWith", "prod")}, []string{"/app/a", "/app/b"}},
		{"tag exists", []types.ParameterStringFilter{{Key: aws.String("tag:team")}}, []string{"/app/a"}},
		{"filters are and-ed", []types.ParameterStringFilter{f("Path", "Recursive", "/app"), f("Type", "Equals", "String"), f("tag:env", "BeginsWith", "p")}, []string{"/app/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			got := metaNames(e.describeAll(tt.filters...))
			if diff := mismatch(tt.want, got); diff != "" {
				t.Errorf("names: %s", diff)
			}
		})
	}

	deprecated := []struct {
		name    string
		filters []types.ParametersFilter
		want    []string
	}{
		{"name prefix", []types.ParametersFilter{{Key: types.ParametersFilterKeyName, Values: []string{"/app/s"}}}, []string{"/app/sub/c", "/app/sub/deep/d"}},
		{"type", []types.ParametersFilter{{Key: types.ParametersFilterKeyType, Values: []string{"SecureString"}}}, []string{"/app/b"}},
		{"key id", []types.ParametersFilter{{Key: types.ParametersFilterKeyKeyId, Values: []string{"alias/aws/ssm"}}}, []string{"/app/b"}},
	}
	for _, tt := range deprecated {
		t.Run("deprecated "+tt.name, func(t *testing.T) {
			e := e.at(t)
			out, err := e.c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{Filters: tt.filters})
			if err != nil {
				t.Fatal(err)
			}
			if diff := mismatch(tt.want, metaNames(out.Parameters)); diff != "" {
				t.Errorf("names: %s", diff)
			}
		})
	}

	t.Run("metadata", func(t *testing.T) {
		e := e.at(t)
		var rec recorder
		out, err := e.c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Name", "Equals", "/app/a", "/app/b")}}, rec.with)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Parameters) != 2 {
			t.Fatalf("got %d items, want 2", len(out.Parameters))
		}
		a, b := out.Parameters[0], out.Parameters[1]
		type meta struct {
			Name, ARN, KeyID, Desc, User, DataType string
			Type                                   types.ParameterType
			Tier                                   types.ParameterTier
			Version                                int64
			Policies                               int
		}
		got := []meta{
			{aws.ToString(a.Name), aws.ToString(a.ARN), aws.ToString(a.KeyId), aws.ToString(a.Description), aws.ToString(a.LastModifiedUser), aws.ToString(a.DataType), a.Type, a.Tier, a.Version, len(a.Policies)},
			{aws.ToString(b.Name), aws.ToString(b.ARN), aws.ToString(b.KeyId), aws.ToString(b.Description), aws.ToString(b.LastModifiedUser), aws.ToString(b.DataType), b.Type, b.Tier, b.Version, len(b.Policies)},
		}
		user := "arn:aws:iam::123456789012:user/AKIDTEST"
		want := []meta{
			{"/app/a", arnPrefix + "app/a", "", "first", user, "text", types.ParameterTypeString, types.ParameterTierStandard, 2, 0},
			{"/app/b", arnPrefix + "app/b", "alias/aws/ssm", "", user, "text", types.ParameterTypeSecureString, types.ParameterTierStandard, 1, 0},
		}
		if diff := mismatch(want, got); diff != "" {
			t.Errorf("metadata: %s", diff)
		}
		body := string(rec.body)
		if strings.Contains(body, `"Value"`) || strings.Count(body, `"Policies":[]`) != 2 || a.LastModifiedDate == nil {
			t.Errorf("got body %s, want no values and empty Policies lists", body)
		}
	})

	t.Run("shared", func(t *testing.T) {
		e := e.at(t)
		out, err := e.c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{Shared: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Parameters) != 0 || out.NextToken != nil {
			t.Errorf("got %+v, want no shared parameters", out)
		}
	})

	t.Run("pages", func(t *testing.T) {
		e := e.at(t)
		var got []string
		var sizes []int
		pg := ssm.NewDescribeParametersPaginator(e.c, &ssm.DescribeParametersInput{MaxResults: aws.Int32(3)})
		for pg.HasMorePages() {
			page, err := pg.NextPage(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, metaNames(page.Parameters)...)
			sizes = append(sizes, len(page.Parameters))
		}
		if diff := mismatch(all, got); diff != "" {
			t.Errorf("names: %s", diff)
		}
		if diff := mismatch([]int{3, 3, 2}, sizes); diff != "" {
			t.Errorf("sizes: %s", diff)
		}
		// A last page that is exactly full carries no token.
		sizes = nil
		pg = ssm.NewDescribeParametersPaginator(e.c, &ssm.DescribeParametersInput{MaxResults: aws.Int32(4)})
		for pg.HasMorePages() {
			page, err := pg.NextPage(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(page.Parameters))
		}
		if diff := mismatch([]int{4, 4}, sizes); diff != "" {
			t.Errorf("sizes: %s", diff)
		}
		first, err := e.c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{MaxResults: aws.Int32(2), ParameterFilters: []types.ParameterStringFilter{f("Path", "Recursive", "/app")}})
		if err != nil || first.NextToken == nil {
			t.Fatalf("got %v %v, want a token", first, err)
		}
		for _, in := range []*ssm.DescribeParametersInput{
			{NextToken: first.NextToken},
			{NextToken: first.NextToken, ParameterFilters: []types.ParameterStringFilter{f("Path", "Recursive", "/app")}, Shared: aws.Bool(true)},
			{NextToken: aws.String(tamper(*first.NextToken)), ParameterFilters: []types.ParameterStringFilter{f("Path", "Recursive", "/app")}},
		} {
			_, err := e.c.DescribeParameters(e.ctx, in)
			wantAPIError(t, err, "InvalidNextToken", msgInvalidToken)
		}
		next, err := e.c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{MaxResults: aws.Int32(50), NextToken: first.NextToken, ParameterFilters: []types.ParameterStringFilter{f("Path", "Recursive", "/app")}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := mismatch([]string{"/app/sub/c", "/app/sub/deep/d"}, metaNames(next.Parameters)); diff != "" {
			t.Errorf("second page: %s", diff)
		}
	})

	t.Run("default page size", func(t *testing.T) {
		e := e.at(t)
		for i := 0; i < 5; i++ {
			e.putString(fmt.Sprintf("/more/p%d", i), "v")
		}
		out, err := e.c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Parameters) != 10 || out.NextToken == nil {
			t.Errorf("got %d items, token %v, want 10 and a token", len(out.Parameters), out.NextToken)
		}
	})
}

func TestSDKDescribeParametersErrors(t *testing.T) {
	e := newEnv(t)
	f := func(key, option string, values ...string) types.ParameterStringFilter {
		pf := types.ParameterStringFilter{Key: aws.String(key), Values: values}
		if option != "" {
			pf.Option = aws.String(option)
		}
		return pf
	}
	commonPath := `Filters for common parameters can't be prefixed with "aws" or "ssm" (case-insensitive). When using global parameters, please specify within a global namespace.`
	tests := []struct {
		name string
		in   ssm.DescribeParametersInput
		code string
		msg  string
	}{
		{"label key", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Label", "", "x")}}, "InvalidFilterKey", "The following filter key is not valid: Label. Valid filter keys include: [Path, Name, Type, KeyId, Tier]."},
		{"duplicate key", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Name", "", "a"), f("Name", "", "b")}}, "InvalidFilterKey", "The following filter is duplicated in the request: Name. A request can contain only one occurrence of a specific filter."},
		{"missing values", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name")}}}, "InvalidFilterValue", "The following filter values are missing : null for filter key Name."},
		{"missing path values", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Path")}}}, "InvalidFilterValue", "The following filter values are missing : null for filter key Path."},
		{"path option", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Path", "Equals", "/a")}}, "InvalidFilterOption", "The following filter option is not valid: Equals. Valid options include: [Recursive, OneLevel]."},
		{"type contains", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Type", "Contains", "S")}}, "InvalidFilterOption", "The following filter option is not valid: Contains. Valid options include: [BeginsWith, Equals]."},
		{"tag contains", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("tag:k", "Contains", "S")}}, "InvalidFilterOption", "The following filter option is not valid: Contains. Valid options include: [BeginsWith, Equals]."},
		{"name option", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Name", "Like", "x")}}, "InvalidFilterOption", "The following filter option is not valid: Like. Valid options include: [BeginsWith, Equals]."},
		{"aws path", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Path", "", "/aws/service")}}, "ValidationException", commonPath},
		{"ssm path any case", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Path", "Recursive", "/SSM")}}, "ValidationException", commonPath},
		{"path without slash", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Path", "", "app")}}, "ValidationException", msgPathRequired},
		{"path empty segment", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Path", "", "/a//b")}}, "ValidationException", msgPathRequired},
		{"tier value", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Tier", "", "Gold")}}, "InvalidFilterValue", "The following filter value is not valid: Gold. Valid values include: [Standard, Advanced, Intelligent-Tiering]."},
		{"type value", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Type", "", "string")}}, "InvalidFilterValue", "The following filter value is not valid: string. Valid values include: [String, StringList, SecureString]."},
		{"type prefix is not a type", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Type", "BeginsWith", "Secure")}}, "InvalidFilterValue", "The following filter value is not valid: Secure. Valid values include: [String, StringList, SecureString]."},
		{"data type value", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("DataType", "", "Text")}}, "InvalidFilterValue", "The following filter value is not valid: Text. Valid values include: [text, aws:ec2:image, aws:ssm:integration]."},
		{"first failure wins", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Tier", "", "Gold"), f("Label", "", "x")}}, "InvalidFilterValue", "The following filter value is not valid: Gold. Valid values include: [Standard, Advanced, Intelligent-Tiering]."},
		{"both filter kinds", ssm.DescribeParametersInput{Filters: []types.ParametersFilter{{Key: types.ParametersFilterKeyName, Values: []string{"a"}}}, ParameterFilters: []types.ParameterStringFilter{f("Name", "", "a")}}, "ValidationException", "You can use either Filters or ParameterFilters in a single request."},
		{"model violations aggregated", ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{f("Name", "over 10 chars", "a"), f("key", "", "a")}}, "ValidationException",
			"2 validation errors detected: Value 'over 10 chars' at 'parameterFilters.1.member.option' failed to satisfy constraint: Member must have length less than or equal to 10; Value 'key' at 'parameterFilters.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: tag:.+|Name|Type|KeyId|Path|Label|Tier|DataType"},
		{"deprecated key enum", ssm.DescribeParametersInput{Filters: []types.ParametersFilter{{Key: "Path", Values: []string{"/a"}}}}, "ValidationException",
			"1 validation error detected: Value 'Path' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [Name, Type, KeyId]"},
		{"max results 51", ssm.DescribeParametersInput{MaxResults: aws.Int32(51)}, "ValidationException", "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"garbage token", ssm.DescribeParametersInput{NextToken: aws.String("garbage")}, "InvalidNextToken", msgInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			var rec recorder
			_, err := e.c.DescribeParameters(e.ctx, &tt.in, rec.with)
			wantError(t, &rec, err, tt.code, tt.msg)
		})
	}
}
