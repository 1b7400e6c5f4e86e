package raftstore

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// echoStream is a cluster-key stream layer whose accepted connections echo
// what they read.
func echoStream(t *testing.T, key []byte) *authStream {
	t.Helper()
	s, err := newAuthStream("127.0.0.1:0", "", key)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { s.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := s.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return s
}

// roundTrip writes msg on c and reads it back.
func roundTrip(c net.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echo mismatch: " + string(buf))
	}
	return nil
}

func TestFaultStream(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	peer := echoStream(t, key)
	peerAddr := raft.ServerAddress(peer.Addr().String())
	own, err := newAuthStream("127.0.0.1:0", "", key)
	if err != nil {
		t.Fatal(err)
	}
	s := newFaultStream(own)
	defer s.Close()

	c, err := s.Dial(peerAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial before any fault: %v", err)
	}
	defer c.Close()
	if err := roundTrip(c, "hello"); err != nil {
		t.Fatalf("round trip before any fault: %v", err)
	}

	// Cut: the open connection is closed, a new dial fails (after its
	// timeout, as behind a network that drops packets).
	s.set(map[raft.ServerAddress]string{peerAddr: "peer"}, 0)
	if err := roundTrip(c, "cut"); err == nil {
		t.Errorf("a connection to a cut peer still works")
	}
	if c, err := s.Dial(peerAddr, 50*time.Millisecond); err == nil {
		c.Close()
		t.Errorf("dialed a cut peer")
	}

	// A dial waiting on a cut link gives up when the faults change.
	dialed := make(chan error, 1)
	go func() {
		c, err := s.Dial(peerAddr, time.Hour)
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	// The dial may start before or after the heal: either way it ends.
	s.set(nil, 0)
	select {
	case err := <-dialed:
		t.Logf("dial across the heal: %v", err)
	case <-time.After(clusterWait):
		t.Fatal("a dial waiting on a cut link was not released by the heal")
	}
	c, err = s.Dial(peerAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial after the heal: %v", err)
	}
	defer c.Close()
	if err := roundTrip(c, "healed"); err != nil {
		t.Fatalf("round trip after the heal: %v", err)
	}

	// Delay: every read waits at least the delay.
	const delay = 50 * time.Millisecond
	s.set(nil, delay)
	start := time.Now()
	if err := roundTrip(c, "slow"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("a round trip with a %v read delay took %v", delay, took)
	}
	s.set(nil, 0)

	// Another peer is not affected by a cut.
	other := echoStream(t, key)
	s.set(map[raft.ServerAddress]string{peerAddr: "peer"}, 0)
	oc, err := s.Dial(raft.ServerAddress(other.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatalf("dial a peer that is not cut: %v", err)
	}
	defer oc.Close()
	if err := roundTrip(oc, "other"); err != nil {
		t.Errorf("round trip with a peer that is not cut: %v", err)
	}
}

func TestSetFaultsDisabled(t *testing.T) {
	n := openNode(t, testConfig(t, t.TempDir()))
	defer n.Close()
	if err := n.SetFaults(Faults{}); !errors.Is(err, ErrFaultInjectionDisabled) {
		t.Fatalf("SetFaults without FaultInjection: got %v, want ErrFaultInjectionDisabled", err)
	}
}
