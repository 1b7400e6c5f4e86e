package cluster_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	_ "net/http/pprof" // PARAMSTORE_FLEET_WORKER_PPROF
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/client"
)

// BenchmarkFleet simulates a fleet of agents following the change stream:
// N watches of /fleet made by the real client package (client.Watch, k
// watches per client.Client), spread over worker processes (this test
// binary re-executed), each connection from its own loopback source
// address range (127.0.0.x) so ephemeral ports do not run out. For each
// cluster size and N it measures, on a fresh cluster, the same write load
// without watchers and then with the fleet connected:
//
//   - PutParameter p50/p99 (a probe under /fleet every PARAMSTORE_FLEET_PROBE
//     plus background writes to /bg, which nobody watches);
//   - fan-out: from sending the probe's PutParameter to the moment the last
//     of the N agents received it on its Watch channel (p50/p99/max), and
//     from its answer (the write committed) to the last agent, which leaves
//     out the commit's own latency (a slow disk's fsync);
//   - server anonymous RSS (/proc/PID/status RssAnon, all nodes) added by
//     the fleet, divided by N;
//   - server CPU (/proc/PID/stat, all nodes) added by the fleet, per probe;
//   - the agents' CPU (the worker processes', /proc/PID/stat) during the
//     writes less that of as long a time idle (the fleet connected, no
//     writes), per probe, and per probe per agent;
//   - the fan-out's CPU floor on this machine: the servers' and agents'
//     CPU per change over the cores (no fan-out can be faster while they
//     share them), and the share of the cores the probes' fan-outs take
//     (at 100% the fan-outs queue behind each other);
//   - errors: probes some agent never saw, Resets, failed writes.
//
// It is a measurement, not an assertion (make bench-fleet):
//
//	PARAMSTORE_FLEET_N=1000,10000 PARAMSTORE_FLEET_NODES=1,3 \
//	  go test -run '^$' -bench Fleet -benchtime 1x -timeout 60m ./tests/cluster/
//
// Other knobs: PARAMSTORE_FLEET_DURATION (each phase, default 15s),
// PARAMSTORE_FLEET_PROBE (default 500ms), PARAMSTORE_FLEET_CONNECT (how
// long the fleet may take to connect, default 10m), PARAMSTORE_FLEET_BG (background
// writes/s, default 20), PARAMSTORE_FLEET_AGENTS (how the worker processes
// run: "normal", the default, beside the servers; "low", at the lowest CPU
// priority once connected, nice 19 in a session and autogroup of their
// own at nice 19, standing in for agents on other hosts; "normal,low" runs each size
// both ways, one row each), PARAMSTORE_FLEET_PER_WORKER (agents per worker
// process, default 10000), PARAMSTORE_FLEET_PER_CLIENT (watches per
// client.Client, default 10), PARAMSTORE_FLEET_SERVER_ARGS (more server
// flags), PARAMSTORE_FLEET_OUT (append the table to this file).
func BenchmarkFleet(b *testing.B) {
	sizes := envInts(b, "PARAMSTORE_FLEET_N", []int{1000})
	priorities := envAgentPriorities(b)
	clusters := envInts(b, "PARAMSTORE_FLEET_NODES", []int{1})
	cfg := fleetConfig{
		dur:       envDuration(b, "PARAMSTORE_FLEET_DURATION", 15*time.Second),
		probe:     envDuration(b, "PARAMSTORE_FLEET_PROBE", 500*time.Millisecond),
		connect:   envDuration(b, "PARAMSTORE_FLEET_CONNECT", 10*time.Minute),
		bgRate:    envInt(b, "PARAMSTORE_FLEET_BG", 20),
		perWorker: envInt(b, "PARAMSTORE_FLEET_PER_WORKER", 10000),
		perClient: envInt(b, "PARAMSTORE_FLEET_PER_CLIENT", 10),
	}
	// Each watch is a connection: the servers and the workers inherit this.
	limit, err := raiseNofile()
	if err != nil {
		b.Fatal(err)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	header := fmt.Sprintf("fleet run %s, open-file limit %d, load average before: %s", time.Now().UTC().Format(time.RFC3339), limit, strings.TrimSpace(string(load)))
	var rows []fleetRow
	for _, nodes := range clusters {
		for _, n := range sizes {
			for _, low := range priorities {
				name := fmt.Sprintf("nodes=%d/agents=%d", nodes, n)
				if low {
					name += "/agents-low-priority"
				}
				b.Run(name, func(b *testing.B) {
					c := cfg
					c.lowAgents = low
					row := runFleet(b, nodes, n, c)
					rows = append(rows, row)
					b.ReportMetric(row.fanP99, "fanout-p99-ms")
					b.ReportMetric(row.put99, "put-p99-ms")
				})
			}
		}
	}
	table := header + "\n\n" + fleetTable(rows)
	fmt.Println(table)
	if out := os.Getenv("PARAMSTORE_FLEET_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintln(f, table)
		f.Close()
	}
}

// fleetIdleWindow is how long the agents' CPU at rest is measured.
const fleetIdleWindow = 5 * time.Second

type fleetConfig struct {
	dur, probe, connect          time.Duration
	bgRate, perWorker, perClient int
	lowAgents                    bool // the workers at the lowest CPU priority
}

type fleetRow struct {
	nodes, agents               int
	lowAgents                   bool
	basePut50, basePut99        float64 // ms, no watchers
	put50, put99                float64 // ms, with the fleet
	fan50, fanP99, fanMax       float64 // ms
	ackFan50, ackFan99          float64 // ms, from the probe's answer (committed) to the last agent
	probes                      int
	during, outside             string        // put p50/p99 (count) of the fleet phase's writes that overlapped a fan-out, and of the others
	slowest                     string        // the fleet phase's slowest writes, each with where it began relative to a fan-out
	connect                     time.Duration // until every agent saw a warm-up change
	kbPerWatcher                float64
	cpuPerProbeMs, baseCPUPerMs float64
	agentCPUPerProbeMs          float64 // the workers' CPU during the writes less idle, per probe
	agentUsPerWatcher           float64 // that per agent, in µs
	floorMs, busy               float64 // (server + agent CPU per probe) / cores; that over the probe interval
	lost, resets, failedWrites  int
	load                        string
	perNode                     string // watchers' connections per node
}

func fleetTable(rows []fleetRow) string {
	var s strings.Builder
	s.WriteString("| nodes | agents | put p50/p99 ms, no watchers | put p50/p99 ms, fleet | fan-out p50/p99/max ms (probes) | after the put's answer p50/p99 ms | server anon RSS per watcher | extra server CPU per fanned-out change | extra agent CPU per fanned-out change (per watcher) | fan-out CPU floor on the cores (their share) | all connected after | lost / resets / failed writes | load avg |\n")
	s.WriteString("|---:|---:|---|---|---|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		agents := strconv.Itoa(r.agents)
		if r.lowAgents {
			agents += " (agents at nice 19)"
		}
		fmt.Fprintf(&s, "| %d | %s | %.1f / %.1f | %.1f / %.1f | %.0f / %.0f / %.0f (%d) | %.0f / %.0f | %.1f KB | %.1f ms | %.1f ms (%.1f µs) | %.0f ms (%.0f%%) | %.1fs | %d / %d / %d | %s |\n",
			r.nodes, agents, r.basePut50, r.basePut99, r.put50, r.put99, r.fan50, r.fanP99, r.fanMax, r.probes, r.ackFan50, r.ackFan99,
			r.kbPerWatcher, r.cpuPerProbeMs, r.agentCPUPerProbeMs, r.agentUsPerWatcher, r.floorMs, r.busy*100, r.connect.Seconds(), r.lost, r.resets, r.failedWrites, r.load)
	}
	// Where the fleet phase's slow writes were: during a fan-out or not.
	s.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(&s, "- %d node(s), %d agents: fleet-phase puts overlapping a fan-out p50 / p99 ms (count) %s, the others %s; slowest: %s\n",
			r.nodes, r.agents, r.during, r.outside, r.slowest)
	}
	return s.String()
}

