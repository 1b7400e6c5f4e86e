package main

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/internal/store"
)

// checkBoltCmd is the name of the hidden command that checks a bbolt file
// in a process of its own (store.ExecChecker).
const checkBoltCmd = "check-bolt"

func newCheckBoltCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:    checkBoltCmd + " FILE",
		Short:  "Check a bbolt file (state.db, raft.db, wal/wal-meta.db, a snapshot) for damage; prints a JSON report",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if store.RunCheck(args[0], stdout) != 0 {
				return errors.New("the file did not pass the check")
			}
			return nil
		},
	}
}

// fileChecker checks bbolt files in a child process (this binary's
// check-bolt command): bbolt can crash the process that opens a damaged
// file, and the child's crash is then the verdict.
func fileChecker() store.Checker {
	// On Linux, /proc/self/exe runs this very binary even after an upgrade
	// replaced the file (a raft snapshot from the leader is checked while
	// the server runs).
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return store.InProcessChecker
		}
	}
	return store.ExecChecker(exe, checkBoltCmd)
}
