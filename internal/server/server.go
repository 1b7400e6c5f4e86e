// Package server wires the components of `paramstore server` together: the
// raft-backed store, the keyring, the service and the HTTP API.
package server

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/internal/api"
	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/auth"
	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/events"
	"github.com/paramstore/paramstore/internal/fault"
	"github.com/paramstore/paramstore/internal/incident"
	"github.com/paramstore/paramstore/internal/mirror"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/store/raftstore"
	"github.com/paramstore/paramstore/internal/throttle"
	"github.com/paramstore/paramstore/internal/tlsconf"
)

// Config configures a server, in the manner of raft.Config: Default gives
// one default per setting (those of the raft settings are raftstore's),
// Validate rejects missing settings and settings that contradict each
// other, naming them.
type Config struct {
	Listen        string
	DataDir       string
	Dev           bool
	Account       string
	DefaultRegion string
	// RegionAllow names regions accepted besides the AWS regions of
	// ssm.Regions (--region-allow).
	RegionAllow []string
	// Raft holds the settings of the raft node, to which the flags bind.
	// Start hands the node what it needs besides: Dir (<data-dir>/raft),
	// ClusterKey (read from ClusterKeyFile), KeyCheck and Logger. Its Check
	// checks bbolt files that may be damaged before they are opened; nil
	// checks in this process, which a damaged file can crash (the
	// paramstore binary checks in a child process).
	Raft raftstore.Config
	// ClusterKeyFile holds the shared secret of a cluster
	// (--cluster-key-file), required with --raft-listen.
	ClusterKeyFile string
	// StaleReads serves reads from local state by default on this node
	// (callers can still ask per request with X-Paramstore-Consistency).
	StaleReads bool
	// NoAuth accepts any SigV4 signature (implied by Dev). For tests.
	NoAuth bool
	// Throttle holds the per-access-key limits (zero: unlimited).
	Throttle [3]throttle.Limit
	// AuditFile is the audit trail ("" = <data-dir>/audit.log); NoAudit
	// turns the trail off; AuditStdout mirrors it to Stdout.
	AuditFile   string
	NoAudit     bool
	AuditStdout bool
	// AuditMaxSize, AuditMaxAge and AuditRetain rotate the trail and
	// bound which rotated files are kept (by count, age or both; zero:
	// never, never, all);
	// AuditOnRotate is run on each rotated file; AuditEvents selects the
	// calls recorded (audit.EventsNone opens no trail).
	AuditMaxSize  int64
	AuditMaxAge   time.Duration
	AuditRetain   audit.Retention
	AuditOnRotate string
	AuditEvents   audit.Events
	// MinFreeSpace is the floor of free bytes on the data directory's
	// file system below which writes are refused (--min-free-space; 0:
	// none). See disk.go.
	MinFreeSpace int64
	Stdout       io.Writer
	// TLSCert and TLSKey (PEM files) make the API serve HTTPS.
	TLSCert, TLSKey string
	// PeerTLSCert, PeerTLSKey and PeerTLSCA (PEM files) are mutual TLS
	// between nodes: raft and the cluster calls (--peer-tls-*; the
	// transition window is Raft.PeerTLSTransition).
	PeerTLSCert, PeerTLSKey, PeerTLSCA string
	// TLSReloadInterval is how often the certificate, key and CA files
	// are checked for a change (a rotation); SIGHUP (ReloadTLS) reloads at
	// once. Zero means 30s; negative turns the checks off.
	TLSReloadInterval time.Duration
	// MasterKeyFile overrides <data-dir>/master.key.
	MasterKeyFile string
	Limits        service.Limits
	// DebugListen, if set, serves net/http/pprof on that address.
	DebugListen string
	// ShutdownTimeout bounds the drain of in-flight requests.
	ShutdownTimeout time.Duration
	// SnapshotStallTimeout is how long a snapshot download may go without
	// its reader taking any bytes before it is cut off.
	SnapshotStallTimeout time.Duration
	// PolicyScanInterval is how often the leader looks for due parameter
	// policies (--policy-scan-interval).
	PolicyScanInterval time.Duration
	// MaxWatchers bounds the change stream's waiting long polls
	// (--max-watchers); 0 means the open-file limit less
	// reservedFiles, so that a fleet of agents cannot take the file
	// descriptors that other clients, raft and files need.
	MaxWatchers int
	// Events configures webhook delivery (Start sets its Store, Keyring,
	// Leader, Now and Logger); zero means events.DefaultConfig().
	Events events.Config
	// Mirrors are the mirrors of --mirror-config (mirror.ParseFile), run
	// by the raft leader only.
	Mirrors []mirror.Spec
	// Now is the clock of the service and of parameter policies; nil
	// means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Default returns the contract defaults of DESIGN.md §3.
func Default() Config {
	return Config{
		Listen:        "127.0.0.1:4583",
		DataDir:       "./paramstore-data",
		Account:       "123456789012",
		DefaultRegion: "us-east-1",
		// Start sets the directory, under the data dir.
		Raft:            raftstore.Default(""),
		Limits:          service.DefaultLimits(),
		ShutdownTimeout: 30 * time.Second,
		// A backup download takes its time; a reader that takes nothing
		// for this long is gone.
		SnapshotStallTimeout: 30 * time.Second,
		PolicyScanInterval:   time.Second,
		Events:               events.DefaultConfig(),
		AuditMaxSize:         100 << 20,
		AuditMaxAge:          24 * time.Hour,
		AuditRetain:          audit.Retention{Files: 30},
		AuditEvents:          audit.EventsAll,
		MinFreeSpace:         256 << 20,
	}
}

// Validate checks the configuration, naming the failing field, or both
// fields when two contradict each other.
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
	case (c.PeerTLSCert == "") != (c.PeerTLSKey == "") || (c.PeerTLSCert == "") != (c.PeerTLSCA == ""):
		return errors.New("server: --peer-tls-cert, --peer-tls-key and --peer-tls-ca must be given together")
	case c.PeerTLSCert != "" && c.Raft.Bind == "":
		return errors.New("server: --peer-tls-cert is for clusters: give --raft-listen too")
	case c.Raft.PeerTLSTransition && c.PeerTLSCert == "":
		return errors.New("server: --peer-tls-transition needs --peer-tls-cert, --peer-tls-key and --peer-tls-ca")
	case c.Raft.Bind != "" && c.ClusterKeyFile == "":
		return errors.New("server: --raft-listen needs --cluster-key-file (make one with `paramstore cluster keygen`)")
	case c.Dev && c.Raft.Bind != "":
		return errors.New("server: --dev runs a single node; drop --raft-listen")
	case c.Dev && c.Raft.ForceNewCluster:
		return errors.New("server: --force-new-cluster needs a data dir; drop --dev")
	case c.SnapshotStallTimeout <= 0:
		return errors.New("server: SnapshotStallTimeout must be positive")
	case c.MaxWatchers < 0:
		return errors.New("server: --max-watchers must not be negative")
	case c.PolicyScanInterval < 0:
		return errors.New("server: --policy-scan-interval must be positive")
	case c.AuditMaxSize < 0:
		return errors.New("server: --audit-max-size must not be negative")
	case c.AuditMaxAge < 0:
		return errors.New("server: --audit-max-age must not be negative")
	case c.AuditRetain.Files < 0 || c.AuditRetain.Age < 0:
		return errors.New("server: --audit-retain must not be negative")
	case c.MinFreeSpace < 0:
		return errors.New("server: --min-free-space must not be negative")
	}
	if c.AuditEvents != "" {
		if _, err := audit.ParseEvents(string(c.AuditEvents)); err != nil {
			return err
		}
	}
	for _, r := range c.RegionAllow {
		if !ssm.ValidRegionName(r) {
			return fmt.Errorf("server: --region-allow %q: a region is lower-case letters and digits in words joined by '-' (at most 50 characters), e.g. xx-lab-1", r)
		}
	}
	if !ssm.KnownRegion(c.DefaultRegion) && !slices.Contains(c.RegionAllow, c.DefaultRegion) {
		return fmt.Errorf("server: --region %q is not an AWS region; name it with --region-allow too to use it", c.DefaultRegion)
	}
	if err := c.Raft.ValidateSettings(); err != nil {
		return err
	}
	return c.Limits.Validate()
}

