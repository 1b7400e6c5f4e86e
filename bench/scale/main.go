// Command scale runs the scale benchmark: for each store size N it starts
// the real paramstore binary (auth and audit trail on) on a fresh data
// directory, loads N parameters with history through the API, and measures
// what must not grow with N: GetParameter, one page of GetParametersByPath
// under a path with 10,000 children (first and middle page),
// DescribeParameters with filters, startup time, resident memory and the
// size of the data directory.
//
//	go build -o bin/paramstore ./cmd/paramstore
//	go run ./bench/scale -bin bin/paramstore -sizes 1000,100000,1000000 \
//	    -json-out bench/scale.json -md-out bench/scale.md
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paramstore/paramstore/bench/internal/benchutil"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

type config struct {
	bin        string
	sizes      []int
	jsonOut    string
	mdOut      string
	rawOut     string
	dir        string
	keep       bool
	loadConc   int
	readConc   int
	requests   int
	maxDur     time.Duration
	wide       int
	valueSize  int
	profileDir string
	region     string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", "1000,100000,1000000", "store sizes (parameters), comma-separated")
	fs.StringVar(&c.bin, "bin", "bin/paramstore", "paramstore binary")
	fs.StringVar(&c.jsonOut, "json-out", "", "write chart rows {params, metric, ms} here")
	fs.StringVar(&c.mdOut, "md-out", "", "write the markdown table here (it is also printed)")
	fs.StringVar(&c.rawOut, "raw-out", "", "write every figure of every size here (JSON)")
	fs.StringVar(&c.dir, "dir", "", "parent of the temporary data directories (default $TMPDIR)")
	fs.BoolVar(&c.keep, "keep", false, "keep the data directories")
	fs.IntVar(&c.loadConc, "load-c", 64, "concurrency of the load")
	fs.IntVar(&c.readConc, "c", 8, "concurrency of the read measurements")
	fs.IntVar(&c.requests, "n", 50000, "requests per read measurement")
	fs.DurationVar(&c.maxDur, "d", 15*time.Second, "longest time per read measurement")
	fs.IntVar(&c.wide, "wide", 10000, "children of /scale/wide")
	fs.IntVar(&c.valueSize, "size", 64, "value size in bytes")
	fs.StringVar(&c.profileDir, "profile-dir", "", "save server CPU profiles of the load and of each measurement here")
	fs.StringVar(&c.region, "region", "us-east-1", "region to sign for")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			return c, fmt.Errorf("-sizes: %q is not a size of at least 10", s)
		}
		c.sizes = append(c.sizes, n)
	}
	slices.Sort(c.sizes)
	switch {
	case c.loadConc < 1 || c.readConc < 1:
		return c, errors.New("-load-c and -c must be positive")
	case c.requests < 1 || c.maxDur <= 0:
		return c, errors.New("-n and -d must be positive")
	case c.wide < 20 || c.wide > 99999:
		return c, errors.New("-wide must be between 20 and 99999")
	case c.valueSize < 1 || c.valueSize > 4096:
		return c, errors.New("-size must be between 1 and 4096")
	}
	return c, nil
}

// result is everything measured for one size.
type result struct {
	Params          int
	Versions        int // PutParameter calls, one per version
	SecureParams    int
	LoadSeconds     float64
	LoadWritesPerS  float64
	Get             measurement
	PathFirst       measurement
	PathMiddle      measurement
	MiddleFirstName string
	DescPathType    measurement
	DescPathTypeN   int // parameters on the measured page
	DescPrefix      measurement
	DescPrefixN     int
	StartupSeconds  []float64 // exec until /readyz 200 and a signed GetParameter succeeded
	ReadySeconds    []float64 // exec until /readyz 200
	MemAfterLoad    memory
	MemAfterReads   memory
	DataDirBytes    int64
	DataDirParts    map[string]int64
}

