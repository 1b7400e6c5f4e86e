package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/agent"
	"github.com/paramstore/paramstore/internal/bundle"
	"github.com/paramstore/paramstore/internal/fault"
	"github.com/paramstore/paramstore/internal/incident"
)

// clientFlags are the flags of the commands that read through the
// resilient client (agent, exec).
type clientFlags struct {
	upstreams []string
	// conn holds the signing and TLS flags (--region, --profile,
	// --credentials-file, --ca-file, --client-cert, --client-key).
	conn     connFlags
	cacheDir string
	cacheKey string
	ttl      time.Duration
	pathTTL  map[string]string
	maxStale time.Duration
	budget   time.Duration
	flush    time.Duration
	timeout  time.Duration
	attempts int
	brkFail  int
	brkOpen  time.Duration
	entries  int
	check    time.Duration

	bundles    []string
	bundleKeys []string
}

func (f *clientFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.upstreams, "upstream", nil, "SSM endpoint URL, tried in order (repeatable; none: AWS)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "directory of the encrypted persistent cache (none: memory only)")
	fl.StringVar(&f.cacheKey, "cache-key", "", "key of the persistent cache: file:PATH or env:VAR (base64 of 32 bytes)")
	f.conn.registerAuth(fl, "")
	fl.DurationVar(&f.ttl, "ttl", 5*time.Minute, "how long a value is fresh")
	fl.StringToStringVar(&f.pathTTL, "path-ttl", nil, "TTL for names under a path, PATH=DURATION (repeatable)")
	fl.DurationVar(&f.maxStale, "max-stale", 0, "how long past expiry a value may be served when no upstream answers (0: unlimited)")
	fl.DurationVar(&f.budget, "refresh-budget", 100*time.Millisecond, "how long a read of a cached value waits for an upstream before the cached value is served stale (negative: as long as the retries take)")
	fl.DurationVar(&f.flush, "flush-window", time.Second, "a fetched value is durable in --cache-dir within this window (writes are coalesced)")
	fl.DurationVar(&f.timeout, "attempt-timeout", 2*time.Second, "bound of each upstream attempt")
	fl.IntVar(&f.attempts, "max-attempts", 3, "attempts per upstream for a value not cached (jittered exponential backoff between them)")
	fl.IntVar(&f.brkFail, "breaker-failures", 5, "consecutive failures that open an upstream's circuit breaker")
	fl.DurationVar(&f.brkOpen, "breaker-open-for", 5*time.Second, "how long an open breaker refuses calls before one probe")
	fl.IntVar(&f.entries, "max-entries", 10000, "bound of the cache (least recently used answers evicted first)")
	fl.StringArrayVar(&f.bundles, "bundle", nil, "cold-start bundle (paramstore bundle create) served when no upstream answers and the cache lacks a name (repeatable; the newest bundle holding a name wins)")
	fl.StringArrayVar(&f.bundleKeys, "bundle-key", nil, "key of the bundles: file:PATH or env:VAR (one for all, or one per --bundle in order)")
	fl.DurationVar(&f.check, "health-check-interval", 10*time.Second, "re-check upstreams no call observed for this long, in the background (±20% jitter; negative: off)")
}

// clientConfig builds the client configuration and the credentials the
// agent signs forwarded calls with.
func (f *clientFlags) clientConfig(ctx context.Context, log *slog.Logger, reg prometheus.Registerer) (client.Config, error) {
	// No timeout on the client: the client bounds each attempt, and the
	// change stream's long polls wait up to 50s.
	awsCfg, hc, err := f.conn.load(ctx, 0)
	if err != nil {
		return client.Config{}, err
	}
	cfg := client.Config{
		Endpoints:   f.upstreams,
		Region:      awsCfg.Region,
		HTTPClient:  hc,
		Credentials: aws.NewCredentialsCache(awsCfg.Credentials),
		TTL:         f.ttl,
		MaxStale:    f.maxStale,
		CacheDir:    f.cacheDir,

		RefreshBudget:   f.budget,
		FlushWindow:     f.flush,
		Timeout:         f.timeout,
		MaxAttempts:     f.attempts,
		BreakerFailures: f.brkFail,
		BreakerOpenFor:  f.brkOpen,
		MaxEntries:      f.entries,

		HealthCheckInterval: f.check,

		Logger:   log,
		Registry: reg,
	}
	if len(f.pathTTL) > 0 {
		cfg.PathTTL = map[string]time.Duration{}
		for p, s := range f.pathTTL {
			d, err := time.ParseDuration(s)
			if err != nil {
				return client.Config{}, fmt.Errorf("--path-ttl %s=%s: %w", p, s, err)
			}
			cfg.PathTTL[p] = d
		}
	}
	switch {
	case f.cacheDir != "" && f.cacheKey == "":
		return client.Config{}, errors.New("--cache-dir needs --cache-key (file:PATH or env:VAR)")
	case f.cacheKey != "":
		if f.cacheDir == "" {
			return client.Config{}, errors.New("--cache-key needs --cache-dir")
		}
		key, err := client.LoadKey(f.cacheKey)
		if err != nil {
			return client.Config{}, fmt.Errorf("--cache-key: %w", err)
		}
		cfg.CacheKey = key
	}
	return cfg, nil
}

