package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/spf13/pflag"

	"github.com/paramstore/paramstore/internal/awsreq"
	"github.com/paramstore/paramstore/internal/httpclient"
)

const (
	defaultEndpoint      = "http://127.0.0.1:4583"
	defaultAgentEndpoint = "http://127.0.0.1:2773"
)

// connFlags are the connection flags of every client-side command
// (DESIGN.md §3), resolved like the aws CLI resolves them: --endpoint,
// else PARAMSTORE_ENDPOINT, else AWS_ENDPOINT_URL, else the command's
// default; credentials and region from --credentials-file, --profile,
// AWS_PROFILE, the environment and the shared files (region else
// us-east-1); TLS trust from --ca-file, else AWS_CA_BUNDLE, else the
// profile's ca_bundle, and --client-cert/--client-key (httpclient).
type connFlags struct {
	endpoint        string
	region          string
	profile         string
	credentialsFile string
	tls             httpclient.Config
	// fallback is the endpoint when neither a flag nor the environment
	// names one (defaultEndpoint unless set before register).
	fallback string
}

// register adds the flags to fs, each name prefixed with prefix (mirror's
// source is "source-").
func (f *connFlags) register(fs *pflag.FlagSet, prefix string) {
	if f.fallback == "" {
		f.fallback = defaultEndpoint
	}
	what := "SSM endpoint URL (env PARAMSTORE_ENDPOINT, else AWS_ENDPOINT_URL, else " + f.fallback + ")"
	if prefix != "" {
		what = "SSM endpoint URL of the " + strings.TrimSuffix(prefix, "-") + " (empty: AWS's own endpoint for the region)"
	}
	fs.StringVar(&f.endpoint, prefix+"endpoint", "", what)
	f.registerAuth(fs, prefix)
}

// registerAuth adds the flags of signing and TLS alone, for the commands
// whose endpoints have flags of their own (agent and exec: --upstream).
func (f *connFlags) registerAuth(fs *pflag.FlagSet, prefix string) {
	fs.StringVar(&f.region, prefix+"region", "", "region to sign for (else AWS_REGION or the profile's, else us-east-1)")
	fs.StringVar(&f.profile, prefix+"profile", "", "profile of the AWS shared config and credentials files (else AWS_PROFILE)")
	fs.StringVar(&f.credentialsFile, prefix+"credentials-file", "", "AWS shared credentials file, e.g. <data-dir>/root-credentials")
	f.registerTLS(fs, prefix)
}

// registerTLS adds the TLS flags alone (drill: unsigned calls).
func (f *connFlags) registerTLS(fs *pflag.FlagSet, prefix string) {
	fs.StringVar(&f.tls.CAFile, prefix+"ca-file", "", "PEM bundle of the CAs to trust for https (else AWS_CA_BUNDLE, else the profile's ca_bundle, else the system roots)")
	fs.StringVar(&f.tls.ClientCert, prefix+"client-cert", "", "PEM client certificate, for servers that require one (with --"+prefix+"client-key)")
	fs.StringVar(&f.tls.ClientKey, prefix+"client-key", "", "PEM private key of --"+prefix+"client-cert")
}

// resolvedEndpoint is the endpoint the flags and environment name.
func (f *connFlags) resolvedEndpoint() string {
	for _, e := range []string{f.endpoint, os.Getenv("PARAMSTORE_ENDPOINT"), os.Getenv("AWS_ENDPOINT_URL")} {
		if e != "" {
			return e
		}
	}
	if f.fallback == "" {
		return defaultEndpoint
	}
	return f.fallback
}

// load loads the AWS configuration the flags narrow, with the HTTP client
// of httpclient (timeout 0: the caller bounds its calls), and the region
// resolved.
func (f *connFlags) load(ctx context.Context, timeout time.Duration) (aws.Config, *http.Client, error) {
	opts := []func(*config.LoadOptions) error{config.WithAppID("paramstore-cli")}
	if f.credentialsFile != "" {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{f.credentialsFile}))
	}
	if f.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(f.profile))
	}
	if f.region != "" {
		opts = append(opts, config.WithRegion(f.region))
	}
	tc := f.tls
	tc.Timeout = timeout
	cfg, hc, err := httpclient.LoadAWS(ctx, tc, opts...)
	if err != nil {
		return aws.Config{}, nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg, hc, nil
}

var errNoCredentials = errors.New("no AWS credentials found: use --credentials-file <data-dir>/root-credentials, --profile or AWS_ACCESS_KEY_ID")

// ssmClient builds an SSM client for the resolved endpoint (aws: AWS's own
// endpoint for the region), retrying up to attempts times with the SDK's
// jittered backoff (0: the SDK's default).
func (f *connFlags) ssmClient(ctx context.Context, attempts int) (*ssm.Client, string, error) {
	return f.ssmClientFor(ctx, f.resolvedEndpoint(), attempts)
}

// ssmClientFor is ssmClient for endpoint ("" means AWS's own).
func (f *connFlags) ssmClientFor(ctx context.Context, endpoint string, attempts int) (*ssm.Client, string, error) {
	cfg, _, err := f.load(ctx, 0)
	if err != nil {
		return nil, "", err
	}
	if cfg.Credentials == nil {
		return nil, "", errNoCredentials
	}
	c := ssm.NewFromConfig(cfg, func(o *ssm.Options) {
		if attempts > 0 {
			o.RetryMaxAttempts = attempts
		}
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return c, cfg.Region, nil
}

// admin returns the signed admin API client of the resolved endpoint.
func (f *connFlags) admin(ctx context.Context) (*adminClient, error) {
	cfg, hc, err := f.load(ctx, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &adminClient{endpoint: f.resolvedEndpoint(), creds: cfg.Credentials, signer: awsreq.NewSigner(cfg.Credentials, cfg.Region, nil), http: hc}, nil
}

// httpClient is the HTTP client of the flags' TLS settings, for unsigned
// calls (an agent's local API, /readyz).
func (f *connFlags) httpClient(ctx context.Context, timeout time.Duration) (*http.Client, error) {
	_, hc, err := f.load(ctx, timeout)
	return hc, err
}

// humanClient is the SSM client of the everyday commands: the SDK's
// default retries.
func (f *connFlags) humanClient(ctx context.Context) (*ssm.Client, error) {
	c, _, err := f.ssmClient(ctx, 0)
	return c, err
}
