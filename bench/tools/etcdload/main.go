// Command etcdload drives etcd through its official Go client
// (go.etcd.io/etcd/client/v3) with a fixed concurrency for a fixed time, and
// reports requests/s, p50/p90/p99/max latency and its own CPU use in the same
// text and JSON formats as bench/loadgen, so the scripts treat both alike.
//
// Operations (-op):
//
//	get     linearizable Get of random keys among the -keys seeded keys
//	put     Put overwriting random keys among the -keys seeded keys
//	putnew  Put of fresh unique keys (nothing is seeded)
//
// Workers share -clients etcd clients (default 4, 0: one per worker).
//
// Build (bench/tools is its own module) and run:
//
//	cd bench/tools && go build -o ../../bin/etcdload ./etcdload && cd ../..
//	bin/etcdload -endpoints 127.0.0.1:2379 -c 16 -d 10s -op get -keys 1000 -size 64 -json
//
// With -json it prints one object per line:
//
//	{"elapsed_s":10.0,"concurrency":16,"generator_cpu_cores":0.4,
//	 "ops":{"get":{"RPS":..,"P50":..,"P90":..,"P99":..,"Max":..,"Count":..,"Errors":..}},"total":{..}}
//
// with latencies in milliseconds.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

var ops = []string{"get", "put", "putnew"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "etcdload:", err)
		os.Exit(1)
	}
}

