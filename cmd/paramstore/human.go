package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"
)

// Exit codes of the human commands (get, put, ls, tree, history, diff,
// rollback), documented in the README: a script can tell "no such
// parameter" from "not allowed" from "no server" without parsing text.
const (
	exitError        = 1 // any other failure
	exitUsage        = 2 // bad arguments or flags
	exitNotFound     = 3 // ParameterNotFound, ParameterVersionNotFound
	exitDenied       = 4 // AccessDeniedException, unknown key, bad signature, expired token
	exitNoConnection = 5 // the endpoint did not answer
)

// exitCodeError is an error with the process exit code it stands for.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// exitCode is the process exit code for err (nil: 0).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	return exitError
}

// humanFlags are the connection flags of the everyday commands, resolved
// like the aws CLI resolves them (DESIGN.md §3): --endpoint, else
// PARAMSTORE_ENDPOINT, else AWS_ENDPOINT_URL, else the local default;
// credentials and region from --credentials-file, --profile, AWS_PROFILE,
// the environment and the shared files.
type humanFlags struct {
	endpoint        string
	region          string
	profile         string
	credentialsFile string
	caFile          string
}

const defaultEndpoint = "http://127.0.0.1:4583"

func (f *humanFlags) register(cmd *cobra.Command) {
	p := cmd.Flags()
	p.StringVar(&f.endpoint, "endpoint", "", "SSM endpoint URL (env PARAMSTORE_ENDPOINT, else AWS_ENDPOINT_URL, else "+defaultEndpoint+")")
	p.StringVar(&f.region, "region", "", "region (else AWS_REGION or the profile's, else us-east-1)")
	p.StringVar(&f.profile, "profile", "", "profile of the AWS shared config and credentials files (else AWS_PROFILE)")
	p.StringVar(&f.credentialsFile, "credentials-file", "", "AWS shared credentials file, e.g. <data-dir>/root-credentials")
	p.StringVar(&f.caFile, "ca-file", "", "PEM bundle to trust for an https endpoint (else AWS_CA_BUNDLE or the profile's ca_bundle)")
}

// resolvedEndpoint is the endpoint the flags and environment name.
func (f *humanFlags) resolvedEndpoint() string {
	for _, e := range []string{f.endpoint, os.Getenv("PARAMSTORE_ENDPOINT"), os.Getenv("AWS_ENDPOINT_URL")} {
		if e != "" {
			return e
		}
	}
	return defaultEndpoint
}

// client returns an SSM client for the flags.
func (f *humanFlags) client(ctx context.Context) (*ssm.Client, error) {
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
	if f.caFile != "" {
		raw, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		opts = append(opts, config.WithCustomCABundle(strings.NewReader(string(raw))))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Credentials == nil {
		return nil, errors.New("no AWS credentials found: use --credentials-file <data-dir>/root-credentials, --profile or AWS_ACCESS_KEY_ID")
	}
	endpoint := f.resolvedEndpoint()
	return ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(endpoint) }), nil
}

// apiError turns an SDK error into "Code: sentence" with the exit code of
// its kind. subject names the parameter (or path) the call was about.
func apiError(err error, subject string) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg := ae.ErrorCode(), ae.ErrorMessage()
		exit := exitError
		switch code {
		case "ParameterNotFound":
			exit = exitNotFound
			if msg == "" {
				msg = "parameter " + subject + " does not exist."
			}
		case "ParameterVersionNotFound":
			exit = exitNotFound
			if msg == "" {
				msg = "that version of " + subject + " does not exist."
			}
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
			"ExpiredTokenException", "InvalidClientTokenId", "AccessDenied", "SignatureDoesNotMatch":
			exit = exitDenied
		}
		if msg == "" {
			msg = "the request on " + subject + " failed."
		}
		return &exitCodeError{code: exit, err: fmt.Errorf("%s: %s", code, msg)}
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return &exitCodeError{code: exitNoConnection, err: fmt.Errorf("no answer from the endpoint: %w", err)}
	}
	return err
}

// usageError marks err as a usage mistake (exit code 2).
func usageError(format string, a ...any) error {
	return &exitCodeError{code: exitUsage, err: fmt.Errorf(format, a...)}
}
