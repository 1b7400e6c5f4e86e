package raftstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Fault injection into the raft transport, for tests of partitions and slow
// links (Config.FaultInjection, `paramstore server --enable-fault-injection`;
// never on by default). It wraps the stream layer the network transport is
// built on, so it sees every raft connection this node dials and accepts,
// and it cuts links by node ID: the test harness cuts and heals them on a
// running node through the cluster RPC "fault" (InjectFaults).
//
// A node controls the connections it dials. Raft sends each request on a
// connection its sender dialed and the answer back on the same connection,
// so a node whose Faults cut peer P sends P nothing and hears nothing back
// from P on its own connections; P's requests still arrive on P's
// connections until P cuts this node too. A partition between A and B is
// therefore two cuts: B on A, and A on B.
//
// The cluster RPCs a node makes to its leader (forwarded writes, read
// index, join) travel over the API listeners, not the raft transport, but
// honour the same cuts: a node whose Faults cut its leader does not call
// it (leaderInfo fails with ErrNotReady, before anything is sent), so a
// partition is a partition for every channel between nodes. Otherwise a
// cut-off old leader that heard of the new leader before the other side's
// cut landed would forward a write across the partition, where it commits
// although the old leader, unable to apply it, reports a failure. Client
// requests and the "fault" RPC are not affected.

// Faults is the fault state of one node's raft transport.
type Faults struct {
	// Cut names, by raft ID, the peers this node is cut off from: it does
	// not dial them (a dial hangs until its timeout or the next change of
	// the faults, then fails, as behind a network that drops packets) and
	// its open connections to them are closed.
	Cut []string `json:"cut,omitempty"`
	// Delay is added to every read from every raft connection of this
	// node, dialed or accepted: about Delay more each way when set on
	// every node.
	Delay time.Duration `json:"delay,omitempty"`
	// Storage, "ENOSPC" or "EIO", fails every write of this node's raft
	// log with that error, as a full or failing disk would (the writes of
	// raft's term and vote are spared: raft panics on those, a crash a
	// fault should not cause).
	Storage string `json:"storage,omitempty"`
}

// ErrFaultInjectionDisabled is returned when faults are set on a node that
// was not started with Config.FaultInjection.
var ErrFaultInjectionDisabled = errors.New("raftstore: fault injection is not enabled (--enable-fault-injection)")

// SetFaults replaces the fault state of this node's raft transport. Every
// ID in f.Cut must be a member of the cluster's configuration.
func (n *Node) SetFaults(f Faults) error {
	if !n.cfg.FaultInjection {
		return ErrFaultInjectionDisabled
	}
	if f.Delay < 0 {
		return fmt.Errorf("raftstore: fault delay %v is negative", f.Delay)
	}
	storageErr, err := storageFaultError(f.Storage)
	if err != nil {
		return err
	}
	if n.faults == nil {
		// An in-process transport has no links to cut or slow.
		if len(f.Cut) > 0 || f.Delay > 0 {
			return errors.New("raftstore: faults: cutting or slowing links needs --raft-listen")
		}
		n.storageFault.Store(&storageErr)
		n.log.Warn("raft fault injection", "storage", f.Storage)
		return nil
	}
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return fmt.Errorf("raftstore: faults: %w", err)
	}
	cut := map[raft.ServerAddress]string{}
	for _, id := range f.Cut {
		i := slices.IndexFunc(cf.Configuration().Servers, func(s raft.Server) bool { return s.ID == raft.ServerID(id) })
		if i < 0 {
			return fmt.Errorf("raftstore: faults: no member %q", id)
		}
		cut[cf.Configuration().Servers[i].Address] = id
	}
	n.faults.set(cut, f.Delay)
	n.storageFault.Store(&storageErr)
	n.log.Warn("raft fault injection", "cut", f.Cut, "delay", f.Delay.String(), "storage", f.Storage)
	// A write waiting for a leader it can call tries again.
	n.changes.notify()
	return nil
}

// linkCut returns ErrNotReady when this node's faults cut the peer id.
func (n *Node) linkCut(id raft.ServerID) error {
	if n.faults == nil || !n.faults.cuts(id) {
		return nil
	}
	return fmt.Errorf("%w: fault injection: link to %s cut", ErrNotReady, id)
}

