// Package httpclient builds the one HTTP client of every client of ours:
// the agent, exec, the human, admin and operator commands, mirror, bundle,
// export and import. It trusts what the AWS SDKs trust, resolved by the
// SDK itself (--ca-file through config.WithCustomCABundle, else
// AWS_CA_BUNDLE, else the profile's ca_bundle, else the system roots), so
// a call made through aws-sdk-go-v2 and a raw signed call of ours agree on
// the server's certificate by construction: they share one transport. It
// presents a client certificate (--client-cert, --client-key) to servers
// that ask for one, and turns a certificate that is not trusted into an
// error that names the problem and its two fixes.
package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Config is what a client trusts and presents.
type Config struct {
	// CAFile is a PEM bundle of the CAs to trust instead of the system
	// roots (--ca-file). It wins over AWS_CA_BUNDLE and the profile's
	// ca_bundle, as the SDKs' own option does; like them, a bundle
	// replaces the system roots rather than adding to them.
	CAFile string
	// ClientCert and ClientKey are the PEM certificate and key presented
	// to a server that asks for one (--client-cert, --client-key).
	ClientCert, ClientKey string
	// RootCAs, when set, are the CAs trusted, whatever the rest says (the
	// client package's Config.RootCAs).
	RootCAs *x509.CertPool
	// Timeout bounds each request made with the client (0: none).
	Timeout time.Duration
}

// Validate reports a flag given without its partner.
func (c Config) Validate() error {
	if (c.ClientCert == "") != (c.ClientKey == "") {
		return errors.New("httpclient: --client-cert and --client-key go together")
	}
	return nil
}

// LoadAWS loads the AWS configuration as config.LoadDefaultConfig does
// with opts (credentials, region, the CA bundle) and returns it with its
// HTTPClient set to the client built from c, which it also returns for
// calls made without the SDK.
func LoadAWS(ctx context.Context, c Config, opts ...func(*config.LoadOptions) error) (aws.Config, *http.Client, error) {
	if err := c.Validate(); err != nil {
		return aws.Config{}, nil, err
	}
	// A server that asks for a client certificate is noted: with TLS 1.3
	// its refusal may reach the client as a broken connection, not as an
	// alert, and the note is what explains it.
	t := &Transport{}
	cert := &tls.Certificate{} // none: an empty certificate message
	if c.ClientCert != "" {
		kp, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			return aws.Config{}, nil, fmt.Errorf("--client-cert %s / --client-key %s: %w", c.ClientCert, c.ClientKey, err)
		}
		cert = &kp
	}
	bc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			t.asked.Store(true)
			return cert, nil
		}
	})
	bc = bc.WithTransportOptions(func(tr *http.Transport) {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.MinVersion = tls.VersionTLS12
	})
	trust := "the system's root CAs"
	opts = append([]func(*config.LoadOptions) error{config.WithHTTPClient(bc)}, opts...)
	if c.CAFile != "" {
		raw, err := readBundle(c.CAFile)
		if err != nil {
			return aws.Config{}, nil, fmt.Errorf("--ca-file: %w", err)
		}
		opts = append(opts, config.WithCustomCABundle(bytes.NewReader(raw)))
		trust = "the CAs of --ca-file " + c.CAFile
	} else if env := os.Getenv("AWS_CA_BUNDLE"); env != "" {
		if _, err := readBundle(env); err != nil {
			return aws.Config{}, nil, fmt.Errorf("AWS_CA_BUNDLE: %w", err)
		}
		trust = "the CAs of AWS_CA_BUNDLE=" + env
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, nil, fmt.Errorf("aws configuration: %w", err)
	}
	built, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		return aws.Config{}, nil, fmt.Errorf("httpclient: the AWS configuration's HTTP client is a %T", cfg.HTTPClient)
	}
	tr := built.GetTransport()
	switch {
	case c.RootCAs != nil:
		tr.TLSClientConfig.RootCAs = c.RootCAs
		trust = "the CAs of the client's RootCAs"
	case c.CAFile == "" && os.Getenv("AWS_CA_BUNDLE") == "" && tr.TLSClientConfig.RootCAs != nil:
		trust = "the CAs of the AWS profile's ca_bundle"
	}
	t.Base, t.Trust = tr, trust
	hc := &http.Client{Transport: t, Timeout: c.Timeout}
	cfg.HTTPClient = hc
	return cfg, hc, nil
}

// Client is LoadAWS for a caller that needs the HTTP client alone (an
// agent's local API, a server's /healthz): the same trust, from the
// default AWS configuration.
func Client(ctx context.Context, c Config) (*http.Client, error) {
	_, hc, err := LoadAWS(ctx, c)
	return hc, err
}

// readBundle reads a PEM bundle and checks that it holds a certificate.
func readBundle(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !x509.NewCertPool().AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return raw, nil
}

// Transport sends through Base and explains the TLS failures a user can
// fix: a server certificate signed by a CA not trusted, and a server that
// requires a client certificate.
type Transport struct {
	Base http.RoundTripper
	// Trust says what is trusted, for the message.
	Trust string
	// asked is set once a server asked for a client certificate.
	asked atomic.Bool
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.Base.RoundTrip(r)
	if err != nil {
		return nil, t.explain(err, r.URL.Host)
	}
	return resp, nil
}

// CAError is a server certificate that the client's CAs did not verify.
type CAError struct {
	Host  string
	Trust string
	Err   error
}

func (e *CAError) Error() string {
	return fmt.Sprintf("the TLS certificate of %s is not signed by a CA this client trusts (%v; trusting %s): "+
		"give the CA bundle that signed it with --ca-file FILE or AWS_CA_BUNDLE=FILE", e.Host, e.Err, e.Trust)
}

func (e *CAError) Unwrap() error { return e.Err }

// RetryableError tells the AWS SDKs' retryers not to retry: another
// attempt meets the same certificate.
func (e *CAError) RetryableError() bool { return false }

// ClientCertError is a server that refused the connection for want of a
// (trusted) client certificate.
type ClientCertError struct {
	Host string
	Err  error
}

func (e *ClientCertError) Error() string {
	return fmt.Sprintf("%s requires a TLS client certificate its CA signed (%v): give one with --client-cert FILE --client-key FILE", e.Host, e.Err)
}

func (e *ClientCertError) Unwrap() error { return e.Err }

// RetryableError tells the AWS SDKs' retryers not to retry.
func (e *ClientCertError) RetryableError() bool { return false }

// explain wraps err in a CAError or a ClientCertError when it is one of
// those failures, and returns it unchanged otherwise.
func (t *Transport) explain(err error, host string) error {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return &CAError{Host: host, Trust: t.Trust, Err: err}
	}
	// A server's alert reaches the client as text ("remote error: tls:
	// certificate required"): crypto/tls does not export its type. With
	// TLS 1.3 the client may have sent its request before the server
	// refused its certificate: the refusal is then a broken connection.
	msg := err.Error()
	alert := strings.Contains(msg, "remote error: tls: ") && (strings.Contains(msg, "certificate required") ||
		strings.Contains(msg, "bad certificate") || strings.Contains(msg, "unknown certificate authority"))
	broken := errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(msg, "http2: client conn could not be established")
	if alert || (broken && t.asked.Load()) {
		return &ClientCertError{Host: host, Err: err}
	}
	return err
}
