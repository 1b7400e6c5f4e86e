package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/spf13/cobra"
)

// ssmConnFlags are the connection flags of the commands that talk the SSM
// API through aws-sdk-go-v2 (bundle, export, import, mirror): DESIGN.md §3.
type ssmConnFlags struct {
	endpoint        string
	region          string
	profile         string
	credentialsFile string
}

// envEndpoint is PARAMSTORE_ENDPOINT, else AWS_ENDPOINT_URL, else the
// local server (defaultEndpoint).
func envEndpoint() string {
	for _, v := range []string{"PARAMSTORE_ENDPOINT", "AWS_ENDPOINT_URL"} {
		if e := os.Getenv(v); e != "" {
			return e
		}
	}
	return defaultEndpoint
}

func (f *ssmConnFlags) register(cmd *cobra.Command) {
	p := cmd.PersistentFlags()
	p.StringVar(&f.endpoint, "endpoint", envEndpoint(), "SSM endpoint URL (env PARAMSTORE_ENDPOINT, else AWS_ENDPOINT_URL)")
	p.StringVar(&f.region, "region", "", "region to sign for (default: the AWS configuration's, else us-east-1)")
	p.StringVar(&f.profile, "profile", "", "profile of the AWS shared configuration")
	p.StringVar(&f.credentialsFile, "credentials-file", "", "AWS shared credentials file, e.g. <data-dir>/root-credentials")
}

// client builds an SSM client for endpoint (empty: AWS's own endpoint for
// the region) with the AWS default credential chain narrowed by the flags.
func (f *ssmConnFlags) client(ctx context.Context, endpoint, region string) (*ssm.Client, string, error) {
	var opts []func(*config.LoadOptions) error
	if f.credentialsFile != "" {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{f.credentialsFile}))
	}
	if f.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(f.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("aws configuration: %w", err)
	}
	if region == "" {
		region = cfg.Region
	}
	if region == "" {
		region = "us-east-1"
	}
	cfg.Region = region
	c := ssm.NewFromConfig(cfg, func(o *ssm.Options) {
		// Throttling (AWS: 40 reads/s shared with the applications) is
		// retried with the SDK's jittered exponential backoff.
		o.RetryMaxAttempts = 10
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return c, region, nil
}