// loadBundles opens every --bundle with its key. Any bundle that fails
// (wrong key, damaged or truncated file) fails the whole command: a
// bundle is used entirely or not at all, and never silently skipped.
func (f *clientFlags) loadBundles(log *slog.Logger) (*bundle.Set, error) {
	if len(f.bundles) == 0 {
		if len(f.bundleKeys) > 0 {
			return nil, errors.New("--bundle-key needs --bundle")
		}
		return nil, nil
	}
	if len(f.bundleKeys) != 1 && len(f.bundleKeys) != len(f.bundles) {
		return nil, fmt.Errorf("--bundle-key: got %d keys for %d bundles; give one for all or one per --bundle", len(f.bundleKeys), len(f.bundles))
	}
	var bs []*bundle.Bundle
	for i, path := range f.bundles {
		ks := f.bundleKeys[0]
		if len(f.bundleKeys) > 1 {
			ks = f.bundleKeys[i]
		}
		key, err := client.LoadKey(ks)
		if err != nil {
			return nil, fmt.Errorf("--bundle-key %s: %w", ks, err)
		}
		b, err := bundle.Open(path, key)
		clear(key)
		if err != nil {
			return nil, fmt.Errorf("--bundle refused: %w", err)
		}
		log.Info("bundle loaded", "file", path, "parameters", len(b.Parameters), "created", b.Created, "source", b.Source)
		bs = append(bs, b)
	}
	return bundle.NewSet(bs...), nil
}

type agentOptions struct {
	client          clientFlags
	listen          string
	token           string
	allowWrites     bool
	templates       []string
	watchPath       string
	shutdownTimeout time.Duration
	logLevel        string
	logFormat       string
	require         []string
	requirePaths    []string
	faults          bool
	// incidentWebhook and its secret file: the agent's incidents as
	// signed events.
	incidentWebhook, incidentSecretFile string
}

func newAgentCmd(stdout, stderr io.Writer) *cobra.Command {
	var o agentOptions
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the local caching agent (Lambda extension API, SSM caching proxy, templates)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(stderr, o.logLevel, o.logFormat)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("token") {
				o.token = os.Getenv("AWS_SESSION_TOKEN")
			}
			return runAgent(cmd.Context(), o, log)
		},
	}
	o.client.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:2773", "local API address")
	f.StringVar(&o.watchPath, "watch-path", "/", "follow changes under this path and refresh cached values ('' turns it off: TTL only)")
	f.StringVar(&o.token, "token", "", "required on every local call: X-Aws-Parameters-Secrets-Token on the Lambda paths, X-Amz-Security-Token on the SSM proxy (default $AWS_SESSION_TOKEN; empty: any non-empty value)")
	f.BoolVar(&o.allowWrites, "allow-writes", false, "forward write operations (PutParameter, DeleteParameter, ...) through the SSM proxy")
	f.StringArrayVar(&o.templates, "template", nil, "render SRC to DST, then run RELOAD-CMD (no shell) when it changed: SRC:DST[:RELOAD-CMD] (repeatable)")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long SIGTERM waits for in-flight requests")
	f.StringArrayVar(&o.require, "require", nil, "a parameter the application cannot start without: /readyz is 503 until it is held (repeatable)")
	f.StringArrayVar(&o.requirePaths, "require-path", nil, "a path that must hold at least one parameter before /readyz is 200 (repeatable)")
	f.StringVar(&o.incidentWebhook, "incident-webhook", "", "POST this agent's incidents (opened, closed) to this URL as signed \"Paramstore Incident\" events, as a server's (docs/events.md)")
	f.StringVar(&o.incidentSecretFile, "incident-webhook-secret-file", "", "the secret that signs --incident-webhook's events (X-Paramstore-Signature); required with it")
	f.BoolVar(&o.faults, "enable-fault-injection", false, "allow paramstore fault (POST/DELETE /fault, token-protected) to inject faults into upstream calls")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "", "json or text (default: text on a terminal, else json)")
	return cmd
}

