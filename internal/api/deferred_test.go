package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/servertest"
)

// TestReadsAfterDeferredWrites: the state machine commits writes on an
// interval after acknowledging them (DESIGN.md decision 10); every kind of
// read issued after a write was acknowledged sees it, through the read
// buffer (GetParameter, GetParameters) or after a commit (by path,
// describe, history), and a deleted parameter is gone from all of them.
func TestReadsAfterDeferredWrites(t *testing.T) {
	s, ep := servertest.Start(t)
	c := servertest.Client(t, ep, "us-east-1")
	ctx := context.Background()
	db := s.Node().DB()
	var names []string
	for i := range 5 {
		name := fmt.Sprintf("/deferred/p%d", i)
		names = append(names, name)
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v1"), Type: types.ParameterTypeString}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v2"), Overwrite: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		g, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		if err != nil || aws.ToString(g.Parameter.Value) != "v2" || g.Parameter.Version != 2 {
			t.Fatalf("GetParameter %s right after the overwrite: %+v, %v; want v2, version 2", name, g, err)
		}
	}
	t.Logf("state machine: applied %d, committed %d, %d commits", db.LastApplied(), db.CommittedIndex(), db.Commits())
	gs, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: names})
	if err != nil || len(gs.Parameters) != len(names) || len(gs.InvalidParameters) != 0 {
		t.Fatalf("GetParameters: %+v, %v", gs, err)
	}
	byPath := func() []string {
		t.Helper()
		out, err := c.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/deferred")})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range out.Parameters {
			got = append(got, aws.ToString(p.Name))
		}
		return got
	}
	describe := func() []string {
		t.Helper()
		out, err := c.DescribeParameters(ctx, &ssm.DescribeParametersInput{
			ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Path"), Option: aws.String("Recursive"), Values: []string{"/deferred"}}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range out.Parameters {
			got = append(got, aws.ToString(p.Name))
		}
		slices.Sort(got)
		return got
	}
	if got := byPath(); !slices.Equal(got, names) {
		t.Fatalf("GetParametersByPath after the writes: got %v, want %v", got, names)
	}
	if got := describe(); !slices.Equal(got, names) {
		t.Fatalf("DescribeParameters after the writes: got %v, want %v", got, names)
	}
	if _, err := c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(names[0])}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(names[0])})
	var nf *types.ParameterNotFound
	if !errorsAs(err, &nf) {
		t.Fatalf("GetParameter right after the delete: got %v, want ParameterNotFound", err)
	}
	if got := byPath(); !slices.Equal(got, names[1:]) {
		t.Fatalf("GetParametersByPath after the delete: got %v, want %v", got, names[1:])
	}
	if got := describe(); !slices.Equal(got, names[1:]) {
		t.Fatalf("DescribeParameters after the delete: got %v, want %v", got, names[1:])
	}
	h, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String(names[1])})
	if err != nil || len(h.Parameters) != 2 {
		t.Fatalf("GetParameterHistory: %+v, %v; want 2 versions", h, err)
	}
}