// localStore reads the node's local state without a linearizability check
// and proposes through raft. The plan of a write (store.WithWritePlan: an
// IAM operation) reads as the node serves plans, on a follower once it
// caught up with the leader (raftstore.Node.View).
type localStore struct{ n *raftstore.Node }

func (l localStore) View(ctx context.Context, fn func(r *store.Reader) error) error {
	if store.IsWritePlan(ctx) {
		return l.n.View(ctx, fn)
	}
	return l.n.DB().View(ctx, fn)
}

func (l localStore) Apply(ctx context.Context, cmd *store.Command) error { return l.n.Apply(ctx, cmd) }

func (l localStore) IAMVersion() uint64 { return l.n.DB().IAMVersion() }

// Changed wakes the event dispatcher: at commits, since the outbox it
// reads is not in the read buffer (a read of it at every applied batch
// would commit each batch).
func (l localStore) Changed() <-chan struct{} { return l.n.DB().Committed() }

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
	cfg Config
	log *slog.Logger

	// What Start's steps open, each for the next.
	dataDir  string // Config.DataDir, or a temporary directory (--dev)
	keyFile  string // the master key's file
	keyring  *crypto.Keyring
	keyCheck []byte // the master key's check value
	node     *raftstore.Node
	svc      *service.Service
	authn    *auth.Authenticator
	audit    *audit.FileSink // nil with NoAudit
	// intents hands the node's intents to audit once it is open.
	intents *intentTrail
	// auditPath is the trail's active file ("" without a trail).
	auditPath string
	disk      *diskGuard
	// The event system: webhook delivery and the policy scan (leader
	// only), and the notify admin operations.
	dispatcher *events.Dispatcher
	notify     *events.Manager
	handler    *api.Handler
	reg        *prometheus.Registry
	// mirrors runs --mirror-config's mirrors while this node leads; nil
	// without any.
	mirrors *mirrorManager
	// incidents records this node's incidents; faults, with
	// --enable-fault-injection, injects faults at the API edge.
	incidents *incidentMonitor
	faults    *fault.Injector
	http      *http.Server
	ln        net.Listener
	tls       bool
	// The TLS material, re-read by ReloadTLS and when its files change.
	apiCert *tlsconf.KeyPair // nil: plaintext API
	peer    *tlsconf.Peer    // nil: plaintext between nodes
	tlsw    *tlsconf.Watcher

	// closers release what Start acquired, the last acquired first: the
	// one cleanup path of Close and of a start that fails half-way.
	closers   []func() error
	closeOnce sync.Once
	closeErr  error

	// failed is canceled, with the cause, when the server cannot go on:
	// the cluster refused this node, or the listener failed.
	failed context.Context
	fail   context.CancelCauseFunc
}