// serveFault is the "fault" cluster RPC: the body is a Faults.
func (n *Node) serveFault(w http.ResponseWriter, body []byte) {
	var f Faults
	if err := json.Unmarshal(body, &f); err != nil {
		writeRPC(w, http.StatusBadRequest, rpcResponse{Error: "bad faults: " + err.Error()})
		return
	}
	if err := n.SetFaults(f); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrFaultInjectionDisabled) {
			status = http.StatusNotFound
		}
		writeRPC(w, status, rpcResponse{Error: err.Error()})
		return
	}
	writeRPC(w, http.StatusOK, rpcResponse{})
}

// InjectFaults sets the fault state of the node whose API is at apiURL
// (started with --enable-fault-injection), authenticating with the
// cluster key.
func InjectFaults(ctx context.Context, apiURL string, clusterKey []byte, f Faults) error {
	body, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("raftstore: faults: %w", err)
	}
	_, err = newRPCClient(clusterKey, nil, false, slog.New(slog.DiscardHandler)).call(ctx, apiURL, "fault", body)
	return err
}

// faultStream wraps a raft stream layer with the faults.
type faultStream struct {
	raft.StreamLayer
	delay atomic.Int64 // nanoseconds

	mu      sync.Mutex
	cut     map[raft.ServerAddress]string // address -> node ID
	changed chan struct{}                 // closed and replaced on every change, and on Close
	dialed  map[*faultConn]struct{}
	closed  bool
}

var _ raft.StreamLayer = (*faultStream)(nil)

func newFaultStream(s raft.StreamLayer) *faultStream {
	return &faultStream{StreamLayer: s, cut: map[raft.ServerAddress]string{}, changed: make(chan struct{}), dialed: map[*faultConn]struct{}{}}
}

// set replaces the faults and closes the dialed connections to the peers
// now cut.
func (s *faultStream) set(cut map[raft.ServerAddress]string, delay time.Duration) {
	s.delay.Store(int64(delay))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cut = cut
	close(s.changed)
	s.changed = make(chan struct{})
	for c := range s.dialed {
		if _, ok := cut[c.addr]; ok {
			c.Conn.Close()
			delete(s.dialed, c)
		}
	}
}

// cuts reports whether the link to the peer id is cut.
func (s *faultStream) cuts(id raft.ServerID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.cut {
		if c == string(id) {
			return true
		}
	}
	return false
}

func (s *faultStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	s.mu.Lock()
	id, isCut := s.cut[address]
	changed := s.changed
	s.mu.Unlock()
	if isCut {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
		case <-changed:
		}
		return nil, fmt.Errorf("raftstore: fault injection: link to %s (%s) cut", id, address)
	}
	conn, err := s.StreamLayer.Dial(address, timeout)
	if err != nil {
		return nil, err
	}
	c := &faultConn{Conn: conn, s: s, addr: address}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The link may have been cut while dialing.
	if id, isCut := s.cut[address]; isCut || s.closed {
		conn.Close()
		return nil, fmt.Errorf("raftstore: fault injection: link to %s (%s) cut", id, address)
	}
	s.dialed[c] = struct{}{}
	return c, nil
}

func (s *faultStream) Accept() (net.Conn, error) {
	conn, err := s.StreamLayer.Accept()
	if err != nil {
		return nil, err
	}
	return &faultConn{Conn: conn, s: s}, nil
}

// Close closes the listener and wakes the dials waiting on a cut link.
func (s *faultStream) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
	return s.StreamLayer.Close()
}

// faultConn is one raft connection: dialed (addr set) or accepted.
type faultConn struct {
	net.Conn
	s    *faultStream
	addr raft.ServerAddress
}

// Read delays what it read by the current delay.
func (c *faultConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if d := time.Duration(c.s.delay.Load()); n > 0 && d > 0 {
		time.Sleep(d)
	}
	return n, err
}

func (c *faultConn) Close() error {
	if c.addr != "" {
		c.s.mu.Lock()
		delete(c.s.dialed, c)
		c.s.mu.Unlock()
	}
	return c.Conn.Close()
}
