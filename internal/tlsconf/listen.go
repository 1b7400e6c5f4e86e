package tlsconf

import (
	"bufio"
	"crypto/tls"
	"net"
	"slices"
	"sync"
	"time"
)

// TLSRecordHandshake is the first byte a TLS client sends.
const TLSRecordHandshake = 0x16

// PeekConn is a connection whose first bytes can be looked at before they
// are read.
type PeekConn struct {
	net.Conn
	r *bufio.Reader
}

// NewPeekConn wraps c.
func NewPeekConn(c net.Conn) *PeekConn { return &PeekConn{Conn: c, r: bufio.NewReaderSize(c, 16)} }

// Peek returns the next n bytes without reading them.
func (p *PeekConn) Peek(n int) ([]byte, error) { return p.r.Peek(n) }

func (p *PeekConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// APIConfig is the configuration of the API listener: the certificate in
// use, TLS 1.2 or later.
func APIConfig(k *KeyPair) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return k.Current(), nil },
	}
}

// ListenAPI wraps the API listener ln. With api, it serves TLS with the API
// certificate; with peer, a client offering PeerALPN (a node's cluster
// call) gets the peer certificate and must present one of the peer CA.
// With peer and no api, the API stays plaintext HTTP and a connection that
// starts with a TLS handshake is a peer's: the first byte tells them apart.
func ListenAPI(ln net.Listener, api *KeyPair, peer *Peer) net.Listener {
	switch {
	case api == nil && peer == nil:
		return ln
	case peer == nil:
		return tls.NewListener(ln, APIConfig(api))
	case api != nil:
		cfg := APIConfig(api)
		cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			if slices.Contains(h.SupportedProtos, PeerALPN) {
				return peer.ServerConfig(), nil
			}
			return nil, nil
		}
		return tls.NewListener(ln, cfg)
	}
	m := &muxListener{Listener: ln, peer: peer, conns: make(chan net.Conn), done: make(chan struct{}), failed: make(chan struct{})}
	go m.loop()
	return m
}

// muxListener hands out plaintext connections as they are and TLS ones
// (peers') as TLS servers with the peer configuration. Each connection's
// first byte is awaited in its own goroutine, so a client that sends
// nothing holds up no one.
type muxListener struct {
	net.Listener
	peer   *Peer
	conns  chan net.Conn
	done   chan struct{} // closed by Close
	once   sync.Once
	failed chan struct{} // closed when the accept loop ended; err says why
	err    error
}

// peekTimeout bounds the wait for a connection's first byte.
const peekTimeout = 10 * time.Second

func (m *muxListener) loop() {
	defer close(m.failed)
	for {
		c, err := m.Listener.Accept()
		if err != nil {
			m.err = err
			return
		}
		go m.classify(c)
	}
}

func (m *muxListener) classify(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(peekTimeout))
	pc := NewPeekConn(c)
	b, err := pc.Peek(1)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	var out net.Conn = pc
	if b[0] == TLSRecordHandshake {
		out = tls.Server(pc, m.peer.ServerConfig())
	}
	select {
	case m.conns <- out:
	case <-m.done:
		out.Close()
	}
}

// Accept returns the next classified connection.
func (m *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.failed:
		return nil, m.err
	}
}

// Close stops accepting.
func (m *muxListener) Close() error {
	m.once.Do(func() { close(m.done) })
	return m.Listener.Close()
}
