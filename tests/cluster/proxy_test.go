package cluster_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxy is a fault-injecting TCP forwarder: it listens on 127.0.0.1:0 and
// forwards every connection to a target address. It can block all traffic,
// block only connections that come from one source (a node, identified by
// the identify callback), and add latency to every chunk it forwards.
//
// A blocked connection is not refused: existing connections are cut (both
// sides closed), and new ones are accepted and then stalled (their bytes are
// read and dropped, nothing is answered), which is what a dialer sees behind
// a network partition that drops packets. Stalled connections are closed when
// the block is lifted, so their dialers reconnect.
type proxy struct {
	name     string
	ln       net.Listener
	identify func(net.Conn) string // the source of a connection; "" when unknown
	delay    atomic.Int64          // nanoseconds added to every forwarded chunk
	wg       sync.WaitGroup        // the accept loop and every connection's goroutines

	mu          sync.Mutex
	target      string
	blockAll    bool
	blockedFrom map[string]bool
	conns       map[*proxyConn]struct{}
	closed      bool
	accepted    int // connections accepted, for tests
}

// proxyConn is one accepted connection: forwarded (up != nil) or stalled.
type proxyConn struct {
	src    string
	client net.Conn
	up     net.Conn
	once   sync.Once
}

func (c *proxyConn) close() {
	c.once.Do(func() {
		c.client.Close()
		if c.up != nil {
			c.up.Close()
		}
	})
}

