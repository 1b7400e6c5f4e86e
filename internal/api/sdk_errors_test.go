package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	bolt "go.etcd.io/bbolt"

	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
)

// TestSDKErrorCatalogue raises every error code of spec §15 that an SDK
// client can reach, with its exact message, HTTP status and error-type
// header. The detailed behaviour behind each code is tested per operation
// in the other sdk_*_test.go files.
func TestSDKErrorCatalogue(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Limits.StandardParameters = 5 })
	e.putString("/cat/p", "v")
	e.put(&ssm.PutParameterInput{Name: aws.String("/cat/pattern"), Value: aws.String("1"), Type: types.ParameterTypeString, AllowedPattern: aws.String(`\d`)})
	e.putString("/cat/labels", "v")
	var ten []string
	for _, l := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		ten = append(ten, "l"+l)
	}
	if _, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/cat/labels"), Labels: ten}); err != nil {
		t.Fatal(err)
	}
	e.putString("/cat/fill1", "v")
	e.putString("/cat/fill2", "v")
	var fifty []string
	for i := 0; i < 50; i++ {
		fifty = append(fifty, fmt.Sprintf("k%02d", i), "v")
	}
	if _, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/cat/p"), Tags: tagList(fifty...)}); err != nil {
		t.Fatal(err)
	}
	adv := func(name, policies string) *ssm.PutParameterInput {
		return &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"), Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced, Policies: aws.String(policies)}
	}
	exp := `{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2099-12-02T21:34:33.000Z"}}`
	eleven := "[" + exp
	for i := 0; i < 10; i++ {
		eleven += `,{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"1","Unit":"Days"}}`
	}
	eleven += "]"

	type opt = func(*ssm.Options)
	tests := []struct {
		code string
		name string
		call func(o opt) error
		msg  string
	}{
		{"ValidationException", "model constraint", func(o opt) error {
			_, err := e.c.GetParametersByPath(e.ctx, &ssm.GetParametersByPathInput{Path: aws.String("/cat"), MaxResults: aws.Int32(11)}, o)
			return err
		}, "1 validation error detected: Value '11' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10"},
		{"ValidationException", "reserved ssm path", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/ssm/x"), Value: aws.String("v"), Type: types.ParameterTypeString}, o)
			return err
		}, msgSubPaths},
		{"ParameterNotFound", "GetParameter", func(o opt) error {
			_, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/cat/none")}, o)
			return err
		}, ""},
		{"ParameterNotFound", "GetParameterHistory", func(o opt) error {
			_, err := e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/cat/none")}, o)
			return err
		}, ""},
		{"ParameterNotFound", "DeleteParameter", func(o opt) error {
			_, err := e.c.DeleteParameter(e.ctx, &ssm.DeleteParameterInput{Name: aws.String("/cat/none")}, o)
			return err
		}, ""},
		{"ParameterNotFound", "LabelParameterVersion", func(o opt) error {
			_, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/cat/none"), Labels: []string{"x"}}, o)
			return err
		}, ""},
		{"ParameterNotFound", "UnlabelParameterVersion", func(o opt) error {
			_, err := e.c.UnlabelParameterVersion(e.ctx, &ssm.UnlabelParameterVersionInput{Name: aws.String("/cat/none"), ParameterVersion: aws.Int64(1), Labels: []string{"x"}}, o)
			return err
		}, ""},
		{"ParameterVersionNotFound", "GetParameter", func(o opt) error {
			_, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/cat/p:2")}, o)
			return err
		}, "Systems Manager could not find version 2 of /cat/p. Verify the version and try again."},
		{"ParameterVersionNotFound", "LabelParameterVersion", func(o opt) error {
			_, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/cat/p"), ParameterVersion: aws.Int64(3), Labels: []string{"x"}}, o)
			return err
		}, "Systems Manager could not find version 3 of /cat/p. Verify the version and try again."},
		{"ParameterVersionNotFound", "UnlabelParameterVersion", func(o opt) error {
			_, err := e.c.UnlabelParameterVersion(e.ctx, &ssm.UnlabelParameterVersionInput{Name: aws.String("/cat/p"), ParameterVersion: aws.Int64(4), Labels: []string{"x"}}, o)
			return err
		}, "Systems Manager could not find version 4 of /cat/p. Verify the version and try again."},
		{"ParameterAlreadyExists", "", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/cat/p"), Value: aws.String("v"), Type: types.ParameterTypeString}, o)
			return err
		}, msgAlreadyExists},
		{"ParameterLimitExceeded", "", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/cat/sixth"), Value: aws.String("v"), Type: types.ParameterTypeString}, o)
			return err
		}, "You have reached the maximum number of standard parameters for this AWS account and Region (5). To add more parameters, either delete existing parameters or upgrade to the advanced-parameter tier (charges apply)."},
		{"ParameterPatternMismatchException", "", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/cat/pattern"), Value: aws.String("12"), Overwrite: aws.Bool(true)}, o)
			return err
		}, `Parameter value, cannot be validated against allowedPattern: \d`},
		{"InvalidAllowedPatternException", "", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/cat/pattern"), Value: aws.String("1"), Overwrite: aws.Bool(true), AllowedPattern: aws.String("(")}, o)
			return err
		}, "The request doesn't meet the regular expression requirement."},
		{"HierarchyLevelLimitExceededException", "", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16"), Value: aws.String("v"), Type: types.ParameterTypeString}, o)
			return err
		}, "A hierarchy can have a maximum of 15 levels."},
		{"InvalidKeyId", "", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/cat/sec"), Value: aws.String("v"), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/none")}, o)
			return err
		}, "Alias arn:aws:kms:us-east-1:123456789012:alias/none is not found."},
		{"PoliciesLimitExceededException", "", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, adv("/cat/pol", eleven), o)
			return err
		}, "Number of policies attached to a parameter cannot exceed 10"},
		{"InvalidPolicyTypeException", "", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, adv("/cat/pol", `[{"Type":"Nope","Version":"1.0","Attributes":{}}]`), o)
			return err
		}, "Policy type Nope is not supported."},
		{"InvalidPolicyAttributeException", "", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, adv("/cat/pol", `[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"soon"}}]`), o)
			return err
		}, "Invalid timestamp format"},
		{"IncompatiblePolicyException", "", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, adv("/cat/pol", "["+exp+","+exp+"]"), o)
			return err
		}, "There can be only one expiration policy"},
		{"ParameterVersionLabelLimitExceeded", "", func(o opt) error {
			_, err := e.c.LabelParameterVersion(e.ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/cat/labels"), Labels: []string{"more"}}, o)
			return err
		}, "A parameter version can have maximum 10 labels.Move one or more labels to another version and try again."},
		{"InvalidFilterKey", "DescribeParameters", func(o opt) error {
			_, err := e.c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Label"), Values: []string{"x"}}}}, o)
			return err
		}, "The following filter key is not valid: Label. Valid filter keys include: [Path, Name, Type, KeyId, Tier]."},
		{"InvalidFilterKey", "GetParametersByPath", func(o opt) error {
			_, err := e.c.GetParametersByPath(e.ctx, &ssm.GetParametersByPathInput{Path: aws.String("/cat"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Tier"), Values: []string{"Standard"}}}}, o)
			return err
		}, "The following filter key is not valid: Tier. Valid filter keys include: [Type, KeyId]."},
		{"InvalidFilterOption", "", func(o opt) error {
			_, err := e.c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Path"), Option: aws.String("BeginsWith"), Values: []string{"/cat"}}}}, o)
			return err
		}, "The following filter option is not valid: BeginsWith. Valid options include: [Recursive, OneLevel]."},
		{"InvalidFilterValue", "", func(o opt) error {
			_, err := e.c.GetParametersByPath(e.ctx, &ssm.GetParametersByPathInput{Path: aws.String("/cat"), ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("KeyId")}}}, o)
			return err
		}, "The following filter values are missing : null for filter key KeyId."},
		{"InvalidNextToken", "GetParametersByPath", func(o opt) error {
			_, err := e.c.GetParametersByPath(e.ctx, &ssm.GetParametersByPathInput{Path: aws.String("/cat"), NextToken: aws.String("x.y")}, o)
			return err
		}, msgInvalidToken},
		{"InvalidNextToken", "DescribeParameters", func(o opt) error {
			_, err := e.c.DescribeParameters(e.ctx, &ssm.DescribeParametersInput{NextToken: aws.String("x.y")}, o)
			return err
		}, msgInvalidToken},
		{"InvalidNextToken", "GetParameterHistory", func(o opt) error {
			_, err := e.c.GetParameterHistory(e.ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/cat/p"), NextToken: aws.String("x.y")}, o)
			return err
		}, msgInvalidToken},
		{"InvalidResourceType", "", func(o opt) error {
			_, err := e.c.ListTagsForResource(e.ctx, &ssm.ListTagsForResourceInput{ResourceType: types.ResourceTypeForTaggingPatchBaseline, ResourceId: aws.String("pb-1")}, o)
			return err
		}, ""},
		{"InvalidResourceId", "", func(o opt) error {
			_, err := e.c.RemoveTagsFromResource(e.ctx, &ssm.RemoveTagsFromResourceInput{ResourceType: param, ResourceId: aws.String("/cat/none"), TagKeys: []string{"k"}}, o)
			return err
		}, ""},
		{"TooManyTagsError", "", func(o opt) error {
			_, err := e.c.AddTagsToResource(e.ctx, &ssm.AddTagsToResourceInput{ResourceType: param, ResourceId: aws.String("/cat/p"), Tags: tagList("fifty-first", "v")}, o)
			return err
		}, ""},
		{"ServiceSettingNotFound", "", func(o opt) error {
			_, err := e.c.GetServiceSetting(e.ctx, &ssm.GetServiceSettingInput{SettingId: aws.String("/ssm/parameter-store/nope")}, o)
			return err
		}, "The specified service setting wasn't found."},
		{"AccessDeniedException", "reserved aws path", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/aws/mine"), Value: aws.String("v"), Type: types.ParameterTypeString}, o)
			return err
		}, "No access to reserved parameter name: /aws/mine."},
		{"AccessDeniedException", "name too long", func(o opt) error {
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/" + repeat("x", 1000)), Value: aws.String("v"), Type: types.ParameterTypeString}, o)
			return err
		}, "Parameter name is too long."},
		{"UnknownOperationException", "operation out of scope", func(o opt) error {
			_, err := e.c.ListDocuments(e.ctx, &ssm.ListDocumentsInput{}, o)
			return err
		}, "UnknownError"}, // the SDK's text for an unmodelled error without a message
		{"SerializationException", "wrong member type", func(o opt) error {
			_, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/cat/p")}, o, withBody(`{"Name": 5}`))
			return err
		}, "Unexpected value type for member 'Name'."},
		{"SerializationException", "not an object", func(o opt) error {
			_, err := e.c.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/cat/p")}, o, withBody(`["/cat/p"]`))
			return err
		}, "Start of structure or map found where not expected."},
		{"InvalidSignatureException", "credential scope region", func(o opt) error {
			_, err := e.client("Nowhere").GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/cat/p")}, o)
			return err
		}, "Credential should be scoped to a valid region, not 'Nowhere'. "},
	}
	for _, tt := range tests {
		t.Run(tt.code+"/"+tt.name, func(t *testing.T) {
			rec := &recorder{}
			err := tt.call(rec.with)
			wantError(t, rec, err, tt.code, tt.msg)
			if rec.status != http.StatusBadRequest {
				t.Errorf("got status %d, want 400", rec.status)
			}
			if got := rec.header.Get("X-Amzn-ErrorType"); got != "" && got != tt.code {
				t.Errorf("got X-Amzn-ErrorType %q, want %q", got, tt.code)
			}
			if tt.msg == "" || tt.msg == "UnknownError" {
				var body map[string]any
				if err := json.Unmarshal(rec.body, &body); err != nil || len(body) != 1 || body["__type"] != tt.code {
					t.Errorf("got body %s, want exactly {\"__type\":%q}", rec.body, tt.code)
				}
			}
		})
	}
}