type config struct {
	endpoints []string
	conc      int
	dur       time.Duration
	op        string
	keys      int
	size      int
	clients   int
	prefix    string
	asJSON    bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("etcdload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoints := fs.String("endpoints", "127.0.0.1:2379", "comma-separated etcd client endpoints")
	fs.IntVar(&c.conc, "c", 16, "concurrency (workers, one request in flight each)")
	fs.DurationVar(&c.dur, "d", 10*time.Second, "duration")
	fs.StringVar(&c.op, "op", "get", "operation: "+strings.Join(ops, "|"))
	fs.IntVar(&c.keys, "keys", 1000, "keys under -prefix, seeded first for get and put")
	fs.IntVar(&c.size, "size", 64, "value size in bytes")
	// A small pool of clients, each with its own gRPC connection, shared
	// round-robin. Measured at -c 64 against etcd 3.4.23 on this 2-core
	// machine (2-3 s runs, interleaved): 4 clients gave 1.2-1.8x (once
	// 1.0x) the requests/s of one client per worker, whose 64 connections
	// cost the generator and etcd more CPU and batch less, and about the
	// same as a single client (within noise, single slightly ahead). The
	// pool leaves room for when one connection is the limit on a bigger
	// machine.
	fs.IntVar(&c.clients, "clients", 4, "etcd clients (gRPC connections) shared round-robin by the workers; 0: one per worker")
	fs.StringVar(&c.prefix, "prefix", "/etcdload", "key prefix")
	fs.BoolVar(&c.asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.endpoints = strings.Split(*endpoints, ",")
	switch {
	case !slices.Contains(ops, c.op):
		return c, fmt.Errorf("-op %q: want one of %v", c.op, ops)
	case c.conc < 1:
		return c, fmt.Errorf("-c %d: want at least 1", c.conc)
	case c.dur <= 0:
		return c, fmt.Errorf("-d %v: want a positive duration", c.dur)
	case c.keys < 1:
		return c, fmt.Errorf("-keys %d: want at least 1", c.keys)
	case c.size < 0:
		return c, fmt.Errorf("-size %d: want at least 0", c.size)
	case c.clients < 0:
		return c, fmt.Errorf("-clients %d: want at least 0", c.clients)
	}
	if c.clients == 0 || c.clients > c.conc {
		c.clients = c.conc
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	clients, err := dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		for _, cli := range clients {
			cli.Close()
		}
	}()
	g := &gen{cfg: cfg, clients: clients, value: strings.Repeat("x", cfg.size)}
	if cfg.op != "putnew" {
		if err := g.seed(ctx); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	report := g.load(ctx)
	return report.write(stdout, cfg.asJSON)
}

// dial opens cfg.clients clients and checks that the first endpoint answers.
func dial(ctx context.Context, cfg config) ([]*clientv3.Client, error) {
	var clients []*clientv3.Client
	for range cfg.clients {
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:   cfg.endpoints,
			DialTimeout: 5 * time.Second,
			Logger:      zap.NewNop(),
			Context:     ctx,
		})
		if err != nil {
			for _, c := range clients {
				c.Close()
			}
			return nil, fmt.Errorf("connect %v: %w", cfg.endpoints, err)
		}
		clients = append(clients, cli)
	}
	probe, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := clients[0].Status(probe, cfg.endpoints[0]); err != nil {
		for _, c := range clients {
			c.Close()
		}
		return nil, fmt.Errorf("status %s: %w", cfg.endpoints[0], err)
	}
	return clients, nil
}

type gen struct {
	cfg     config
	clients []*clientv3.Client
	value   string
}

func (g *gen) key(i int) string { return fmt.Sprintf("%s/k%07d", g.cfg.prefix, i) }

func (g *gen) client(worker int) *clientv3.Client { return g.clients[worker%len(g.clients)] }

// seed writes the -keys keys with cfg.conc writers.
func (g *gen) seed(ctx context.Context) error {
	var wg sync.WaitGroup
	var next, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	for w := range g.cfg.conc {
		cli := g.client(w)
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < g.cfg.keys; i = int(next.Add(1)) - 1 {
				if _, err := cli.Put(ctx, g.key(i), g.value); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d writes failed, first: %w", n, g.cfg.keys, *firstErr.Load())
	}
	return nil
}

type result struct {
	lat  []time.Duration
	errs int
}

// load runs cfg.conc workers until cfg.dur has passed. Requests still in
// flight 5 s after the end are cancelled and count as errors.
func (g *gen) load(ctx context.Context) report {
	var usage0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage0)
	results := make([]result, g.cfg.conc)
	var wg sync.WaitGroup
	var seq atomic.Int64
	start := time.Now()
	stop := start.Add(g.cfg.dur)
	ctx, cancel := context.WithDeadline(ctx, stop.Add(5*time.Second))
	defer cancel()
	for w := range g.cfg.conc {
		cli := g.client(w)
		r := &results[w]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for time.Now().Before(stop) && ctx.Err() == nil {
				var key string
				if g.cfg.op == "putnew" {
					key = fmt.Sprintf("%s-new/%d/%d", g.cfg.prefix, start.UnixNano(), seq.Add(1))
				} else {
					key = g.key(rng.IntN(g.cfg.keys))
				}
				t0 := time.Now()
				ok := g.do(ctx, cli, key)
				r.lat = append(r.lat, time.Since(t0))
				if !ok {
					r.errs++
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var usage1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage1)
	cpu := tv(usage1.Utime) + tv(usage1.Stime) - tv(usage0.Utime) - tv(usage0.Stime)

	var lat []time.Duration
	errs := 0
	for _, r := range results {
		lat = append(lat, r.lat...)
		errs += r.errs
	}
	s := summarize(lat, errs, elapsed)
	r := report{Elapsed: elapsed.Seconds(), Concurrency: g.cfg.conc, Connections: len(g.clients), CPUCores: cpu.Seconds() / elapsed.Seconds(),
		Ops: map[string]summary{g.cfg.op: s}, Total: s}
	if len(lat) > 0 {
		r.CPUPerRequest = float64(cpu.Microseconds()) / float64(len(lat))
	}
	return r
}

// do sends one request; a Get counts as failed unless it finds the key.
func (g *gen) do(ctx context.Context, cli *clientv3.Client, key string) bool {
	switch g.cfg.op {
	case "get":
		resp, err := cli.Get(ctx, key) // linearizable: the default without WithSerializable
		return err == nil && len(resp.Kvs) == 1
	default:
		_, err := cli.Put(ctx, key, g.value)
		return err == nil
	}
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// report has bench/loadgen's JSON shape.
type report struct {
	Elapsed     float64 `json:"elapsed_s"`
	Concurrency int     `json:"concurrency"`
	Connections int     `json:"connections"` // gRPC (HTTP/2) connections the workers share
	CPUCores    float64 `json:"generator_cpu_cores"`
	// CPUPerRequest is the generator's CPU time per request, µs.
	CPUPerRequest float64            `json:"generator_cpu_us_per_request"`
	Ops           map[string]summary `json:"ops"`
	Total         summary            `json:"total"`
}

// summary has bench/loadgen's field names; latencies are in milliseconds.
type summary struct {
	RPS                float64
	P50, P90, P99, Max float64
	Count, Errors      int
}

func summarize(lat []time.Duration, errs int, elapsed time.Duration) summary {
	if len(lat) == 0 {
		return summary{Errors: errs}
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	return summary{RPS: float64(len(lat)) / elapsed.Seconds(), P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: q(1),
		Count: len(lat), Errors: errs}
}

// write prints the report as bench/loadgen does.
func (r report) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	fmt.Fprintf(w, "%-10s %10s %8s %8s %8s %8s %8s %7s\n", "op", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "count", "errors")
	keys := make([]string, 0, len(r.Ops))
	for k := range r.Ops {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range append(keys, "total") {
		s := r.Total
		if k != "total" {
			s = r.Ops[k]
		}
		fmt.Fprintf(w, "%-10s %10.0f %8.2f %8.2f %8.2f %8.2f %8d %7d\n", k, s.RPS, s.P50, s.P90, s.P99, s.Max, s.Count, s.Errors)
	}
	_, err := fmt.Fprintf(w, "generator CPU: %.2f cores over %.1fs, %.1f µs per request (%d connections)\n", r.CPUCores, r.Elapsed, r.CPUPerRequest, r.Connections)
	return err
}
