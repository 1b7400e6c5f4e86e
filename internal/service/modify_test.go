package service_test

import (
	"fmt"
	"testing"

	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
)

func TestLabelParameterVersion(t *testing.T) {
	f := newFixture(t)
	f.putString("/lbl/p", "v1")
	f.overwrite("/lbl/p", "v2")
	f.overwrite("/lbl/p", "v3")

	t.Run("latest by default", func(t *testing.T) {
		f := f.at(t)
		out := f.label("/lbl/p", 0, "current")
		if out.ParameterVersion != 3 || out.InvalidLabels == nil || len(out.InvalidLabels) != 0 {
			t.Errorf("got version %d invalid %#v, want 3 and []", out.ParameterVersion, out.InvalidLabels)
		}
		if got := f.get("/lbl/p:current").Value; got != "v3" {
			t.Errorf("got %q, want v3", got)
		}
	})
	t.Run("labels move", func(t *testing.T) {
		f := f.at(t)
		f.label("/lbl/p", 1, "prod", "Prod")
		f.label("/lbl/p", 2, "prod")
		want := map[int64][]string{1: {"Prod"}, 2: {"prod"}, 3: {"current"}}
		if diff := mismatch(want, f.labelsByVersion("/lbl/p")); diff != "" {
			t.Errorf("labels: %s", diff)
		}
		if got := f.get("/lbl/p:prod").Value; got != "v2" {
			t.Errorf("got %q by moved label, want v2", got)
		}
		if got := f.get("/lbl/p:Prod").Value; got != "v1" {
			t.Errorf("got %q by case-distinct label, want v1", got)
		}
		// Re-applying a label already on the version is a no-op.
		if out := f.label("/lbl/p", 2, "prod"); out.ParameterVersion != 2 {
			t.Errorf("got version %d, want 2", out.ParameterVersion)
		}
		if h := f.history("/lbl/p"); h[2].Version != 3 || len(h) != 3 {
			t.Errorf("got %d versions, want 3: labelling makes no version", len(h))
		}
	})
	t.Run("invalid labels", func(t *testing.T) {
		f := f.at(t)
		out := f.label("/lbl/p", 1, "1abc", "good", "awsX", "SSM-y", "bad label", "a$b", "ok.Label-1_x", "a/b")
		if diff := mismatch([]string{"1abc", "awsX", "SSM-y", "bad label", "a$b", "a/b"}, out.InvalidLabels); diff != "" {
			t.Errorf("InvalidLabels: %s", diff)
		}
		if diff := mismatch([]string{"Prod", "good", "ok.Label-1_x"}, f.labelsByVersion("/lbl/p")[1]); diff != "" {
			t.Errorf("labels of version 1: %s", diff)
		}
		// Only invalid labels: answered, nothing changes.
		out = f.label("/lbl/p", 3, "9lives")
		if diff := mismatch([]string{"9lives"}, out.InvalidLabels); diff != "" || out.ParameterVersion != 3 {
			t.Errorf("got %+v, want version 3 with InvalidLabels [9lives]", out)
		}
	})
	t.Run("ten labels per version", func(t *testing.T) {
		f := f.at(t)
		f.putString("/lbl/ten", "v")
		var ls []string
		for i := 0; i < 10; i++ {
			ls = append(ls, fmt.Sprintf("l%d", i))
		}
		f.label("/lbl/ten", 0, ls...)
		_, err := f.svc.LabelParameterVersion(f.ctx, f.c, &ssm.LabelInput{Name: ptr("/lbl/ten"), Labels: []string{"eleventh", "l0"}})
		wantErr(t, err, ssm.CodeLabelLimitExceeded, "A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.")
		wantErr(t, f.getErr("/lbl/ten:eleventh"), ssm.CodeParameterNotFound, "")
		// Labels already on the version do not count twice; invalid
		// labels do not count at all.
		f.label("/lbl/ten", 0, "l0", "l9", "1bad")
		// A label moved away frees a place.
		f.overwrite("/lbl/ten", "w")
		f.label("/lbl/ten", 2, "l0")
		f.label("/lbl/ten", 1, "eleventh")
		if got := len(f.labelsByVersion("/lbl/ten")[1]); got != 10 {
			t.Errorf("got %d labels on version 1, want 10", got)
		}
	})
	t.Run("configured limit", func(t *testing.T) {
		g := newFixture(t, func(l *service.Limits) { l.MaxLabelsPerVer = 2 })
		g.putString("/lbl/two", "v")
		g.label("/lbl/two", 1, "a", "b")
		_, err := g.svc.LabelParameterVersion(g.ctx, g.c, &ssm.LabelInput{Name: ptr("/lbl/two"), Labels: []string{"c"}})
		wantErr(t, err, ssm.CodeLabelLimitExceeded, "A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.")
	})
	t.Run("root name spellings", func(t *testing.T) {
		f := f.at(t)
		f.putString("lblroot", "v")
		if out := f.label("/lblroot", 0, "x"); out.ParameterVersion != 1 {
			t.Fatalf("got version %d, want 1", out.ParameterVersion)
		}
		if got := f.get("lblroot:x").Value; got != "v" {
			t.Errorf("got %q, want v", got)
		}
	})

	long := repeat("a", 101)
	var eleven []string
	for i := 1; i <= 11; i++ {
		eleven = append(eleven, fmt.Sprintf("l%d", i))
	}
	errs := []struct {
		name string
		in   ssm.LabelInput
		code string
		msg  string
	}{
		{"missing parameter", ssm.LabelInput{Name: ptr("/lbl/none"), Labels: []string{"x"}}, ssm.CodeParameterNotFound, ""},
		{"version not retained", ssm.LabelInput{Name: ptr("/lbl/p"), ParameterVersion: ptr[int64](7), Labels: []string{"x"}}, ssm.CodeParameterVersionNotFound, "Systems Manager could not find version 7 of /lbl/p. Verify the version and try again."},
		{"version not retained before invalid labels", ssm.LabelInput{Name: ptr("/lbl/p"), ParameterVersion: ptr[int64](7), Labels: []string{"1bad"}}, ssm.CodeParameterVersionNotFound, "Systems Manager could not find version 7 of /lbl/p. Verify the version and try again."},
		{"bad name", ssm.LabelInput{Name: ptr("/lbl//p"), Labels: []string{"x"}}, ssm.CodeValidation, msgSubPaths},
		{"ARN", ssm.LabelInput{Name: ptr(arnPrefix + "lbl/p"), Labels: []string{"x"}}, ssm.CodeValidation, msgSubPaths},
		{"label too long", ssm.LabelInput{Name: ptr("/lbl/p"), Labels: []string{long}}, ssm.CodeValidation,
			"1 validation error detected: Value '[" + long + "]' at 'labels' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 100, Member must have length greater than or equal to 1]"},
		{"empty label", ssm.LabelInput{Name: ptr("/lbl/p"), Labels: []string{""}}, ssm.CodeValidation,
			"1 validation error detected: Value '[]' at 'labels' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 100, Member must have length greater than or equal to 1]"},
		{"eleven labels", ssm.LabelInput{Name: ptr("/lbl/p"), Labels: eleven}, ssm.CodeValidation,
			"1 validation error detected: Value '[l1, l2, l3, l4, l5, l6, l7, l8, l9, l10, l11]' at 'labels' failed to satisfy constraint: Member must have length less than or equal to 10"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.LabelParameterVersion(f.ctx, f.c, &tt.in)
			wantErr(t, err, tt.code, tt.msg)
		})
	}
}

