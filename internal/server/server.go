// Package server wires the components of `paramstore server` together: the
// raft-backed store, the keyring, the service and the HTTP API.
package server

import (
	"context"
	"crypto/hmac"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/internal/api"
	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/auth"
	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/events"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/store/raftstore"
	"github.com/paramstore/paramstore/internal/throttle"
)

// Config configures a server.
type Config struct {
	Listen        string
	DataDir       string
	Dev           bool
	Account       string
	DefaultRegion string
	// RegionAllow names regions accepted besides the AWS regions of
	// ssm.Regions (--region-allow).
	RegionAllow   []string
	NodeID        string
	RaftListen    string
	RaftAdvertise string
	Join          string
	// ClusterKeyFile holds the shared secret of a cluster (--raft-listen).
	ClusterKeyFile string
	// NonVoter makes this node a read replica.
	NonVoter bool
	// StaleReads serves reads from local state by default on this node
	// (callers can still ask per request with X-Paramstore-Consistency).
	StaleReads   bool
	MaxStaleness time.Duration
	// NoAuth accepts any SigV4 signature (implied by Dev). For tests.
	NoAuth bool
	// Throttle holds the per-access-key limits (zero: unlimited).
	Throttle [3]throttle.Limit
	// AuditFile is the audit trail ("" = <data-dir>/audit.log); NoAudit
	// turns the trail off; AuditStdout mirrors it to Stdout.
	AuditFile   string
	NoAudit     bool
	AuditStdout bool
	Stdout      io.Writer
	// TLSCert and TLSKey (PEM files) make the API serve HTTPS.
	TLSCert, TLSKey string
	// MasterKeyFile overrides <data-dir>/master.key.
	MasterKeyFile string
	// SnapshotThreshold is the raft log length between snapshots, checked
	// every SnapshotInterval.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	Limits            service.Limits
	// DebugListen, if set, serves net/http/pprof on that address.
	DebugListen string
	// ShutdownTimeout bounds the drain of in-flight requests.
	ShutdownTimeout time.Duration
	// ForceNewCluster recovers a new single-node cluster from this node's
	// state (--force-new-cluster; see docs/operations.md).
	ForceNewCluster bool
	// FaultInjection lets tests cut and slow this node's raft links
	// (--enable-fault-injection; raftstore.Config.FaultInjection).
	FaultInjection bool
	// CheckFile checks bbolt files that may be damaged before they are
	// opened; nil checks in this process, which a damaged file can crash
	// (the paramstore binary checks in a child process).
	CheckFile store.Checker
	// SnapshotStallTimeout is how long a snapshot download may go without
	// its reader taking any bytes before it is cut off.
	SnapshotStallTimeout time.Duration
	// PolicyScanInterval is how often the leader looks for due parameter
	// policies (--policy-scan-interval).
	PolicyScanInterval time.Duration
	// Events configures webhook delivery (its Store, Keyring, Leader and
	// Logger are set by Start); zero means events.DefaultConfig().
	Events events.Config
	// Now is the clock of the service and of parameter policies; nil
	// means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Default returns the contract defaults of DESIGN.md §3.
func Default() Config {
	return Config{
		Listen:            "127.0.0.1:4583",
		DataDir:           "./paramstore-data",
		Account:           "123456789012",
		DefaultRegion:     "us-east-1",
		NodeID:            "node1",
		SnapshotThreshold: 8192,
		SnapshotInterval:  30 * time.Second,
		MaxStaleness:      10 * time.Second,
		Limits:            service.DefaultLimits(),
		ShutdownTimeout:   30 * time.Second,
		// A backup download takes its time; a reader that takes nothing
		// for this long is gone.
		SnapshotStallTimeout: 30 * time.Second,
		PolicyScanInterval:   time.Second,
		Events:               events.DefaultConfig(),
	}
}

// Validate checks the configuration, naming the failing field.
func (c Config) Validate() error {
	switch {
	case c.Listen == "":
		return errors.New("server: --listen is required")
	case c.DataDir == "" && !c.Dev:
		return errors.New("server: --data-dir is required")
	case len(c.Account) != 12 || !allDigits(c.Account):
		return fmt.Errorf("server: --account-id %q must be 12 digits", c.Account)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("server: --tls-cert and --tls-key must be given together")
	case c.Join != "" && c.RaftListen == "":
		return errors.New("server: --join needs --raft-listen")
	case c.RaftListen != "" && c.ClusterKeyFile == "":
		return errors.New("server: --raft-listen needs --cluster-key-file (make one with `paramstore cluster keygen`)")
	case c.Dev && c.RaftListen != "":
		return errors.New("server: --dev runs a single node; drop --raft-listen")
	case c.ForceNewCluster && c.Join != "":
		return errors.New("server: --force-new-cluster makes a new cluster; drop --join")
	case c.ForceNewCluster && c.Dev:
		return errors.New("server: --force-new-cluster needs a data dir; drop --dev")
	case c.SnapshotStallTimeout <= 0:
		return errors.New("server: SnapshotStallTimeout must be positive")
	}
	for _, r := range c.RegionAllow {
		if !ssm.ValidRegionName(r) {
			return fmt.Errorf("server: --region-allow %q: a region is lower-case letters and digits in words joined by '-' (at most 50 characters), e.g. xx-lab-1", r)
		}
	}
	if !ssm.KnownRegion(c.DefaultRegion) && !slices.Contains(c.RegionAllow, c.DefaultRegion) {
		return fmt.Errorf("server: --region %q is not an AWS region; name it with --region-allow too to use it", c.DefaultRegion)
	}
	return c.Limits.Validate()
}

// localStore reads the node's local state without a linearizability check
// and proposes through raft.
type localStore struct{ n *raftstore.Node }

func (l localStore) View(ctx context.Context, fn func(r *store.Reader) error) error {
	return l.n.DB().View(ctx, fn)
}

func (l localStore) Apply(ctx context.Context, cmd *store.Command) error { return l.n.Apply(ctx, cmd) }

func (l localStore) IAMVersion() uint64 { return l.n.DB().IAMVersion() }

func (l localStore) Changed() <-chan struct{} { return l.n.DB().Changed() }

// readClusterKey reads a key made by `paramstore cluster keygen`.
func readClusterKey(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("server: --cluster-key-file: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("server: --cluster-key-file %s: want base64 of at least 16 random bytes (paramstore cluster keygen)", path)
	}
	return key, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Server is a running server.
type Server struct {
	cfg     Config
	node    *raftstore.Node
	http    *http.Server
	ln      net.Listener
	log     *slog.Logger
	tempDir string
	tls     bool
	audit   *audit.FileSink
	// stopRegister cancels the cluster registration goroutine.
	stopRegister context.CancelFunc
	debug        *http.Server
	handler      *api.Handler
	dispatcher   *events.Dispatcher
	scanner      *events.Scanner
	done         chan error

	// failed is closed when the server cannot go on (the cluster refused
	// this node); failErr says why.
	failed   chan struct{}
	failOnce sync.Once
	failErr  error
}

// fail stops the server for good with err (Wait returns it).
func (s *Server) fail(err error) {
	s.failOnce.Do(func() {
		s.failErr = err
		close(s.failed)
	})
}

// Start opens the store and starts serving. Close (or ctx's end, through
// Wait) stops it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, done: make(chan error, 1), failed: make(chan struct{})}
	dataDir := cfg.DataDir
	if cfg.Dev {
		dir, err := os.MkdirTemp("", "paramstore-dev-")
		if err != nil {
			return nil, err
		}
		s.tempDir, dataDir = dir, dir
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	keyFile := cfg.MasterKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(dataDir, "master.key")
	}
	master, err := crypto.LoadOrCreateMaster(keyFile, cfg.MasterKeyFile == "")
	if err != nil {
		s.cleanup()
		return nil, err
	}
	kr, err := crypto.New(master)
	if err != nil {
		s.cleanup()
		return nil, err
	}
	rc := raftstore.Default(filepath.Join(dataDir, "raft"))
	rc.NodeID = cfg.NodeID
	rc.Bind = cfg.RaftListen
	rc.Advertise = cfg.RaftAdvertise
	rc.Join = cfg.Join
	rc.NonVoter = cfg.NonVoter
	rc.MaxStaleness = cfg.MaxStaleness
	if cfg.ClusterKeyFile != "" {
		if rc.ClusterKey, err = readClusterKey(cfg.ClusterKeyFile); err != nil {
			s.cleanup()
			return nil, err
		}
	}
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	if cfg.SnapshotThreshold < rc.TrailingLogs {
		// Keep fewer trailing entries than the threshold, or truncation
		// would never remove anything.
		rc.TrailingLogs = cfg.SnapshotThreshold
	}
	rc.Logger = log
	rc.Check = cfg.CheckFile
	rc.ForceNewCluster = cfg.ForceNewCluster
	rc.FaultInjection = cfg.FaultInjection
	keyCheck := kr.MAC("key check", []byte(keyCheckMessage))
	rc.KeyCheck = keyCheck
	node, err := raftstore.Open(rc)
	if err != nil {
		s.cleanup()
		return nil, err
	}
	s.node = node
	// A node that restarts with another master key finds out here, before
	// it serves a request that would fail to decrypt.
	if kc, err := node.DB().KeyCheck(); err != nil || (kc != nil && !hmac.Equal(kc, keyCheck)) {
		s.closeStore()
		if err != nil {
			return nil, err
		}
		return nil, masterKeyError(keyFile, cfg.MasterKeyFile != "")
	}
	svc, err := service.New(service.Config{Store: node, Keyring: kr, Limits: cfg.Limits, Logger: log, Notifier: node.DB(), Now: cfg.Now})
	if err != nil {
		s.closeStore()
		return nil, err
	}
	// Authentication reads identities from the local state: a follower
	// must not ask the leader on every request.
	authn, err := auth.New(auth.Config{Store: localStore{node}, Keyring: kr, Account: cfg.Account, RegionAllow: cfg.RegionAllow})
	if err != nil {
		s.closeStore()
		return nil, err
	}
	noAuth := cfg.Dev || cfg.NoAuth
	if cfg.Join == "" {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := node.WaitReady(wctx)
		if err != nil {
			err = fmt.Errorf("server: waiting for a leader: %w", err)
		} else if err = ensureKeyCheck(wctx, node, keyCheck); errors.Is(err, store.ErrKeyMismatch) {
			err = masterKeyError(keyFile, cfg.MasterKeyFile != "")
		}
		if err == nil && !noAuth {
			credPath := filepath.Join(dataDir, "root-credentials")
			var created bool
			created, err = authn.EnsureRoot(wctx, credPath)
			if created {
				log.Info("created the root access key; its credentials are in the file (profile default)", "path", credPath)
			}
			if err != nil {
				err = fmt.Errorf("server: root credentials: %w", err)
			}
		}
		cancel()
		if err != nil {
			s.closeStore()
			return nil, err
		}
	}
	var limiter *throttle.Limiter
	if tl := throttle.New(throttle.Config{Limits: cfg.Throttle}); tl.Enabled() {
		limiter = tl
	}
	var sink audit.Sink
	if !cfg.NoAudit {
		key, err := kr.SubKey("audit hmac")
		if err != nil {
			s.closeStore()
			return nil, err
		}
		ac := audit.DefaultConfig()
		ac.Path = cfg.AuditFile
		if ac.Path == "" {
			ac.Path = filepath.Join(dataDir, "audit.log")
		}
		opts := audit.Options{HMACKey: key, Logger: log}
		if cfg.AuditStdout && cfg.Stdout != nil {
			opts.Mirror = cfg.Stdout
		}
		fs, err := audit.Open(ac, opts)
		if err != nil {
			s.closeStore()
			return nil, fmt.Errorf("server: audit trail: %w", err)
		}
		s.audit, sink = fs, fs
		log.Info("audit trail", "path", ac.Path)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_raft_staleness_seconds",
			Help: "Time since this node last heard from the leader (0 on the leader, -1 when it never did): the bound on its stale reads.",
		}, func() float64 { return node.Status().StalenessSeconds }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_raft_leader",
			Help: "1 when this node is the raft leader.",
		}, func() float64 {
			if node.Ready() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_raft_commit_index",
			Help: "Raft commit index known to this node.",
		}, func() float64 { return float64(node.Status().CommitIndex) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_raft_applied_index",
			Help: "Raft index applied to this node's state machine.",
		}, func() float64 { return float64(node.DB().LastApplied()) }),
	)
	if fs := s.audit; fs != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "paramstore_audit_failing",
				Help: "1 while the audit trail cannot write (a full or failing disk): writes are refused, reads served while their records fit in memory.",
			}, func() float64 {
				if fs.Failing() != nil {
					return 1
				}
				return 0
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "paramstore_audit_backlog_bytes",
				Help: "Bytes of audit records queued or held in memory and not yet durable.",
			}, func() float64 { return float64(fs.Backlog()) }),
		)
	}
	ec := cfg.Events
	if ec.Timeout == 0 {
		ec = events.DefaultConfig()
	}
	ec.Store, ec.Keyring, ec.Leader, ec.Logger, ec.Registerer, ec.Now = localStore{node}, kr, node.Ready, log, reg, cfg.Now
	dispatcher, err := events.NewDispatcher(ec)
	if err != nil {
		s.closeStore()
		return nil, err
	}
	scanInterval := cfg.PolicyScanInterval
	if scanInterval == 0 {
		scanInterval = time.Second
	}
	scanner, err := events.NewScanner(events.ScannerConfig{Store: localStore{node}, Leader: node.Ready, Now: cfg.Now,
		Interval: scanInterval, Logger: log})
	if err != nil {
		s.closeStore()
		return nil, err
	}
	h, err := api.New(api.Config{
		Notify:        events.NewManager(node, kr, cfg.Now),
		Audit:         sink,
		Auth:          authn,
		NoAuth:        noAuth,
		Throttle:      limiter,
		Service:       svc,
		Account:       cfg.Account,
		DefaultRegion: cfg.DefaultRegion,
		Dev:           cfg.Dev,
		Cluster:       node,
		StaleReads:    cfg.StaleReads,
		Registry:      reg,
		Logger:        log,
	})
	if err != nil {
		s.closeStore()
		return nil, err
	}
	var tlsConfig *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			s.closeStore()
			return nil, fmt.Errorf("server: --tls-cert %s / --tls-key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.closeStore()
		return nil, fmt.Errorf("server: listen %s: %w", cfg.Listen, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	s.ln = ln
	s.tls = tlsConfig != nil
	s.handler = h
	s.http = &http.Server{
		Handler:           stallGuard(h, cfg.SnapshotStallTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.RaftListen != "" {
		rctx, cancel := context.WithCancel(context.Background())
		s.stopRegister = cancel
		go func() {
			err := node.Register(rctx, s.URL())
			switch {
			case errors.Is(err, store.ErrKeyMismatch):
				s.fail(masterKeyError(keyFile, cfg.MasterKeyFile != ""))
			case err != nil && rctx.Err() == nil:
				log.Error("cluster registration failed", "error", err)
			}
		}()
	}
	go func() {
		err := s.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	if cfg.DebugListen != "" {
		dmux := http.NewServeMux()
		dmux.HandleFunc("/debug/pprof/", pprof.Index)
		dmux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		dmux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		dmux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		dln, err := net.Listen("tcp", cfg.DebugListen)
		if err != nil {
			s.http.Close()
			s.closeStore()
			return nil, fmt.Errorf("server: --debug-listen %s: %w", cfg.DebugListen, err)
		}
		s.debug = &http.Server{Handler: dmux, ReadHeaderTimeout: 10 * time.Second}
		go s.debug.Serve(dln)
		log.Info("pprof listening", "addr", dln.Addr().String())
	}
	s.dispatcher, s.scanner = dispatcher, scanner
	dispatcher.Start()
	scanner.Start()
	log.Info("listening", "addr", ln.Addr().String(), "tls", tlsConfig != nil, "data_dir", dataDir, "dev", cfg.Dev, "node_id", cfg.NodeID)
	return s, nil
}

// Addr is the address the API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the API's base URL.
func (s *Server) URL() string {
	if s.tls {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Node returns the raft node.
func (s *Server) Node() *raftstore.Node { return s.node }

// Wait serves until ctx ends, the listener fails or the server cannot go
// on (the cluster refused this node), then shuts down.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return s.Close()
	case <-s.failed:
		s.Close()
		return s.failErr
	case err := <-s.done:
		s.closeStore()
		return err
	}
}

// WaitReady waits until the node can take writes and linearizable reads,
// ctx ends, or the server cannot go on (then it returns why).
func (s *Server) WaitReady(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.failed:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := s.node.WaitReady(ctx)
	select {
	case <-s.failed:
		return s.failErr
	default:
		return err
	}
}

// keyCheckMessage is MACed with the master key into the key check value.
const keyCheckMessage = "paramstore master key check v1"

// ensureKeyCheck records the key check value of this node's master key in
// the replicated state if none is recorded yet (the first start of a
// cluster, or of a data dir made before the check existed), and fails with
// store.ErrKeyMismatch if another value is.
func ensureKeyCheck(ctx context.Context, node *raftstore.Node, kc []byte) error {
	recorded, err := node.DB().KeyCheck()
	if err != nil || recorded != nil {
		return err
	}
	if err := node.Apply(ctx, &store.Command{Op: store.OpKeyCheck, KeyCheck: kc}); err != nil {
		return fmt.Errorf("server: record the master key check value: %w", err)
	}
	return nil
}

// ErrMasterKey is wrapped by the error of a node whose master key is not
// its cluster's.
var ErrMasterKey = errors.New("server: wrong master key")

func masterKeyError(keyFile string, given bool) error {
	where := "the master key in " + keyFile + " (created for this data dir, since no --master-key-file was given)"
	if given {
		where = "the master key in " + keyFile + " (--master-key-file)"
	}
	return fmt.Errorf("%w: %s is not the cluster's: its key check value differs from the one recorded in the cluster's state, "+
		"so every SecureString and access key would fail to decrypt. Start this node with the cluster's master key: "+
		"--master-key-file FILE, where FILE is a copy (mode 0600) of master.key from the data dir of the node that started the cluster "+
		"(every node of a cluster runs with that one key)",
		ErrMasterKey, where)
}

// Close stops accepting requests, drains in-flight ones, and closes the
// store cleanly.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.log.Info("shutting down: draining requests")
	s.handler.BeginShutdown()
	err := s.http.Shutdown(ctx)
	if s.debug != nil {
		s.debug.Close()
	}
	if cerr := s.closeStore(); err == nil {
		err = cerr
	}
	s.log.Info("stopped")
	return err
}

func (s *Server) closeStore() error {
	var err error
	if s.stopRegister != nil {
		s.stopRegister()
	}
	if s.scanner != nil {
		s.scanner.Close()
		s.scanner = nil
	}
	if s.dispatcher != nil {
		s.dispatcher.Close()
		s.dispatcher = nil
	}
	if s.audit != nil {
		err = s.audit.Close()
		s.audit = nil
	}
	if s.node != nil {
		if cerr := s.node.Close(); err == nil {
			err = cerr
		}
		s.node = nil
	}
	s.cleanup()
	return err
}

func (s *Server) cleanup() {
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
		s.tempDir = ""
	}
}

// snapshotPath is the backup download (internal/api).
const snapshotPath = "/_paramstore/snapshot"

// stallGuard cuts off a snapshot download whose reader takes no bytes for
// idle: each write must reach the connection within idle of its start. The
// download streams a copy spooled to disk (store.DB.WriteTo), so a stalled
// reader costs only its own connection and spool file, and only for idle.
func stallGuard(h http.Handler, idle time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == snapshotPath {
			w = &idleWriter{ResponseWriter: w, rc: http.NewResponseController(w), idle: idle}
		}
		h.ServeHTTP(w, r)
	})
}

// idleWriter moves the connection's write deadline before every write.
type idleWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *idleWriter) Write(p []byte) (int, error) {
	if err := w.rc.SetWriteDeadline(time.Now().Add(w.idle)); err != nil {
		return 0, err
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
