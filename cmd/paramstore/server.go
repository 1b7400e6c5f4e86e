package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/bytesize"
	"github.com/paramstore/paramstore/internal/mirror"
	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/store/raftstore"
	"github.com/paramstore/paramstore/internal/throttle"
)

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "" {
		// Text for a human at a terminal, JSON for whatever collects logs.
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", format)
}

func newServerCmd(stdout, stderr io.Writer) *cobra.Command {
	cfg := server.Default()
	var logLevel, logFormat, mirrorConfig string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Parameter Store server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Logger = log
			cfg.Stdout = stdout
			if mirrorConfig != "" {
				if cfg.Mirrors, err = readMirrorConfig(mirrorConfig); err != nil {
					return err
				}
			}
			cfg.Raft.Check = fileChecker()
			return runServer(cmd.Context(), cfg, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "API address")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "durable state: raft log, state machine, master key")
	f.BoolVar(&cfg.Dev, "dev", false, "ephemeral store in a temporary directory, any credentials, POST /_paramstore/reset")
	f.StringVar(&cfg.Account, "account-id", cfg.Account, "the account in ARNs")
	f.StringVar(&cfg.DefaultRegion, "region", cfg.DefaultRegion, "region of unsigned requests")
	f.StringSliceVar(&cfg.RegionAllow, "region-allow", nil, "accept these regions (repeatable or comma-separated) besides the AWS regions; others are refused as AWS refuses them")
	f.StringVar(&cfg.Raft.NodeID, "node-id", cfg.Raft.NodeID, "raft node ID")
	f.StringVar(&cfg.Raft.Bind, "raft-listen", cfg.Raft.Bind, "raft TCP address (empty: in-process transport, single node)")
	f.StringVar(&cfg.Raft.Join, "join", cfg.Raft.Join, "API URL of a cluster member to join (e.g. http://10.0.0.1:4583)")
	f.StringVar(&cfg.Raft.Advertise, "raft-advertise", cfg.Raft.Advertise, "raft address other nodes dial (default: --raft-listen)")
	f.StringVar(&cfg.ClusterKeyFile, "cluster-key-file", "", "shared cluster key (paramstore cluster keygen); required with --raft-listen")
	f.BoolVar(&cfg.Raft.NonVoter, "non-voter", cfg.Raft.NonVoter, "join as a non-voting read replica")
	f.BoolVar(&cfg.StaleReads, "stale-reads", false, "serve reads from this node's local state by default (bounded by --max-staleness)")
	f.DurationVar(&cfg.Raft.MaxStaleness, "max-staleness", cfg.Raft.MaxStaleness, "longest time since contact with the leader for which stale reads are served")
	f.StringVar(&cfg.AuditFile, "audit-file", "", "audit trail (JSON lines, hash-chained; default <data-dir>/audit.log)")
	f.BoolVar(&cfg.NoAudit, "no-audit", false, "do not write an audit trail")
	f.BoolVar(&cfg.AuditStdout, "audit-stdout", false, "also write audit records to stdout")
	f.Var(bytesize.Size{P: &cfg.AuditMaxSize}, "audit-max-size", "rotate the audit trail at this size (512KiB, 100MiB, 1GiB or bytes; 0: never)")
	f.DurationVar(&cfg.AuditMaxAge, "audit-max-age", cfg.AuditMaxAge, "rotate the audit trail when its first record is this old (0: never)")
	f.Var(&retainFlag{&cfg.AuditRetain}, "audit-retain", "rotated audit files kept (compressed): a count (30), an age (90d, 720h) or both (30,90d: a file goes when either says so); files are removed only once --audit-on-rotate took them (0: keep all)")
	f.Var(&eventsFlag{&cfg.AuditEvents}, "audit-events", "calls recorded in the audit trail: all, write (not Get*/Describe*/List*) or none")
	f.Var(bytesize.Size{P: &cfg.MinFreeSpace}, "min-free-space", "refuse writes (reads go on, /readyz says degraded) while the data dir's file system has less free space than this (0: never)")
	f.StringVar(&cfg.AuditOnRotate, "audit-on-rotate", "", "shell command run on each rotated, compressed audit file, in order (its path is $1); a failure is logged and retried with backoff, and the file is not removed by --audit-retain until it succeeds")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate (PEM) to serve HTTPS")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key (PEM)")
	f.StringVar(&cfg.PeerTLSCert, "peer-tls-cert", "", "this node's certificate (PEM) for mutual TLS with the other nodes: raft and the cluster calls (re-read on SIGHUP and when it changes)")
	f.StringVar(&cfg.PeerTLSKey, "peer-tls-key", "", "private key (PEM) of --peer-tls-cert")
	f.StringVar(&cfg.PeerTLSCA, "peer-tls-ca", "", "CA bundle (PEM) that signs every node's --peer-tls-cert; a peer it did not sign is refused")
	f.BoolVar(&cfg.Raft.PeerTLSTransition, "peer-tls-transition", false, "rolling move to peer TLS: also accept plaintext peers, and dial a peer in plaintext while it does not speak TLS (docs/security.md)")
	f.DurationVar(&cfg.TLSReloadInterval, "tls-reload-interval", 30*time.Second, "how often certificate, key and CA files are checked for a change (SIGHUP reloads at once; negative: only SIGHUP)")
	f.StringVar(&cfg.MasterKeyFile, "master-key-file", "", "master key file (default <data-dir>/master.key, created on first start)")
	f.Uint64Var(&cfg.Raft.SnapshotThreshold, "snapshot-threshold", cfg.Raft.SnapshotThreshold, "raft log entries between snapshots")
	f.Uint64Var(&cfg.Raft.TrailingLogs, "trailing-logs", cfg.Raft.TrailingLogs, "raft log entries kept after a snapshot (at most --snapshot-threshold)")
	f.IntVar(&cfg.Raft.SnapshotsRetain, "snapshots-retain", cfg.Raft.SnapshotsRetain, "raft snapshots kept on disk (at least 1)")
	f.StringVar(&cfg.Raft.RaftLog, "raft-log", raftstore.LogAuto, "format of the raft log: auto (the data directory's; wal for a new one), wal (raft-wal, wal/) or bolt (raft-boltdb, raft.db); a directory holding the other format is refused, never converted (docs/operations.md)")
	f.DurationVar(&cfg.Raft.SnapshotInterval, "snapshot-interval", cfg.Raft.SnapshotInterval, "how often raft checks whether to snapshot")
	f.Var(&raftMultiplierFlag{c: &cfg.Raft}, "raft-multiplier", "raft's timings times N (1 to 10): at 1 a follower elects after 500ms without its leader and a leader steps down after 250ms without a quorum; raise it where the hosts' CPU is shared or overloaded and a starved leader loses its leadership, at the cost of a slower failover (docs/cluster.md)")
	f.StringVar(&cfg.DebugListen, "debug-listen", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long SIGTERM waits for in-flight requests")
	f.IntVar(&cfg.MaxWatchers, "max-watchers", cfg.MaxWatchers, "change-stream long polls this node holds at once; past it they are answered ServiceUnavailable (default 0: the open-file limit less 1024)")
	f.DurationVar(&cfg.PolicyScanInterval, "policy-scan-interval", cfg.PolicyScanInterval, "how often the leader looks for due parameter policies")
	f.Int64Var(&cfg.Limits.StandardParameters, "standard-parameter-limit", cfg.Limits.StandardParameters, "Standard-tier parameters per account and region (AWS: 10000)")
	f.Int64Var(&cfg.Limits.AdvancedParameters, "advanced-parameter-limit", cfg.Limits.AdvancedParameters, "Advanced-tier parameters per account and region (AWS: 100000)")
	for c := range throttle.NumClasses {
		f.Var(&limitFlag{&cfg.Throttle[c]}, "throttle-"+c.String(), "per-access-key limit of "+c.String()+" as RATE[:BURST] requests/s (default unlimited)")
	}
	f.BoolVar(&cfg.Raft.ForceNewCluster, "force-new-cluster", cfg.Raft.ForceNewCluster, "recovery, once: make this node's state the state of a new cluster whose only member is this node (see docs/operations.md)")
	f.BoolVar(&cfg.Raft.FaultInjection, "enable-fault-injection", cfg.Raft.FaultInjection, "allow paramstore fault against this server (faults at the API edge, over the signed admin API) and let tests cut and slow its raft links through the cluster RPCs (authenticated with the cluster key); never in production")
	f.StringVar(&mirrorConfig, "mirror-config", "", "YAML or JSON file of mirrors of other SSM stores, run by the raft leader (docs/operations.md)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "", "json or text (default: text on a terminal, else json)")
	return cmd
}

// eventsFlag is the --audit-events flag.
type eventsFlag struct{ e *audit.Events }

func (f *eventsFlag) String() string {
	if f.e == nil {
		return ""
	}
	return string(*f.e)
}

func (f *eventsFlag) Set(s string) error {
	e, err := audit.ParseEvents(s)
	if err != nil {
		return err
	}
	*f.e = e
	return nil
}

func (f *eventsFlag) Type() string { return "all|write|none" }

// retainFlag is the --audit-retain flag.
type retainFlag struct{ r *audit.Retention }

func (f *retainFlag) String() string {
	if f.r == nil {
		return ""
	}
	return f.r.String()
}

func (f *retainFlag) Set(s string) error {
	r, err := audit.ParseRetention(s)
	if err != nil {
		return err
	}
	*f.r = r
	return nil
}

func (f *retainFlag) Type() string { return "count|age|count,age" }

// raftMultiplierFlag is --raft-multiplier: raftstore's default timings
// (heartbeat, election and leader lease timeouts) times N, the knob Consul
// calls raft_multiplier.
type raftMultiplierFlag struct {
	c *raftstore.Config
	n int
}

func (f *raftMultiplierFlag) String() string {
	if f.n == 0 {
		return "1"
	}
	return strconv.Itoa(f.n)
}

func (f *raftMultiplierFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 10 {
		return errors.New("want a whole number from 1 to 10")
	}
	d := raftstore.Default("")
	f.c.HeartbeatTimeout = time.Duration(n) * d.HeartbeatTimeout
	f.c.ElectionTimeout = time.Duration(n) * d.ElectionTimeout
	f.c.LeaderLeaseTimeout = time.Duration(n) * d.LeaderLeaseTimeout
	f.n = n
	return nil
}

func (f *raftMultiplierFlag) Type() string { return "int" }

// readMirrorConfig reads and validates a --mirror-config file.
func readMirrorConfig(path string) ([]mirror.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--mirror-config: %w", err)
	}
	f, err := mirror.ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("--mirror-config %s: %w", path, err)
	}
	return f.Mirrors, nil
}

