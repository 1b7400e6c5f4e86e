// Package awsreq builds the SigV4-signed HTTP requests that Paramstore's
// own callers send to an SSM endpoint, the way the AWS SDKs sign theirs:
// the CLI's admin calls and snapshot downloads, the agent's SSM proxy, the
// client's change stream and the benchmarks. It is the one place that sets
// the AWS JSON 1.1 headers, hashes the payload and signs for the "ssm"
// service. (Verification, on the server, is package sigv4.)
package awsreq

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	// ContentType is the content type of an AWS JSON 1.1 call.
	ContentType = "application/x-amz-json-1.1"
	// Service is the SigV4 service name requests are signed for.
	Service = "ssm"
)

// Signer signs requests with one set of credentials for one region. It is
// safe for concurrent use, and reusing it reuses the signing keys it
// derived.
type Signer struct {
	creds  aws.CredentialsProvider
	region string
	now    func() time.Time
	v4     *v4.Signer
}

// NewSigner returns a Signer for region. With creds nil the requests are
// built unsigned. now is the clock of the signatures; nil means time.Now.
func NewSigner(creds aws.CredentialsProvider, region string, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{creds: creds, region: region, now: now, v4: v4.NewSigner()}
}

// Post returns a signed AWS JSON 1.1 call: body POSTed to the root path
// of endpoint, with X-Amz-Target target (such as "AmazonSSM.GetParameter"
// or "Paramstore.ListNodes").
func (s *Signer) Post(ctx context.Context, endpoint, target string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("awsreq: %s: %w", target, err)
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", ContentType)
	if err := s.sign(ctx, req, body); err != nil {
		return nil, fmt.Errorf("awsreq: %s: %w", target, err)
	}
	return req, nil
}

// Call sends the call that Post builds with hc and returns the answer,
// whatever its status. The caller closes the answer's body.
func (s *Signer) Call(ctx context.Context, hc *http.Client, endpoint, target string, body []byte) (*http.Response, error) {
	req, err := s.Post(ctx, endpoint, target, body)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("awsreq: %s: %w", target, err)
	}
	return resp, nil
}

// Get returns a signed GET of url.
func (s *Signer) Get(ctx context.Context, url string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("awsreq: %w", err)
	}
	if err := s.sign(ctx, req, nil); err != nil {
		return nil, fmt.Errorf("awsreq: GET %s: %w", req.URL.Path, err)
	}
	return req, nil
}

// sign signs req, whose body is payload.
func (s *Signer) sign(ctx context.Context, req *http.Request, payload []byte) error {
	if s.creds == nil {
		return nil
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(payload)
	if err := s.v4.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), Service, s.region, s.now()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	return nil
}
