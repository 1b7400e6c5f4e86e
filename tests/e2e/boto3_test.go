package e2e_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBoto3 runs testdata/boto3_e2e.py: boto3 paginators over several
// pages, a SecureString round trip and the error codes botocore sees.
func TestBoto3(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is required for the e2e tests but was not found in PATH: %v", err)
	}
	check := exec.Command(python, "-c", "import boto3, botocore; print(boto3.__version__, botocore.__version__)")
	check.Env = awsEnv(t)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("python3 cannot import boto3 (pip install boto3): %v\n%s", err, out)
	}

	srv := startServer(t, t.TempDir())
	script, err := filepath.Abs(filepath.Join("testdata", "boto3_e2e.py"))
	if err != nil {
		t.Fatal(err)
	}
	// boto3 takes the server's root access key from the environment.
	creds := srv.Credentials()
	cmd := exec.Command(python, script)
	cmd.Env = awsEnv(t, "AWS_ACCESS_KEY_ID="+creds.ID, "AWS_SECRET_ACCESS_KEY="+creds.Secret,
		"PARAMSTORE_ENDPOINT="+srv.URL(), "PYTHONUNBUFFERED=1")
	out, err := cmd.CombinedOutput()
	t.Logf("boto3_e2e.py output:\n%s", out)
	if err != nil {
		t.Fatalf("boto3_e2e.py failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "BOTO3 E2E OK") {
		t.Fatalf("boto3_e2e.py exited 0 without reporting success:\n%s", out)
	}
}
