// Package e2e_test runs the built paramstore binary as a subprocess and
// drives it with the real aws CLI, boto3 and aws-sdk-go-v2 clients.
package e2e_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paramstore/paramstore/internal/testproc"
)

func TestMain(m *testing.M) { testproc.Main(m) }

// startServer runs `paramstore server` on a free loopback port with its
// data in dataDir and more flags extra, and waits until it is ready; it is
// stopped (SIGTERM, exit code 0) when the test ends.
func startServer(t testing.TB, dataDir string, extra ...string) *testproc.Server {
	t.Helper()
	return testproc.StartServer(t, testproc.ServerConfig{DataDir: dataDir, Args: extra})
}

// startServerOrExit is startServer for a server that may refuse to start:
// it returns once the server is ready or has exited.
func startServerOrExit(t testing.TB, dataDir string, extra ...string) *testproc.Server {
	t.Helper()
	return testproc.StartServerOrExit(t, testproc.ServerConfig{DataDir: dataDir, Args: extra})
}

// awsEnv is the environment for aws CLI / boto3 subprocesses: no config or
// credentials from the host (an empty credentials file, no config file),
// plus extra, whose entries override those.
func awsEnv(t testing.TB, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return testproc.Env(append([]string{
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "no-such-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	}, extra...)...)
}