// Start opens the store and starts serving. Close (or ctx's end, through
// Wait) stops it. Each step opens what the next needs and registers how to
// release it; when a step fails, what the steps before it opened is
// released, last first, as Close does.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.failed, s.fail = context.WithCancelCause(context.Background())
	for _, step := range []func(context.Context) error{
		s.openDataDir,
		s.openTLS,
		s.openKeyring,
		s.openNode,
		s.openAudit, // at once: the node's applier waits for it (intents.go)
		s.openService,
		s.openEvents,
		s.initCluster,
		s.openIncidents,
		s.openAPI,
		s.openMirrors,
		s.serve,
		s.register,
		s.serveDebug,
	} {
		if err := step(ctx); err != nil {
			if rerr := s.release(); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return nil, err
		}
	}
	s.log.Info("listening", "addr", s.Addr(), "tls", s.tls, "data_dir", s.dataDir, "dev", cfg.Dev, "node_id", cfg.Raft.NodeID)
	return s, nil
}

// onClose registers how to release what a step acquired.
func (s *Server) onClose(release func() error) { s.closers = append(s.closers, release) }

// spawn runs run in a goroutine the server owns (raft's goFunc): when its
// turn comes, Close calls stop, which must make run return, and waits for
// it.
func (s *Server) spawn(stop func() error, run func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		run()
	}()
	s.onClose(func() error {
		err := stop()
		<-done
		return err
	})
}

// release runs the closers, the last registered first.
func (s *Server) release() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// openDataDir makes the data directory: a temporary one, removed by Close,
// with --dev.
func (s *Server) openDataDir(context.Context) error {
	s.dataDir = s.cfg.DataDir
	if s.cfg.Dev {
		dir, err := os.MkdirTemp("", "paramstore-dev-")
		if err != nil {
			return fmt.Errorf("server: dev data dir: %w", err)
		}
		s.dataDir = dir
		s.onClose(func() error { return os.RemoveAll(dir) })
	}
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		return fmt.Errorf("server: data dir: %w", err)
	}
	return privateRaftDir(filepath.Join(s.dataDir, "raft"))
}

