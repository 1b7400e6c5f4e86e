package e2e_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/testproc"
)

// awsCLI runs the real aws CLI against a server.
type awsCLI struct {
	t        *testing.T
	path     string
	endpoint string
	env      []string
}

// newAWSCLI returns the aws CLI configured the way DESIGN.md §3 tells users:
// the server's root-credentials file as the shared credentials file.
func newAWSCLI(t *testing.T, srv *testproc.Server) *awsCLI {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the aws CLI is required for the e2e tests but was not found in PATH (%v); install it (pip install awscli)", err)
	}
	srv.Credentials() // checks the file's format and mode
	env := awsEnv(t, "AWS_SHARED_CREDENTIALS_FILE="+srv.CredentialsFile())
	return &awsCLI{t: t, path: path, endpoint: srv.URL(), env: env}
}

// withEnv returns a copy of c whose environment also has extra.
func (c *awsCLI) withEnv(extra ...string) *awsCLI {
	d := *c
	d.env = append(append([]string(nil), c.env...), extra...)
	return &d
}

// exec runs `aws --endpoint-url ... --region us-east-1 --output json ssm <args>`.
func (c *awsCLI) exec(args ...string) (stdout, stderr string, err error) {
	full := append([]string{"--endpoint-url", c.endpoint, "--region", "us-east-1", "--output", "json", "ssm"}, args...)
	cmd := exec.Command(c.path, full...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err = cmd.Run()
	c.t.Logf("aws ssm %s (%v) exit=%v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), err)
	return out.String(), errb.String(), err
}

// run runs a command that must succeed and decodes its JSON output into out
// (when out is not nil).
func (c *awsCLI) run(out any, args ...string) {
	c.t.Helper()
	stdout, stderr, err := c.exec(args...)
	if err != nil {
		c.t.Fatalf("aws ssm %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	if out == nil {
		return
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		c.t.Fatalf("aws ssm %s: decode output: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

type cliParameter struct {
	Name             string
	Type             string
	Value            string
	Version          int64
	Selector         string
	ARN              string
	DataType         string
	LastModifiedDate float64
	Labels           []string
	KeyId            string
	Tier             string
	Description      string
}

func names(ps []cliParameter) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func TestAWSCLI(t *testing.T) {
	srv := startServer(t, t.TempDir())
	aws := newAWSCLI(t, srv)
	const (
		host     = "/e2e/app/db/host"
		password = "/e2e/app/db/password"
		hosts    = "/e2e/app/hosts"
		secret   = "s3cr3t pa$$word"
		arnBase  = "arn:aws:ssm:us-east-1:123456789012:parameter"
	)

	// put-parameter: String, StringList, SecureString.
	for _, tc := range []struct{ name, value, typ string }{
		{host, "db1.internal", "String"},
		{hosts, "a.example,b.example,c.example", "StringList"},
		{password, secret, "SecureString"},
	} {
		var put struct {
			Version int64
			Tier    string
		}
		aws.run(&put, "put-parameter", "--name", tc.name, "--value", tc.value, "--type", tc.typ)
		if put.Version != 1 || put.Tier != "Standard" {
			t.Errorf("put-parameter %s: got Version %d Tier %q, want 1 Standard", tc.name, put.Version, put.Tier)
		}
	}

	// get-parameter of each type.
	var get struct{ Parameter cliParameter }
	aws.run(&get, "get-parameter", "--name", host)
	want := cliParameter{Name: host, Type: "String", Value: "db1.internal", Version: 1, ARN: arnBase + host, DataType: "text"}
	got := get.Parameter
	if got.LastModifiedDate < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("get-parameter %s: LastModifiedDate %v is not a recent epoch time", host, got.LastModifiedDate)
	}
	got.LastModifiedDate = 0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("get-parameter %s:\n got %+v\nwant %+v", host, got, want)
	}

	get.Parameter = cliParameter{}
	aws.run(&get, "get-parameter", "--name", hosts)
	if get.Parameter.Type != "StringList" || get.Parameter.Value != "a.example,b.example,c.example" {
		t.Errorf("get-parameter %s: got Type %q Value %q, want StringList a.example,b.example,c.example", hosts, get.Parameter.Type, get.Parameter.Value)
	}

	get.Parameter = cliParameter{}
	aws.run(&get, "get-parameter", "--name", password)
	cipher := get.Parameter.Value
	if get.Parameter.Type != "SecureString" || cipher == "" || cipher == secret || strings.Contains(cipher, secret) {
		t.Errorf("get-parameter %s without decryption: got Type %q Value %q, want SecureString with a ciphertext", password, get.Parameter.Type, cipher)
	}
	get.Parameter = cliParameter{}
	aws.run(&get, "get-parameter", "--name", password, "--with-decryption")
	if get.Parameter.Value != secret {
		t.Errorf("get-parameter %s --with-decryption: got Value %q, want %q", password, get.Parameter.Value, secret)
	}

	// get-parameters: found ones sorted by name, the missing one reported.
	var gets struct {
		Parameters        []cliParameter
		InvalidParameters []string
	}
	aws.run(&gets, "get-parameters", "--names", hosts, host, "/e2e/missing", "--with-decryption")
	if got, want := names(gets.Parameters), []string{host, hosts}; !reflect.DeepEqual(got, want) {
		t.Errorf("get-parameters: got names %q, want %q", got, want)
	}
	if want := []string{"/e2e/missing"}; !reflect.DeepEqual(gets.InvalidParameters, want) {
		t.Errorf("get-parameters: got InvalidParameters %q, want %q", gets.InvalidParameters, want)
	}

	// get-parameters-by-path: recursive returns all, sorted by name;
	// non-recursive only the direct children.
	var byPath struct{ Parameters []cliParameter }
	aws.run(&byPath, "get-parameters-by-path", "--path", "/e2e", "--recursive", "--with-decryption")
	if got, want := names(byPath.Parameters), []string{host, password, hosts}; !reflect.DeepEqual(got, want) {
		t.Errorf("get-parameters-by-path --recursive: got names %q, want %q", got, want)
	}
	for _, p := range byPath.Parameters {
		if p.Name == password && p.Value != secret {
			t.Errorf("get-parameters-by-path --with-decryption: %s has Value %q, want %q", password, p.Value, secret)
		}
	}
	byPath.Parameters = nil
	aws.run(&byPath, "get-parameters-by-path", "--path", "/e2e/app")
	if got, want := names(byPath.Parameters), []string{hosts}; !reflect.DeepEqual(got, want) {
		t.Errorf("get-parameters-by-path non-recursive: got names %q, want %q", got, want)
	}

	// A second version, then the history.
	var put struct{ Version int64 }
	aws.run(&put, "put-parameter", "--name", host, "--value", "db2.internal", "--overwrite")
	if put.Version != 2 {
		t.Errorf("put-parameter --overwrite: got Version %d, want 2", put.Version)
	}
	if _, stderr, err := aws.exec("put-parameter", "--name", host, "--value", "db3.internal"); err == nil ||
		!strings.Contains(stderr, "An error occurred (ParameterAlreadyExists) when calling the PutParameter operation: ") {
		t.Errorf("put-parameter without --overwrite on an existing name: got err %v, stderr %q, want ParameterAlreadyExists", err, stderr)
	}
	var hist struct{ Parameters []cliParameter }
	aws.run(&hist, "get-parameter-history", "--name", host)
	if len(hist.Parameters) != 2 {
		t.Fatalf("get-parameter-history: got %d items, want 2: %+v", len(hist.Parameters), hist.Parameters)
	}
	for i, wantValue := range []string{"db1.internal", "db2.internal"} {
		h := hist.Parameters[i]
		if h.Version != int64(i+1) || h.Value != wantValue || h.Name != host || h.Type != "String" || h.Tier != "Standard" {
			t.Errorf("get-parameter-history item %d: got %+v, want version %d value %q", i, h, i+1, wantValue)
		}
	}

	// label-parameter-version, then select by label and by version.
	var label struct {
		InvalidLabels    []string
		ParameterVersion int64
	}
	aws.run(&label, "label-parameter-version", "--name", host, "--parameter-version", "1", "--labels", "prod")
	if len(label.InvalidLabels) != 0 || label.ParameterVersion != 1 {
		t.Errorf("label-parameter-version: got %+v, want no InvalidLabels and ParameterVersion 1", label)
	}
	get.Parameter = cliParameter{}
	aws.run(&get, "get-parameter", "--name", host+":prod")
	if p := get.Parameter; p.Name != host || p.Value != "db1.internal" || p.Version != 1 || p.Selector != ":prod" {
		t.Errorf("get-parameter %s:prod: got Name %q Value %q Version %d Selector %q, want %s db1.internal 1 :prod", host, p.Name, p.Value, p.Version, p.Selector, host)
	}
	get.Parameter = cliParameter{}
	aws.run(&get, "get-parameter", "--name", host)
	if p := get.Parameter; p.Value != "db2.internal" || p.Version != 2 || p.Selector != "" {
		t.Errorf("get-parameter %s: got Value %q Version %d Selector %q, want db2.internal 2 and no selector", host, p.Value, p.Version, p.Selector)
	}
	hist.Parameters = nil
	aws.run(&hist, "get-parameter-history", "--name", host)
	if len(hist.Parameters) != 2 || !reflect.DeepEqual(hist.Parameters[0].Labels, []string{"prod"}) || len(hist.Parameters[1].Labels) != 0 {
		t.Errorf("get-parameter-history after labelling: got %+v, want label prod on version 1 only", hist.Parameters)
	}

	// describe-parameters with --parameter-filters.
	var desc struct{ Parameters []cliParameter }
	aws.run(&desc, "describe-parameters", "--parameter-filters", "Key=Name,Option=BeginsWith,Values=/e2e/app/db")
	if got, want := names(desc.Parameters), []string{host, password}; !reflect.DeepEqual(got, want) {
		t.Errorf("describe-parameters Name BeginsWith: got names %q, want %q", got, want)
	}
	for _, p := range desc.Parameters {
		if p.Value != "" {
			t.Errorf("describe-parameters: %s carries a Value %q; metadata only is expected", p.Name, p.Value)
		}
		switch p.Name {
		case host:
			if p.Type != "String" || p.Version != 2 || p.Tier != "Standard" || p.DataType != "text" {
				t.Errorf("describe-parameters %s: got %+v, want String version 2 Standard text", host, p)
			}
		case password:
			if p.Type != "SecureString" || p.Version != 1 || p.KeyId == "" {
				t.Errorf("describe-parameters %s: got %+v, want SecureString version 1 with a KeyId", password, p)
			}
		}
	}
	desc.Parameters = nil
	aws.run(&desc, "describe-parameters", "--parameter-filters", "Key=Type,Values=SecureString")
	if got, want := names(desc.Parameters), []string{password}; !reflect.DeepEqual(got, want) {
		t.Errorf("describe-parameters Type=SecureString: got names %q, want %q", got, want)
	}

	// Tags.
	aws.run(nil, "add-tags-to-resource", "--resource-type", "Parameter", "--resource-id", host,
		"--tags", "Key=team,Value=core", "Key=env,Value=prod")
	var tags struct{ TagList []struct{ Key, Value string } }
	aws.run(&tags, "list-tags-for-resource", "--resource-type", "Parameter", "--resource-id", host)
	gotTags := map[string]string{}
	for _, tg := range tags.TagList {
		gotTags[tg.Key] = tg.Value
	}
	if want := map[string]string{"team": "core", "env": "prod"}; len(tags.TagList) != 2 || !reflect.DeepEqual(gotTags, want) {
		t.Errorf("list-tags-for-resource: got %+v, want %v", tags.TagList, want)
	}

	// delete-parameter, then the not-found error of get-parameter: no
	// message after the colon.
	aws.run(nil, "delete-parameter", "--name", host)
	stdout, stderr, err := aws.exec("get-parameter", "--name", host)
	if err == nil {
		t.Fatalf("get-parameter of a deleted parameter succeeded: %s", stdout)
	}
	if code := exitCode(err); code <= 0 {
		t.Errorf("get-parameter of a deleted parameter: got %v, want a non-zero exit status", err)
	}
	const prefix = "An error occurred (ParameterNotFound) when calling the GetParameter operation: "
	i := strings.Index(stderr, prefix)
	if i < 0 {
		t.Fatalf("get-parameter of a deleted parameter: stderr %q does not contain %q", stderr, prefix)
	}
	if rest := strings.TrimSpace(stderr[i+len(prefix):]); rest != "" {
		t.Errorf("get-parameter of a deleted parameter: got message %q after the colon, want nothing; stderr %q", rest, stderr)
	}
	if stdout != "" {
		t.Errorf("get-parameter of a deleted parameter: got stdout %q, want none", stdout)
	}

	// Authentication: an unknown access key and a wrong secret are refused.
	id := srv.Credentials().ID
	for _, tc := range []struct {
		name, id, secret, want string
	}{
		{"unknown key", "AKIDE2EUNKNOWNKEY000", "dummy-secret",
			"An error occurred (UnrecognizedClientException) when calling the GetParameter operation: The security token included in the request is invalid."},
		{"wrong secret", id, "wrong-secret",
			"An error occurred (InvalidSignatureException) when calling the GetParameter operation: The request signature we calculated does not match the signature you provided."},
	} {
		bad := aws.withEnv("AWS_ACCESS_KEY_ID="+tc.id, "AWS_SECRET_ACCESS_KEY="+tc.secret)
		stdout, stderr, err := bad.exec("get-parameter", "--name", password)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("get-parameter with %s: got err %v, stdout %q, stderr %q; want a failure containing %q", tc.name, err, stdout, stderr, tc.want)
		}
	}

	// The deleted parameter is gone from listings too.
	byPath.Parameters = nil
	aws.run(&byPath, "get-parameters-by-path", "--path", "/e2e", "--recursive")
	got2 := names(byPath.Parameters)
	sort.Strings(got2)
	if want := []string{password, hosts}; !reflect.DeepEqual(got2, want) {
		t.Errorf("get-parameters-by-path after delete: got names %q, want %q", got2, want)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
