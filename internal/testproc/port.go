package testproc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Ports handed out by FreeAddr come from below the kernel's ephemeral
// range, where neither a connection's source port nor another process's
// port-0 listener can land, and each is reserved for the life of this
// test binary by an flock on a file named after it. `go test ./...` runs
// packages in parallel: with "listen on port 0, note the port, close",
// a port was free only a moment, and a node restarted on its fixed
// address (or started a second after the note) lost it to a client's
// outgoing connection or to another package's server (CI failed once on
// "bind: address already in use" in tests/cluster).
const (
	portFloor = 10000 // lowest port handed out
	portTries = 2000  // candidates tried before giving up
)

var (
	portMu   sync.Mutex
	portLock []*os.File // held open (and locked) until the process exits
)

// FreeAddr returns a loopback address for a process that must keep its
// address across restarts (port 0 cannot). Its port is reserved for
// this test binary: no other FreeAddr, here or in a test binary running
// beside it, hands it out while this one runs.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := reserveAddr()
	if err != nil {
		t.Fatalf("reserve a loopback port: %v", err)
	}
	return addr
}

// reserveAddr picks a port below the ephemeral range that no other test
// binary holds and that can be listened on now, and keeps its lock.
func reserveAddr() (string, error) {
	lo, hi := portFloor, ephemeralLow()-1
	if hi-lo < 1000 {
		return "", fmt.Errorf("the ephemeral port range starts at %d: no room below it for fixed test ports", hi+1)
	}
	dir := filepath.Join(os.TempDir(), "paramstore-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", err
	}
	portMu.Lock()
	defer portMu.Unlock()
	for range portTries {
		port := lo + rand.IntN(hi-lo+1)
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			continue // another user's file, say
		}
		// flock locks belong to the open file, so this process's own
		// earlier reservations refuse too.
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue
			}
			return "", fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			f.Close() // in use by something that does not take part
			continue
		}
		ln.Close()
		portLock = append(portLock, f)
		return addr, nil
	}
	return "", fmt.Errorf("no free port in %d-%d after %d tries", lo, hi, portTries)
}

// ephemeralLow is the first port of the kernel's ephemeral range
// (32768, Linux's default, when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 0 {
		return 32768
	}
	return n
}
