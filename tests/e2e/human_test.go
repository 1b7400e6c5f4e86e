package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/internal/testproc"
)

// humanCLI runs the built binary's everyday commands (get, put, ls, tree,
// history, diff, rollback) with a fixed environment and connection flags.
type humanCLI struct {
	t     *testing.T
	env   []string
	flags []string
}

// run runs `paramstore ARGS... FLAGS...` with stdin and returns its
// stdout, stderr and exit code.
func (c *humanCLI) run(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	cmd := testproc.Command(c.t, append(append([]string(nil), args...), c.flags...)...)
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		c.t.Fatalf("paramstore %s: %v", strings.Join(args, " "), err)
	}
	code = cmd.ProcessState.ExitCode()
	c.t.Logf("paramstore %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return out.String(), errb.String(), code
}

// ok runs a command that must succeed and returns its stdout.
func (c *humanCLI) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("paramstore %s: exit %d, want 0; stderr: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

// fails runs a command that must fail with exit code want and an error
// naming awsCode.
func (c *humanCLI) fails(want int, awsCode string, args ...string) {
	c.t.Helper()
	_, errs, code := c.run("", args...)
	if code != want || !strings.Contains(errs, awsCode) {
		c.t.Errorf("paramstore %s: exit %d %q, want exit %d naming %s", strings.Join(args, " "), code, errs, want, awsCode)
	}
}

// TestHumanCLIParamstore drives get, put, ls, tree, history, diff and
// rollback through the built binary against a Paramstore server, with the
// connection given as flags (--endpoint, --credentials-file), and checks
// the exit code of a denied call.
func TestHumanCLIParamstore(t *testing.T) {
	srv := startServer(t, t.TempDir())
	srv.Credentials()
	cli := &humanCLI{t: t, env: awsEnv(t), flags: []string{"--endpoint", srv.URL(), "--credentials-file", srv.CredentialsFile()}}
	humanScenario(t, cli, srv.SSM())

	// A user allowed only /app/dev/*: denied elsewhere, exit code 4.
	policy := filepath.Join(t.TempDir(), "dev.json")
	writeTestFile(t, policy, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["ssm:GetParameter*","ssm:PutParameter","ssm:DescribeParameters"],"Resource":"arn:aws:ssm:*:*:parameter/app/dev/*"}]}`)
	admin := []string{"auth", "--endpoint", srv.URL(), "--credentials-file", srv.CredentialsFile()}
	if _, err := paramstoreCLI(t, append(admin, "create-user", "dev", "--policy-file", policy)...); err != nil {
		t.Fatal(err)
	}
	creds, err := paramstoreCLI(t, append(admin, "create-access-key", "dev")...)
	if err != nil {
		t.Fatal(err)
	}
	credFile := filepath.Join(t.TempDir(), "dev-credentials")
	writeTestFile(t, credFile, creds)
	dev := &humanCLI{t: t, env: awsEnv(t), flags: []string{"--endpoint", srv.URL(), "--credentials-file", credFile}}
	dev.ok("", "put", "/app/dev/x", "1")
	dev.fails(4, "AccessDeniedException: ", "get", "/app/db/url")
	dev.fails(4, "AccessDeniedException: ", "put", "/app/db/url", "x", "--type", "String")
	dev.fails(4, "AccessDeniedException: ", "rollback", "/app/db/url", "--to", "1")

	// Unknown key: denied too; no server: exit 5.
	wrong := &humanCLI{t: t, env: awsEnv(t, "AWS_ACCESS_KEY_ID=AKIAWRONG", "AWS_SECRET_ACCESS_KEY=wrong"), flags: []string{"--endpoint", srv.URL()}}
	wrong.fails(4, "UnrecognizedClientException", "get", "/app/db/url")
	closed := "http://" + testproc.FreeAddr(t) // reserved: nothing listens
	gone := &humanCLI{t: t, env: awsEnv(t), flags: []string{"--endpoint", closed, "--credentials-file", srv.CredentialsFile()}}
	gone.fails(5, "no answer from the endpoint", "get", "/app/db/url")
}

// TestHumanCLIMoto runs the same commands against moto_server, the
// connection given the way the aws CLI takes it (AWS_ENDPOINT_URL and the
// credential variables).
func TestHumanCLIMoto(t *testing.T) {
	url := startMoto(t)
	cli := &humanCLI{t: t, env: awsEnv(t, "AWS_ENDPOINT_URL="+url, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_REGION=us-east-1")}
	sdk := testproc.Credentials{ID: "testing", Secret: "testing"}.SSM(url)
	humanScenario(t, cli, sdk)
}

// humanScenario is the everyday session both stores must give the same
// output for. sdk labels a version behind the CLI's back.
func humanScenario(t *testing.T, cli *humanCLI, sdk *ssm.Client) {
	const secret = "s3cret-value-7f3a"
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"put", "/app/db/url", "postgres://a"}, "created /app/db/url version 1\n"},
		{"", []string{"put", "/app/db/url", "postgres://b"}, "updated /app/db/url to version 2\n"},
		{secret + "\n", []string{"put", "/app/db/password", "-", "--secure"}, "created /app/db/password version 1\n"},
		{"", []string{"put", "/app/name", "demo", "--description", "the app's name"}, "created /app/name version 1\n"},
		{"", []string{"put", "/top", "t"}, "created /top version 1\n"},
		{"", []string{"get", "/app/db/url"}, "postgres://b\n"},
		{"", []string{"get", "/app/db/url:1"}, "postgres://a\n"},
		{"", []string{"get", "/app/db/password", "--decrypt"}, secret + "\n"},
		{"", []string{"get", "/app/db/password"}, ""},
		{"", []string{"tree", "/app"}, "/app\n├── db/\n│   ├── password  (SecureString, v1)\n│   └── url  (String, v2)\n└── name  (String, v1)\n"},
		{"", []string{"diff", "/app/db/url", "1"}, "--- /app/db/url version 1\n+++ /app/db/url version 2\n@@ -6,4 +6,4 @@\n Labels:\n Policies:\n Value:\n-postgres://a\n+postgres://b\n"},
	} {
		if got := cli.ok(tc.stdin, tc.args...); got != tc.want {
			t.Errorf("paramstore %s: got\n%s\nwant\n%s", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	// A hidden SecureString says so on stderr and never prints the value.
	out, errs, _ := cli.run("", "get", "/app/db/password")
	if strings.Contains(out+errs, secret) || !strings.Contains(errs, "--decrypt") {
		t.Errorf("get of a SecureString without --decrypt: stdout %q stderr %q, want no value and a hint", out, errs)
	}
	out, errs, _ = cli.run("", "history", "/app/db/password")
	if strings.Contains(out+errs, secret) || !strings.Contains(out, "SecureString hidden") {
		t.Errorf("history of a SecureString without --decrypt: %q, want the value hidden", out)
	}

	// ls: one level with sub-paths, -R with full names, --json.
	if out := cli.ok("", "ls", "/app"); !strings.Contains(out, "db/") || !strings.Contains(out, "name ") || strings.Contains(out, "password") {
		t.Errorf("ls /app: got\n%s\nwant db/ and name, not password", out)
	}
	var ls struct {
		Path       string
		Paths      []string
		Parameters []struct {
			Name    string
			Type    string
			Version int64
		}
	}
	decode(t, cli.ok("", "ls", "/app", "-R", "--json"), &ls)
	var names []string
	for _, p := range ls.Parameters {
		names = append(names, fmt.Sprintf("%s %s %d", p.Name, p.Type, p.Version))
	}
	if got, want := strings.Join(names, ","), "/app/db/password SecureString 1,/app/db/url String 2,/app/name String 1"; got != want {
		t.Errorf("ls -R --json names: got %s, want %s", got, want)
	}
	decode(t, cli.ok("", "ls", "--json"), &ls)
	if strings.Join(ls.Paths, ",") != "app/" || len(ls.Parameters) != 1 || ls.Parameters[0].Name != "/top" {
		t.Errorf("ls / --json: got %+v, want path app/ and parameter /top", ls)
	}

	// rollback writes version 1's value as version 3; the label on
	// version 2 stays there.
	if _, err := sdk.LabelParameterVersion(context.Background(), &ssm.LabelParameterVersionInput{
		Name: aws.String("/app/db/url"), ParameterVersion: aws.Int64(2), Labels: []string{"prod"}}); err != nil {
		t.Fatal(err)
	}
	want := "rolled back /app/db/url to version 1's value as version 3\n--- /app/db/url version 2\n+++ /app/db/url version 3\n@@ -6,4 +6,4 @@\n Labels:\n Policies:\n Value:\n-postgres://b\n+postgres://a\n"
	if got := cli.ok("", "rollback", "/app/db/url", "--to", "1"); got != want {
		t.Errorf("rollback: got\n%s\nwant\n%s", got, want)
	}
	if got := cli.ok("", "get", "/app/db/url"); got != "postgres://a\n" {
		t.Errorf("after rollback: got %q", got)
	}
	if got := cli.ok("", "get", "/app/db/url:prod"); got != "postgres://b\n" {
		t.Errorf("label prod after rollback: got %q, want version 2's value", got)
	}
	var hist []struct {
		Version int64
		Value   string
		Labels  []string
	}
	decode(t, cli.ok("", "history", "/app/db/url", "--json"), &hist)
	var hs []string
	for _, h := range hist {
		hs = append(hs, strconv.FormatInt(h.Version, 10)+"="+h.Value+"["+strings.Join(h.Labels, ",")+"]")
	}
	if got, want := strings.Join(hs, " "), "1=postgres://a[] 2=postgres://b[prod] 3=postgres://a[]"; got != want {
		t.Errorf("history --json: got %s, want %s", got, want)
	}
	if got := cli.ok("", "diff", "/app/db/url", "1", "3"); got != "" {
		t.Errorf("diff of equal versions: got %q, want nothing", got)
	}
	// Attributes are diffed too (the label moved onto version 2).
	if got := cli.ok("", "diff", "/app/db/url", "1", "2"); !strings.Contains(got, "-Labels:\n+Labels: prod\n") {
		t.Errorf("diff 1 2: got\n%s\nwant the label change", got)
	}

	// Errors: the AWS code and a sentence, exit 3 for not found, 2 for usage.
	cli.fails(3, "ParameterNotFound: ", "get", "/nope")
	cli.fails(3, "ParameterVersionNotFound: ", "get", "/app/db/url:9")
	cli.fails(3, "ParameterVersionNotFound: ", "rollback", "/app/db/url", "--to", "9")
	cli.fails(3, "ParameterNotFound", "history", "/nope")
	cli.fails(2, "arg(s)", "diff", "/app/db/url")
	cli.fails(2, "--to", "rollback", "/app/db/url")
	cli.fails(2, "--type", "put", "/x", "1", "--type", "Bogus")
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
