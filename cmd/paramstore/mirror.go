package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/internal/mirror"
)

func newMirrorCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		conn      connFlags
		src       connFlags
		path      string
		interval  time.Duration
		once      bool
		noDelete  bool
		keyMap    []string
		srcRate   float64
		fullEvery int
		logLevel  string
		logFormat string
	)
	cmd := &cobra.Command{
		Use:   "mirror --source-endpoint URL [--source-region R] --path P [--interval 30s] [--once]",
		Short: "Keep this store a live copy of the parameters under a path of another SSM store (AWS SSM or another Paramstore)",
		Long: `mirror copies the parameters under --path from the source (AWS SSM with
the default AWS credential chain, or another Paramstore) into the store at
--endpoint: names, types, values (SecureStrings decrypted at the source
with the caller's rights, re-encrypted here under --key-map's key, else
the default), descriptions, allowed patterns, tiers, tags and the labels
of the current version, and deletes what the source no longer has unless
--no-delete. Only what differs is written: a sync with no change at the
source writes nothing. Source calls are bounded to --source-rate per
second (default 5: AWS shares 40 reads/s among an account's callers) and
throttling answers are retried with backoff.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if src.endpoint == "" && src.region == "" {
				return errors.New("--source-endpoint or --source-region is required (the region alone means AWS SSM)")
			}
			if path == "" {
				return errors.New("--path is required")
			}
			km := map[string]string{}
			for _, s := range keyMap {
				from, to, ok := strings.Cut(s, "=")
				if !ok || from == "" || to == "" {
					return fmt.Errorf("--key-map %q: want SRC=DST", s)
				}
				km[from] = to
			}
			log, err := newLogger(stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			// The source's endpoint is its flag alone: the environment
			// names the target's.
			source, _, err := src.ssmClientFor(ctx, src.endpoint, 10)
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			dst, _, err := conn.ssmClient(ctx, 10)
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			m, err := mirror.New(mirror.Config{Source: source, Target: dst, Path: path, NoDelete: noDelete, KeyMap: km,
				SourceRate: srcRate, FullEvery: fullEvery, Logger: log})
			if err != nil {
				return err
			}
			from := src.endpoint
			if from == "" {
				from = "aws ssm " + src.region
			}
			for run := 1; ; run++ {
				st, err := m.Sync(ctx)
				if ctx.Err() != nil {
					return nil // SIGTERM/SIGINT: a sync cut short is redone by the next start
				}
				if err != nil {
					if once {
						return err
					}
					log.Error("mirror sync failed", "run", run, "error", err)
				} else {
					fmt.Fprintf(stdout, "mirror %s %s -> %s: run %d: %s\n", from, path, conn.resolvedEndpoint(), run, st)
				}
				if once {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
			}
		},
	}
	f := cmd.Flags()
	conn.register(f, "")
	// --source-endpoint, --source-region, --source-profile,
	// --source-credentials-file, --source-ca-file, --source-client-cert,
	// --source-client-key: the source is reached as the target is.
	src.register(f, "source-")
	f.StringVar(&path, "path", "", "path to mirror, recursively, to the same names here")
	f.DurationVar(&interval, "interval", 30*time.Second, "time between syncs")
	f.BoolVar(&once, "once", false, "sync once and exit (non-zero on failure)")
	f.BoolVar(&noDelete, "no-delete", false, "keep parameters the source deleted")
	f.StringArrayVar(&keyMap, "key-map", nil, "KMS key of SecureStrings at the source = key here, e.g. alias/src=alias/dst (repeatable)")
	f.Float64Var(&srcRate, "source-rate", mirror.DefaultSourceRate, "source calls per second at most")
	f.IntVar(&fullEvery, "full-every", 10, "re-read every parameter's tags and labels every this many syncs (a tag or label change moves no version)")
	f.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "json or text")
	return cmd
}
