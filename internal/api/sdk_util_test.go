package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/paramstore/paramstore/internal/servertest"
)

// Shared fixtures of the SDK suite (sdk_*_test.go): every test drives a real
// server on a loopback port through the real aws-sdk-go-v2 SSM client.

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
	arnPrefix   = "arn:aws:ssm:us-east-1:123456789012:parameter/"

	msgSubPaths      = `Parameter name: can't be prefixed with "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_`
	msgPathRequired  = `The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash "/". It can't be prefixed with "aws" or "ssm" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.`
	msgAlreadyExists = "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
	msgInvalidToken  = "The specified token isn't valid."
)

// env is one server with a client in us-east-1.
type env struct {
	t        *testing.T
	ctx      context.Context
	endpoint string
	c        *ssm.Client
}

func newEnv(t *testing.T, opts ...servertest.Option) *env {
	t.Helper()
	_, ep := servertest.Start(t, opts...)
	return &env{t: t, ctx: context.Background(), endpoint: ep, c: servertest.Client(t, ep, testRegion)}
}

// client returns a client of the same server in another region.
func (e *env) client(region string) *ssm.Client {
	return servertest.Client(e.t, e.endpoint, region)
}

// put creates or overwrites a parameter and fails the test on error.
func (e *env) put(in *ssm.PutParameterInput) *ssm.PutParameterOutput {
	e.t.Helper()
	out, err := e.c.PutParameter(e.ctx, in)
	if err != nil {
		e.t.Fatalf("PutParameter %s: %v", aws.ToString(in.Name), err)
	}
	return out
}

// putString creates a String parameter.
func (e *env) putString(name, value string) {
	e.t.Helper()
	e.put(&ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: types.ParameterTypeString})
}

// overwrite writes a new version of an existing parameter.
func (e *env) overwrite(name, value string) int64 {
	e.t.Helper()
	return e.put(&ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Overwrite: aws.Bool(true)}).Version
}

// get reads a parameter (decrypted) and fails the test on error.
func (e *env) get(name string) *types.Parameter {
	e.t.Helper()
	out, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		e.t.Fatalf("GetParameter %s: %v", name, err)
	}
	return out.Parameter
}

// describeAll lists every parameter's metadata matching the filters.
func (e *env) describeAll(filters ...types.ParameterStringFilter) []types.ParameterMetadata {
	e.t.Helper()
	var all []types.ParameterMetadata
	p := ssm.NewDescribeParametersPaginator(e.c, &ssm.DescribeParametersInput{ParameterFilters: filters, MaxResults: aws.Int32(50)})
	for p.HasMorePages() {
		page, err := p.NextPage(e.ctx)
		if err != nil {
			e.t.Fatalf("DescribeParameters: %v", err)
		}
		all = append(all, page.Parameters...)
	}
	return all
}

