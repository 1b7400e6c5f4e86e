package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/paramstore/paramstore/internal/awsreq"
)

// adminClient calls a running server's admin API (X-Amz-Target:
// Paramstore.*), signed with SigV4 like any AWS call (connFlags.admin).
type adminClient struct {
	endpoint string
	creds    aws.CredentialsProvider
	signer   *awsreq.Signer
	http     *http.Client
}

// call invokes Paramstore.<op> with in as the JSON body and decodes the
// response into out.
func (c *adminClient) call(ctx context.Context, op string, in, out any) error {
	if c.creds == nil {
		return errNoCredentials
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.signer.Call(ctx, c.http, c.endpoint, "Paramstore."+op, body)
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
