package api_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
	ssmv "github.com/paramstore/paramstore/internal/ssm"
)

// TestSDKRegions: the region of a request's credential scope is its
// tenancy, and only AWS's regions (of every partition) and the regions
// named with --region-allow are tenancies; a made-up one is refused as AWS
// refuses it, with or without signature verification (--dev), so it cannot
// open a new namespace with its own quota.
func TestSDKRegions(t *testing.T) {
	refused := []string{"xx-fake-1", "us-east-99", "aws-global", "us-east-1a", "moon-base-1"}
	allow := func(c *server.Config) { c.RegionAllow = []string{"xx-lab-1", "onprem"} }
	for _, verified := range []bool{false, true} {
		mode := "dev"
		if verified {
			mode = "verified signatures"
		}
		t.Run(mode, func(t *testing.T) {
			// One server per mode; clients of every region talk to it.
			opts := []servertest.Option{allow}
			dir := t.TempDir()
			if verified {
				opts = append(opts, servertest.WithAuth, func(c *server.Config) { c.DataDir = dir })
			}
			_, ep := servertest.Start(t, opts...)
			endpointOf := func(region string) *ssm.Client {
				if !verified {
					return servertest.Client(t, ep, region)
				}
				id, secret := servertest.RootCredentials(t, dir)
				return servertest.ClientWith(t, ep, region, id, secret, "")
			}
			for _, region := range refused {
				t.Run("refused "+region, func(t *testing.T) {
					c := endpointOf(region)
					_, err := c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String("/r/p"), Value: aws.String("v"), Type: types.ParameterTypeString})
					wantAPIError(t, err, "InvalidSignatureException", "Credential should be scoped to a valid region, not '"+region+"'. ")
					_, err = c.GetParameter(t.Context(), &ssm.GetParameterInput{Name: aws.String("/r/p")})
					wantAPIError(t, err, "InvalidSignatureException", "Credential should be scoped to a valid region, not '"+region+"'. ")
				})
			}
			accepted := append(ssmv.Regions(), "xx-lab-1", "onprem")
			partitions := map[string]bool{}
			for _, region := range accepted {
				c := endpointOf(region)
				name := "/r/" + region
				if _, err := c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(region), Type: types.ParameterTypeString}); err != nil {
					t.Errorf("%s: PutParameter: got %v, want success", region, err)
					continue
				}
				out, err := c.GetParameter(t.Context(), &ssm.GetParameterInput{Name: aws.String(name)})
				if err != nil {
					t.Errorf("%s: GetParameter: got %v, want success", region, err)
					continue
				}
				partition := ssmv.Partition(region)
				partitions[partition] = true
				wantARN := fmt.Sprintf("arn:%s:ssm:%s:%s:parameter/r/%s", partition, region, testAccount, region)
				if got := aws.ToString(out.Parameter.ARN); got != wantARN {
					t.Errorf("%s: got ARN %q, want %q", region, got, wantARN)
				}
				// Each region is its own namespace: this one holds only its own parameter.
				byPath, err := c.GetParametersByPath(t.Context(), &ssm.GetParametersByPathInput{Path: aws.String("/r")})
				if err != nil || len(byPath.Parameters) != 1 || aws.ToString(byPath.Parameters[0].Value) != region {
					t.Errorf("%s: GetParametersByPath /r: got %v, %v, want its own parameter only", region, byPath, err)
				}
			}
			got := slices.Sorted(maps.Keys(partitions))
			want := []string{"aws", "aws-cn", "aws-eusc", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-us-gov"}
			if !slices.Equal(got, want) {
				t.Errorf("got partitions %q, want %q", got, want)
			}
		})
	}
}
