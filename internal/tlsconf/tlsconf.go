// Package tlsconf holds the server's TLS material read from files: the API
// certificate (--tls-cert/--tls-key) and the peer certificate and CA
// (--peer-tls-cert/--peer-tls-key/--peer-tls-ca) of mutual TLS between
// cluster nodes. Each is re-read by Reload (on SIGHUP, and when a file
// changes), atomically: a connection uses the material current when its
// handshake runs, so a certificate is rotated without a restart, and a
// reload that fails (a half-written file, a key that does not match its
// certificate yet) keeps the material in use and reports why.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// PeerALPN is the application protocol a node offers when it calls a peer
// on the API listener: the offer selects the peer certificate and requires
// the caller's certificate to be signed by the peer CA. The protocol
// negotiated is HTTP/1.1 (net/http closes a connection of a protocol it
// has no handler for), so the handler tells a peer's call by its verified
// certificate (VerifyClient).
const PeerALPN = "paramstore-peer/1"

// KeyPair is a certificate and its key, read from files.
type KeyPair struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadKeyPair reads certFile and keyFile.
func LoadKeyPair(certFile, keyFile string) (*KeyPair, error) {
	k := &KeyPair{certFile: certFile, keyFile: keyFile}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload reads the files again; on failure the pair in use stays.
func (k *KeyPair) Reload() error {
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("tlsconf: %s / %s: %w", k.certFile, k.keyFile, err)
	}
	if c.Leaf == nil && len(c.Certificate) > 0 {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return fmt.Errorf("tlsconf: %s: %w", k.certFile, err)
		}
	}
	k.cur.Store(&c)
	return nil
}

// Current is the pair in use.
func (k *KeyPair) Current() *tls.Certificate { return k.cur.Load() }

// NotAfter is the expiry of the certificate in use.
func (k *KeyPair) NotAfter() time.Time { return k.Current().Leaf.NotAfter }

// Files are the files it reads.
func (k *KeyPair) Files() []string { return []string{k.certFile, k.keyFile} }

// CA is a bundle of CA certificates, read from a file.
type CA struct {
	file string
	cur  atomic.Pointer[caState]
}

type caState struct {
	pool     *x509.CertPool
	notAfter time.Time // the earliest expiry in the bundle
}

// LoadCA reads file.
func LoadCA(file string) (*CA, error) {
	c := &CA{file: file}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the file again; on failure the bundle in use stays.
func (c *CA) Reload() error {
	raw, err := os.ReadFile(c.file)
	if err != nil {
		return fmt.Errorf("tlsconf: %w", err)
	}
	st := &caState{pool: x509.NewCertPool()}
	for len(raw) > 0 {
		var cert *x509.Certificate
		cert, raw, err = nextCert(raw)
		if err != nil {
			return fmt.Errorf("tlsconf: %s: %w", c.file, err)
		}
		if cert == nil {
			break
		}
		st.pool.AddCert(cert)
		if st.notAfter.IsZero() || cert.NotAfter.Before(st.notAfter) {
			st.notAfter = cert.NotAfter
		}
	}
	if st.notAfter.IsZero() {
		return fmt.Errorf("tlsconf: %s holds no PEM certificate", c.file)
	}
	c.cur.Store(st)
	return nil
}

// Pool is the bundle in use.
func (c *CA) Pool() *x509.CertPool { return c.cur.Load().pool }

// NotAfter is the earliest expiry in the bundle in use.
func (c *CA) NotAfter() time.Time { return c.cur.Load().notAfter }

// Files are the files it reads.
func (c *CA) Files() []string { return []string{c.file} }

// Peer is the material of mutual TLS between nodes.
type Peer struct {
	Cert *KeyPair
	CA   *CA
}

// LoadPeer reads the peer certificate, key and CA.
func LoadPeer(certFile, keyFile, caFile string) (*Peer, error) {
	k, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--peer-tls-cert/--peer-tls-key: %w", err)
	}
	ca, err := LoadCA(caFile)
	if err != nil {
		return nil, fmt.Errorf("--peer-tls-ca: %w", err)
	}
	return &Peer{Cert: k, CA: ca}, nil
}

