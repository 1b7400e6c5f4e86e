// Package servertest starts real Paramstore servers on loopback ports for
// tests, and builds real aws-sdk-go-v2 SSM clients pointed at them.
package servertest

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/testproc"
)

// Option changes the configuration of a test server.
type Option func(*server.Config)

// WithAuth makes the server verify signatures and policies, as outside
// --dev. The root credentials are in RootCredentials(dataDir).
func WithAuth(c *server.Config) { c.NoAuth = false }

// RootCredentials reads the root access key a server wrote into its data
// directory.
func RootCredentials(t testing.TB, dataDir string) (id, secret string) {
	t.Helper()
	c, err := testproc.ReadCredentials(filepath.Join(dataDir, "root-credentials"))
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, c.Secret
}

// ClientWith returns an SSM client signing with the given credentials
// (token may be empty), without retries.
func ClientWith(t testing.TB, endpoint, region, id, secret, token string) *ssm.Client {
	t.Helper()
	return ssm.New(ssm.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, token),
		Retryer:      testproc.ClosedConnRetryer(),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	})
}

// Start runs a server with its data in t.TempDir() on 127.0.0.1:0, waits
// until it can serve, and closes it when the test ends. It returns the
// server and its endpoint URL.
func Start(t testing.TB, opts ...Option) (*server.Server, string) {
	t.Helper()
	cfg := server.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	// The SSM semantics suites sign with made-up keys; WithAuth turns
	// signature verification and policies on.
	cfg.NoAuth = true
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, o := range opts {
		o(&cfg)
	}
	s, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Node().WaitReady(ctx); err != nil {
		s.Close()
		t.Fatalf("server not ready: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, "http://" + s.Addr()
}

// Client returns an SSM client for endpoint in region, signing with static
// test credentials. Retries are off so tests see every error as sent.
func Client(t testing.TB, endpoint, region string) *ssm.Client {
	t.Helper()
	return ssm.New(ssm.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer:      testproc.ClosedConnRetryer(),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	})
}

// RetryingClient is Client with the SDK's standard retryer, as applications
// use it.
func RetryingClient(t testing.TB, endpoint, region string) *ssm.Client {
	t.Helper()
	return ssm.New(ssm.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer:      retry.NewStandard(),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