func runFleet(b *testing.B, nodes, agents int, cfg fleetConfig) fleetRow {
	row := fleetRow{nodes: nodes, agents: agents, lowAgents: cfg.lowAgents}
	c := startClusterOpts(b, nodes, false, strings.Fields(os.Getenv("PARAMSTORE_FLEET_SERVER_ARGS"))...)
	c.converge(60 * time.Second)
	leader := c.leader(30 * time.Second)
	writer := c.client(leader, false, 10*time.Second)
	pids := func() []int {
		var p []int
		for _, n := range c.nodes {
			p = append(p, n.server().Pid())
		}
		return p
	}

	// Phase 1: the write load alone.
	rss0 := sumProc(b, pids(), rssAnonKB)
	cpu0 := sumProc(b, pids(), cpuTicks)
	base := writeLoad(b, writer, cfg)
	baseCPU := sumProc(b, pids(), cpuTicks) - cpu0
	row.basePut50, row.basePut99 = pct(base.all, 0.5), pct(base.all, 0.99)
	row.failedWrites += base.failed

	// Phase 2: connect the fleet.
	var endpoints []string
	for _, n := range c.nodes {
		endpoints = append(endpoints, n.endpoint())
	}
	creds := c.credentials()
	var workers []*fleetWorker
	for i := 0; i*cfg.perWorker < agents; i++ {
		n := min(cfg.perWorker, agents-i*cfg.perWorker)
		workers = append(workers, startFleetWorker(b, c.dir, i, fleetWorkerConfig{
			Endpoints: endpoints, Agents: n, PerClient: cfg.perClient, Path: "/fleet",
			ID: creds.ID, Secret: creds.Secret, SrcBase: 10 + 16*i, SrcIPs: 16,
			Pprof: workerPprof(i),
		}, cfg.lowAgents))
	}
	started := time.Now()
	for seq := 0; ; seq++ {
		if time.Since(started) > cfg.connect {
			b.Fatalf("the fleet did not connect within %v", cfg.connect)
		}
		name := fmt.Sprintf("/fleet/warm/%d", seq)
		if _, err := writer.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("w"), Type: "String", Overwrite: aws.Bool(true)}); err != nil {
			b.Logf("warm-up write: %v", err)
		}
		time.Sleep(time.Second)
		warm := 0
		for _, w := range workers {
			warm += w.report(b).Warm
		}
		if warm == agents {
			break
		}
	}
	row.connect = time.Since(started)
	if cfg.lowAgents {
		for _, w := range workers {
			w.lowerPriority(b)
		}
	}
	time.Sleep(3 * time.Second) // let the warm-up's garbage be collected
	workerPids := func() []int {
		var p []int
		for _, w := range workers {
			p = append(p, w.cmd.Process.Pid)
		}
		return p
	}
	// The agents' CPU at rest (heartbeats, timers, the runtime), to take
	// out of their CPU during the writes.
	idleStart, idle0 := time.Now(), sumProc(b, workerPids(), cpuTicks)
	time.Sleep(fleetIdleWindow)
	idleTicksPerSec := float64(sumProc(b, workerPids(), cpuTicks)-idle0) / time.Since(idleStart).Seconds()
	row.kbPerWatcher = float64(sumProc(b, pids(), rssAnonKB)-rss0) / float64(agents)
	var per []string
	for _, n := range c.nodes {
		per = append(per, fmt.Sprintf("%s=%s", n.id, scrapeWatchers(n.endpoint())))
	}
	row.perNode = strings.Join(per, " ")
	b.Logf("fleet of %d connected in %v; RSS per watcher %.1f KB; watchers per node: %s", agents, row.connect, row.kbPerWatcher, row.perNode)

	// Phase 3: the same write load with the fleet.
	if f := os.Getenv("PARAMSTORE_FLEET_PHASE_FILE"); f != "" {
		// For a profiler to start with the fleet phase: the server's PID.
		os.WriteFile(f, []byte(strconv.Itoa(c.nodes[0].server().Pid())+"\n"), 0o644)
	}
	cpu1, wcpu1, phaseStart := sumProc(b, pids(), cpuTicks), sumProc(b, workerPids(), cpuTicks), time.Now()
	res := writeLoad(b, writer, cfg)
	fleetCPU := sumProc(b, pids(), cpuTicks) - cpu1
	agentTicks := float64(sumProc(b, workerPids(), cpuTicks)-wcpu1) - idleTicksPerSec*time.Since(phaseStart).Seconds()
	row.put50, row.put99 = pct(res.all, 0.5), pct(res.all, 0.99)
	row.failedWrites += res.failed
	row.probes = len(res.probeSent)
	// Wait (bounded) for the last probe to reach everyone.
	var fan, ackFan []float64
	var windows [][2]int64 // each fanned-out probe: sent, seen by the last agent (Unix ns)
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen := make([]int, len(res.probeSent))
		last := make([]int64, len(res.probeSent))
		row.resets = 0
		for _, w := range workers {
			r := w.report(b)
			row.resets += r.Resets
			for i := range seen {
				if i < len(r.Seen) {
					seen[i] += r.Seen[i]
					last[i] = max(last[i], r.Last[i])
				}
			}
		}
		fan, ackFan, row.lost, windows = fan[:0], ackFan[:0], 0, windows[:0]
		for i, sent := range res.probeSent {
			if sent.IsZero() {
				continue
			}
			if seen[i] < agents {
				row.lost++
				continue
			}
			fan = append(fan, float64(last[i]-sent.UnixNano())/1e6)
			windows = append(windows, [2]int64{sent.UnixNano(), last[i]})
			ackFan = append(ackFan, float64(last[i]-res.probeAck[i].UnixNano())/1e6)
		}
		if row.lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(fan) > 0 {
		row.fan50, row.fanP99, row.fanMax = pct(fan, 0.5), pct(fan, 0.99), pct(fan, 1)
		row.ackFan50, row.ackFan99 = pct(ackFan, 0.5), pct(ackFan, 0.99)
	}
	row.during, row.outside, row.slowest = splitByFanout(res, windows)
	if row.probes > 0 {
		row.cpuPerProbeMs = float64(fleetCPU-baseCPU) * 10 / float64(row.probes) // ticks are 10 ms
		row.baseCPUPerMs = float64(baseCPU) * 10 / float64(row.probes)
		row.agentCPUPerProbeMs = agentTicks * 10 / float64(row.probes)
		row.agentUsPerWatcher = row.agentCPUPerProbeMs * 1000 / float64(agents)
		row.floorMs = (row.cpuPerProbeMs + row.agentCPUPerProbeMs) / float64(runtime.NumCPU())
		row.busy = row.floorMs / float64(cfg.probe.Milliseconds())
	}
	raw, _ := os.ReadFile("/proc/loadavg")
	row.load = strings.Join(strings.Fields(string(raw))[:3], " ")
	for _, w := range workers {
		w.stop()
	}
	b.Logf("nodes=%d agents=%d: %+v", nodes, agents, row)
	return row
}

