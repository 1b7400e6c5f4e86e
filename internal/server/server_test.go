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
