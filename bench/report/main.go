// Command report turns the rows bench/run.sh collected into bench/RESULTS.md:
// the machine, the absolute figures of every server, the ratios the
// performance targets are stated in and whether each target is met. It also
// writes the rows in the shape bench/tools/chart draws.
//
//	go run ./bench/report -rows bench/results.jsonl -chart-json chart.json \
//	    [-scale-md bench/scale.md -scale-json bench/scale.json] >bench/RESULTS.md
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// figures is one load run's summary, as bench/loadgen, bench/tools/etcdload
// and bench/wrkreq's wrk script print it (latencies in milliseconds).
type figures struct {
	RPS                float64
	P50, P90, P99, Max float64
	Count, Errors      int
}

// row is one line of rows.jsonl: result is either a bare summary (wrk) or a
// generator report with "total", "generator_cpu_cores" and
// "generator_cpu_us_per_request". For wrk, bench/run.sh measures its CPU
// time (user + system, seconds) and records it as gen_cpu_s; for every row
// it records the server process's CPU time over the row as server_cpu_s.
type row struct {
	Op         string          `json:"op"`
	Server     string          `json:"server"`
	Tool       string          `json:"tool"`
	GenCPUS    float64         `json:"gen_cpu_s"`
	ServerCPUS float64         `json:"server_cpu_s"`
	Result     json.RawMessage `json:"result"`
	fig        figures
	genCPU     float64 // cores; -1 when unknown
	genPerRq   float64 // µs of generator CPU per request; -1 when unknown
}

func (r *row) parse() error {
	var gen struct {
		Total    *figures `json:"total"`
		GenCPU   float64  `json:"generator_cpu_cores"`
		GenPerRq float64  `json:"generator_cpu_us_per_request"`
		Elapsed  float64  `json:"elapsed_s"`
	}
	if err := json.Unmarshal(r.Result, &gen); err != nil {
		return fmt.Errorf("%s / %s: %w", r.Op, r.Server, err)
	}
	r.genCPU, r.genPerRq = -1, -1
	if gen.Total != nil {
		r.fig, r.genCPU, r.genPerRq = *gen.Total, gen.GenCPU, gen.GenPerRq
		if gen.GenPerRq == 0 && r.fig.Count > 0 { // an older generator: derive it
			r.genPerRq = 1e6 * gen.GenCPU * gen.Elapsed / float64(r.fig.Count)
		}
		return nil
	}
	if err := json.Unmarshal(r.Result, &r.fig); err != nil {
		return err
	}
	if r.GenCPUS > 0 && r.fig.Count > 0 && r.fig.RPS > 0 {
		r.genCPU = r.GenCPUS / (float64(r.fig.Count) / r.fig.RPS)
		r.genPerRq = 1e6 * r.GenCPUS / float64(r.fig.Count)
	}
	return nil
}

// serverCPUText is the server's CPU per request as the tables show it.
func (r *row) serverCPUText() string {
	if r.ServerCPUS <= 0 || r.fig.Count == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", 1e6*r.ServerCPUS/float64(r.fig.Count))
}

// genCPUText is the row's generator CPU as the tables show it.
func (r *row) genCPUText() string {
	if r.genCPU < 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.2f cores, %.0f µs/req", r.genCPU, r.genPerRq)
}

