// Package testproc runs the paramstore binary under test as real
// processes, for the end-to-end suites (tests/e2e, tests/cluster,
// tests/agent): it finds the module root, builds ./cmd/paramstore once per
// test binary (Main), starts processes with their output captured and
// copied to the test log or a file (Start), waits for their "listening"
// log line and for /readyz, reads the root credentials a server wrote
// (Server.Credentials), and stops them with SIGTERM or SIGKILL.
//
// Every process started through this package is stopped when its test
// ends; one that does not exit 0 after SIGTERM fails the test.
package testproc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// ModulePath is the module the binary is built from.
const ModulePath = "github.com/paramstore/paramstore"

var (
	// bin is the binary built by Main; root holds the module's go.mod.
	bin, root string

	touchOnce sync.Once
	touchErr  error
)

// Main is the TestMain of a suite that runs the binary: it builds
// ./cmd/paramstore once, runs the tests, removes the binary and exits.
func Main(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "paramstore-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testproc:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "testproc:", err)
		return 1
	}
	return m.Run()
}

// build finds the module root and builds the binary into dir.
func build(dir string) error {
	r, err := findModuleRoot()
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "paramstore")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/paramstore")
	cmd.Dir = r
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/paramstore in %s: %w\n%s", r, err, b)
	}
	root, bin = r, out
	return nil
}

// Bin is the path of the binary Main built ("" without Main).
func Bin() string { return bin }

// Root is the directory holding the module's go.mod ("" without Main).
func Root() string { return root }

// mustBuild fails t when the suite's TestMain is not Main.
func mustBuild(t testing.TB) {
	t.Helper()
	if bin == "" {
		t.Fatal("testproc: no binary: the suite's TestMain must call testproc.Main")
	}
}

// findModuleRoot walks up from the working directory (the package's
// directory under `go test`) to this module's go.mod.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module "+ModulePath)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testproc: no go.mod of module " + ModulePath + " above the working directory")
		}
		dir = parent
	}
}

// touchSources opens every source file of the module, once. The binary
// under test is built by a subprocess, so `go test` does not know these
// files are inputs of the suite; opening them while tests run (the test log
// starts after TestMain's setup) records them, and a change to any of them
// invalidates a cached test result.
func touchSources(t testing.TB) {
	t.Helper()
	mustBuild(t)
	touchOnce.Do(func() {
		touchErr = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin") {
					return filepath.SkipDir
				}
				return nil
			}
			switch filepath.Ext(path) {
			case ".go", ".py", ".mod", ".sum":
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				f.Close()
			}
			return nil
		})
	})
	if touchErr != nil {
		t.Fatalf("testproc: list the module's sources: %v", touchErr)
	}
}

// Env is this process's environment without the host's AWS_*, BOTO_* and
// PARAMSTORE_* settings, plus extra: a subprocess sees only what the test
// gives it.
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "BOTO_") || strings.HasPrefix(kv, "PARAMSTORE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Command is the binary with args, in the environment Env(), for a
// subcommand that runs to its end (see RunToExit for one that must).
func Command(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	touchSources(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = Env()
	return cmd
}