// bodySwap replaces the body of the SDK's request, to send what no SDK
// would serialize.
type bodySwap struct {
	body string
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
}

func (b *bodySwap) Do(req *http.Request) (*http.Response, error) {
	req.Body = io.NopCloser(bytes.NewReader([]byte(b.body)))
	req.ContentLength = int64(len(b.body))
	req.GetBody = nil
	return b.next.Do(req)
}

// withBody sends body in place of the serialized input. It must follow the
// option that installs the recorder, which it then wraps.
func withBody(body string) func(*ssm.Options) {
	return func(o *ssm.Options) {
		o.HTTPClient = &bodySwap{body: body, next: o.HTTPClient.(*recorder)}
	}
}

// TestSDKNeverRaisedErrors pins the model errors this server never raises
// (spec §15): a type change on overwrite is accepted rather than failing
// with HierarchyTypeMismatchException, and an unknown type fails model
// validation rather than UnsupportedParameterType.
func TestSDKNeverRaisedErrors(t *testing.T) {
	e := newEnv(t)
	e.putString("/never/p", "v")
	for _, typ := range []types.ParameterType{types.ParameterTypeStringList, types.ParameterTypeSecureString, types.ParameterTypeString} {
		t.Run("HierarchyTypeMismatchException/"+string(typ), func(t *testing.T) {
			e := e.at(t)
			_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/never/p"), Value: aws.String("a,b"), Type: typ, Overwrite: aws.Bool(true)})
			if err != nil {
				t.Fatalf("got %v, want the type change accepted", err)
			}
			if got := e.get("/never/p").Type; got != typ {
				t.Errorf("got type %q, want %q", got, typ)
			}
		})
	}
	t.Run("UnsupportedParameterType", func(t *testing.T) {
		e := e.at(t)
		_, err := e.c.PutParameter(e.ctx, &ssm.PutParameterInput{Name: aws.String("/never/q"), Value: aws.String("v"), Type: "Binary"})
		wantAPIError(t, err, "ValidationException", "1 validation error detected: Value 'Binary' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]")
	})
}