func TestUnlabelParameterVersion(t *testing.T) {
	f := newFixture(t)
	f.putString("/unl/p", "v1")
	f.overwrite("/unl/p", "v2")
	f.label("/unl/p", 1, "a", "b")
	f.label("/unl/p", 2, "c")
	out, err := f.svc.UnlabelParameterVersion(f.ctx, f.c, &ssm.LabelInput{Name: ptr("/unl/p"), ParameterVersion: ptr[int64](1), Labels: []string{"a", "c", "zz", "a"}})
	wantOK(t, err)
	if diff := mismatch([]string{"a"}, out.RemovedLabels); diff != "" {
		t.Errorf("RemovedLabels: %s", diff)
	}
	if diff := mismatch([]string{"c", "zz"}, out.InvalidLabels); diff != "" {
		t.Errorf("InvalidLabels: %s", diff)
	}
	if diff := mismatch(map[int64][]string{1: {"b"}, 2: {"c"}}, f.labelsByVersion("/unl/p")); diff != "" {
		t.Errorf("labels: %s", diff)
	}
	wantErr(t, f.getErr("/unl/p:a"), ssm.CodeParameterNotFound, "")

	out, err = f.svc.UnlabelParameterVersion(f.ctx, f.c, &ssm.LabelInput{Name: ptr("/unl/p"), ParameterVersion: ptr[int64](2), Labels: []string{"nope"}})
	wantOK(t, err)
	if out.RemovedLabels == nil || len(out.RemovedLabels) != 0 || len(out.InvalidLabels) != 1 {
		t.Errorf("got %+v, want an empty RemovedLabels list and one invalid", out)
	}

	errs := []struct {
		name string
		in   ssm.LabelInput
		code string
		msg  string
	}{
		{"missing parameter", ssm.LabelInput{Name: ptr("/unl/none"), ParameterVersion: ptr[int64](1), Labels: []string{"x"}}, ssm.CodeParameterNotFound, ""},
		{"version not retained", ssm.LabelInput{Name: ptr("/unl/p"), ParameterVersion: ptr[int64](5), Labels: []string{"x"}}, ssm.CodeParameterVersionNotFound, "Systems Manager could not find version 5 of /unl/p. Verify the version and try again."},
		{"version required", ssm.LabelInput{Name: ptr("/unl/p"), Labels: []string{"x"}}, ssm.CodeValidation, "1 validation error detected: Value null at 'parameterVersion' failed to satisfy constraint: Member must not be null"},
		{"bad name", ssm.LabelInput{Name: ptr("unl/p"), ParameterVersion: ptr[int64](1), Labels: []string{"x"}}, ssm.CodeValidation, msgSubPaths},
		{"label too long", ssm.LabelInput{Name: ptr("/unl/p"), ParameterVersion: ptr[int64](1), Labels: []string{repeat("b", 101)}}, ssm.CodeValidation,
			"1 validation error detected: Value '[" + repeat("b", 101) + "]' at 'labels' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 100, Member must have length greater than or equal to 1]"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.UnlabelParameterVersion(f.ctx, f.c, &tt.in)
			wantErr(t, err, tt.code, tt.msg)
		})
	}
}

