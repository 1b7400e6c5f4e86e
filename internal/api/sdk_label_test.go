package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// labelsByVersion returns the labels of every retained version.
func (e *env) labelsByVersion(name string) map[int64][]string {
	e.t.Helper()
	out, err := e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String(name)})
	if err != nil {
		e.t.Fatalf("GetParameterHistory %s: %v", name, err)
	}
	m := map[int64][]string{}
	for _, h := range out.Parameters {
		m[h.Version] = h.Labels
	}
	return m
}

func TestSDKLabelParameterVersion(t *testing.T) {
	e := newEnv(t)
	e.putString("/lbl/p", "v1")
	e.overwrite("/lbl/p", "v2")
	e.overwrite("/lbl/p", "v3")

	label := func(version *int64, labels ...string) *ssm.LabelParameterVersionOutput {
		t.Helper()
		var rec recorder
		out, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/lbl/p"), ParameterVersion: version, Labels: labels}, rec.with)
		if err != nil {
			t.Fatalf("LabelParameterVersion %v: %v", labels, err)
		}
		if rec.status != 200 || !strings.Contains(string(rec.body), `"InvalidLabels":`) {
			t.Errorf("got %d %s, want 200 with InvalidLabels", rec.status, rec.body)
		}
		return out
	}

	t.Run("latest by default", func(t *testing.T) {
		e := e.at(t)
		out := label(nil, "current")
		if out.ParameterVersion != 3 || out.InvalidLabels == nil || len(out.InvalidLabels) != 0 {
			t.Errorf("got version %d invalid %v, want 3 and []", out.ParameterVersion, out.InvalidLabels)
		}
		if got := aws.ToString(e.get("/lbl/p:current").Value); got != "v3" {
			t.Errorf("got %q, want v3", got)
		}
	})
	t.Run("labels move", func(t *testing.T) {
		e := e.at(t)
		label(aws.Int64(1), "prod", "Prod")
		label(aws.Int64(2), "prod")
		got := e.labelsByVersion("/lbl/p")
		want := map[int64][]string{1: {"Prod"}, 2: {"prod"}, 3: {"current"}}
		if diff := mismatch(want, got); diff != "" {
			t.Errorf("labels: %s", diff)
		}
		if got := aws.ToString(e.get("/lbl/p:prod").Value); got != "v2" {
			t.Errorf("got %q by moved label, want v2", got)
		}
		if got := aws.ToString(e.get("/lbl/p:Prod").Value); got != "v1" {
			t.Errorf("got %q by case-distinct label, want v1", got)
		}
		// Re-applying a label already on the version is a no-op.
		if out := label(aws.Int64(2), "prod"); out.ParameterVersion != 2 {
			t.Errorf("got version %d, want 2", out.ParameterVersion)
		}
	})
	t.Run("invalid labels", func(t *testing.T) {
		e := e.at(t)
		out := label(aws.Int64(1), "1abc", "good", "awsX", "SSM-y", "bad label", "a$b", "ok.Label-1_x")
		want := []string{"1abc", "awsX", "SSM-y", "bad label", "a$b"}
		if diff := mismatch(want, out.InvalidLabels); diff != "" {
			t.Errorf("InvalidLabels: %s", diff)
		}
		if diff := mismatch([]string{"Prod", "good", "ok.Label-1_x"}, e.labelsByVersion("/lbl/p")[1]); diff != "" {
			t.Errorf("labels of version 1: %s", diff)
		}
	})
	t.Run("ten labels per version", func(t *testing.T) {
		e := e.at(t)
		e.putString("/lbl/ten", "v")
		var ls []string
		for i := 0; i < 10; i++ {
			ls = append(ls, fmt.Sprintf("l%d", i))
		}
		if _, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/lbl/ten"), Labels: ls}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/lbl/ten"), Labels: []string{"eleventh", "l0"}})
		wantAPIError(t, err, "ParameterVersionLabelLimitExceeded", "A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.")
		_, err = e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/lbl/ten:eleventh")})
		wantAPIError(t, err, "ParameterNotFound", "")
		// Labels already on the version do not count twice.
		if _, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/lbl/ten"), Labels: []string{"l0", "l9"}}); err != nil {
			t.Errorf("re-labelling: got %v, want success", err)
		}
	})
	t.Run("root name spellings", func(t *testing.T) {
		e := e.at(t)
		e.putString("lblroot", "v")
		out, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/lblroot"), Labels: []string{"x"}})
		if err != nil || out.ParameterVersion != 1 {
			t.Fatalf("got %v %v, want version 1", out, err)
		}
		if got := aws.ToString(e.get("lblroot:x").Value); got != "v" {
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
		in   ssm.LabelParameterVersionInput
		code string
		msg  string
	}{
		{"missing parameter", ssm.LabelParameterVersionInput{Name: aws.String("/lbl/none"), Labels: []string{"x"}}, "ParameterNotFound", ""},
		{"version not retained", ssm.LabelParameterVersionInput{Name: aws.String("/lbl/p"), ParameterVersion: aws.Int64(7), Labels: []string{"x"}}, "ParameterVersionNotFound", "Systems Manager could not find version 7 of /lbl/p. Verify the version and try again."},
		{"bad name", ssm.LabelParameterVersionInput{Name: aws.String("/lbl//p"), Labels: []string{"x"}}, "ValidationException", msgSubPaths},
		{"ARN", ssm.LabelParameterVersionInput{Name: aws.String(arnPrefix + "lbl/p"), Labels: []string{"x"}}, "ValidationException", msgSubPaths},
		{"label too long", ssm.LabelParameterVersionInput{Name: aws.String("/lbl/p"), Labels: []string{long}}, "ValidationException",
			"1 validation error detected: Value '[" + long + "]' at 'labels' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 100, Member must have length greater than or equal to 1]"},
		{"empty label", ssm.LabelParameterVersionInput{Name: aws.String("/lbl/p"), Labels: []string{""}}, "ValidationException",
			"1 validation error detected: Value '[]' at 'labels' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 100, Member must have length greater than or equal to 1]"},
		{"eleven labels", ssm.LabelParameterVersionInput{Name: aws.String("/lbl/p"), Labels: eleven}, "ValidationException",
			"1 validation error detected: Value '[l1, l2, l3, l4, l5, l6, l7, l8, l9, l10, l11]' at 'labels' failed to satisfy constraint: Member must have length less than or equal to 10"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			_, err := e.c.LabelParameterVersion(e.ctx, &tt.in)
			wantAPIError(t, err, tt.code, tt.msg)
		})
	}
}

