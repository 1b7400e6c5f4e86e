package agent

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps server code out of the agent and the public client: they
// talk to servers over the wire only (DESIGN.md §1). bbolt itself is
// allowed: the client's persistent cache is a bbolt file of its own.
func TestDeps(t *testing.T) {
	const mod = "github.com/paramstore/paramstore/"
	banned := []string{
		mod + "internal/server",
		mod + "internal/service",
		mod + "internal/store",
		mod + "internal/api",
		mod + "internal/auth",
		mod + "internal/crypto",
		"github.com/hashicorp/raft",
		"github.com/boltdb/bolt",
	}
	for _, pkg := range []string{mod + "internal/agent", mod + "client"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %d packages", pkg, len(deps))
		}
		for _, d := range deps {
			for _, b := range banned {
				if d == b || strings.HasPrefix(d, b+"/") {
					t.Errorf("%s imports %s", pkg, d)
				}
			}
		}
	}
}
