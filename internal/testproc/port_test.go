package testproc

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestFreeAddrReserves(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		addr := FreeAddr(t)
		if seen[addr] {
			t.Fatalf("FreeAddr handed out %s twice", addr)
		}
		seen[addr] = true
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if port < portFloor || port >= ephemeralLow() {
			t.Fatalf("port %d outside [%d, %d)", port, portFloor, ephemeralLow())
		}
		// Another process must find it reserved: flock(1) exits 1 when
		// the lock is held.
		lock := filepath.Join(os.TempDir(), "paramstore-test-ports", p)
		if len(seen) <= 3 {
			if _, err := exec.LookPath("flock"); err == nil {
				err := exec.Command("flock", "-n", lock, "true").Run()
				if err == nil {
					t.Fatalf("port %s: another process could take its lock", p)
				}
			}
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen on the reserved %s: %v", addr, err)
		}
		ln.Close()
	}
}