// TestSDKInternalServerError makes a SecureString undecryptable by
// restarting the server on the same data with a different master key: the
// read fails with a 500 InternalServerError that reveals nothing. (A server
// refuses to start with a master key other than the one whose check value
// the store records, so the test removes that record first, as in a store
// written before key check values existed.)
func TestSDKInternalServerError(t *testing.T) {
	dir := t.TempDir()
	onDir := func(c *server.Config) { c.DataDir = dir; c.ShutdownTimeout = 5 * time.Second }
	s1, ep1 := servertest.Start(t, onDir)
	c1 := servertest.Client(t, ep1, testRegion)
	e := &env{t: t, ctx: t.Context(), endpoint: ep1, c: c1}
	e.put(&ssm.PutParameterInput{Name: aws.String("/ise/p"), Value: aws.String("s3cret"), Type: types.ParameterTypeSecureString})
	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "master.key")); err != nil {
		t.Fatal(err)
	}
	forgetKeyCheck(t, filepath.Join(dir, "raft"))

	_, ep2 := servertest.Start(t, onDir)
	c2 := servertest.Client(t, ep2, testRegion)
	// Metadata and the ciphertext are still readable.
	if _, err := c2.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/ise/p")}); err != nil {
		t.Fatalf("read without decryption: %v", err)
	}
	rec := &recorder{}
	_, err := c2.GetParameter(e.ctx, &ssm.GetParameterInput{Name: aws.String("/ise/p"), WithDecryption: aws.Bool(true)}, rec.with)
	wantAPIError(t, err, "InternalServerError", "An internal error occurred.")
	if rec.status != http.StatusInternalServerError {
		t.Errorf("got status %d, want 500", rec.status)
	}
	if bytes.Contains(rec.body, []byte("crypto")) || bytes.Contains(rec.body, []byte("s3cret")) {
		t.Errorf("got body %s, want no internal detail", rec.body)
	}
}

// forgetKeyCheck deletes the master key's check value from a stopped
// server's state machine (and the clean-shutdown record, which the change
// would contradict).
func forgetKeyCheck(t *testing.T, raftDir string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(raftDir, "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("keyCheck")) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(raftDir, "clean-shutdown.json")); err != nil {
		t.Fatal(err)
	}
}
