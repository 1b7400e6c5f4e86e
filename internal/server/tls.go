package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/internal/tlsconf"
)

// openTLS reads the API certificate and the peer material, and watches
// their files: a certificate rotated on disk is served from the next
// handshake on, without a restart.
func (s *Server) openTLS(context.Context) error {
	if s.cfg.TLSCert != "" {
		k, err := tlsconf.LoadKeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("server: --tls-cert/--tls-key: %w", err)
		}
		s.apiCert = k
	}
	if s.cfg.PeerTLSCert != "" {
		p, err := tlsconf.LoadPeer(s.cfg.PeerTLSCert, s.cfg.PeerTLSKey, s.cfg.PeerTLSCA)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		s.peer = p
		s.log.Info("peer TLS", "transition", s.cfg.Raft.PeerTLSTransition, "cert_not_after", p.Cert.NotAfter(), "ca_not_after", p.CA.NotAfter())
	}
	var peerCert *tlsconf.KeyPair
	var peerCA *tlsconf.CA
	if s.peer != nil {
		peerCert, peerCA = s.peer.Cert, s.peer.CA
	}
	s.tlsw = tlsconf.NewWatcher(s.apiCert, peerCert, peerCA)
	every := s.cfg.TLSReloadInterval
	if every == 0 {
		every = 30 * time.Second
	}
	if s.tlsw.Empty() || every < 0 {
		return nil
	}
	ctx, stop := context.WithCancel(context.Background())
	s.spawn(func() error { stop(); return nil }, func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, it := range s.tlsw.Changed() {
					s.reload(it, "file changed")
				}
			}
		}
	})
	return nil
}

// ReloadTLS re-reads every certificate, key and CA file (SIGHUP). A file
// that fails to load keeps what was in use, and the error says which.
func (s *Server) ReloadTLS() error {
	if s.tlsw == nil || s.tlsw.Empty() {
		s.log.Info("tls: nothing to reload (no --tls-cert, no --peer-tls-cert)")
		return nil
	}
	var err error
	for _, it := range s.tlsItems() {
		if rerr := s.reload(it, "reload requested"); rerr != nil && err == nil {
			err = rerr
		}
	}
	s.tlsw.Changed()
	return err
}

func (s *Server) tlsItems() []tlsconf.Reloadable {
	var out []tlsconf.Reloadable
	if s.apiCert != nil {
		out = append(out, s.apiCert)
	}
	if s.peer != nil {
		out = append(out, s.peer.Cert, s.peer.CA)
	}
	return out
}

// reload reloads one item and logs the outcome.
func (s *Server) reload(it tlsconf.Reloadable, why string) error {
	name := s.certName(it)
	if err := it.Reload(); err != nil {
		s.log.Error("tls: reload failed; the certificate in use stays", "cert", name, "why", why, "error", err)
		return err
	}
	attrs := []any{"cert", name, "why", why}
	switch v := it.(type) {
	case *tlsconf.KeyPair:
		leaf := v.Current().Leaf
		attrs = append(attrs, "subject", leaf.Subject.CommonName, "serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter.UTC())
	case *tlsconf.CA:
		attrs = append(attrs, "not_after", v.NotAfter().UTC())
	}
	s.log.Info("tls: reloaded", attrs...)
	return nil
}

func (s *Server) certName(it tlsconf.Reloadable) string {
	switch {
	case s.apiCert != nil && it == tlsconf.Reloadable(s.apiCert):
		return "api"
	case s.peer != nil && it == tlsconf.Reloadable(s.peer.Cert):
		return "peer"
	}
	return "peer-ca"
}

// tlsCollectors export the expiry of each certificate in use.
func (s *Server) tlsCollectors() []prometheus.Collector {
	gauge := func(cert string, notAfter func() time.Time) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "paramstore_tls_certificate_expiry_timestamp_seconds",
			Help:        "When the certificate in use expires (Unix time): api (--tls-cert), peer (--peer-tls-cert), peer-ca (the earliest of --peer-tls-ca).",
			ConstLabels: prometheus.Labels{"cert": cert},
		}, func() float64 { return float64(notAfter().Unix()) })
	}
	var out []prometheus.Collector
	if s.apiCert != nil {
		out = append(out, gauge("api", s.apiCert.NotAfter))
	}
	if s.peer != nil {
		out = append(out, gauge("peer", s.peer.Cert.NotAfter), gauge("peer-ca", s.peer.CA.NotAfter))
	}
	return out
}

// peerClient is the client of this node's calls to the other members' API
// ports over peer TLS (the console's cluster screen); nil without peer TLS.
func (s *Server) peerClient() *http.Client {
	if s.peer == nil {
		return nil
	}
	return s.peer.HTTPClient(3 * time.Second)
}