// writeResult is the outcome of writeLoad.
type writeResult struct {
	all       []float64   // ms, every write
	sent      []time.Time // when each of all was sent
	probeSent []time.Time // when each probe's PutParameter was sent (zero: it failed)
	probeAck  []time.Time // when its answer came (committed)
	failed    int
}

// writeLoad writes a probe under /fleet every cfg.probe and cfg.bgRate
// background writes a second under /bg, for cfg.dur.
func writeLoad(b *testing.B, cl *ssm.Client, cfg fleetConfig) writeResult {
	var (
		mu  sync.Mutex
		res writeResult
		wg  sync.WaitGroup
	)
	put := func(name string) (time.Time, bool) {
		sent := time.Now()
		_, err := cl.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(strconv.FormatInt(sent.UnixNano(), 10)), Type: "String", Overwrite: aws.Bool(true)})
		ms := float64(time.Since(sent).Microseconds()) / 1000
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.failed++
			return sent, false
		}
		res.all = append(res.all, ms)
		res.sent = append(res.sent, sent)
		return sent, true
	}
	stop := time.Now().Add(cfg.dur)
	if cfg.bgRate > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second / time.Duration(cfg.bgRate))
			defer tick.Stop()
			var inner sync.WaitGroup
			for i := 0; time.Now().Before(stop); i++ {
				<-tick.C
				inner.Add(1)
				go func() { defer inner.Done(); put(fmt.Sprintf("/bg/p%d", i%200)) }()
			}
			inner.Wait()
		}()
	}
	tick := time.NewTicker(cfg.probe)
	for seq := 0; time.Now().Before(stop); seq++ {
		<-tick.C
		sent, ok := put(fmt.Sprintf("/fleet/probe/%d", seq))
		ack := time.Now()
		if !ok {
			sent = time.Time{} // failed: not a fan-out sample (it may or may not have committed)
		}
		res.probeSent = append(res.probeSent, sent)
		res.probeAck = append(res.probeAck, ack)
	}
	tick.Stop()
	wg.Wait()
	if len(res.all) == 0 {
		b.Fatalf("no write succeeded")
	}
	return res
}