// createKey makes a named keyring key through the admin endpoint and
// returns its key ID and ARN.
func (e *env) createKey(region, alias string) (id, arn string) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"Alias": alias})
	req, _ := http.NewRequest(http.MethodPost, e.endpoint+"/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "Paramstore.CreateKey")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/"+region+"/ssm/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("create key: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("create key: got status %d (%s), want 200", resp.StatusCode, raw)
	}
	var out struct {
		Key struct {
			KeyID string `json:"KeyId"`
			Arn   string `json:"Arn"`
		} `json:"Key"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Key.KeyID == "" {
		e.t.Fatalf("create key: bad response %s (%v)", raw, err)
	}
	return out.Key.KeyID, out.Key.Arn
}

// wantAPIError asserts that err is the AWS error code with exactly the
// message msg (as the SDK reports it), and, for codes the SDK models, that
// it was deserialized into the modelled type.
func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %T %v, want smithy.APIError %s", err, err, code)
	}
	if got := ae.ErrorCode(); got != code {
		t.Fatalf("got error code %q (%v), want %q", got, err, code)
	}
	if got := ae.ErrorMessage(); got != msg {
		t.Errorf("%s: got message %q, want %q", code, got, msg)
	}
	if !isTyped(err, code) {
		t.Errorf("%s: got %T, want the SDK's modelled error type", code, ae)
	}
}

// isTyped checks that the SDK decoded a modelled error into its type. Codes
// without a type of their own in the SSM model report true.
func isTyped(err error, code string) bool {
	switch code {
	case "ParameterNotFound":
		return errors.As(err, new(*types.ParameterNotFound))
	case "ParameterVersionNotFound":
		return errors.As(err, new(*types.ParameterVersionNotFound))
	case "ParameterAlreadyExists":
		return errors.As(err, new(*types.ParameterAlreadyExists))
	case "ParameterLimitExceeded":
		return errors.As(err, new(*types.ParameterLimitExceeded))
	case "ParameterMaxVersionLimitExceeded":
		return errors.As(err, new(*types.ParameterMaxVersionLimitExceeded))
	case "ParameterPatternMismatchException":
		return errors.As(err, new(*types.ParameterPatternMismatchException))
	case "InvalidAllowedPatternException":
		return errors.As(err, new(*types.InvalidAllowedPatternException))
	case "HierarchyLevelLimitExceededException":
		return errors.As(err, new(*types.HierarchyLevelLimitExceededException))
	case "InvalidKeyId":
		return errors.As(err, new(*types.InvalidKeyId))
	case "PoliciesLimitExceededException":
		return errors.As(err, new(*types.PoliciesLimitExceededException))
	case "InvalidPolicyTypeException":
		return errors.As(err, new(*types.InvalidPolicyTypeException))
	case "InvalidPolicyAttributeException":
		return errors.As(err, new(*types.InvalidPolicyAttributeException))
	case "IncompatiblePolicyException":
		return errors.As(err, new(*types.IncompatiblePolicyException))
	case "ParameterVersionLabelLimitExceeded":
		return errors.As(err, new(*types.ParameterVersionLabelLimitExceeded))
	case "InvalidFilterKey":
		return errors.As(err, new(*types.InvalidFilterKey))
	case "InvalidFilterOption":
		return errors.As(err, new(*types.InvalidFilterOption))
	case "InvalidFilterValue":
		return errors.As(err, new(*types.InvalidFilterValue))
	case "InvalidNextToken":
		return errors.As(err, new(*types.InvalidNextToken))
	case "InvalidResourceType":
		return errors.As(err, new(*types.InvalidResourceType))
	case "InvalidResourceId":
		return errors.As(err, new(*types.InvalidResourceId))
	case "TooManyTagsError":
		return errors.As(err, new(*types.TooManyTagsError))
	case "TooManyUpdates":
		return errors.As(err, new(*types.TooManyUpdates))
	case "ServiceSettingNotFound":
		return errors.As(err, new(*types.ServiceSettingNotFound))
	case "InternalServerError":
		return errors.As(err, new(*types.InternalServerError))
	}
	return true
}

// recorder is an HTTP client that keeps the last raw response, for checks
// the SDK's decoded view cannot make (an absent message member).
type recorder struct {
	status int
	body   []byte
	header http.Header
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.status, r.body, r.header = resp.StatusCode, raw, resp.Header
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	return resp, nil
}

// with routes one call through the recorder.
func (r *recorder) with(o *ssm.Options) { o.HTTPClient = r }

// repeat returns s repeated to n characters.
func repeat(s string, n int) string { return strings.Repeat(s, n)[:n] }

// names returns the names of parameters in order.
func names(ps []types.Parameter) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, aws.ToString(p.Name))
	}
	return out
}

// metaNames returns the names of metadata items in order.
func metaNames(ps []types.ParameterMetadata) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, aws.ToString(p.Name))
	}
	return out
}

// mismatch compares like reflect.DeepEqual and describes a difference as
// "got X, want Y"; it returns "" when they are equal.
func mismatch(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("got %+v, want %+v", got, want)
}

// wantError is wantAPIError for a call made through rec. InvalidFilterKey
// has no members in the model, so the SDK drops the message the server
// sends anyway (spec §15); for it the message is read from the raw body.
func wantError(t *testing.T, rec *recorder, err error, code, msg string) {
	t.Helper()
	if code != "InvalidFilterKey" {
		wantAPIError(t, err, code, msg)
		return
	}
	wantAPIError(t, err, code, "")
	var body map[string]string
	if jerr := json.Unmarshal(rec.body, &body); jerr != nil {
		t.Fatalf("got body %s: %v", rec.body, jerr)
	}
	if got := body["message"]; got != msg {
		t.Errorf("%s: got body message %q, want %q", code, got, msg)
	}
}

// at returns e reporting to t, for the helpers called inside a subtest.
func (e *env) at(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}