// privateRaftDir takes group and other access off everything under the
// raft directory dir. raft-wal's segments and raft's snapshots were made
// 0644/0755 by those libraries before the server narrowed its umask
// (paramstore server does now); a data dir from then is tightened here, at
// start. A missing dir is a new data dir.
func privateRaftDir(dir string) error {
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if mode := fi.Mode(); mode.Type()&os.ModeSymlink == 0 && mode.Perm()&0o077 != 0 {
			if err := os.Chmod(path, mode.Perm()&0o700); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("server: data dir: make %s private: %w", dir, err)
	}
	return nil
}

// openKeyring loads (on the first start, creates) the master key.
func (s *Server) openKeyring(context.Context) error {
	s.keyFile = s.cfg.MasterKeyFile
	if s.keyFile == "" {
		s.keyFile = filepath.Join(s.dataDir, "master.key")
	}
	master, err := crypto.LoadOrCreateMaster(s.keyFile, s.cfg.MasterKeyFile == "")
	if err != nil {
		return err
	}
	if s.keyring, err = crypto.New(master); err != nil {
		return err
	}
	s.keyCheck = s.keyring.MAC("key check", []byte(keyCheckMessage))
	return nil
}

// killAtIntentEnv names the test setting raftstore.Config.KillAtIntent
// (the crash tests of tests/e2e): never set in production.
const killAtIntentEnv = "PARAMSTORE_TEST_KILL_AT_INTENT"

// openNode opens the raft node, and refuses to go on with a master key
// whose check value is not the one this node's state recorded.
func (s *Server) openNode(context.Context) error {
	rc := s.cfg.Raft
	rc.Dir = filepath.Join(s.dataDir, "raft")
	rc.KeyCheck = s.keyCheck
	rc.Logger = s.log
	rc.PeerTLS = s.peer
	if s.cfg.ClusterKeyFile != "" {
		key, err := readClusterKey(s.cfg.ClusterKeyFile)
		if err != nil {
			return err
		}
		rc.ClusterKey = key
	}
	var trail *intentTrail
	if s.auditOn() {
		// The intent records of the parameter writes this node proposes
		// travel in its log (raftstore/intent.go, docs/audit.md).
		trail = newIntentTrail(s.auditFile())
		rc.Intents = trail
		rc.KillAtIntent = os.Getenv(killAtIntentEnv)
	}
	node, err := raftstore.Open(rc)
	if err != nil {
		return err
	}
	s.node = node
	if trail != nil {
		// The trail closes after the node, whose last commit makes the
		// intents it applied durable on it first.
		s.intents = trail
		s.onClose(trail.close)
	}
	s.onClose(node.Close)
	if trail != nil {
		// Runs before node.Close: a start that fails before the trail
		// opens must not leave the node's last commit waiting for it.
		s.onClose(func() error { trail.attach(nil); return nil })
	}
	// A node that restarts with another master key finds out here, before
	// it serves a request that would fail to decrypt.
	kc, err := node.DB().KeyCheck()
	if err != nil {
		return err
	}
	if kc != nil && !hmac.Equal(kc, s.keyCheck) {
		return masterKeyError(s.keyFile, s.cfg.MasterKeyFile != "")
	}
	return nil
}

// openService makes the service and the authenticator.
func (s *Server) openService(context.Context) error {
	var err error
	s.svc, err = service.New(service.Config{Store: s.node, Keyring: s.keyring, Limits: s.cfg.Limits, Logger: s.log, Notifier: s.node.DB(), Now: s.cfg.Now})
	if err != nil {
		return err
	}
	// Authentication reads identities from the local state: a follower
	// must not ask the leader on every request.
	s.authn, err = auth.New(auth.Config{Store: localStore{s.node}, Keyring: s.keyring, Account: s.cfg.Account, RegionAllow: s.cfg.RegionAllow})
	return err
}