func runAgent(ctx context.Context, o agentOptions, log *slog.Logger) error {
	var tpls []agent.Template
	for _, s := range o.templates {
		t, err := agent.ParseTemplate(s)
		if err != nil {
			return fmt.Errorf("--template: %w", err)
		}
		tpls = append(tpls, t)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ccfg, err := o.client.clientConfig(ctx, log, reg)
	if err != nil {
		return err
	}
	bundles, err := o.client.loadBundles(log)
	if err != nil {
		return err
	}
	// mon is set before the listener serves: the injector's changes (only
	// possible through the listener) always find it.
	var mon *agent.Monitor
	var faults *fault.Injector
	// Forwarded calls go through the same transport (the same trust) as
	// the client's.
	fwd := &http.Client{Timeout: 30 * time.Second, Transport: ccfg.HTTPClient.Transport}
	if o.faults {
		faults = fault.New(func(ev string, active bool) { mon.FaultChanged(ev, active) }, nil)
		ccfg.HTTPClient = &http.Client{Transport: &fault.Transport{Base: ccfg.HTTPClient.Transport, Injector: faults}}
		fwd = &http.Client{Timeout: 30 * time.Second, Transport: &fault.Transport{Base: fwd.Transport, Injector: faults}}
		log.Warn("fault injection enabled: paramstore fault can degrade this agent's upstream calls")
	}
	c, err := client.New(ctx, ccfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Close(); err != nil {
			log.Error("close client", "error", err)
		}
	}()
	var store incident.Store
	if ccfg.CacheDir != "" {
		// Beside the encrypted cache: names, counts and times, no value.
		store = incident.FileStore{Path: filepath.Join(ccfg.CacheDir, "incidents.json")}
	}
	var notifier *incident.Notifier
	if o.incidentWebhook != "" {
		if o.incidentSecretFile == "" {
			return errors.New("--incident-webhook needs --incident-webhook-secret-file (the secret that signs its events)")
		}
		secret, err := os.ReadFile(o.incidentSecretFile)
		if err != nil {
			return fmt.Errorf("--incident-webhook-secret-file: %w", err)
		}
		if notifier, err = incident.NewNotifier(o.incidentWebhook, bytes.TrimSpace(secret), ccfg.Region, log); err != nil {
			return fmt.Errorf("--incident-webhook: %w", err)
		}
		if ccfg.CacheDir != "" {
			// Notices not yet accepted survive a restart, beside the history.
			if err := notifier.Persist(filepath.Join(ccfg.CacheDir, "incident-notices.json")); err != nil {
				return err
			}
		}
	}
	icfg := incident.Config{Source: incident.SourceAgent, Store: store, Logger: log}
	if notifier != nil {
		icfg.OnChange = notifier.Changed
	}
	rec, err := incident.New(icfg)
	if err != nil {
		return err
	}
	checkEvery := o.client.check
	if checkEvery <= 0 {
		checkEvery = 10 * time.Second
	}
	mon, err = agent.NewMonitor(agent.MonitorConfig{Source: agent.WithBundles(c, bundles), Bundles: bundles, Recorder: rec, Require: o.require, RequirePaths: o.requirePaths,
		CheckInterval: checkEvery, Registerer: reg, Logger: log})
	if err != nil {
		return err
	}
	if faults != nil {
		mon.UseFaults(faults)
	}
	h, err := agent.New(agent.Config{
		Monitor:     mon,
		Faults:      faults,
		HTTPClient:  fwd,
		Source:      c,
		Token:       o.token,
		ListenAddr:  o.listen,
		AllowWrites: o.allowWrites,
		Upstreams:   ccfg.Endpoints,
		Region:      ccfg.Region,
		Credentials: ccfg.Credentials,
		Registerer:  reg,
		Gatherer:    reg,
		Logger:      log,
		Bundles:     bundles,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if o.token == "" {
		log.Warn("no --token and no AWS_SESSION_TOKEN: any non-empty token is accepted on the local API")
	}
	log.Info("listening", "addr", ln.Addr().String(), "upstreams", ccfg.Endpoints, "cache_dir", ccfg.CacheDir)

	rctx, stopRenderers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, t := range tpls {
		r, err := agent.NewRenderer(agent.RendererConfig{Source: c, Template: t, Logger: log, Registerer: reg})
		if err != nil {
			stopRenderers()
			ln.Close()
			return err
		}
		wg.Go(func() {
			if err := r.Run(rctx); err != nil {
				log.Error("template renderer stopped", "template", t.Source, "dest", t.Dest, "error", err)
			}
		})
	}
	// Follow the upstream's change stream so cached values are refreshed
	// within moments of a change (the client falls back to polling when the
	// upstream has none, as AWS).
	if o.watchPath != "" {
		changes, err := c.Watch(rctx, o.watchPath)
		if err != nil {
			stopRenderers()
			ln.Close()
			return fmt.Errorf("--watch-path %s: %w", o.watchPath, err)
		}
		wg.Go(func() {
			for range changes {
			}
		})
	}

	wg.Go(func() { mon.Run(rctx) })
	if notifier != nil {
		wg.Go(func() { notifier.Run(rctx) })
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		stopRenderers()
		wg.Wait()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	stopRenderers()
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// splitEnv splits KEY=VALUE.
func splitEnv(kv string) (string, string) {
	k, v, _ := strings.Cut(kv, "=")
	return k, v
}
