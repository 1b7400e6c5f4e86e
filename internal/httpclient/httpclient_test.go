package httpclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/paramstore/paramstore/internal/httpclient"
	"github.com/paramstore/paramstore/internal/testpki"
)

// isolate clears the AWS environment of the host for the test.
func isolate(t *testing.T) string {
	dir := t.TempDir()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

// tlsServer serves 200 "ok" with a certificate of ca; clientCAs, when set,
// must sign the client's certificate.
func tlsServer(t *testing.T, ca *testpki.CA, clientCAs *testpki.CA) *httptest.Server {
	leaf := ca.Issue(t, "server", "127.0.0.1")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
	if clientCAs != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = clientCAs.Pool()
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// get fetches url with the client of c, and through the AWS configuration's
// client too: both must give the same answer.
func get(t *testing.T, c httpclient.Config, url string) error {
	t.Helper()
	cfg, hc, err := httpclient.LoadAWS(context.Background(), c)
	if err != nil {
		t.Fatalf("LoadAWS: %v", err)
	}
	var errs [2]error
	for i, do := range []func(*http.Request) (*http.Response, error){hc.Do, cfg.HTTPClient.Do} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		resp, err := do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		errs[i] = err
	}
	if (errs[0] == nil) != (errs[1] == nil) {
		t.Fatalf("the raw client and the AWS configuration's disagree: %v / %v", errs[0], errs[1])
	}
	return errs[0]
}

func TestTrust(t *testing.T) {
	ca := testpki.NewCA(t, "private CA")
	other := testpki.NewCA(t, "other CA")
	srv := tlsServer(t, ca, nil)
	cases := []struct {
		name    string
		env     map[string]string
		profile string
		cfg     httpclient.Config
		wantErr string
	}{
		{name: "ca-file", cfg: httpclient.Config{CAFile: ca.CertFile}},
		{name: "AWS_CA_BUNDLE", env: map[string]string{"AWS_CA_BUNDLE": ca.CertFile}},
		{name: "profile ca_bundle", profile: "ca_bundle = " + ca.CertFile},
		{name: "ca-file wins over AWS_CA_BUNDLE", env: map[string]string{"AWS_CA_BUNDLE": other.CertFile}, cfg: httpclient.Config{CAFile: ca.CertFile}},
		{name: "none", wantErr: "not signed by a CA this client trusts (tls: failed to verify certificate: x509: certificate signed by unknown authority; trusting the system's root CAs): give the CA bundle that signed it with --ca-file FILE or AWS_CA_BUNDLE=FILE"},
		{name: "another CA", env: map[string]string{"AWS_CA_BUNDLE": other.CertFile}, wantErr: "trusting the CAs of AWS_CA_BUNDLE=" + other.CertFile},
		{name: "another CA in the profile", profile: "ca_bundle = " + other.CertFile, wantErr: "trusting the CAs of the AWS profile's ca_bundle"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolate(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			if tc.profile != "" {
				if err := os.WriteFile(filepath.Join(dir, "config"), []byte("[default]\n"+tc.profile+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := get(t, tc.cfg, srv.URL)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got %v, want success", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("got success, want an error with %q", tc.wantErr)
			case tc.wantErr != "":
				var ce *httpclient.CAError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want a CAError with %q", err, tc.wantErr)
				}
				// Another attempt meets the same certificate: the SDKs'
				// retryers must not spend their backoff on it.
				if retry.NewStandard().IsErrorRetryable(err) {
					t.Errorf("the SDK's standard retryer retries %v", err)
				}
			}
		})
	}
}

func TestClientCertificate(t *testing.T) {
	isolate(t)
	ca := testpki.NewCA(t, "private CA")
	clients := testpki.NewCA(t, "client CA")
	srv := tlsServer(t, ca, clients)
	mine := clients.Issue(t, "cli")
	if err := get(t, httpclient.Config{CAFile: ca.CertFile, ClientCert: mine.CertFile, ClientKey: mine.KeyFile}, srv.URL); err != nil {
		t.Fatalf("with --client-cert: %v", err)
	}
	err := get(t, httpclient.Config{CAFile: ca.CertFile}, srv.URL)
	var cce *httpclient.ClientCertError
	if !errors.As(err, &cce) || !strings.Contains(err.Error(), "--client-cert FILE --client-key FILE") {
		t.Fatalf("without a client certificate: got %v, want a ClientCertError naming --client-cert", err)
	}
	stranger := ca.Issue(t, "stranger")
	err = get(t, httpclient.Config{CAFile: ca.CertFile, ClientCert: stranger.CertFile, ClientKey: stranger.KeyFile}, srv.URL)
	if !errors.As(err, &cce) {
		t.Fatalf("with a certificate of another CA: got %v, want a ClientCertError", err)
	}
}

func TestBadFiles(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	for _, tc := range []struct {
		name    string
		cfg     httpclient.Config
		env     string
		wantErr string
	}{
		{name: "missing ca-file", cfg: httpclient.Config{CAFile: filepath.Join(dir, "nope.pem")}, wantErr: "--ca-file: open"},
		{name: "ca-file without PEM", cfg: httpclient.Config{CAFile: junk}, wantErr: "--ca-file: " + junk + " holds no PEM certificate"},
		{name: "AWS_CA_BUNDLE without PEM", env: junk, wantErr: "AWS_CA_BUNDLE: " + junk + " holds no PEM certificate"},
		{name: "cert without key", cfg: httpclient.Config{ClientCert: junk}, wantErr: "--client-cert and --client-key go together"},
		{name: "bad key pair", cfg: httpclient.Config{ClientCert: junk, ClientKey: junk}, wantErr: "--client-cert " + junk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("AWS_CA_BUNDLE", tc.env)
			}
			_, _, err := httpclient.LoadAWS(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}