// splitByFanout splits the writes of res into those whose time overlapped
// a fan-out window (a probe sent, to the last agent seeing it) and the
// others, as "p50 / p99 (count)" in ms, and describes the five slowest:
// their latency, and when they began, in ms from the start of the last
// fan-out that began before them ("+12/180": 12 ms into a 180 ms
// fan-out; a start past its end means no fan-out was running).
func splitByFanout(res writeResult, windows [][2]int64) (during, outside, slowest string) {
	var in, out []float64
	type slow struct {
		ms   float64
		desc string
	}
	var all []slow
	for i, ms := range res.all {
		start := res.sent[i].UnixNano()
		end := start + int64(ms*1e6)
		overlaps, desc := false, "no fan-out before"
		for _, w := range windows {
			if w[0] <= end && start <= w[1] {
				overlaps = true
			}
			if w[0] <= start {
				desc = fmt.Sprintf("+%.0f/%.0f", float64(start-w[0])/1e6, float64(w[1]-w[0])/1e6)
			}
		}
		if overlaps {
			in = append(in, ms)
		} else {
			out = append(out, ms)
		}
		all = append(all, slow{ms, desc})
	}
	slices.SortFunc(all, func(a, b slow) int { return cmp.Compare(b.ms, a.ms) })
	var parts []string
	for _, s := range all[:min(5, len(all))] {
		parts = append(parts, fmt.Sprintf("%.1f ms at %s", s.ms, s.desc))
	}
	f := func(v []float64) string {
		if len(v) == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f / %.1f (%d)", pct(v, 0.5), pct(v, 0.99), len(v))
	}
	return f(in), f(out), strings.Join(parts, ", ")
}

