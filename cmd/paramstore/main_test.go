package main

import (
	"context"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for paramstore when a command run
// in-process starts a child (store.ExecChecker runs os.Executable()
// check-bolt FILE).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == checkBoltCmd {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