func TestTags(t *testing.T) {
	f := newFixture(t)
	f.putString("/tag/p", "v")
	tagsIn := func(id string, kv ...string) *ssm.TagsInput {
		in := &ssm.TagsInput{ResourceType: ptr("Parameter"), ResourceId: ptr(id)}
		for i := 0; i+1 < len(kv); i += 2 {
			in.Tags = append(in.Tags, ssm.Tag{Key: ptr(kv[i]), Value: ptr(kv[i+1])})
		}
		return in
	}
	list := func(id string) []ssm.TagPair {
		t.Helper()
		out, err := f.svc.ListTagsForResource(f.ctx, f.c, tagsIn(id))
		wantOK(t, err)
		return out.TagList
	}

	_, err := f.svc.AddTagsToResource(f.ctx, f.c, tagsIn("/tag/p", "z", "1", "a", "2"))
	wantOK(t, err)
	_, err = f.svc.AddTagsToResource(f.ctx, f.c, tagsIn(" /tag/p ", "a", "3", "m", ""))
	wantOK(t, err)
	if diff := mismatch([]ssm.TagPair{{Key: "a", Value: "3"}, {Key: "m", Value: ""}, {Key: "z", Value: "1"}}, list("/tag/p")); diff != "" {
		t.Errorf("tags sorted by key, replaced by key: %s", diff)
	}
	rm := tagsIn("/tag/p")
	rm.TagKeys = []string{"z", "unknown"}
	_, err = f.svc.RemoveTagsFromResource(f.ctx, f.c, rm)
	wantOK(t, err)
	if diff := mismatch([]ssm.TagPair{{Key: "a", Value: "3"}, {Key: "m", Value: ""}}, list("/tag/p")); diff != "" {
		t.Errorf("after remove: %s", diff)
	}
	if got := f.get("/tag/p").Version; got != 1 {
		t.Errorf("got version %d, want 1: tagging makes no version", got)
	}

	t.Run("root name spellings", func(t *testing.T) {
		f.putString("tagroot", "v")
		_, err := f.svc.AddTagsToResource(f.ctx, f.c, tagsIn("/tagroot", "k", "v"))
		wantOK(t, err)
		if diff := mismatch([]ssm.TagPair{{Key: "k", Value: "v"}}, list("tagroot")); diff != "" {
			t.Errorf("tags: %s", diff)
		}
	})
	t.Run("fifty tags", func(t *testing.T) {
		f.putString("/tag/many", "v")
		var kv []string
		for i := 0; i < 50; i++ {
			kv = append(kv, fmt.Sprintf("k%02d", i), "v")
		}
		_, err := f.svc.AddTagsToResource(f.ctx, f.c, tagsIn("/tag/many", kv...))
		wantOK(t, err)
		_, err = f.svc.AddTagsToResource(f.ctx, f.c, tagsIn("/tag/many", "k00", "replaced"))
		wantOK(t, err)
		_, err = f.svc.AddTagsToResource(f.ctx, f.c, tagsIn("/tag/many", "one", "more"))
		wantErr(t, err, ssm.CodeTooManyTags, "")
		if got := len(list("/tag/many")); got != 50 {
			t.Errorf("got %d tags, want 50", got)
		}
	})

	other := tagsIn("/tag/p", "k", "v")
	other.ResourceType = ptr("Document")
	errs := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"add to missing", func() error { _, err := f.svc.AddTagsToResource(f.ctx, f.c, tagsIn("/tag/none", "k", "v")); return err }, ssm.CodeInvalidResourceID, ""},
		{"list missing", func() error { _, err := f.svc.ListTagsForResource(f.ctx, f.c, tagsIn("/tag/none")); return err }, ssm.CodeInvalidResourceID, ""},
		{"remove from missing", func() error {
			in := tagsIn("/tag/none")
			in.TagKeys = []string{"k"}
			_, err := f.svc.RemoveTagsFromResource(f.ctx, f.c, in)
			return err
		}, ssm.CodeInvalidResourceID, ""},
		{"bad name", func() error { _, err := f.svc.ListTagsForResource(f.ctx, f.c, tagsIn("/tag//p")); return err }, ssm.CodeInvalidResourceID, ""},
		{"other resource type", func() error { _, err := f.svc.AddTagsToResource(f.ctx, f.c, other); return err }, ssm.CodeInvalidResourceType, ""},
		{"aws: prefix", func() error {
			_, err := f.svc.AddTagsToResource(f.ctx, f.c, tagsIn("/tag/p", "aws:x", "v"))
			return err
		}, ssm.CodeValidation, "Tag keys must not start with aws:"},
		{"bad resource type", func() error {
			in := tagsIn("/tag/p")
			in.ResourceType = ptr("Bucket")
			_, err := f.svc.ListTagsForResource(f.ctx, f.c, in)
			return err
		}, ssm.CodeValidation, "1 validation error detected: Value 'Bucket' at 'resourceType' failed to satisfy constraint: Member must satisfy enum value set: [Document, ManagedInstance, MaintenanceWindow, Parameter, PatchBaseline, OpsItem, OpsMetadata, Automation, Association]"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.call(), tt.code, tt.msg)
		})
	}
}