// verify checks a chain presented by a peer against the CA in use, for
// usage (client or server auth), and host (a server's name; "" for a
// client).
func (p *Peer) verify(certs []*x509.Certificate, usage x509.ExtKeyUsage, host string) error {
	if len(certs) == 0 {
		return errors.New("tlsconf: the peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: p.CA.Pool(), Intermediates: inter, DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return fmt.Errorf("peer certificate %q is not signed by the peer CA (--peer-tls-ca): %w", certs[0].Subject.CommonName, err)
	}
	return nil
}

// VerifyClient checks a certificate chain a caller presented (a request's
// TLS.PeerCertificates) against the peer CA in use.
func (p *Peer) VerifyClient(certs []*x509.Certificate) error {
	return p.verify(certs, x509.ExtKeyUsageClientAuth, "")
}

// ServerConfig is the configuration of a node accepting a peer's
// connection: it presents the peer certificate in use and requires the
// peer's, verified against the peer CA in use. TLS 1.2 or later, Go's
// default cipher suites.
func (p *Peer) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return p.Cert.Current(), nil },
		// The chain is verified by VerifyConnection, against the CA of
		// the moment (ClientCAs would fix it at start).
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return p.verify(cs.PeerCertificates, x509.ExtKeyUsageClientAuth, "")
		},
	}
}

// HTTPClient is a client for a node's calls to the other members' API
// ports over peer TLS (use https URLs): ClientConfig, with timeout.
func (p *Peer) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig: p.ClientConfig(), TLSHandshakeTimeout: 5 * time.Second, MaxIdleConnsPerHost: 4,
		IdleConnTimeout: 90 * time.Second,
	}}
}

// ClientConfig is the configuration of a node dialing a peer: it presents
// the peer certificate in use and verifies the peer's against the peer CA
// in use and the host dialed.
func (p *Peer) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS12,
		NextProtos:           []string{PeerALPN, "http/1.1"},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return p.Cert.Current(), nil },
		// Verified by VerifyConnection against the CA of the moment.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			host := cs.ServerName
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			return p.verify(cs.PeerCertificates, x509.ExtKeyUsageServerAuth, host)
		},
	}
}

// Reloadable is material re-read from files.
type Reloadable interface {
	Reload() error
	Files() []string
}

var (
	_ Reloadable = (*KeyPair)(nil)
	_ Reloadable = (*CA)(nil)
)

// Watcher reloads material when its files change (size, modification
// time, or the file a path names: a Kubernetes secret's symlink swap) and
// on demand.
type Watcher struct {
	items []Reloadable
	mu    sync.Mutex
	seen  map[string]fileStamp
}

type fileStamp struct {
	size int64
	mod  time.Time
	ino  uint64
}

// NewWatcher watches items (nil ones are skipped).
func NewWatcher(items ...Reloadable) *Watcher {
	w := &Watcher{seen: map[string]fileStamp{}}
	for _, it := range items {
		if it != nil && !isNil(it) {
			w.items = append(w.items, it)
		}
	}
	w.Changed() // the stamps of the files as loaded
	return w
}

func isNil(r Reloadable) bool {
	switch v := r.(type) {
	case *KeyPair:
		return v == nil
	case *CA:
		return v == nil
	}
	return false
}

// Changed records the files' stamps and reports the items whose files
// changed since the last call.
func (w *Watcher) Changed() []Reloadable {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Reloadable
	for _, it := range w.items {
		changed := false
		for _, f := range it.Files() {
			st := stamp(f)
			if old, ok := w.seen[f]; !ok || old != st {
				changed = ok || changed
				w.seen[f] = st
			}
		}
		if changed && !slices.Contains(out, it) {
			out = append(out, it)
		}
	}
	return out
}

// ReloadAll reloads every item; the error joins the failures.
func (w *Watcher) ReloadAll() error {
	var errs []error
	for _, it := range w.items {
		errs = append(errs, it.Reload())
	}
	w.Changed()
	return errors.Join(errs...)
}

// Empty reports whether there is nothing to watch.
func (w *Watcher) Empty() bool { return len(w.items) == 0 }

// nextCert decodes the first PEM certificate of raw and returns the rest
// (nil, nil, nil when no PEM block is left).
func nextCert(raw []byte) (*x509.Certificate, []byte, error) {
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			return nil, nil, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		return c, raw, err
	}
}

// stamp is what tells a changed file: its size, modification time and
// inode (a replaced file), zero when it cannot be read.
func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	st := fileStamp{size: fi.Size(), mod: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st
}

// IsCertificateError reports whether a handshake failed on a certificate
// (either side's), rather than because the other side does not speak TLS.
func IsCertificateError(err error) bool {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	var cv *tls.CertificateVerificationError
	if errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) || errors.As(err, &cv) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "peer CA") || strings.Contains(msg, "certificate")
}
