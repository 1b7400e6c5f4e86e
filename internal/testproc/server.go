package testproc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// ServerConfig describes a `paramstore server` process.
type ServerConfig struct {
	// Name names it in the log ("server" when empty).
	Name string
	// DataDir is its --data-dir.
	DataDir string
	// Listen is its --listen address; "" means 127.0.0.1:0, the port the
	// kernel picks (read from the "listening" line).
	Listen string
	// Args are more server flags.
	Args []string
	// Env is its environment; nil means this process's.
	Env []string
	// LogFile, when set, receives its output instead of the test log.
	LogFile string
	// ReadyTimeout bounds the wait for /readyz (default 30s).
	ReadyTimeout time.Duration
	// TLS is how a client reaches a server started with --tls-cert (see
	// Config.TLS).
	TLS *tls.Config
}

// Server is a `paramstore server` process on a data dir.
type Server struct {
	*Proc
	DataDir string

	credsOnce sync.Once
	creds     Credentials
	credsErr  error
}

// StartServer runs `paramstore server --listen L --data-dir D ARGS...` and
// waits until it answers /readyz with 200; it fails the test if the server
// exits first (StartServerOrExit is for a server that may refuse to start).
func StartServer(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	s := StartServerOrExit(t, cfg)
	if s.Exited() {
		t.Fatalf("%s exited before it was ready: %v; last lines:\n%s", s.name, s.Err(), s.Tail(30))
	}
	return s
}

// StartServerOrExit is StartServer for a server that may refuse to start:
// it returns once the server is ready or has exited (then Exited is true
// and Output holds everything it printed). It fails the test if neither
// happens in time.
func StartServerOrExit(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "server"
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	args := append([]string{"server", "--listen", cfg.Listen, "--data-dir", cfg.DataDir}, cfg.Args...)
	p := Start(t, Config{Name: cfg.Name, Args: args, Env: cfg.Env, LogFile: cfg.LogFile, TLS: cfg.TLS})
	s := &Server{Proc: p, DataDir: cfg.DataDir}
	if _, err := p.WaitListening(30 * time.Second); err != nil {
		if errors.Is(err, ErrExited) {
			return s
		}
		t.Fatal(err)
	}
	if err := p.WaitReady(cfg.ReadyTimeout); err != nil && !errors.Is(err, ErrExited) {
		t.Fatal(err)
	}
	return s
}

// CredentialsFile is where the server writes its root access key on the
// first start of its data dir (DESIGN.md §3).
func (s *Server) CredentialsFile() string {
	return filepath.Join(s.DataDir, "root-credentials")
}

// Credentials returns the root access key the server wrote, read and
// checked once: the file must have mode 0600 and an access key in profile
// default (DESIGN.md §3). A failure fails the test.
func (s *Server) Credentials() Credentials {
	s.t.Helper()
	s.credsOnce.Do(func() {
		path := s.CredentialsFile()
		info, err := os.Stat(path)
		if err != nil {
			s.credsErr = fmt.Errorf("root credentials: %w", err)
			return
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			s.t.Errorf("%s has mode %o, want 600", path, mode)
		}
		s.creds, s.credsErr = ReadCredentials(path)
	})
	if s.credsErr != nil {
		s.t.Fatal(s.credsErr)
	}
	return s.creds
}

// SSM is an aws-sdk-go-v2 SSM client for the server with its root key
// (Credentials.Options), changed by optFns.
func (s *Server) SSM(optFns ...func(*ssm.Options)) *ssm.Client {
	s.t.Helper()
	if s.tls != nil {
		hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: s.tls}}
		optFns = append([]func(*ssm.Options){func(o *ssm.Options) { o.HTTPClient = hc }}, optFns...)
	}
	return s.Credentials().SSM(s.URL(), optFns...)
}

// Credentials is an access key.
type Credentials struct {
	ID, Secret string
}

// ReadCredentials reads an access key from profile default of an AWS
// shared-credentials file (the format of <data-dir>/root-credentials).
func ReadCredentials(path string) (Credentials, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("root credentials: %w", err)
	}
	c, err := ParseCredentials(raw)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseCredentials parses an access key from profile default of an AWS
// shared-credentials file.
func ParseCredentials(raw []byte) (Credentials, error) {
	var c Credentials
	profile := ""
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			profile = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || profile != "default" {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			c.ID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.Secret = strings.TrimSpace(v)
		}
	}
	if c.ID == "" || c.Secret == "" {
		return Credentials{}, errors.New("no access key in profile default")
	}
	return c, nil
}

// Options are aws-sdk-go-v2 SSM options for endpoint that sign with c in
// us-east-1, without retries of any error the server sends (tests see every
// error as sent; see ClosedConnRetryer), with a 30s HTTP timeout.
func (c Credentials) Options(endpoint string) ssm.Options {
	return ssm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(c.ID, c.Secret, ""),
		Retryer:      ClosedConnRetryer(),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	}
}

// SSM is an SSM client with c.Options(endpoint), changed by optFns.
func (c Credentials) SSM(endpoint string, optFns ...func(*ssm.Options)) *ssm.Client {
	return ssm.New(c.Options(endpoint), optFns...)
}

// Env is the environment of a process that signs with c (the aws CLI, an
// agent, `paramstore exec`): Env() without the host's AWS settings and
// files, plus c, region us-east-1 and extra.
func (c Credentials) Env(t testing.TB, extra ...string) []string {
	dir := t.TempDir()
	return Env(append([]string{
		"AWS_ACCESS_KEY_ID=" + c.ID,
		"AWS_SECRET_ACCESS_KEY=" + c.Secret,
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED=true",
	}, extra...)...)
}

// ClosedConnRetryer retries a call once when, and only when, the client's
// own transport failed it with "use of closed network connection": a
// client-side race of net/http's connection reuse that aws-sdk-go-v2 reports
// as a deserialization failure of a 200 (aws/aws-sdk-go-v2#1825, #2737),
// seen about once in a few full runs on a loaded machine. Every error the
// server sends is still seen as sent: nothing else is retried.
func ClosedConnRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 2
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.RateLimiter = ratelimit.None
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "use of closed network connection") {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
	})
}