// TestMetaAuthorization: label and tag operations ask for their action
// with the parameter's tags, before saying whether it exists.
func TestMetaAuthorization(t *testing.T) {
	f := newFixture(t)
	f.put(&ssm.PutParameterInput{Name: ptr("/meta/p"), Value: ptr("v"), Type: ptr(ssm.TypeString), Tags: []ssm.Tag{{Key: ptr("team"), Value: ptr("core")}}})
	authz := &tagRecorder{}
	c := f.c
	c.Authz = authz
	g := f.as(c)
	_, err := g.svc.LabelParameterVersion(g.ctx, g.c, &ssm.LabelInput{Name: ptr("/meta/p"), Labels: []string{"x"}})
	wantOK(t, err)
	_, err = g.svc.LabelParameterVersion(g.ctx, g.c, &ssm.LabelInput{Name: ptr("/meta/none"), Labels: []string{"x"}})
	wantErr(t, err, ssm.CodeParameterNotFound, "")
	_, err = g.svc.DeleteParameter(g.ctx, g.c, &ssm.NameInput{Name: ptr("/meta/p")})
	wantOK(t, err)
	want := []string{
		"ssm:LabelParameterVersion " + arnPrefix + "meta/p map[team:core]",
		"ssm:LabelParameterVersion " + arnPrefix + "meta/none map[]",
		"ssm:DeleteParameter " + arnPrefix + "meta/p map[team:core]",
	}
	if diff := mismatch(want, authz.calls); diff != "" {
		t.Errorf("authorization calls: %s", diff)
	}
}

