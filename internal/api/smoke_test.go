package api_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/servertest"
)

func TestSmokePutGet(t *testing.T) {
	_, ep := servertest.Start(t)
	c := servertest.Client(t, ep, "us-east-1")
	ctx := context.Background()
	out, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/a/b"), Value: aws.String("v"), Type: types.ParameterTypeSecureString})
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 1 {
		t.Fatalf("got version %d, want 1", out.Version)
	}
	g, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/a/b"), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(g.Parameter.Value); got != "v" {
		t.Fatalf("got %q, want v", got)
	}
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
	var nf *types.ParameterNotFound
	if !errorsAs(err, &nf) {
		t.Fatalf("got %v, want ParameterNotFound", err)
	}
}
