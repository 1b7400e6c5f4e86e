package raftstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// authStream is raft's stream layer over TCP with a mutual challenge-
// response handshake keyed by the cluster key: a stranger without the key
// can neither join nor open a raft connection to inject entries. The
// traffic after the handshake is not encrypted (run clusters on a private
// network, or add TLS in front).
type authStream struct {
	ln        net.Listener
	advertise net.Addr
	key       []byte
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
	return &authStream{ln: ln, advertise: adv, key: key}, nil
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

// Dial connects to a peer and runs the handshake.
func (s *authStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(address), timeout)
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