// newProxy starts a proxy to target. identify may be nil (every source is
// unknown, so only Block applies).
func newProxy(name, target string, identify func(net.Conn) string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", name, err)
	}
	if identify == nil {
		identify = func(net.Conn) string { return "" }
	}
	p := &proxy{
		name:        name,
		ln:          ln,
		identify:    identify,
		target:      target,
		blockedFrom: map[string]bool{},
		conns:       map[*proxyConn]struct{}{},
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the address dialers should use.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget changes where new connections go (a restarted node may listen
// on another port).
func (p *proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// SetDelay adds d of latency to every chunk forwarded in either direction,
// from now on (0 removes it).
func (p *proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Block cuts every connection and stalls new ones until Unblock.
func (p *proxy) Block() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blockAll = true
	p.cutLocked()
}

// BlockFrom cuts the connections from src and stalls its new ones until
// UnblockFrom(src) or Unblock.
func (p *proxy) BlockFrom(src string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blockedFrom[src] = true
	p.cutLocked()
}

// UnblockFrom lifts BlockFrom(src).
func (p *proxy) UnblockFrom(src string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.blockedFrom, src)
	p.releaseLocked()
}

// Unblock lifts every block.
func (p *proxy) Unblock() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blockAll = false
	clear(p.blockedFrom)
	p.releaseLocked()
}

// allowedLocked reports whether a connection from src may be forwarded.
// A connection whose source is unknown is only forwarded when nothing is
// blocked: a failed identification must not leak through a partition.
func (p *proxy) allowedLocked(src string) bool {
	if p.blockAll {
		return false
	}
	if src == "" {
		return len(p.blockedFrom) == 0
	}
	return !p.blockedFrom[src]
}

// cutLocked closes the forwarded connections that are no longer allowed.
func (p *proxy) cutLocked() {
	for c := range p.conns {
		if c.up != nil && !p.allowedLocked(c.src) {
			c.close()
			delete(p.conns, c)
		}
	}
}

// releaseLocked closes the stalled connections that would now be allowed.
func (p *proxy) releaseLocked() {
	for c := range p.conns {
		if c.up == nil && p.allowedLocked(c.src) {
			c.close()
			delete(p.conns, c)
		}
	}
}

// Close stops the proxy and closes every connection.
func (p *proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func (p *proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *proxy) handle(client net.Conn) {
	defer p.wg.Done()
	pc := &proxyConn{src: p.identify(client), client: client}
	p.mu.Lock()
	p.accepted++
	if p.closed {
		p.mu.Unlock()
		client.Close()
		return
	}
	if !p.allowedLocked(pc.src) {
		// Stall: keep the connection open, answer nothing.
		p.conns[pc] = struct{}{}
		p.mu.Unlock()
		io.Copy(io.Discard, client)
		p.drop(pc)
		return
	}
	target := p.target
	p.mu.Unlock()

	up, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	// Re-check: a block may have started while dialing.
	if p.closed || !p.allowedLocked(pc.src) {
		p.mu.Unlock()
		client.Close()
		up.Close()
		return
	}
	pc.up = up
	p.conns[pc] = struct{}{}
	p.mu.Unlock()

	var done sync.WaitGroup
	done.Add(2)
	go func() { defer done.Done(); p.pump(pc, up, client) }()
	go func() { defer done.Done(); p.pump(pc, client, up) }()
	done.Wait()
	p.drop(pc)
}

func (p *proxy) drop(pc *proxyConn) {
	pc.close()
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}

// pump copies src to dst, holding each chunk until its delay has passed
// (latency without a throughput limit), and closes the connection pair on
// the first error of either side.
func (p *proxy) pump(pc *proxyConn, dst io.Writer, src io.Reader) {
	defer pc.close()
	type chunk struct {
		at   time.Time
		data []byte
	}
	chunks := make(chan chunk, 256)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{at: time.Now(), data: buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range chunks {
		if failed {
			continue // drain until the reader stops
		}
		if d := time.Duration(p.delay.Load()); d > 0 {
			if wait := time.Until(c.at.Add(d)); wait > 0 {
				time.Sleep(wait)
			}
		}
		if _, err := dst.Write(c.data); err != nil {
			failed = true
			pc.close()
		}
	}
}

// socketOwner identifies the process at the other end of a loopback
// connection accepted by this process: it finds the peer's socket in
// /proc/net/tcp (local port = c's remote port, remote port = c's local
// port) and the pid, among candidates, that holds that socket's inode. It
// returns 0 when none does. Linux only; this is how the proxies tell which
// node a raft connection comes from, since the nodes dial from 127.0.0.1
// like everyone else.
func socketOwner(c net.Conn, candidates []int) int {
	local, ok1 := c.LocalAddr().(*net.TCPAddr)
	remote, ok2 := c.RemoteAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return 0
	}
	inode := ""
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if inode = findInode(table, remote.Port, local.Port); inode != "" {
			break
		}
	}
	if inode == "" {
		return 0
	}
	want := "socket:[" + inode + "]"
	for _, pid := range candidates {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if link, err := os.Readlink(dir + "/" + e.Name()); err == nil && link == want {
				return pid
			}
		}
	}
	return 0
}

// findInode returns the inode of the socket with local port lport and
// remote port rport in a /proc/net/tcp table.
func findInode(table string, lport, rport int) string {
	f, err := os.Open(table)
	if err != nil {
		return ""
	}
	defer f.Close()
	wantLocal := fmt.Sprintf(":%04X", lport)
	wantRemote := fmt.Sprintf(":%04X", rport)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		if strings.HasSuffix(fields[1], wantLocal) && strings.HasSuffix(fields[2], wantRemote) {
			return fields[9]
		}
	}
	return ""
}