func TestSDKUnlabelParameterVersion(t *testing.T) {
	e := newEnv(t)
	e.putString("/unl/p", "v1")
	e.overwrite("/unl/p", "v2")
	if _, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/unl/p"), ParameterVersion: aws.Int64(1), Labels: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/unl/p"), ParameterVersion: aws.Int64(2), Labels: []string{"c"}}); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	out, err := e.c.UnlabelParameterVersion(e.ctx, &ssm.UnlabelParameterVersionInput{Name: aws.String("/unl/p"), ParameterVersion: aws.Int64(1), Labels: []string{"a", "c", "zz", "a"}}, rec.with)
	if err != nil {
		t.Fatal(err)
	}
	if diff := mismatch([]string{"a"}, out.RemovedLabels); diff != "" {
		t.Errorf("RemovedLabels: %s", diff)
	}
	if diff := mismatch([]string{"c", "zz"}, out.InvalidLabels); diff != "" {
		t.Errorf("InvalidLabels: %s", diff)
	}
	if diff := mismatch(map[int64][]string{1: {"b"}, 2: {"c"}}, e.labelsByVersion("/unl/p")); diff != "" {
		t.Errorf("labels: %s", diff)
	}
	_, err = e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/unl/p:a")})
	wantAPIError(t, err, "ParameterNotFound", "")

	out, err = e.c.UnlabelParameterVersion(e.ctx, &ssm.UnlabelParameterVersionInput{Name: aws.String("/unl/p"), ParameterVersion: aws.Int64(2), Labels: []string{"nope"}}, rec.with)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rec.body), `"RemovedLabels":[]`) || len(out.InvalidLabels) != 1 {
		t.Errorf("got body %s, want an empty RemovedLabels list", rec.body)
	}

	errs := []struct {
		name string
		in   ssm.UnlabelParameterVersionInput
		code string
		msg  string
	}{
		{"missing parameter", ssm.UnlabelParameterVersionInput{Name: aws.String("/unl/none"), ParameterVersion: aws.Int64(1), Labels: []string{"x"}}, "ParameterNotFound", ""},
		{"version not retained", ssm.UnlabelParameterVersionInput{Name: aws.String("/unl/p"), ParameterVersion: aws.Int64(5), Labels: []string{"x"}}, "ParameterVersionNotFound", "Systems Manager could not find version 5 of /unl/p. Verify the version and try again."},
		{"bad name", ssm.UnlabelParameterVersionInput{Name: aws.String("unl/p"), ParameterVersion: aws.Int64(1), Labels: []string{"x"}}, "ValidationException", msgSubPaths},
		{"label too long", ssm.UnlabelParameterVersionInput{Name: aws.String("/unl/p"), ParameterVersion: aws.Int64(1), Labels: []string{repeat("b", 101)}}, "ValidationException",
			"1 validation error detected: Value '[" + repeat("b", 101) + "]' at 'labels' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 100, Member must have length greater than or equal to 1]"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			_, err := e.c.UnlabelParameterVersion(e.ctx, &tt.in)
			wantAPIError(t, err, tt.code, tt.msg)
		})
	}
}
