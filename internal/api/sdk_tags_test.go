package api_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

const param = types.ResourceTypeForTaggingParameter

// tagsOf lists a parameter's tags as key=value strings, in response order.
func (e *env) tagsOf(id string) []string {
	e.t.Helper()
	out, err := e.c.ListTagsForResource(e.ctx, &ssm.ListTagsForResourceInput{ResourceType: param, ResourceId: aws.String(id)})
	if err != nil {
		e.t.Fatalf("ListTagsForResource %s: %v", id, err)
	}
	got := []string{}
	for _, tg := range out.TagList {
		got = append(got, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	return got
}

func tagList(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

func TestSDKTags(t *testing.T) {
	e := newEnv(t)
	e.put(&ssm.PutParameterInput{Name: aws.String("/tag/p"), Value: aws.String("v"), Type: types.ParameterTypeString, Tags: tagList("z", "last", "a", "first")})

	steps := []struct {
		name string
		do   func() error
		id   string
		want []string
	}{
		{"created with tags, sorted", func() error { return nil }, "/tag/p", []string{"a=first", "z=last"}},
		{"add upserts", func() error {
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/tag/p"), Tags: tagList("m", "mid", "a", "changed", "empty", "")})
			return err
		}, "/tag/p", []string{"a=changed", "empty=", "m=mid", "z=last"}},
		{"remove ignores unknown keys", func() error {
			_, err := e.c.RemoveTagsFromResource(e.ctx, &ssm.RemoveTagsFromResourceInput{ResourceType: param, ResourceId: aws.String("/tag/p"), TagKeys: []string{"z", "unknown"}})
			return err
		}, "/tag/p", []string{"a=changed", "empty=", "m=mid"}},
		{"tags are not versioned", func() error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/tag/p"), Value: aws.String("w"), Overwrite: aws.Bool(true)})
			return err
		}, "/tag/p", []string{"a=changed", "empty=", "m=mid"}},
		{"root parameter, both spellings", func() error {
			e.putString("/tagroot", "v")
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("tagroot"), Tags: tagList("k", "v")})
			return err
		}, "/tagroot", []string{"k=v"}},
		{"no tags", func() error { e.putString("/tag/none", "v"); return nil }, "/tag/none", []string{}},
		{"unicode tags", func() error {
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/tag/none"), Tags: tagList("clé", "été 2024", "a:b/c=d+e-f@g", "_.")})
			return err
		}, "/tag/none", []string{"a:b/c=d+e-f@g=_.", "clé=été 2024"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e := e.at(t)
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			if diff := mismatch(s.want, e.tagsOf(s.id)); diff != "" {
				t.Errorf("tags: %s", diff)
			}
		})
	}

	t.Run("fifty tags", func(t *testing.T) {
		e := e.at(t)
		e.putString("/tag/full", "v")
		var kv []string
		for i := 0; i < 50; i++ {
			kv = append(kv, fmt.Sprintf("k%02d", i), "v")
		}
		if _, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/tag/full"), Tags: tagList(kv...)}); err != nil {
			t.Fatalf("50 tags: %v", err)
		}
		_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/tag/full"), Tags: tagList("k00", "replaced", "one-more", "v")})
		wantAPIError(t, err, "TooManyTagsError", "")
		if got := e.tagsOf("/tag/full"); len(got) != 50 || got[0] != "k00=v" {
			t.Errorf("got %d tags starting %q, want the 50 unchanged tags", len(got), got[0])
		}
		// Replacing existing keys stays within the limit.
		if _, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/tag/full"), Tags: tagList("k00", "replaced")}); err != nil {
			t.Errorf("replace at the limit: %v", err)
		}
		_, err = e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/tag/create51"), Value: aws.String("v"), Type: types.ParameterTypeString, Tags: tagList(append(kv, "k50", "v")...)})
		wantAPIError(t, err, "TooManyTagsError", "")
		_, err = e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/tag/create51")})
		wantAPIError(t, err, "ParameterNotFound", "")
	})

	t.Run("deleted with the parameter", func(t *testing.T) {
		e := e.at(t)
		if _, err := e.c.DeleteParameter(e.ctx, &ssm.DeleteParameterInput{Name: aws.String("/tagroot")}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.ListTagsForResource(e.ctx, &ssm.ListTagsForResourceInput{ResourceType: param, ResourceId: aws.String("tagroot")})
		wantAPIError(t, err, "InvalidResourceId", "")
		e.putString("tagroot", "again")
		if diff := mismatch([]string{}, e.tagsOf("/tagroot")); diff != "" {
			t.Errorf("tags after re-create: %s", diff)
		}
	})

	errs := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"add: other resource type", func() error {
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: types.ResourceTypeForTaggingDocument, ResourceId: aws.String("/tag/p"), Tags: tagList("k", "v")})
			return err
		}, "InvalidResourceType", ""},
		{"list: other resource type", func() error {
			_, err := e.c.ListTagsForResource(e.ctx, &ssm.ListTagsForResourceInput{ResourceType: types.ResourceTypeForTaggingMaintenanceWindow, ResourceId: aws.String("/tag/p")})
			return err
		}, "InvalidResourceType", ""},
		{"remove: other resource type", func() error {
			_, err := e.c.RemoveTagsFromResource(e.ctx, &ssm.RemoveTagsFromResourceInput{ResourceType: types.ResourceTypeForTaggingOpsItem, ResourceId: aws.String("/tag/p"), TagKeys: []string{"k"}})
			return err
		}, "InvalidResourceType", ""},
		{"add: missing parameter", func() error {
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/tag/none/x"), Tags: tagList("k", "v")})
			return err
		}, "InvalidResourceId", ""},
		{"remove: missing parameter", func() error {
			_, err := e.c.RemoveTagsFromResource(e.ctx, &ssm.RemoveTagsFromResourceInput{ResourceType: param, ResourceId: aws.String("/tag/none/x"), TagKeys: []string{"k"}})
			return err
		}, "InvalidResourceId", ""},
		{"list: missing parameter", func() error {
			_, err := e.c.ListTagsForResource(e.ctx, &ssm.ListTagsForResourceInput{ResourceType: param, ResourceId: aws.String("/tag/none/x")})
			return err
		}, "InvalidResourceId", ""},
		{"list: ARN", func() error {
			_, err := e.c.ListTagsForResource(e.ctx, &ssm.ListTagsForResourceInput{ResourceType: param, ResourceId: aws.String(arnPrefix + "tag/p")})
			return err
		}, "InvalidResourceId", ""},
		{"list: selector", func() error {
			_, err := e.c.ListTagsForResource(e.ctx, &ssm.ListTagsForResourceInput{ResourceType: param, ResourceId: aws.String("/tag/p:1")})
			return err
		}, "InvalidResourceId", ""},
		{"add: aws: key", func() error {
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/tag/p"), Tags: tagList("aws:owner", "me")})
			return err
		}, "ValidationException", "Tag keys must not start with aws:"},
		{"put: aws: key", func() error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/tag/awskey"), Value: aws.String("v"), Type: types.ParameterTypeString, Tags: tagList("aws:owner", "me")})
			return err
		}, "ValidationException", "Tag keys must not start with aws:"},
		{"add: bad key", func() error {
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/tag/p"), Tags: tagList("bad#key", "v")})
			return err
		}, "ValidationException", `1 validation error detected: Value 'bad#key' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`},
		{"add: long value", func() error {
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/tag/p"), Tags: tagList("k", repeat("v", 257))})
			return err
		}, "ValidationException", "1 validation error detected: Value '" + repeat("v", 257) + "' at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"add: empty key", func() error {
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/tag/p"), Tags: tagList("", "v")})
			return err
		}, "ValidationException", "1 validation error detected: Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"remove: bad key", func() error {
			_, err := e.c.RemoveTagsFromResource(e.ctx, &ssm.RemoveTagsFromResourceInput{ResourceType: param, ResourceId: aws.String("/tag/p"), TagKeys: []string{"ok", "bad#"}})
			return err
		}, "ValidationException", `1 validation error detected: Value '[ok, bad#]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$]`},
		{"add: bad resource type enum", func() error {
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: "Secret", ResourceId: aws.String("/tag/p"), Tags: tagList("k", "v")})
			return err
		}, "ValidationException", "1 validation error detected: Value 'Secret' at 'resourceType' failed to satisfy constraint: Member must satisfy enum value set: [Document, ManagedInstance, MaintenanceWindow, Parameter, PatchBaseline, OpsItem, OpsMetadata, Automation, Association]"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			wantAPIError(t, tt.call(), tt.code, tt.msg)
		})
	}
	if diff := mismatch([]string{"a=changed", "empty=", "m=mid"}, e.tagsOf("/tag/p")); diff != "" {
		t.Errorf("tags after the failed calls: %s", diff)
	}
}
