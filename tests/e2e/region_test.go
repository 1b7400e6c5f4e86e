package e2e_test

import (
	"strings"
	"testing"

	"github.com/paramstore/paramstore/internal/testproc"
)

// TestRegions drives the built server with the aws CLI: a made-up region
// in the credential scope is refused as AWS refuses it, a region named
// with --region-allow is a namespace like an AWS region, and a malformed
// --region-allow or a --region that is not accepted stops the server at
// start with an error that names the flag.
func TestRegions(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--region-allow", "xx-lab-1,onprem", "--region-allow", "zz-lab-2")
	aws := newAWSCLI(t, srv)

	// Global options may follow the command; the last --region wins.
	_, stderr, err := aws.exec("get-parameter", "--name", "/r/p", "--region", "xx-fake-1")
	want := "An error occurred (InvalidSignatureException) when calling the GetParameter operation: Credential should be scoped to a valid region, not 'xx-fake-1'."
	if err == nil || !strings.Contains(stderr, want) {
		t.Errorf("get-parameter in xx-fake-1: got err %v, stderr %q; want a failure containing %q", err, stderr, want)
	}
	// "onprem" comes from a comma list, "zz-lab-2" from a repeated flag:
	// both are accepted, and each is its own namespace.
	aws.run(nil, "put-parameter", "--name", "/r/p", "--type", "String", "--value", "on premises", "--region", "onprem")
	var got struct{ Parameter struct{ Value, ARN string } }
	aws.run(&got, "get-parameter", "--name", "/r/p", "--region", "onprem")
	if wantARN := "arn:aws:ssm:onprem:123456789012:parameter/r/p"; got.Parameter.Value != "on premises" || got.Parameter.ARN != wantARN {
		t.Errorf("onprem: got %+v, want value %q and ARN %q", got.Parameter, "on premises", wantARN)
	}
	_, stderr, err = aws.exec("get-parameter", "--name", "/r/p", "--region", "zz-lab-2")
	if want := "An error occurred (ParameterNotFound)"; err == nil || !strings.Contains(stderr, want) {
		t.Errorf("get-parameter in zz-lab-2: got err %v, stderr %q; want %q (an accepted region, without the parameter of onprem)", err, stderr, want)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--region-allow", "Bad_Region"}, `--region-allow "Bad_Region"`},
		{[]string{"--region", "xx-fake-1"}, `--region "xx-fake-1" is not an AWS region`},
	} {
		out, err := testproc.Command(t, append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)...).CombinedOutput()
		if exitCode(err) <= 0 || !strings.Contains(string(out), tc.want) {
			t.Errorf("server %s: got exit %d, output %q; want a failure naming %s", strings.Join(tc.args, " "), exitCode(err), out, tc.want)
		}
	}
}
