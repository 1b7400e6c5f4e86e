// Command paramstore is the Paramstore binary: the SSM Parameter Store
// compatible server and the commands that manage it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"
)

func main() {
	// The server takes two random UUIDs per call (request ID, audit event
	// ID), the agent one: the pool reads crypto/rand once per 16 of them
	// instead of once each. Set before any goroutine makes a UUID (it is
	// not safe to change concurrently).
	uuid.EnableRandPool()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "paramstore:", err)
		stop()
		os.Exit(exitCode(err))
	}
}

// run executes the command line; it is what tests call.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
