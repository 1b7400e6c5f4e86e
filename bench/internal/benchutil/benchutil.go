// Package benchutil holds what the benchmark commands share: loading AWS
// credentials from a shared credentials file, sending SigV4-signed SSM JSON
// 1.1 requests the way an SDK does (built by internal/awsreq with
// aws-sdk-go-v2's signer, keep-alive connections), and summarizing
// latencies as p50/p90/p99/max.
package benchutil

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/paramstore/paramstore/internal/awsreq"
)

// LoadCreds reads profile default of an AWS shared credentials file (such
// as <data-dir>/root-credentials). Without a file, or for keys the file
// lacks, it uses AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and test/test when
// those are empty too.
func LoadCreds(path string) (aws.Credentials, error) {
	c := aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, err
		}
		profile := ""
		for _, line := range strings.Split(string(raw), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "[") {
				profile = strings.Trim(line, "[]")
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || profile != "default" {
				continue
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				c.AccessKeyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				c.SecretAccessKey = strings.TrimSpace(v)
			}
		}
	}
	if c.AccessKeyID == "" {
		c.AccessKeyID, c.SecretAccessKey = "test", "test"
	}
	return c, nil
}

// Client sends signed SSM requests to one endpoint. It is safe for
// concurrent use.
type Client struct {
	url    string
	signer *awsreq.Signer
	http   *http.Client
}

// NewClient returns a client for the endpoint url that signs for region and
// keeps up to idleConns connections open.
func NewClient(url, region string, creds aws.Credentials, idleConns int) *Client {
	return &Client{url: url, signer: awsreq.NewSigner(credentials.StaticCredentialsProvider{Value: creds}, region, nil),
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: idleConns}}}
}

// StatusError is a non-200 answer.
type StatusError struct {
	Target string
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("benchutil: %s: HTTP %d: %s", e.Target, e.Status, e.Body)
}

// Do signs and sends one call of the operation target (e.g. "GetParameter")
// with a JSON body. On HTTP 200 it decodes the answer into out, or discards
// it when out is nil; any other status is a *StatusError.
func (c *Client) Do(ctx context.Context, target string, body []byte, out any) error {
	resp, err := c.signer.Call(ctx, c.http, c.url, "AmazonSSM."+target, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &StatusError{Target: target, Status: resp.StatusCode, Body: string(raw)}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Send is Do without an answer: it reports whether the call got HTTP 200.
func (c *Client) Send(target string, body []byte) bool {
	return c.Do(context.Background(), target, body, nil) == nil
}

// Summary is a latency distribution in milliseconds.
type Summary struct {
	RPS                float64
	P50, P90, P99, Max float64
	Count, Errors      int
}

// Summarize sorts lat in place and summarizes it; elapsed gives the rate.
// lat must not be empty.
func Summarize(lat []time.Duration, errs int, elapsed time.Duration) Summary {
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	return Summary{RPS: float64(len(lat)) / elapsed.Seconds(), P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: q(1),
		Count: len(lat), Errors: errs}
}
