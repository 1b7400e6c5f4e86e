// Package servertest starts real Paramstore servers on loopback ports for
// tests, and builds real aws-sdk-go-v2 SSM clients pointed at them.
package servertest

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/internal/server"
)

// Option changes the configuration of a test server.
type Option func(*server.Config)

// Start runs a server with its data in t.TempDir() on 127.0.0.1:0, waits
// until it can serve, and closes it when the test ends. It returns the
// server and its endpoint URL.
func Start(t testing.TB, opts ...Option) (*server.Server, string) {
	t.Helper()
	cfg := server.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
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
		Retryer:      aws.NopRetryer{},
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
