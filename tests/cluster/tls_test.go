package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testpki"
	"github.com/paramstore/paramstore/internal/testproc"
)

// wireRecorder is a TCP proxy that keeps every byte it forwards, both ways.
type wireRecorder struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	bytes  bytes.Buffer
	conns  int
}

func startWireRecorder(t *testing.T, target string) *wireRecorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &wireRecorder{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.pipe(c)
		}
	}()
	return r
}

func (r *wireRecorder) pipe(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	defer u.Close()
	r.mu.Lock()
	r.conns++
	r.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				r.mu.Lock()
				r.bytes.Write(buf[:n])
				r.mu.Unlock()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go cp(u, c)
	go cp(c, u)
	<-done
}

func (r *wireRecorder) recorded() ([]byte, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.bytes.Bytes()), r.conns
}

// peerTLSArgs gives every node a certificate of ca for 127.0.0.1.
func peerTLSArgs(t *testing.T, ca *testpki.CA) func(*node) []string {
	leaves := map[string]*testpki.Leaf{}
	var mu sync.Mutex
	return func(n *node) []string {
		mu.Lock()
		defer mu.Unlock()
		l := leaves[n.id]
		if l == nil {
			l = ca.Issue(t, n.id, "127.0.0.1")
			leaves[n.id] = l
		}
		return []string{"--peer-tls-cert", l.CertFile, "--peer-tls-key", l.KeyFile, "--peer-tls-ca", ca.CertFile}
	}
}

// TestPeerTLS: a 3-node cluster whose nodes talk over mutual TLS. Writes
// through every node (followers forward them to the leader over peer TLS)
// while the leader is killed; the history is checked for linearizability
// with porcupine and the replicas compared. The raft traffic to node 2,
// recorded by a proxy, holds no plaintext of a String value written. A node
// with a certificate of another CA cannot join, and both sides say why.
func TestPeerTLS(t *testing.T) {
	ca := testpki.NewCA(t, "peer CA")
	var rec *wireRecorder
	c := startClusterWith(t, 3, &cluster{nodeArgs: peerTLSArgs(t, ca)}, func(c *cluster) {
		// Node 2's peers dial it through the wireRecorder.
		rec = startWireRecorder(t, c.nodes[1].raftAddr)
		c.nodes[1].advertise = rec.ln.Addr().String()
	})
	w := startLinWorkload(c, "/lin/tls", 3, 2)
	t.Cleanup(w.halt)

	const marker = "PLAINTEXT-MARKER-7f3a9c"
	for i, n := range c.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.client(n, false, 10*time.Second).PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(fmt.Sprintf("/tls/marker-%d", i)), Value: aws.String(marker), Type: types.ParameterTypeString, Overwrite: aws.Bool(true),
		})
		cancel()
		if err != nil {
			t.Fatalf("write through %s: %v", n.id, err)
		}
	}
	time.Sleep(time.Second)
	l := c.leader(30 * time.Second)
	l.kill()
	if d, err := c.probeWrite(t, c.others(l), "/_cluster/probe", 30*time.Second); err != nil {
		t.Fatalf("after SIGKILL of leader %s: %v", l.id, err)
	} else {
		t.Logf("SIGKILL leader %s: first acknowledged write through the survivors after %v", l.id, d.Round(time.Millisecond))
	}
	l.start()
	c.converge(60 * time.Second)
	w.halt()
	c.converge(60 * time.Second)
	w.verify(t)
	params, equal := c.compareReplicas(t)
	t.Logf("peer TLS: replicas equal on %d parameters: %v", params, equal)

	raw, conns := rec.recorded()
	if conns == 0 || len(raw) < 1024 {
		t.Fatalf("the wireRecorder saw %d connections, %d bytes: raft traffic to node 2 did not pass it", conns, len(raw))
	}
	if bytes.Contains(raw, []byte(marker)) || bytes.Contains(raw, []byte("/tls/marker-")) {
		t.Fatalf("raft traffic to node 2 holds a String value in plaintext")
	}
	if raw[0] != 0x16 {
		t.Errorf("the first recorded byte is %#x, want a TLS handshake record (0x16)", raw[0])
	}
	t.Logf("recorded %d bytes of raft traffic in %d connections to node 2: no plaintext marker", len(raw), conns)

	// A node whose certificate another CA signed.
	rogue := testpki.NewCA(t, "rogue CA").Issue(t, "n4", "127.0.0.1")
	logPath := filepath.Join(c.dir, "n4.log")
	stranger := testproc.Start(t, testproc.Config{Name: "n4", LogFile: logPath, Env: testproc.Env(), Args: []string{
		"server", "--listen", testproc.FreeAddr(t), "--data-dir", t.TempDir(), "--node-id", "n4",
		"--raft-listen", testproc.FreeAddr(t), "--cluster-key-file", c.keyFile, "--join", c.nodes[0].endpoint(),
		"--master-key-file", c.masterKey,
		"--peer-tls-cert", rogue.CertFile, "--peer-tls-key", rogue.KeyFile, "--peer-tls-ca", ca.CertFile,
	}})
	waitLog(t, logPath, "cluster call over peer TLS failed", 30*time.Second)
	waitLog(t, c.nodes[0].logPath, "TLS handshake error", 30*time.Second)
	waitLog(t, c.nodes[0].logPath, "not signed by the peer CA", 30*time.Second)
	if stranger.Exited() {
		t.Logf("n4 exited: %v", stranger.Err())
	}
	for _, n := range c.nodes {
		if st, err := n.ready(); err == nil && strings.Contains(fmt.Sprint(st), "n4") {
			t.Fatalf("%s lists n4 as a member: %+v", n.id, st)
		}
	}
}