// workerPprof is the pprof address of worker i: PARAMSTORE_FLEET_WORKER_PPROF
// (host:port) with the port plus i; none when unset.
func workerPprof(i int) string {
	addr := os.Getenv("PARAMSTORE_FLEET_WORKER_PPROF")
	if addr == "" {
		return ""
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return net.JoinHostPort(host, strconv.Itoa(p+i))
}

func pct(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// scrapeWatchers reads paramstore_changes_watchers from a node's /metrics
// ("?" when the node does not export it).
func scrapeWatchers(endpoint string) string {
	resp, err := http.Get(endpoint + "/metrics")
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "paramstore_changes_watchers "); ok {
			return v
		}
	}
	return "?"
}

func raiseNofile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	// Root may raise the hard limit up to fs.nr_open; others get the hard limit.
	want := uint64(1 << 20)
	if raw, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64); err == nil {
			want = v
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}); err == nil {
		return want, nil
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

func sumProc(b *testing.B, pids []int, f func(int) (int64, error)) int64 {
	var sum int64
	for _, p := range pids {
		v, err := f(p)
		if err != nil {
			b.Fatal(err)
		}
		sum += v
	}
	return sum
}

func rssAnonKB(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no RssAnon in /proc/%d/status", pid)
}

// cpuTicks is utime+stime of a process, in clock ticks (1/100 s).
func cpuTicks(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, raw)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s, nil
}

