package mirror

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// SourceClient builds the SSM client of a configured mirror's source: AWS
// SSM of the region when Endpoint is empty, with the credentials the spec
// names (a profile, a shared credentials file, the AWS_* environment
// only, or the default chain). A named file that does not exist, or env
// without the variables, fails here, at start, rather than at every sync.
// Throttling and transient failures are retried with the SDK's jittered
// backoff, bounded so that a sync against a dead source ends and the
// next one starts once it is back.
func SourceClient(ctx context.Context, s SourceSpec) (*ssm.Client, error) {
	var opts []func(*config.LoadOptions) error
	c := s.Credentials
	if c.File != "" {
		if _, err := os.Stat(c.File); err != nil {
			return nil, fmt.Errorf("source.credentials.file: %w", err)
		}
		opts = append(opts, config.WithSharedCredentialsFiles([]string{c.File}))
	}
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	if c.Env {
		env, err := config.NewEnvConfig()
		if err != nil {
			return nil, fmt.Errorf("source.credentials.env: %w", err)
		}
		if !env.Credentials.HasKeys() {
			return nil, fmt.Errorf("source.credentials.env: %w", errNoEnvCredentials)
		}
		opts = append(opts, config.WithCredentialsProvider(credentials.StaticCredentialsProvider{Value: env.Credentials}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("source: aws configuration: %w", err)
	}
	if s.Region != "" {
		cfg.Region = s.Region
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return ssm.NewFromConfig(cfg, func(o *ssm.Options) {
		o.Retryer = retry.NewStandard(func(r *retry.StandardOptions) {
			r.MaxAttempts = 6
			r.MaxBackoff = 5 * time.Second
		})
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
	}), nil
}