// openEvents starts webhook delivery and the policy scan; both act only
// while this node is the leader.
func (s *Server) openEvents(context.Context) error {
	ec := s.cfg.Events
	if ec.Timeout == 0 {
		ec = events.DefaultConfig()
	}
	ec.Store, ec.Keyring, ec.Leader, ec.Logger, ec.Now = localStore{s.node}, s.keyring, s.node.Ready, s.log, s.cfg.Now
	d, err := events.NewDispatcher(ec)
	if err != nil {
		return err
	}
	interval := s.cfg.PolicyScanInterval
	if interval == 0 {
		interval = time.Second
	}
	scan, err := events.NewScanner(events.ScannerConfig{Store: localStore{s.node}, Leader: s.node.Ready, Now: s.cfg.Now,
		Interval: interval, Logger: s.log})
	if err != nil {
		return err
	}
	s.dispatcher = d
	s.notify = events.NewManager(s.node, s.keyring, s.cfg.Now)
	d.Start()
	s.onClose(func() error { d.Close(); return nil })
	scan.Start()
	s.onClose(func() error { scan.Close(); return nil })
	return nil
}

// noAuth reports whether any signature is accepted.
func (s *Server) noAuth() bool { return s.cfg.Dev || s.cfg.NoAuth }

// initCluster, unless the node joins a cluster, waits for a leader and
// makes sure the replicated state holds what the first start of a cluster
// records: the master key's check value, and the root access key.
func (s *Server) initCluster(ctx context.Context) error {
	if s.cfg.Raft.Join != "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.node.WaitReady(ctx); err != nil {
		return fmt.Errorf("server: waiting for a leader: %w", err)
	}
	if err := ensureKeyCheck(ctx, s.node, s.keyCheck); errors.Is(err, store.ErrKeyMismatch) {
		return masterKeyError(s.keyFile, s.cfg.MasterKeyFile != "")
	} else if err != nil {
		return err
	}
	if s.noAuth() {
		return nil
	}
	credPath := filepath.Join(s.dataDir, "root-credentials")
	created, err := s.authn.EnsureRoot(ctx, credPath)
	if created {
		s.log.Info("created the root access key; its credentials are in the file (profile default)", "path", credPath)
	}
	if err != nil {
		return fmt.Errorf("server: root credentials: %w", err)
	}
	return nil
}

// auditOn reports whether the server keeps an audit trail.
func (s *Server) auditOn() bool { return !s.cfg.NoAudit && s.cfg.AuditEvents != audit.EventsNone }

// auditFile is the path of the audit trail.
func (s *Server) auditFile() string {
	if s.cfg.AuditFile != "" {
		return s.cfg.AuditFile
	}
	return filepath.Join(s.dataDir, "audit.log")
}

// openAudit opens the audit trail, unless NoAudit.
func (s *Server) openAudit(context.Context) error {
	if !s.auditOn() {
		return nil
	}
	key, err := s.keyring.SubKey("audit hmac")
	if err != nil {
		return err
	}
	ac := audit.DefaultConfig()
	ac.Path = s.auditFile()
	ac.MaxSize, ac.MaxAge, ac.Retain, ac.OnRotate = s.cfg.AuditMaxSize, s.cfg.AuditMaxAge, s.cfg.AuditRetain, s.cfg.AuditOnRotate
	opts := audit.Options{HMACKey: key, Logger: s.log}
	if s.cfg.AuditStdout && s.cfg.Stdout != nil {
		opts.Mirror = s.cfg.Stdout
	}
	fs, err := audit.Open(ac, opts)
	if err != nil {
		return fmt.Errorf("server: audit trail: %w", err)
	}
	s.audit, s.auditPath = fs, ac.Path
	if s.intents != nil {
		s.intents.attach(fs) // closes it, after the node
	} else {
		s.onClose(fs.Close)
	}
	s.log.Info("audit trail", "path", ac.Path)
	return nil
}

// openIncidents starts the node's incident recorder (and the fault
// injector, with --enable-fault-injection, whose faults are drills).
func (s *Server) openIncidents(context.Context) error {
	var auditFailing func() error
	if s.audit != nil {
		auditFailing = s.audit.Failing
	}
	dir := s.dataDir
	if s.cfg.Dev {
		dir = "" // ephemeral, like the store
	}
	mon, err := newIncidentMonitor(s.node, dir, s.cfg.Account+":"+s.cfg.DefaultRegion, auditFailing, s.log)
	if err != nil {
		return err
	}
	s.incidents = mon
	if s.cfg.Raft.FaultInjection {
		s.faults = fault.New(func(ev string, active bool) {
			s.log.Warn(ev, "fault_active", active)
			mon.faultChanged(ev, active)
		}, nil)
		s.log.Warn("fault injection enabled: paramstore fault can degrade this server's API")
	}
	ctx, stop := context.WithCancel(context.Background())
	s.spawn(func() error { stop(); return nil }, func() { mon.run(ctx) })
	return nil
}