func envInts(b *testing.B, name string, def []int) []int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want positive integers, comma-separated", name, s)
		}
		out = append(out, n)
	}
	return out
}

// envAgentPriorities reads PARAMSTORE_FLEET_AGENTS: for each run of a size,
// whether its workers run at the lowest CPU priority.
func envAgentPriorities(b *testing.B) []bool {
	s := os.Getenv("PARAMSTORE_FLEET_AGENTS")
	if s == "" {
		return []bool{false}
	}
	var out []bool
	for _, f := range strings.Split(s, ",") {
		switch strings.TrimSpace(f) {
		case "normal":
			out = append(out, false)
		case "low":
			out = append(out, true)
		default:
			b.Fatalf("PARAMSTORE_FLEET_AGENTS=%q: want normal, low or normal,low", s)
		}
	}
	return out
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration", name, s)
	}
	return d
}

// The worker side: a process of simulated agents.

const fleetWorkerEnv = "PARAMSTORE_FLEET_WORKER"

type fleetWorkerConfig struct {
	Endpoints       []string
	Agents          int
	PerClient       int
	Path            string
	ID, Secret      string
	SrcBase, SrcIPs int    // connections come from 127.0.0.SrcBase .. +SrcIPs-1
	Pprof           string // serve net/http/pprof on this address, if set
}

// fleetReport is what a worker answers to "report".
type fleetReport struct {
	Warm   int     // agents that saw a warm-up change
	Seen   []int   // per probe, agents that saw it
	Last   []int64 // per probe, when the last of them did (Unix ns)
	Resets int
}

type fleetWorker struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	mu    sync.Mutex
	alive atomic.Bool
}

func startFleetWorker(b *testing.B, dir string, i int, cfg fleetWorkerConfig, low bool) *fleetWorker {
	raw, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0])
	if low {
		// A session of its own, so that it is an autogroup of its own
		// (with autogroup scheduling the kernel shares the CPU between
		// sessions first, and nice only orders the threads within one);
		// lowered once connected (lowerPriority).
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	cmd.Env = append(os.Environ(), fleetWorkerEnv+"="+string(raw))
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker%d.log", i)))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = logf
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	logf.Close()
	w := &fleetWorker{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	w.out.Buffer(make([]byte, 1<<20), 64<<20)
	w.alive.Store(true)
	b.Cleanup(w.stop)
	return w
}

// lowerPriority puts the worker at the lowest CPU priority: each of its
// threads at nice 19 (nice is per thread on Linux; threads made later
// inherit it from the thread that makes them), and its autogroup at nice
// 19 (without autogroup scheduling, no such file, nice alone says it).
// After the fleet connected: at the lowest priority on a busy machine,
// 10,000 agents would take many minutes to connect.
func (w *fleetWorker) lowerPriority(b *testing.B) {
	pid := w.cmd.Process.Pid
	for range 2 { // (again for a thread made meanwhile)
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			b.Fatalf("worker %d: %v", pid, err)
		}
		for _, t := range tasks {
			tid, _ := strconv.Atoi(t.Name())
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19); err != nil && !errors.Is(err, syscall.ESRCH) {
				b.Fatalf("worker %d: nice thread %d: %v", pid, tid, err)
			}
		}
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/autogroup", pid), []byte("19"), 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.Fatalf("worker %d: autogroup nice: %v", pid, err)
	}
}

func (w *fleetWorker) report(b *testing.B) fleetReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := io.WriteString(w.in, "report\n"); err != nil {
		b.Fatalf("worker %d: %v", w.cmd.Process.Pid, err)
	}
	if !w.out.Scan() {
		b.Fatalf("worker %d exited: %v", w.cmd.Process.Pid, w.out.Err())
	}
	var r fleetReport
	if err := json.Unmarshal(w.out.Bytes(), &r); err != nil {
		b.Fatalf("worker report %q: %v", w.out.Bytes(), err)
	}
	return r
}

