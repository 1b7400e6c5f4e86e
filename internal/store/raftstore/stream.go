package raftstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/tlsconf"
)

// authStream is raft's stream layer over TCP with a mutual challenge-
// response handshake keyed by the cluster key: a stranger without the key
// can neither join nor open a raft connection to inject entries. With
// peer TLS the handshake runs inside mutual TLS, which encrypts the
// traffic and requires a certificate of the peer CA on both sides; in the
// transition window plaintext peers are accepted too, told apart by the
// first byte (a TLS handshake record is 0x16, ours starts "PSRAFT1").
type authStream struct {
	ln        net.Listener
	advertise net.Addr
	key       []byte

	peer       *tlsconf.Peer // nil: plaintext
	transition bool
	log        *slog.Logger
}

const (
	handshakeMagic   = "PSRAFT1"
	handshakeTimeout = 5 * time.Second
	nonceSize        = 32
)

var errHandshake = errors.New("raftstore: raft peer failed the cluster-key handshake")

var _ raft.StreamLayer = (*authStream)(nil)

func newAuthStream(bind string, advertise string, key []byte) (*authStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	adv := ln.Addr()
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("raft advertise address %q: %w", advertise, err)
		}
		adv = a
	} else if ta, ok := adv.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("raft-listen %q binds all interfaces: give --raft-advertise", bind)
	}
	return &authStream{ln: ln, advertise: adv, key: key, log: slog.New(slog.DiscardHandler)}, nil
}

func (s *authStream) mac(label string, a, b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(label))
	m.Write(a)
	m.Write(b)
	return m.Sum(nil)
}

// Accept waits for a connection whose dialer proves it holds the key.
// Failed handshakes are dropped, not returned.
func (s *authStream) Accept() (net.Conn, error) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return nil, err
		}
		c, err = s.acceptTLS(c)
		if err != nil {
			s.log.Warn("raft: refused a connection from a peer", "remote", c.RemoteAddr().String(), "error", err)
			c.Close()
			continue
		}
		if err := s.serverHandshake(c); err != nil {
			c.Close()
			continue
		}
		return c, nil
	}
}

func (s *authStream) serverHandshake(c net.Conn) error {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	defer c.SetDeadline(time.Time{})
	hello := make([]byte, len(handshakeMagic)+nonceSize)
	if _, err := io.ReadFull(c, hello); err != nil {
		return err
	}
	if string(hello[:len(handshakeMagic)]) != handshakeMagic {
		return errHandshake
	}
	clientNonce := hello[len(handshakeMagic):]
	serverNonce := make([]byte, nonceSize)
	rand.Read(serverNonce)
	reply := append(append([]byte{}, serverNonce...), s.mac("server", clientNonce, serverNonce)...)
	if _, err := c.Write(reply); err != nil {
		return err
	}
	proof := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, proof); err != nil {
		return err
	}
	if !hmac.Equal(proof, s.mac("client", clientNonce, serverNonce)) {
		return errHandshake
	}
	return nil
}

// acceptTLS runs the server side of peer TLS on c, when configured.
func (s *authStream) acceptTLS(c net.Conn) (net.Conn, error) {
	if s.peer == nil {
		return c, nil
	}
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	defer c.SetDeadline(time.Time{})
	pc := tlsconf.NewPeekConn(c)
	first, err := pc.Peek(1)
	if err != nil {
		return c, err
	}
	if first[0] != tlsconf.TLSRecordHandshake {
		if s.transition {
			return pc, nil
		}
		return c, errors.New("a plaintext raft connection, and this node requires peer TLS (--peer-tls-*)")
	}
	tc := tls.Server(pc, s.peer.ServerConfig())
	if err := tc.Handshake(); err != nil {
		return c, fmt.Errorf("peer TLS handshake: %w", err)
	}
	return tc, nil
}

// dialTLS dials address with peer TLS; in the transition window, a peer
// that does not speak TLS (the handshake fails for any reason but its
// certificate) is dialed again in plaintext.
func (s *authStream) dialTLS(address string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", address, timeout)
	if err != nil || s.peer == nil {
		return c, err
	}
	host, _, _ := net.SplitHostPort(address)
	cfg := s.peer.ClientConfig()
	cfg.ServerName = host
	tc := tls.Client(c, cfg)
	tc.SetDeadline(time.Now().Add(handshakeTimeout))
	err = tc.Handshake()
	tc.SetDeadline(time.Time{})
	if err == nil {
		return tc, nil
	}
	c.Close()
	if s.transition && !tlsconf.IsCertificateError(err) {
		s.log.Info("raft: peer does not speak TLS yet; plaintext in the transition window", "peer", address, "error", err)
		return net.DialTimeout("tcp", address, timeout)
	}
	s.log.Warn("raft: peer TLS handshake failed", "peer", address, "error", err)
	return nil, fmt.Errorf("raftstore: peer TLS to %s: %w", address, err)
}

// Dial connects to a peer and runs the handshake.
func (s *authStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := s.dialTLS(string(address), timeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	clientNonce := make([]byte, nonceSize)
	rand.Read(clientNonce)
	if _, err := c.Write(append([]byte(handshakeMagic), clientNonce...)); err != nil {
		c.Close()
		return nil, err
	}
	reply := make([]byte, nonceSize+sha256.Size)
	if _, err := io.ReadFull(c, reply); err != nil {
		c.Close()
		return nil, err
	}
	serverNonce := reply[:nonceSize]
	if !hmac.Equal(reply[nonceSize:], s.mac("server", clientNonce, serverNonce)) {
		c.Close()
		return nil, errHandshake
	}
	if _, err := c.Write(s.mac("client", clientNonce, serverNonce)); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func (s *authStream) Close() error   { return s.ln.Close() }
func (s *authStream) Addr() net.Addr { return s.advertise }
