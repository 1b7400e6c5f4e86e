// Package webhook is the sending side of Paramstore's signed webhooks,
// shared by the server's event delivery (internal/events) and the agent's
// incident notices: the EventBridge-shaped envelope, the signature
// (X-Paramstore-Signature: sha256=HMAC of the body) and one bounded POST.
// It imports no server package, so the agent can use it.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Event is the EventBridge envelope.
type Event struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Sign returns the X-Paramstore-Signature value of body: "sha256=" and the
// hex HMAC-SHA256 of the body with the subscription's secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header in constant time: what a receiver does.
func Verify(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(header), []byte(Sign(secret, body)))
}

// NewHTTPClient returns the client of webhook deliveries: no proxy from
// the environment, no redirects followed, every phase bounded by timeout;
// https receivers are verified with the system roots and ca (PEM) if
// given.
func NewHTTPClient(ca []byte, timeout time.Duration) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(ca) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("webhook: the CA file holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// Post sends one signed event body and reads at most maxResponse bytes of
// the answer; anything but a 2xx is an error (a redirect is not followed).
func Post(ctx context.Context, c *http.Client, url string, secret []byte, id string, body []byte, maxResponse int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paramstore-webhook/1")
	req.Header.Set("X-Paramstore-Event-Id", id)
	req.Header.Set("X-Paramstore-Signature", Sign(secret, body))
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: POST %s: %w", url, unwrapURLError(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("webhook: POST %s: the receiver answered %s to %q (redirects are not followed)", url, resp.Status, resp.Header.Get("Location"))
	}
	return fmt.Errorf("webhook: POST %s: the receiver answered %s", url, resp.Status)
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
