package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
	"github.com/paramstore/paramstore/internal/testproc"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "paramstore test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	s, _ := servertest.Start(t, func(c *server.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("got URL %s, want https", s.URL())
	}
	client := ssm.New(ssm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	})
	ctx := context.Background()
	if _, err := client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/tls/p"), Value: aws.String("v"), Type: types.ParameterTypeString}); err != nil {
		t.Fatalf("PutParameter over TLS: %v", err)
	}
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/tls/p")})
	if err != nil || aws.ToString(out.Parameter.Value) != "v" {
		t.Fatalf("GetParameter over TLS: got %v, %v; want v", out, err)
	}
	// Plain HTTP to the TLS port is refused.
	resp, err := http.Get("http://" + s.Addr() + "/healthz")
	if err == nil && resp.StatusCode == http.StatusOK {
		t.Fatalf("plain HTTP to the TLS listener answered 200")
	}
}

func TestTLSBadFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a pem"), 0o600)
	tests := []struct {
		name      string
		cert, key string
		want      string
	}{
		{"missing cert file", filepath.Join(dir, "nope.pem"), keyFile, "--tls-cert"},
		{"garbage key", certFile, garbage, "--tls-key"},
		{"cert without key", certFile, "", "--tls-cert and --tls-key must be given together"},
		{"key without cert", "", keyFile, "--tls-cert and --tls-key must be given together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := server.Default()
			cfg.Listen = "127.0.0.1:0"
			cfg.DataDir = t.TempDir()
			cfg.NoAuth = true
			cfg.TLSCert, cfg.TLSKey = tt.cert, tt.key
			s, err := server.Start(context.Background(), cfg)
			if err == nil {
				s.Close()
				t.Fatalf("server started with bad TLS files")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestConfigValidate: the defaults (the CLI's) validate, and settings that
// contradict each other are refused with both named, never adjusted.
func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*server.Config)
		want []string // substrings of the error; none: valid
	}{
		{"defaults", func(*server.Config) {}, nil},
		{"dev defaults", func(c *server.Config) { c.Dev = true }, nil},
		{"a cluster node", func(c *server.Config) { c.Raft.Bind, c.ClusterKeyFile = "127.0.0.1:0", "cluster.key" }, nil},
		{"trailing logs at the threshold", func(c *server.Config) { c.Raft.SnapshotThreshold, c.Raft.TrailingLogs = 16, 16 }, nil},
		{"threshold below the trailing logs", func(c *server.Config) { c.Raft.SnapshotThreshold = 16 },
			[]string{"--trailing-logs", "--snapshot-threshold"}},
		{"raft listen without a cluster key", func(c *server.Config) { c.Raft.Bind = "127.0.0.1:0" },
			[]string{"--raft-listen", "--cluster-key-file"}},
		{"dev and raft listen", func(c *server.Config) { c.Dev, c.Raft.Bind, c.ClusterKeyFile = true, "127.0.0.1:0", "cluster.key" },
			[]string{"--dev", "--raft-listen"}},
		{"dev and force new cluster", func(c *server.Config) { c.Dev, c.Raft.ForceNewCluster = true, true },
			[]string{"--dev", "--force-new-cluster"}},
		{"join without raft listen", func(c *server.Config) { c.Raft.Join = "http://127.0.0.1:4583" },
			[]string{"--join", "--raft-listen"}},
		{"force new cluster and join", func(c *server.Config) {
			c.Raft.Bind, c.ClusterKeyFile, c.Raft.Join, c.Raft.ForceNewCluster = "127.0.0.1:0", "cluster.key", "http://127.0.0.1:4583", true
		}, []string{"--force-new-cluster", "--join"}},
		{"no node id", func(c *server.Config) { c.Raft.NodeID = "" }, []string{"--node-id"}},
		{"no max staleness", func(c *server.Config) { c.Raft.MaxStaleness = 0 }, []string{"--max-staleness"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := server.Default()
			tt.edit(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got valid, want an error naming %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to name %s", err, w)
				}
			}
		})
	}
}

// TestStartFailureReleases: a start that fails at its last step releases
// what the steps before it opened (the store, the API listener), so that
// the next start on the same data dir and address succeeds.
func TestStartFailureReleases(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := testproc.FreeAddr(t)

	cfg := server.Default()
	cfg.Listen = addr
	cfg.DataDir = t.TempDir()
	cfg.NoAuth = true
	cfg.DebugListen = busy.Addr().String()
	if s, err := server.Start(context.Background(), cfg); err == nil {
		s.Close()
		t.Fatal("started with the debug address taken")
	} else if !strings.Contains(err.Error(), "--debug-listen") {
		t.Fatalf("got %v, want the --debug-listen error", err)
	}

	cfg.DebugListen = ""
	s, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start after a failed start: %v", err)
	}
	if s.Addr() != addr {
		t.Errorf("got address %s, want %s", s.Addr(), addr)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// TestWaitEndsWithContext: Wait shuts the server down when its context
// ends, and the server's goroutines are done when it returns.
func TestWaitEndsWithContext(t *testing.T) {
	s, _ := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Fatal("the API still answers after Wait returned")
	}
}