// chartRow is the input of bench/tools/chart -results.
type chartRow struct {
	Op     string  `json:"op"`
	Server string  `json:"server"`
	RPS    float64 `json:"rps"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
	Errors int     `json:"errors"`
}

// scalePoint is one row of bench/scale's JSON output.
type scalePoint struct {
	Params int     `json:"params"`
	Metric string  `json:"metric"`
	MS     float64 `json:"ms"`
}

func main() {
	rowsPath := flag.String("rows", "bench/results.jsonl", "rows collected by bench/run.sh")
	chartPath := flag.String("chart-json", "", "write the rows for bench/tools/chart here")
	scaleMD := flag.String("scale-md", "", "markdown table of the scale runs (bench/scale -md-out)")
	scaleJSON := flag.String("scale-json", "", "JSON of the scale runs (bench/scale -json-out)")
	dur := flag.String("duration", "10s", "duration of each row (for the text)")
	readC := flag.Int("read-c", 16, "concurrency of the read rows (for the text)")
	writeC := flag.Int("write-c", 64, "concurrency of the write rows (for the text)")
	size := flag.Int("size", 64, "value size (for the text)")
	scaleKept := flag.String("scale-kept", "", "the scale section of the previous RESULTS.md, kept because this run skipped the scale phase (bench/run.sh -scale none)")
	scaleKeptFrom := flag.String("scale-kept-from", "", "when the kept scale section's phase ran (for the text)")
	clusterBench := flag.String("cluster-bench", "", "output of tests/cluster BenchmarkThroughput's write rows (go test -bench), for the 3-node target")
	only := flag.String("only", "", "the -only pattern of a partial run (for the text)")
	loadStart := flag.String("load-start", "", "the load average (1, 5, 15 min) when the run started (for the text)")
	flag.Parse()

	rows, err := readRows(*rowsPath)
	if err != nil {
		fail(err)
	}
	if *chartPath != "" {
		if err := writeChart(*chartPath, rows); err != nil {
			fail(err)
		}
	}
	var scale []scalePoint
	var scaleTable []byte
	if *scaleJSON != "" {
		raw, err := os.ReadFile(*scaleJSON)
		if err != nil {
			fail(err)
		}
		if err := json.Unmarshal(raw, &scale); err != nil {
			fail(fmt.Errorf("%s: %w", *scaleJSON, err))
		}
	}
	if *scaleMD != "" {
		if scaleTable, err = os.ReadFile(*scaleMD); err != nil {
			fail(err)
		}
	}
	var kept []byte
	if *scaleKept != "" {
		if kept, err = os.ReadFile(*scaleKept); err != nil {
			fail(err)
		}
		kept = keptScaleBody(kept)
	}
	var cluster map[int]float64
	if *clusterBench != "" {
		raw, err := os.ReadFile(*clusterBench)
		if err != nil {
			fail(err)
		}
		cluster = parseClusterBench(raw)
	}

	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "# Benchmark results\n\n")
	fmt.Fprintf(w, "Written by `make bench` (bench/run.sh) on %s. Every figure below comes from the same run on the same machine",
		time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if len(kept) > 0 {
		fmt.Fprintf(w, ", except the scale section, kept from an earlier run (see there)")
	}
	fmt.Fprintf(w, ".\n\n")
	if *only != "" {
		fmt.Fprintf(w, "A partial run: only the rows matching `-only %s`.\n\n", *only)
	}
	fmt.Fprintf(w, "## Machine\n\n%s", machine())
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil && *loadStart != "" {
		end := strings.Join(strings.Fields(string(raw))[:3], " ")
		fmt.Fprintf(w, "- Load average (1, 5, 15 min): %s when the run started (the machine before the benchmark: above ~1.5 on 2 cores, other work shares them, "+
			"and req/s and latencies come out lower and noisier, CPU per request much less so), %s when it ended (the benchmark's own processes included).\n", *loadStart, end)
	}
	fmt.Fprintf(w, "\n")
	fmt.Fprintf(w, "## Setup\n\n")
	fmt.Fprintf(w, "- Every server and load generator shares the same cores, on loopback; each row runs for %s.\n", *dur)
	fmt.Fprintf(w, "- **paramstore**: `paramstore server` as users run it: SigV4 authentication (root credentials), the audit trail on, one node, "+
		"a write acknowledged once its raft log entry, which carries its audit intent record, is fsynced and applied (the bbolt state machine commits within 1 s, docs/operations.md); reads linearizable.\n")
	fmt.Fprintf(w, "- **noop**: bench/noop, a Go net/http handler answering a canned GetParameter response: the ceiling for an HTTP JSON service here.\n")
	fmt.Fprintf(w, "- **moto**: moto_server (in memory, no signature check).\n")
	fmt.Fprintf(w, "- **etcd**: the Debian etcd-server, default durability, through its Go client (bench/tools/etcdload): linearizable gets and puts of the same value size and concurrency.\n")
	fmt.Fprintf(w, "- Reads: wrk, %d connections, replaying one SigV4-signed request (bench/wrkreq). "+
		"The signed-per-request row, the writes and the mix: bench/loadgen, one keep-alive HTTP/1.1 connection per request in flight (as an SDK opens them), "+
		"every request signed afresh (its own X-Amz-Date, a signature over its own body, verified in full by the server) by awsreq.Lean, "+
		"whose headers are byte-identical to aws-sdk-go-v2's signer's (TestLeanMatchesSDK) at a sixth of its CPU, its answers read by its own HTTP/1.1 response reader rather than net/http's (bench/README.md): the generator shares the cores with the server, and the row measures the server, not the SDK.\n", *readC)
	fmt.Fprintf(w, "- %d String and %d SecureString parameters of %d bytes; writes at concurrency %d overwrite those or create new names.\n", 1000, 1000, *size, *writeC)
	fmt.Fprintf(w, "- paramstore and etcd get the same write load: %d-byte values, %d workers with one request in flight each, "+
		"overwrites spread over 1000 names (`/loadgen/p0000000`… against `/etcdload/k0000000`…), new names `<prefix>-new/<start>/<seq>`; "+
		"the connections differ as the protocols do: loadgen %d HTTP/1.1 connections (one per request in flight, as an SDK), etcdload 4 gRPC (HTTP/2) connections carrying the %d streams, "+
		"etcd's fastest setting (one connection per worker measured 2.1–2.5x fewer puts/s on this machine, 2026-11-30).\n", *size, *writeC, *writeC, *writeC)
	fmt.Fprintf(w, "- The generator's own CPU (user + system time of loadgen, etcdload or wrk, over the row) is in the last column, in cores and in µs per request: "+
		"a row whose generator needs much more CPU per request than another's measures the generator as much as the server.\n")
	fmt.Fprintf(w, "- Server CPU µs/req: the server process's user + system time over the row (/proc) per request: unlike req/s and latency, "+
		"other work on the machine does not inflate it (etcd's includes etcdload's seeding of the 1000 keys of its get and put rows; moto_server's is its Python process).\n\n")

	fmt.Fprintf(w, "## Side by side\n\n")
	fmt.Fprintf(w, "| operation | server | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU µs/req | generator CPU |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %d | %s | %s (%s) |\n",
			r.Op, r.Server, r.fig.RPS, r.fig.P50, r.fig.P90, r.fig.P99, r.fig.Max, r.fig.Errors, r.serverCPUText(), r.genCPUText(), r.Tool)
	}
	if *only == "" {
		fmt.Fprintf(w, "\n![requests per second](results.png)\n\n![p99 latency](latency.png)\n")
	}
	fmt.Fprintf(w, "\n")

	fmt.Fprintf(w, "## Ratios\n\n| operation | paramstore / noop req/s | paramstore / moto req/s | moto p99 / paramstore p99 | paramstore / etcd req/s |\n|---|---:|---:|---:|---:|\n")
	for _, op := range ops(rows) {
		ps := find(rows, op, "paramstore")
		if ps == nil {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", op,
			ratio(ps, find(rows, op, "noop"), rps), ratio(ps, find(rows, op, "moto"), rps),
			ratio(find(rows, op, "moto"), ps, p99), ratio(ps, find(rows, op, "etcd"), rps))
	}

	fmt.Fprintf(w, "\n## Targets\n\nIssue 16's targets, each computed from this run (\"not measured\" when its rows did not run):\n\n| target | measured | met |\n|---|---|---|\n")
	target := func(name string, got float64, ok bool, format string) {
		if got == 0 {
			fmt.Fprintf(w, "| %s | not measured | no |\n", name)
			return
		}
		fmt.Fprintf(w, "| %s | "+format+" | %s |\n", name, got, yes(ok))
	}
	for _, op := range []string{fmt.Sprintf("PutParameter overwrite, c=%d", *writeC), fmt.Sprintf("PutParameter new names, c=%d", *writeC)} {
		v := div(find(rows, op, "paramstore"), find(rows, op, "etcd"), rps)
		target(op+", durable: ≥ 1.0x etcd's put req/s", v, v >= 1, "%.2fx")
	}
	get, noopGet := find(rows, "GetParameter String", "paramstore"), find(rows, "GetParameter String", "noop")
	v := div(get, noopGet, rps)
	target("GetParameter String ≥ 60% of the no-op ceiling", 100*v, v >= 0.6, "%.0f%%")
	sec, noopSec := find(rows, "GetParameter SecureString, decrypted", "paramstore"), find(rows, "GetParameter SecureString, decrypted", "noop")
	v = div(sec, noopSec, rps)
	target("GetParameter SecureString with decryption ≥ 50% of the ceiling", 100*v, v >= 0.5, "%.0f%%")
	const signed = "GetParameter, signed per request"
	v = div(find(rows, signed, "paramstore"), find(rows, signed, "moto"), rps)
	target(signed+": ≥ 50x moto's req/s", v, v >= 50, "%.1fx")
	v = div(find(rows, signed, "moto"), find(rows, signed, "paramstore"), p99)
	target(signed+": p99 ≤ 1/20 of moto's", v, v >= 20, "%.1fx lower")
	if one, three := cluster[1], cluster[3]; one > 0 && three > 0 {
		fmt.Fprintf(w, "| 3-node cluster's writes ≥ 0.5 of one node's (tests/cluster BenchmarkThroughput) | %.0f vs %.0f req/s: %.2f | %s |\n",
			three, one, three/one, yes(three/one >= 0.5))
	} else {
		target("3-node cluster's writes ≥ 0.5 of one node's (tests/cluster BenchmarkThroughput)", 0, false, "")
	}
	growthName := "GetParameter p99 grows < 30% from 1k to 1M parameters"
	switch small, large, g0, g1 := scaleEnds(scale, "GetParameter p99"); {
	case len(scale) > 0 && small > 0 && g0 > 0:
		growth := 100 * (g1/g0 - 1)
		fmt.Fprintf(w, "| GetParameter p99 grows < 30%% from %s to %s parameters | %.2f → %.2f ms (%+.0f%%) | %s |\n",
			count(small), count(large), g0, g1, growth, yes(growth < 30 && small <= 1000 && large >= 1_000_000))
	case len(kept) > 0 && keptLine(kept, "- GetParameter p99 from ") != "":
		// bench/scale's note: "- GetParameter p99 from A to B parameters: X -> Y ms (Z%; target < +30%: met|missed)."
		line := strings.TrimPrefix(keptLine(kept, "- GetParameter p99 from "), "- ")
		fmt.Fprintf(w, "| %s | %s (kept from the scale phase of %s) | %s |\n", growthName, strings.TrimSuffix(line, "."),
			*scaleKeptFrom, yes(strings.HasSuffix(line, ": met).")))
	default:
		target(growthName, 0, false, "")
	}

	fmt.Fprintf(w, "\nOther targets (issues 6 and 11):\n\n| target | measured | met |\n|---|---|---|\n")
	others := 0
	for _, op := range ops(rows) {
		ps, moto := find(rows, op, "paramstore"), find(rows, op, "moto")
		if ps == nil || moto == nil || op == signed {
			continue
		}
		// Issue 6's targets: every operation ≥ 50x moto, p99 ≤ 1/20.
		others++
		v = div(ps, moto, rps)
		target(op+": ≥ 50x moto's req/s", v, v >= 50, "%.1fx")
		v = div(moto, ps, p99)
		target(op+": p99 under 1/20 of moto's", v, v >= 20, "%.1fx lower")
	}
	startup := keptLine(scaleTable, "- Startup at ")
	from := ""
	if startup == "" {
		if startup = keptLine(kept, "- Startup at "); startup != "" {
			from = " (kept from the scale phase of " + *scaleKeptFrom + ")"
		}
	}
	if startup != "" {
		others++
		text, met := startupVerdict(startup)
		fmt.Fprintf(w, "| startup of a 1M-parameter store < 5 s | %s%s | %s |\n", text, from, yes(met))
	}
	if others == 0 {
		fmt.Fprintf(w, "| none measured by this run | | |\n")
	}
	if noopGet != nil && get != nil {
		if moto := find(rows, "GetParameter String", "moto"); moto != nil {
			fmt.Fprintf(w, "\nOn p99: 1/20 of moto's GetParameter p99 is %.2f ms, while the no-op handler's own p99 in the same run is %.2f ms "+
				"(paramstore's %.2f ms): at this concurrency the tail comes from the load generator and the servers sharing 2 cores, "+
				"not from the work a request does.\n", moto.fig.P99/20, noopGet.fig.P99, get.fig.P99)
		}
	}
	switch {
	case len(scaleTable) > 0:
		fmt.Fprintf(w, "\n## Scale runs\n\n%s %s.\n\n%s\n\n![latency against parameter count](scale.png)\n",
			scaleRunMarker, time.Now().UTC().Format("2006-01-02 15:04 MST"), bytes.TrimSpace(scaleTable))
	case len(kept) > 0:
		fmt.Fprintf(w, "\n## Scale runs\n\n%s %s. This run skipped the scale phase (`-scale none`): the section is kept from the previous bench/RESULTS.md.\n\n%s\n",
			keptMarker, *scaleKeptFrom, bytes.TrimSpace(kept))
	}
}

// The first line of a scale section names when its scale phase ran, so
// that a later run that skips the phase can keep the section and say from
// when (bench/run.sh reads it back).
const (
	scaleRunMarker = "Scale phase of this run:"
	keptMarker     = "Scale phase of an earlier run:"
)

// keptScaleBody is a scale section of an earlier RESULTS.md without its
// heading and without the marker line a previous keeping added.
func keptScaleBody(sec []byte) []byte {
	var out []string
	for _, line := range strings.Split(string(sec), "\n") {
		if strings.HasPrefix(line, "## Scale runs") || strings.HasPrefix(line, keptMarker) || strings.HasPrefix(line, scaleRunMarker) {
			continue
		}
		out = append(out, line)
	}
	return []byte(strings.TrimSpace(strings.Join(out, "\n")))
}

// startupVerdict reads bench/scale's last note, "- Startup at N
// parameters: S s worst ... (target ...: met|missed).": the figure, and
// whether it meets the target, which is stated for a million parameters (a
// smaller largest size, as make bench-quick's, shows the figure but cannot
// meet it).
func startupVerdict(line string) (string, bool) {
	rest := strings.TrimSuffix(strings.TrimPrefix(line, "- Startup at "), ".")
	n := 0
	if f := strings.Fields(rest); len(f) > 0 {
		n, _ = strconv.Atoi(f[0])
	}
	return rest, n >= 1_000_000 && strings.HasSuffix(rest, ": met)")
}

// keptLine is the first line of text starting with prefix, or "".
func keptLine(text []byte, prefix string) string {
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

// parseClusterBench reads go test -bench output of tests/cluster's
// BenchmarkThroughput: req/s of the write rows by node count.
func parseClusterBench(raw []byte) map[int]float64 {
	out := map[int]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		var nodes int
		if len(f) < 2 || !strings.HasPrefix(f[0], "BenchmarkThroughput/nodes=") {
			continue
		}
		// BenchmarkThroughput/nodes=3/write-2 (the suffix is GOMAXPROCS)
		n, kind, _ := strings.Cut(strings.TrimPrefix(f[0], "BenchmarkThroughput/nodes="), "/")
		if kind, _, _ = strings.Cut(kind, "-"); kind != "write" {
			continue
		}
		var err error
		if nodes, err = strconv.Atoi(n); err != nil {
			continue
		}
		for i := 1; i+1 < len(f); i++ {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil && f[i+1] == "req/s" {
				out[nodes] = v
			}
		}
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}

func readRows(path string) ([]*row, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rows, err := parseRows(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

func parseRows(raw []byte) ([]*row, error) {
	var rows []*row
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		r := &row{}
		if err := dec.Decode(r); err == io.EOF {
			return rows, nil
		} else if err != nil {
			return nil, err
		}
		if err := r.parse(); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
}

func writeChart(path string, rows []*row) error {
	out := make([]chartRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, chartRow{Op: r.Op, Server: r.Server, RPS: r.fig.RPS, P50: r.fig.P50, P90: r.fig.P90,
			P99: r.fig.P99, Max: r.fig.Max, Errors: r.fig.Errors})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func ops(rows []*row) []string {
	var out []string
	for _, r := range rows {
		if !slices.Contains(out, r.Op) {
			out = append(out, r.Op)
		}
	}
	return out
}

func find(rows []*row, op, server string) *row {
	for _, r := range rows {
		if r.Op == op && r.Server == server {
			return r
		}
	}
	return nil
}

func rps(r *row) float64 { return r.fig.RPS }
func p99(r *row) float64 { return r.fig.P99 }

// div is f(a)/f(b), 0 when either is missing.
func div(a, b *row, f func(*row) float64) float64 {
	if a == nil || b == nil || f(b) == 0 {
		return 0
	}
	return f(a) / f(b)
}

func ratio(a, b *row, f func(*row) float64) string {
	v := div(a, b, f)
	if v == 0 {
		return "–"
	}
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func yes(ok bool) string {
	if ok {
		return "**yes**"
	}
	return "no"
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// scaleEnds returns the smallest and largest parameter counts with metric,
// and the metric's values there.
func scaleEnds(points []scalePoint, metric string) (small, large int, v0, v1 float64) {
	for _, p := range points {
		if p.Metric != metric {
			continue
		}
		if small == 0 || p.Params < small {
			small, v0 = p.Params, p.MS
		}
		if p.Params > large {
			large, v1 = p.Params, p.MS
		}
	}
	return small, large, v0, v1
}

// machine describes the host: CPU, memory, kernel, disk and tool versions.
func machine() string {
	var b strings.Builder
	cpu := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(raw), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
	}
	var u syscall.Utsname
	kernel := ""
	if syscall.Uname(&u) == nil {
		kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:])
	}
	fmt.Fprintf(&b, "- %d cores (%s), %s memory, %s, %s/%s\n", runtime.NumCPU(), cpu, mem, kernel, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "- %s\n", firstLine("go", "version"))
	fmt.Fprintf(&b, "- etcd: %s\n", firstLine("etcd", "--version"))
	fmt.Fprintf(&b, "- moto: %s\n", firstLine("python3", "-c", "import moto; print(moto.__version__)"))
	fmt.Fprintf(&b, "- wrk: %s\n", firstLine("wrk", "--version"))
	return b.String()
}

func utsString(f []int8) string {
	var s []byte
	for _, c := range f {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

func firstLine(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return "unknown"
	}
	return line
}