// limitFlag is a throttle.Limit flag ("RATE[:BURST]").
type limitFlag struct{ l *throttle.Limit }

func (f *limitFlag) String() string {
	if f.l == nil || f.l.Rate == 0 {
		return ""
	}
	return fmt.Sprintf("%g:%d", f.l.Rate, f.l.Burst)
}

func (f *limitFlag) Set(s string) error {
	l, err := throttle.ParseLimit(s)
	if err != nil {
		return err
	}
	*f.l = l
	return nil
}

func (f *limitFlag) Type() string { return "rate[:burst]" }

// serverGCPercent is the server's GOGC unless the environment sets one.
// Its live heap is small (a few MB: the state is in bbolt's memory map,
// not on the heap) while every request allocates, so at Go's default of
// 100 it collects several times a second under a read load (13 collections
// in 5 s of wrk, GODEBUG=gctrace=1) for a few MB of heap. 400 collects a
// quarter as often and measured 7-11% less CPU per GetParameter, for a
// heap up to five times the live one (tens of MB). GOGC in the
// environment replaces it; GOMEMLIMIT bounds the heap whatever it is.
const serverGCPercent = 400

// tuneGC sets the server's GOGC (serverGCPercent) unless the environment
// sets one.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
}

func runServer(ctx context.Context, cfg server.Config, stdout io.Writer) error {
	tuneGC()
	// Whatever the server creates is its own alone: raft-wal's segments
	// and raft's snapshots are made 0644/0755 by those libraries, and they
	// hold parameter names and String values in the clear.
	syscall.Umask(0o077)
	s, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	// SIGHUP re-reads the certificates (a rotation); it never stops the
	// server.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-hup:
				s.ReloadTLS()
			case <-done:
				return
			}
		}
	}()
	if cfg.Dev {
		url := s.URL()
		fmt.Fprintf(stdout, "Paramstore dev server on %s (ephemeral; any credentials accepted)\n", url)
		fmt.Fprintln(stdout, "Point the AWS tools at it with:")
		for _, kv := range []string{
			"AWS_ENDPOINT_URL=" + url,
			"AWS_ACCESS_KEY_ID=test",
			"AWS_SECRET_ACCESS_KEY=test",
			"AWS_REGION=" + cfg.DefaultRegion,
			"AWS_DEFAULT_REGION=" + cfg.DefaultRegion,
		} {
			fmt.Fprintln(stdout, "  export "+kv)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := s.WaitReady(wctx); err != nil && !errors.Is(err, context.Canceled) {
		cfg.Logger.Warn("store not ready yet", "error", err)
	} else if err == nil && !cfg.Dev {
		printReady(stdout, s.URL(), cfg)
	}
	cancel()
	return s.Wait(ctx)
}

// printReady prints the one line (and the how-to) an operator needs once
// the server serves: its URL, the credentials file, how to point the aws
// CLI at it.
func printReady(w io.Writer, url string, cfg server.Config) {
	creds := filepath.Join(cfg.DataDir, "root-credentials")
	if abs, err := filepath.Abs(creds); err == nil {
		creds = abs
	}
	fmt.Fprintf(w, "Paramstore ready on %s (node %s, data dir %s)\n", url, cfg.Raft.NodeID, cfg.DataDir)
	if _, err := os.Stat(creds); err == nil {
		fmt.Fprintf(w, "  credentials: %s (profile default)\n", creds)
		// AWS_DEFAULT_REGION and --endpoint-url: what every aws CLI
		// version reads (v1 ignores AWS_REGION, older ones AWS_ENDPOINT_URL).
		fmt.Fprintf(w, "  aws CLI:     AWS_SHARED_CREDENTIALS_FILE=%s AWS_DEFAULT_REGION=%s aws --endpoint-url %s ssm describe-parameters\n",
			creds, cfg.DefaultRegion, url)
	}
}