// openAPI makes the HTTP handler.
func (s *Server) openAPI(context.Context) error {
	var limiter *throttle.Limiter
	if tl := throttle.New(throttle.Config{Limits: s.cfg.Throttle}); tl.Enabled() {
		limiter = tl
	}
	var sink audit.Sink
	if s.audit != nil {
		sink = s.audit
	}
	floor := s.cfg.MinFreeSpace
	if s.cfg.Dev {
		floor = 0 // a temporary directory; nothing to protect
	}
	s.disk = newDiskGuard(s.dataDir, s.auditPath, floor, s.log)
	s.reg = s.registry()
	h, err := api.New(api.Config{
		MaxWatchers:   s.maxWatchers(),
		Audit:         sink,
		IntentsInLog:  sink != nil && s.node.CarriesIntents(),
		AuditEvents:   s.cfg.AuditEvents,
		WriteGuard:    s.disk.check,
		Degraded:      s.disk.degraded,
		Auth:          s.authn,
		NoAuth:        s.noAuth(),
		Throttle:      limiter,
		Service:       s.svc,
		Account:       s.cfg.Account,
		DefaultRegion: s.cfg.DefaultRegion,
		Dev:           s.cfg.Dev,
		Cluster:       s.node,
		StaleReads:    s.cfg.StaleReads,
		Registry:      s.reg,
		Logger:        s.log,
		Faults:        s.faults,
		Incidents: func(ctx context.Context) (any, error) {
			list, err := s.incidents.list(ctx)
			return struct {
				Incidents []incident.Incident `json:"incidents"`
			}{list}, err
		},
		Notify:          s.notify,
		ConsoleSessions: filepath.Join(s.dataDir, "console-sessions.json"),
		PeerClient:      s.peerClient(),
		PeerTransition:  s.cfg.Raft.PeerTLSTransition,
		AuditPath:       s.auditPath,
		Mirrors: func() any {
			if s.mirrors == nil {
				return nil
			}
			return s.mirrors.statuses()
		},
	})
	if err != nil {
		return err
	}
	s.handler = h
	return nil
}

// registry holds the metrics of the raft node and the audit trail; the API
// adds its own.
func (s *Server) registry() *prometheus.Registry {
	node := s.node
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
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_state_committed_index",
			Help: "Raft index of the state machine's committed (fsynced) state; it trails paramstore_raft_applied_index by the writes of the last second at most (the deferred commit).",
		}, func() float64 { return float64(node.DB().CommittedIndex()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "paramstore_state_commits_total",
			Help: "Commits (fsyncs) of the state machine's file since the start.",
		}, func() float64 { return float64(node.DB().Commits()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_raft_last_snapshot_timestamp_seconds",
			Help: "When this node took or received its last raft snapshot (Unix seconds; 0 before the first).",
		}, func() float64 {
			if t := node.Snapshots().LastTime; !t.IsZero() {
				return float64(t.UnixMilli()) / 1000
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_raft_log_entries_since_snapshot",
			Help: "Raft log entries after the last snapshot; raft snapshots past --snapshot-threshold, so far more means snapshots fail.",
		}, func() float64 { return float64(node.Snapshots().EntriesSince) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_raft_snapshot_threshold",
			Help: "--snapshot-threshold: the log entries between snapshots.",
		}, func() float64 { return float64(node.Snapshots().Threshold) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "paramstore_storage_errors_total",
			Help: "Failed writes of the raft log or the state machine on this node (a full or failing disk).",
		}, func() float64 { return float64(node.Storage().Errors) }),
	)
	if s.dispatcher != nil {
		reg.MustRegister(s.dispatcher.Collectors()...)
	}
	if s.disk != nil {
		reg.MustRegister(s.disk.collectors()...)
	}
	reg.MustRegister(s.tlsCollectors()...)
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
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "paramstore_audit_rotations_total",
				Help: "Rotations of the audit trail's active file (--audit-max-size, --audit-max-age).",
			}, func() float64 { return float64(fs.Rotation().Rotations) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "paramstore_audit_rotated_files",
				Help: "Rotated, compressed audit files kept (at most --audit-retain once shipped).",
			}, func() float64 { return float64(fs.Rotation().Files) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "paramstore_audit_ship_pending_files",
				Help: "Rotated audit files that --audit-on-rotate has not taken yet (kept until it does).",
			}, func() float64 { return float64(fs.Rotation().PendingShip) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "paramstore_audit_ship_failures_total",
				Help: "Failed runs of --audit-on-rotate (each retried with backoff).",
			}, func() float64 { return float64(fs.Rotation().ShipFailures) }),
		)
	}
	return reg
}