// waitLog waits until the file holds substr, and logs the line.
func waitLog(t *testing.T, path, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.Open(path)
		if err == nil {
			raw, _ := io.ReadAll(f)
			f.Close()
			for _, line := range strings.Split(string(raw), "\n") {
				if strings.Contains(line, substr) {
					t.Logf("%s: %s", filepath.Base(path), line)
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no line with %q after %v", path, substr, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPeerTLSRollingMove moves a plaintext cluster to peer TLS by two
// rolling restarts, as docs/security.md says: each node restarted with
// its certificate and --peer-tls-transition (it accepts both, and dials
// plaintext peers in plaintext), then each restarted without the
// transition flag (TLS only). Writes through a node succeed after every
// restart, and at the end a plaintext raft connection is refused.
func TestPeerTLSRollingMove(t *testing.T) {
	ca := testpki.NewCA(t, "peer CA")
	tlsArgs := peerTLSArgs(t, ca)
	var mu sync.Mutex
	phase := map[string]int{} // 0 plaintext, 1 transition, 2 TLS only
	c := startClusterWith(t, 3, &cluster{nodeArgs: func(n *node) []string {
		mu.Lock()
		p := phase[n.id]
		mu.Unlock()
		switch p {
		case 1:
			return append(tlsArgs(n), "--peer-tls-transition")
		case 2:
			return tlsArgs(n)
		}
		return nil
	}}, nil)
	write := func(step string) {
		t.Helper()
		if _, err := c.probeWrite(t, c.nodes, "/rolling/"+strings.ReplaceAll(step, " ", "-"), 60*time.Second); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	write("plaintext")
	for _, p := range []int{1, 2} {
		for _, n := range c.nodes {
			if err := n.terminate(); err != nil {
				t.Fatalf("stop %s: %v", n.id, err)
			}
			mu.Lock()
			phase[n.id] = p
			mu.Unlock()
			n.start()
			c.converge(60 * time.Second)
			write(fmt.Sprintf("phase %d %s", p, n.id))
		}
	}
	// TLS only now: a plaintext raft dial is refused by the node.
	conn, err := net.Dial("tcp", c.nodes[0].raftAddr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("PSRAFT1" + strings.Repeat("x", 32)))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _ := conn.Read(make([]byte, 64)); n > 0 {
		t.Errorf("a plaintext raft handshake got %d bytes of answer from a TLS-only node", n)
	}
	conn.Close()
	waitLog(t, c.nodes[0].logPath, "a plaintext raft connection, and this node requires peer TLS", 30*time.Second)
}