func (w *fleetWorker) stop() {
	if !w.alive.Swap(false) {
		return
	}
	w.in.Close()
	done := make(chan struct{})
	go func() { w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		w.cmd.Process.Kill()
		<-done
	}
}

// fleetWorker runs the agents of the configuration in $PARAMSTORE_FLEET_WORKER
// until its stdin closes, answering "report" lines with a fleetReport.
func fleetWorkerMain() int {
	var cfg fleetWorkerConfig
	if err := json.Unmarshal([]byte(os.Getenv(fleetWorkerEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "fleet worker:", err)
		return 2
	}
	if _, err := raiseNofile(); err != nil {
		fmt.Fprintln(os.Stderr, "fleet worker:", err)
	}
	if cfg.Pprof != "" {
		go func() { fmt.Fprintln(os.Stderr, "fleet worker: pprof:", http.ListenAndServe(cfg.Pprof, nil)) }()
	}
	const maxProbes = 100000
	var (
		warm   atomic.Int64
		resets atomic.Int64
		seen   = make([]atomic.Int32, maxProbes)
		last   = make([]atomic.Int64, maxProbes)
		hi     atomic.Int64
	)
	var next atomic.Uint32
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	transport := &http.Transport{
		MaxIdleConnsPerHost: cfg.Agents + 64,
		IdleConnTimeout:     10 * time.Minute,
		DisableCompression:  true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ip := net.IPv4(127, 0, 0, byte(cfg.SrcBase+int(next.Add(1))%cfg.SrcIPs))
			d := *dialer
			d.LocalAddr = &net.TCPAddr{IP: ip}
			return d.DialContext(ctx, network, addr)
		},
	}
	hc := &http.Client{Transport: transport}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var clients []*client.Client
	consume := func(ch <-chan client.Change) {
		warmed := false
		for c := range ch {
			switch {
			case c.Reset:
				resets.Add(1)
			case strings.HasPrefix(c.Name, "/fleet/warm/"):
				if !warmed {
					warmed = true
					warm.Add(1)
				}
			case strings.HasPrefix(c.Name, "/fleet/probe/"):
				now := time.Now().UnixNano()
				i, err := strconv.Atoi(strings.TrimPrefix(c.Name, "/fleet/probe/"))
				if err != nil || i >= maxProbes {
					continue
				}
				seen[i].Add(1)
				for {
					old := last[i].Load()
					if now <= old || last[i].CompareAndSwap(old, now) {
						break
					}
				}
				for {
					old := hi.Load()
					if int64(i) < old || hi.CompareAndSwap(old, int64(i)+1) {
						break
					}
				}
			}
		}
	}
	go func() {
		for i := 0; i < cfg.Agents; i += cfg.PerClient {
			c, err := client.New(ctx, client.Config{
				Endpoints: cfg.Endpoints, Region: "us-east-1",
				Credentials:         credentials.NewStaticCredentialsProvider(cfg.ID, cfg.Secret, ""),
				HTTPClient:          hc,
				HealthCheckInterval: -1,
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, "fleet worker:", err)
				os.Exit(2)
			}
			clients = append(clients, c)
			for range min(cfg.PerClient, cfg.Agents-i) {
				ch, err := c.Watch(ctx, cfg.Path)
				if err != nil {
					fmt.Fprintln(os.Stderr, "fleet worker:", err)
					os.Exit(2)
				}
				go consume(ch)
			}
			time.Sleep(time.Duration(cfg.PerClient) * 200 * time.Microsecond) // 5,000 agents/s
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n := int(hi.Load())
		r := fleetReport{Warm: int(warm.Load()), Resets: int(resets.Load()), Seen: make([]int, n), Last: make([]int64, n)}
		for i := range n {
			r.Seen[i], r.Last[i] = int(seen[i].Load()), last[i].Load()
		}
		raw, _ := json.Marshal(r)
		os.Stdout.Write(append(raw, '\n'))
	}
	cancel()
	return 0
}