// measurement is the latency of one kind of request, with the server's CPU
// time per request (which the other work on a shared machine does not
// inflate the way it inflates latencies) and the machine's load average.
type measurement struct {
	benchutil.Summary
	ServerCPUMicrosPerRequest float64
	LoadAvg                   string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.bin); err != nil {
		return fmt.Errorf("-bin: %w (build it with go build -o bin/paramstore ./cmd/paramstore)", err)
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
	}
	var results []result
	for _, n := range cfg.sizes {
		r, err := runSize(ctx, cfg, n, stderr)
		if err != nil {
			return fmt.Errorf("scale run N=%d: %w", n, err)
		}
		results = append(results, r)
	}
	md := markdown(results)
	fmt.Fprint(stdout, md)
	if cfg.mdOut != "" {
		if err := os.WriteFile(cfg.mdOut, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if cfg.jsonOut != "" {
		if err := writeRows(cfg.jsonOut, results); err != nil {
			return err
		}
	}
	if cfg.rawOut != "" {
		raw, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.rawOut, append(raw, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// instance is a started server and a client signing with its root key.
type instance struct {
	srv     *server
	cli     *benchutil.Client
	ready   time.Duration // from exec until /readyz answered 200
	serving time.Duration // from exec until the probe GetParameter succeeded
}

// launch starts the server on dataDir and waits until /readyz answers 200
// and, when probe is not empty, a signed GetParameter of probe succeeds.
func launch(ctx context.Context, cfg config, dataDir, logPath, probe string) (*instance, error) {
	s, err := startServer(cfg.bin, dataDir, logPath, nil)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*instance, error) {
		s.stop(time.Minute)
		return nil, err
	}
	if err := s.waitReady(5 * time.Minute); err != nil {
		return fail(err)
	}
	ready := time.Since(s.started)
	creds, err := benchutil.LoadCreds(filepath.Join(dataDir, "root-credentials"))
	if err != nil {
		return fail(err)
	}
	cli := benchutil.NewClient(s.url(), cfg.region, creds, 2*max(cfg.loadConc, cfg.readConc))
	if probe != "" {
		body := []byte(`{"Name":"` + probe + `"}`)
		deadline := time.Now().Add(time.Minute)
		for {
			err := cli.Do(ctx, "GetParameter", body, nil)
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fail(fmt.Errorf("GetParameter %s after start: %w", probe, err))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return &instance{srv: s, cli: cli, ready: ready, serving: time.Since(s.started)}, nil
}

func runSize(ctx context.Context, cfg config, n int, log io.Writer) (result, error) {
	r := result{Params: n}
	l := newLayout(n, cfg.wide, cfg.valueSize)
	work, err := os.MkdirTemp(cfg.dir, fmt.Sprintf("paramstore-scale-%d-", n))
	if err != nil {
		return r, err
	}
	if cfg.keep {
		fmt.Fprintf(log, "N=%d: keeping %s\n", n, work)
	} else {
		defer os.RemoveAll(work)
	}
	dataDir, logPath := filepath.Join(work, "data"), filepath.Join(work, "server.log")
	profile := func(inst *instance, name string, seconds int) func() {
		if cfg.profileDir == "" {
			return func() {}
		}
		path := filepath.Join(cfg.profileDir, fmt.Sprintf("%d-%s.pprof", n, name))
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := inst.srv.profile(ctx, seconds, path); err != nil {
				fmt.Fprintf(log, "  profile %s: %v\n", path, err)
			}
		}()
		return func() { <-done }
	}

	fmt.Fprintf(log, "N=%d: starting %s on %s\n", n, cfg.bin, dataDir)
	inst, err := launch(ctx, cfg, dataDir, logPath, "")
	if err != nil {
		return r, err
	}
	// Stop whichever server runs last; stopping a stopped one is a no-op.
	defer func() { inst.srv.stop(time.Minute) }()
	fmt.Fprintf(log, "N=%d: API %s, pprof http://%s/debug/pprof/\n", n, inst.srv.url(), inst.srv.debugAddr)
	var waitLoadProfile func()
	st, err := load(ctx, inst.cli, l, cfg.loadConc, log, func() {
		waitLoadProfile = profile(inst, "load", 30)
	})
	if waitLoadProfile != nil {
		waitLoadProfile()
	}
	if err != nil {
		return r, fmt.Errorf("load: %w", err)
	}
	r.Versions, r.SecureParams = st.Writes, st.Secure
	r.LoadSeconds = st.Duration.Seconds()
	r.LoadWritesPerS = float64(st.Writes) / st.Duration.Seconds()
	fmt.Fprintf(log, "N=%d: loaded %d parameters (%d SecureString) with %d writes in %s: %.0f writes/s, %.0f parameters/s\n",
		n, n, st.Secure, st.Writes, st.Duration.Round(time.Millisecond), r.LoadWritesPerS, float64(n)/st.Duration.Seconds())
	if r.MemAfterLoad, err = inst.srv.memory(); err != nil {
		return r, err
	}
	if r.DataDirBytes, r.DataDirParts, err = dirSize(dataDir); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "N=%d: RSS after load %s; data dir %.1f MiB %s\n", n, r.MemAfterLoad, mib(r.DataDirBytes),
		partsString(r.DataDirParts))
	if err := inst.srv.stop(time.Minute); err != nil {
		return r, err
	}

	// Startup, twice. Both replay the raft log written since the last
	// snapshot: a restart does not take one.
	probe := l.name(n - 1)
	for k := range 2 {
		next, err := launch(ctx, cfg, dataDir, logPath, probe)
		if err != nil {
			return r, fmt.Errorf("restart %d: %w", k+1, err)
		}
		d := next.serving
		r.StartupSeconds = append(r.StartupSeconds, d.Seconds())
		r.ReadySeconds = append(r.ReadySeconds, next.ready.Seconds())
		fmt.Fprintf(log, "N=%d: restart %d: /readyz 200 after %s, a signed GetParameter succeeded after %s\n",
			n, k+1, next.ready.Round(time.Millisecond), d.Round(time.Millisecond))
		inst = next
		if k == 0 {
			if err := inst.srv.stop(time.Minute); err != nil {
				return r, err
			}
		}
	}

	cli := inst.cli
	warmAndMeasure := func(name string, mk request) (measurement, error) {
		// Warm-up: open the connections, fault in the pages a reader
		// meets first.
		if _, err := measure(ctx, cli, cfg.readConc, max(cfg.requests/20, 50), cfg.maxDur/10, mk); err != nil {
			return measurement{}, fmt.Errorf("%s (warm-up): %w", name, err)
		}
		requests := cfg.requests
		if cfg.profileDir != "" {
			// The profile lasts -d: fill it.
			requests = math.MaxInt
		}
		wait := profile(inst, strings.ReplaceAll(name, " ", "-"), int(math.Ceil(cfg.maxDur.Seconds())))
		cpu0, err := inst.srv.cpuTime()
		if err != nil {
			return measurement{}, err
		}
		s, err := measure(ctx, cli, cfg.readConc, requests, cfg.maxDur, mk)
		cpu1, cerr := inst.srv.cpuTime()
		wait()
		if err != nil {
			return measurement{}, fmt.Errorf("%s: %w", name, err)
		}
		if cerr != nil {
			return measurement{}, cerr
		}
		m := measurement{Summary: s, LoadAvg: loadAvg(),
			ServerCPUMicrosPerRequest: float64((cpu1 - cpu0).Microseconds()) / float64(s.Count)}
		fmt.Fprintf(log, "N=%d: %-31s %6d requests %7.0f req/s  p50 %7.2f  p90 %7.2f  p99 %7.2f  max %7.2f ms  server CPU %6.0f µs/request  load avg %s\n",
			n, name, s.Count, s.RPS, s.P50, s.P90, s.P99, s.Max, m.ServerCPUMicrosPerRequest, m.LoadAvg)
		return m, nil
	}
	if r.Get, err = warmAndMeasure("GetParameter", getRequest(l)); err != nil {
		return r, err
	}
	if r.PathFirst, err = warmAndMeasure("GetParametersByPath first page", fixed("GetParametersByPath", byPathBody(""))); err != nil {
		return r, err
	}
	token, first, err := middleToken(ctx, cli, l)
	if err != nil {
		return r, err
	}
	r.MiddleFirstName = first
	if r.PathMiddle, err = warmAndMeasure("GetParametersByPath middle page", fixed("GetParametersByPath", byPathBody(token))); err != nil {
		return r, err
	}
	if r.DescPathTypeN, err = count(ctx, cli, "DescribeParameters", describePathType); err != nil {
		return r, err
	}
	if r.DescPathType, err = warmAndMeasure("DescribeParameters path+type", fixed("DescribeParameters", describePathType)); err != nil {
		return r, err
	}
	if r.DescPrefixN, err = count(ctx, cli, "DescribeParameters", describeNamePrefix); err != nil {
		return r, err
	}
	if r.DescPrefix, err = warmAndMeasure("DescribeParameters name prefix", fixed("DescribeParameters", describeNamePrefix)); err != nil {
		return r, err
	}
	if r.MemAfterReads, err = inst.srv.memory(); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "N=%d: middle page starts at %s; describe pages: path+type %d, name prefix %d parameters; RSS after restart and reads %s\n",
		n, first, r.DescPathTypeN, r.DescPrefixN, r.MemAfterReads)
	return r, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func (m memory) String() string {
	return fmt.Sprintf("%.1f MiB (anonymous %.1f, file-backed %.1f)", mib(m.RSS), mib(m.Anon), mib(m.File))
}

func partsString(parts map[string]int64) string {
	keys := make([]string, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString("(")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.1f", k, mib(parts[k]))
	}
	b.WriteString(")")
	return b.String()
}

// row is one point for the chart tool.
type row struct {
	Params int     `json:"params"`
	Metric string  `json:"metric"`
	MS     float64 `json:"ms"`
}

func writeRows(path string, results []result) error {
	var rows []row
	for _, r := range results {
		for _, m := range []struct {
			name string
			ms   float64
		}{
			{"GetParameter p50", r.Get.P50},
			{"GetParameter p99", r.Get.P99},
			{"GetParametersByPath first page p99", r.PathFirst.P99},
			{"GetParametersByPath middle page p99", r.PathMiddle.P99},
			{"DescribeParameters filtered p99", r.DescPathType.P99},
		} {
			rows = append(rows, row{Params: r.Params, Metric: m.name, MS: m.ms})
		}
	}
	var b strings.Builder
	b.WriteString("[\n")
	for i, r := range rows {
		raw, err := json.Marshal(r)
		if err != nil {
			return err
		}
		b.WriteString("  ")
		b.Write(raw)
		if i < len(rows)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func markdown(results []result) string {
	var b strings.Builder
	pair := func(m measurement) string { return fmt.Sprintf("%.2f / %.2f", m.P50, m.P99) }
	b.WriteString("| parameters | versions written | load writes/s | GetParameter p50 / p99 ms | by-path first page p50 / p99 ms | " +
		"by-path middle page p50 / p99 ms | describe path+type p50 / p99 ms | describe name prefix p50 / p99 ms | " +
		"startup s (1st / 2nd) | RSS after load / after restart MiB | data dir MiB |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		startup := make([]string, len(r.StartupSeconds))
		for i, s := range r.StartupSeconds {
			startup[i] = fmt.Sprintf("%.2f", s)
		}
		fmt.Fprintf(&b, "| %d | %d | %.0f | %s | %s | %s | %s | %s | %s | %.0f / %.0f | %.0f |\n",
			r.Params, r.Versions, r.LoadWritesPerS, pair(r.Get), pair(r.PathFirst), pair(r.PathMiddle),
			pair(r.DescPathType), pair(r.DescPrefix), strings.Join(startup, " / "),
			mib(r.MemAfterLoad.RSS), mib(r.MemAfterReads.RSS), mib(r.DataDirBytes))
	}
	b.WriteString("\n")
	b.WriteString("Server CPU per request, µs (what the server spent, unlike latency not inflated by other work on the machine):\n\n")
	b.WriteString("| parameters | GetParameter | by-path first page | by-path middle page | describe path+type | describe name prefix |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %d | %.0f | %.0f | %.0f | %.0f | %.0f |\n", r.Params, r.Get.ServerCPUMicrosPerRequest,
			r.PathFirst.ServerCPUMicrosPerRequest, r.PathMiddle.ServerCPUMicrosPerRequest,
			r.DescPathType.ServerCPUMicrosPerRequest, r.DescPrefix.ServerCPUMicrosPerRequest)
	}
	b.WriteString("\n")
	for _, r := range results {
		fmt.Fprintf(&b, "- N=%d: load took %.1f s; %d SecureString; describe pages returned %d (path+type) and %d (name prefix) parameters; "+
			"RSS after load %s, after restart and reads %s.\n",
			r.Params, r.LoadSeconds, r.SecureParams, r.DescPathTypeN, r.DescPrefixN, r.MemAfterLoad, r.MemAfterReads)
	}
	if len(results) > 1 {
		lo, hi := results[0], results[len(results)-1]
		growth := 100 * (hi.Get.P99 - lo.Get.P99) / lo.Get.P99
		verdict := "met"
		if growth >= 30 {
			verdict = "missed"
		}
		fmt.Fprintf(&b, "- GetParameter p99 from %d to %d parameters: %.2f -> %.2f ms (%+.0f%%; target < +30%%: %s).\n",
			lo.Params, hi.Params, lo.Get.P99, hi.Get.P99, growth, verdict)
	}
	if len(results) > 0 {
		hi := results[len(results)-1]
		worst := slices.Max(hi.StartupSeconds)
		verdict := "met"
		if worst >= 5 {
			verdict = "missed"
		}
		target := "target < 5 s"
		if hi.Params < 1000000 {
			target += " at 1,000,000 parameters"
		}
		fmt.Fprintf(&b, "- Startup at %d parameters: %.2f s worst of %d restarts (%s: %s).\n",
			hi.Params, worst, len(hi.StartupSeconds), target, verdict)
	}
	return b.String()
}
