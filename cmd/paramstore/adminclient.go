package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/internal/awsreq"
)

// adminFlags are the connection flags of the commands that call a running
// server's admin API (X-Amz-Target: Paramstore.*), signed with SigV4 like
// any AWS call.
type adminFlags struct {
	endpoint        string
	region          string
	profile         string
	credentialsFile string
}

func (f *adminFlags) register(cmd *cobra.Command) {
	endpoint := os.Getenv("PARAMSTORE_ENDPOINT")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:4583"
	}
	p := cmd.PersistentFlags()
	p.StringVar(&f.endpoint, "endpoint", endpoint, "server URL (env PARAMSTORE_ENDPOINT)")
	p.StringVar(&f.region, "region", "us-east-1", "region to sign for (the keyring is per region)")
	p.StringVar(&f.profile, "profile", "", "profile of the AWS shared credentials")
	p.StringVar(&f.credentialsFile, "credentials-file", "", "AWS shared credentials file, e.g. <data-dir>/root-credentials")
}

type adminClient struct {
	flags  adminFlags
	creds  aws.CredentialsProvider
	signer *awsreq.Signer
	http   *http.Client
}

func (f *adminFlags) client(ctx context.Context) (*adminClient, error) {
	var opts []func(*config.LoadOptions) error
	if f.credentialsFile != "" {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{f.credentialsFile}))
	}
	if f.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(f.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return &adminClient{flags: *f, creds: cfg.Credentials, signer: awsreq.NewSigner(cfg.Credentials, f.region, nil),
		http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// call invokes Paramstore.<op> with in as the JSON body and decodes the
// response into out.
func (c *adminClient) call(ctx context.Context, op string, in, out any) error {
	if c.creds == nil {
		return errors.New("no AWS credentials found: use --credentials-file <data-dir>/root-credentials, --profile or AWS_ACCESS_KEY_ID")
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.signer.Call(ctx, c.http, c.flags.endpoint, "Paramstore."+op, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e map[string]string
		json.Unmarshal(raw, &e)
		msg := e["Message"]
		if msg == "" {
			msg = e["message"]
		}
		if e["__type"] == "" {
			return fmt.Errorf("%s: HTTP %d: %s", op, resp.StatusCode, strings.TrimSpace(string(raw)))
		}
		return fmt.Errorf("%s: %s: %s", op, e["__type"], msg)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}