// identifyRetry runs socketOwner a few times: the peer may not show in
// /proc for a moment after connect.
func identifyRetry(c net.Conn, candidates func() map[int]string) string {
	for i := 0; i < 10; i++ {
		pids := candidates()
		list := make([]int, 0, len(pids))
		for pid := range pids {
			list = append(list, pid)
		}
		if pid := socketOwner(c, list); pid != 0 {
			return pids[pid]
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ""
}

// The proxy on its own, against an echo server.

func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// dialFrom connects to addr from the loopback source address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads it back within timeout.
func roundTrip(c net.Conn, msg string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return fmt.Errorf("got %q, want %q", buf, msg)
	}
	return nil
}

// isTimeout reports a deadline error (a stalled connection), as opposed to
// a closed one.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestProxy(t *testing.T) {
	echo := startEcho(t)
	// The source IP names the dialer here; the cluster uses socketOwner.
	p, err := newProxy("test", echo, func(c net.Conn) string {
		return c.RemoteAddr().(*net.TCPAddr).IP.String()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	a := dialFrom(t, "127.0.0.2", p.Addr())
	if err := roundTrip(a, "hello", time.Second); err != nil {
		t.Fatalf("forwarding: %v", err)
	}

	p.Block()
	if err := roundTrip(a, "cut", time.Second); err == nil || isTimeout(err) {
		t.Errorf("existing connection after Block: got %v, want it closed", err)
	}
	stalled := dialFrom(t, "127.0.0.2", p.Addr())
	if err := roundTrip(stalled, "stall", 200*time.Millisecond); !isTimeout(err) {
		t.Errorf("new connection while blocked: got %v, want a timeout (stalled)", err)
	}
	p.Unblock()
	if err := roundTrip(stalled, "x", time.Second); err == nil || isTimeout(err) {
		t.Errorf("stalled connection after Unblock: got %v, want it closed", err)
	}
	a = dialFrom(t, "127.0.0.2", p.Addr())
	if err := roundTrip(a, "again", time.Second); err != nil {
		t.Fatalf("after Unblock: %v", err)
	}

	// One-way: block only the connections that come from 127.0.0.2.
	b := dialFrom(t, "127.0.0.3", p.Addr())
	p.BlockFrom("127.0.0.2")
	if err := roundTrip(a, "cut", time.Second); err == nil || isTimeout(err) {
		t.Errorf("connection from the blocked source: got %v, want it closed", err)
	}
	if err := roundTrip(b, "other", time.Second); err != nil {
		t.Errorf("connection from another source: %v", err)
	}
	a = dialFrom(t, "127.0.0.2", p.Addr())
	if err := roundTrip(a, "stall", 200*time.Millisecond); !isTimeout(err) {
		t.Errorf("new connection from the blocked source: got %v, want a timeout", err)
	}
	if err := roundTrip(dialFrom(t, "127.0.0.3", p.Addr()), "new", time.Second); err != nil {
		t.Errorf("new connection from another source: %v", err)
	}
	p.UnblockFrom("127.0.0.2")
	if err := roundTrip(dialFrom(t, "127.0.0.2", p.Addr()), "back", time.Second); err != nil {
		t.Errorf("after UnblockFrom: %v", err)
	}

	// Latency is added in both directions.
	p.SetDelay(100 * time.Millisecond)
	start := time.Now()
	if err := roundTrip(b, "slow", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("round trip with 100ms delay each way took %v, want >= 200ms", took)
	}
	p.SetDelay(0)
	start = time.Now()
	if err := roundTrip(b, "fast", time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= 100*time.Millisecond {
		t.Errorf("round trip without delay took %v", took)
	}

	// Retargeting: new connections go to the new target.
	echo2 := startEcho(t)
	p.SetTarget(echo2)
	if err := roundTrip(dialFrom(t, "127.0.0.3", p.Addr()), "moved", time.Second); err != nil {
		t.Errorf("after SetTarget: %v", err)
	}
}

// TestSocketOwner checks the identification the cluster's proxies rely on:
// a connection from a subprocess is attributed to that subprocess.
func TestSocketOwner(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), dialHelperEnv+"="+ln.Addr().String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Our own connection to the listener, to tell the two apart.
	own, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	ownAccepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer ownAccepted.Close()

	pids := func() map[int]string {
		return map[int]string{cmd.Process.Pid: "child", os.Getpid(): "self"}
	}
	if got := identifyRetry(c, pids); got != "child" {
		t.Errorf("connection from the subprocess: got %q, want child", got)
	}
	if got := identifyRetry(ownAccepted, pids); got != "self" {
		t.Errorf("connection from this process: got %q, want self", got)
	}
	if got := socketOwner(c, []int{os.Getpid()}); got != 0 {
		t.Errorf("subprocess connection among other candidates: got pid %d, want 0", got)
	}
}