// tagRecorder records each action with the tags it was given.
type tagRecorder struct{ calls []string }

func (r *tagRecorder) Authorize(action, resource string, tags map[string]string) error {
	r.calls = append(r.calls, fmt.Sprintf("%s %s %v", action, resource, tags))
	return nil
}

func TestServiceSettings(t *testing.T) {
	f := newFixture(t)
	const id = "/ssm/parameter-store/high-throughput-enabled"
	arn := "arn:aws:ssm:us-east-1:123456789012:servicesetting" + id
	get := func(c service.Caller, sid string) ssm.ServiceSetting {
		t.Helper()
		out, err := f.svc.GetServiceSetting(f.ctx, c, &ssm.SettingInput{SettingId: ptr(sid)})
		wantOK(t, err)
		return out.ServiceSetting
	}
	if s := get(f.c, id); s.SettingValue != "false" || s.Status != "Default" || s.ARN != arn || s.LastModifiedUser != "System" {
		t.Errorf("got %+v, want the default", s)
	}
	_, err := f.svc.UpdateServiceSetting(f.ctx, f.c, &ssm.SettingInput{SettingId: ptr(arn), SettingValue: ptr("true")})
	wantOK(t, err)
	if s := get(f.c, id); s.SettingValue != "true" || s.Status != "Customized" || s.LastModifiedUser != testUser {
		t.Errorf("got %+v, want customized true by %s", s, testUser)
	}
	if s := get(callerIn("eu-west-1"), id); s.SettingValue != "false" {
		t.Errorf("eu-west-1: got %q, want the default: settings are per region", s.SettingValue)
	}
	out, err := f.svc.ResetServiceSetting(f.ctx, f.c, &ssm.SettingInput{SettingId: ptr(id)})
	wantOK(t, err)
	if out.ServiceSetting.SettingValue != "false" || out.ServiceSetting.Status != "Default" {
		t.Errorf("reset: got %+v, want the default", out.ServiceSetting)
	}
	_, err = f.svc.UpdateServiceSetting(f.ctx, f.c, &ssm.SettingInput{SettingId: ptr(id), SettingValue: ptr("yes")})
	wantErr(t, err, ssm.CodeValidation, "The value yes is not valid for setting "+id+".")
	_, err = f.svc.GetServiceSetting(f.ctx, f.c, &ssm.SettingInput{SettingId: ptr("/ssm/other")})
	wantErr(t, err, ssm.CodeServiceSettingNotFound, "The specified service setting wasn't found.")
	_, err = f.svc.GetServiceSetting(f.ctx, f.c, &ssm.SettingInput{SettingId: ptr("arn:aws:ssm:eu-west-1:123456789012:servicesetting" + id)})
	wantErr(t, err, ssm.CodeServiceSettingNotFound, "The specified service setting wasn't found.")
}