// reservedFiles is what the default watcher limit leaves of the open-file
// limit for everything else.
const reservedFiles = 1024

// maxWatchers is Config.MaxWatchers, or its default from the open-file
// limit (which the Go runtime raised to the hard limit).
func (s *Server) maxWatchers() int {
	if s.cfg.MaxWatchers > 0 {
		return s.cfg.MaxWatchers
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		return 0
	}
	n := max(int(lim.Cur)-reservedFiles, 64)
	s.log.Info("change stream watcher limit", "max_watchers", n, "open_file_limit", lim.Cur)
	return n
}

// serve listens on the API address and serves it until Close drains it.
func (s *Server) serve(context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", s.cfg.Listen, err)
	}
	// Cluster calls of peers arrive on this listener too, over peer TLS.
	ln = tlsconf.ListenAPI(ln, s.apiCert, s.peer)
	s.ln, s.tls = ln, s.apiCert != nil
	ln = s.handler.Listener(ln) // (after TLS: answered long polls come back as they left)
	s.http = &http.Server{
		Handler:           stallGuard(s.incidents.calls.wrap(s.handler), s.cfg.SnapshotStallTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.spawn(s.drain, func() {
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("server: serve %s: %w", ln.Addr(), err))
		}
	})
	return nil
}

// drain stops accepting requests and waits for those in flight, at most
// ShutdownTimeout; pending long polls answer at once.
func (s *Server) drain() error {
	s.log.Info("shutting down: draining requests")
	s.handler.BeginShutdown()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	return s.http.Shutdown(ctx)
}

// register makes sure, in the background, that this node is a member of
// its cluster with its current address (joining waits for the leader); a
// cluster that refuses the node's master key stops the server.
func (s *Server) register(context.Context) error {
	if s.cfg.Raft.Bind == "" {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.spawn(func() error { cancel(); return nil }, func() {
		err := s.node.Register(ctx, s.URL())
		switch {
		case errors.Is(err, store.ErrKeyMismatch):
			s.fail(masterKeyError(s.keyFile, s.cfg.MasterKeyFile != ""))
		case err != nil && ctx.Err() == nil:
			s.log.Error("cluster registration failed", "error", err)
		}
	})
	return nil
}

// serveDebug serves net/http/pprof on DebugListen, if set.
func (s *Server) serveDebug(context.Context) error {
	if s.cfg.DebugListen == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	ln, err := net.Listen("tcp", s.cfg.DebugListen)
	if err != nil {
		return fmt.Errorf("server: --debug-listen %s: %w", s.cfg.DebugListen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.spawn(srv.Close, func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("pprof server stopped", "error", err)
		}
	})
	s.log.Info("pprof listening", "addr", ln.Addr().String())
	return nil
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
	case <-s.failed.Done():
		err := context.Cause(s.failed)
		if cerr := s.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return err
	}
}

// WaitReady waits until the node can take writes and linearizable reads,
// ctx ends, or the server cannot go on (then it returns why).
func (s *Server) WaitReady(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.failed, cancel)()
	err := s.node.WaitReady(ctx)
	if cause := context.Cause(s.failed); cause != nil {
		return cause
	}
	return err
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

// Close stops accepting requests, drains in-flight ones, stops the
// server's goroutines and closes the store cleanly. Calls after the first
// return its result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.release()
		s.log.Info("stopped")
	})
	return s.closeErr
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

// Handler is the HTTP handler the API listener serves (benchmarks call it
// in process).
func (s *Server) Handler() http.Handler { return s.http.Handler }
