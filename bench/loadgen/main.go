// Command loadgen drives an SSM endpoint (Paramstore, moto, AWS) the way an
// SDK does: every request is SigV4-signed afresh (its own X-Amz-Date, a
// signature over its own body), with a configurable concurrency, duration,
// operation mix, value size and number of parameters. It reports requests/s
// and p50/p90/p99/max per operation, and its own CPU use (cores, and µs per
// request), so a run can tell when the generator, not the server, is the
// limit.
//
// By default (-client lean) each worker owns one keep-alive connection and
// writes each call signed by awsreq.Lean, whose headers are byte-identical
// to aws-sdk-go-v2's signer's (internal/awsreq TestLeanMatchesSDK): the
// server verifies the same signatures, and the generator, which shares the
// cores with it, spends a fraction of the CPU. -client sdk signs with the
// SDK's signer through net/http's Transport, as the CLI and agent do.
//
//	go run ./bench/loadgen -url http://127.0.0.1:4583 -creds paramstore-data/root-credentials \
//	    -c 16 -d 10s -mix get=80,getsecure=10,bypath=5,put=5 -params 1000 -size 64
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/paramstore/paramstore/bench/internal/benchutil"
)

var ops = []string{"get", "getsecure", "bypath", "put", "putnew", "describe"}

type result struct {
	lat  []time.Duration
	errs int
}

func main() {
	url := flag.String("url", "http://127.0.0.1:4583", "endpoint")
	region := flag.String("region", "us-east-1", "region to sign for")
	credsFile := flag.String("creds", "", "AWS shared credentials file (profile default); default: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or test/test")
	conc := flag.Int("c", 16, "concurrency")
	dur := flag.Duration("d", 10*time.Second, "duration")
	mix := flag.String("mix", "get=100", "operation weights: "+strings.Join(ops, ","))
	params := flag.Int("params", 1000, "parameters under -prefix (seeded first unless -noseed)")
	size := flag.Int("size", 64, "value size in bytes")
	prefix := flag.String("prefix", "/loadgen", "parameter path")
	noseed := flag.Bool("noseed", false, "do not create the parameters first")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the load phase (not the seeding) to this file")
	clientKind := flag.String("client", "lean", "lean: a connection per worker, calls signed by awsreq.Lean; sdk: aws-sdk-go-v2's signer over net/http")
	flag.Parse()

	creds, err := benchutil.LoadCreds(*credsFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	weights, err := parseMix(*mix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	g := &gen{value: strings.Repeat("x", *size), prefix: *prefix, params: *params}
	switch *clientKind {
	case "sdk":
		c := benchutil.NewClient(*url, *region, creds, *conc*2)
		g.sender = func() (sender, error) { return c, nil }
	case "lean":
		g.sender = func() (sender, error) { return benchutil.NewConn(*url, *region, creds) }
	default:
		fmt.Fprintf(os.Stderr, "loadgen: -client %q: want lean or sdk\n", *clientKind)
		os.Exit(2)
	}
	senders := make([]sender, *conc)
	for w := range senders {
		if senders[w], err = g.sender(); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
	}
	if !*noseed {
		if err := g.seed(senders); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: seed:", err)
			os.Exit(1)
		}
	}

	g.prepareReads(weights)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: -cpuprofile:", err)
			os.Exit(2)
		}
		defer f.Close()
	}
	var usage0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage0)
	results := make([]map[string]*result, *conc)
	var wg sync.WaitGroup
	var seq atomic.Int64
	start := time.Now()
	stop := start.Add(*dur)
	for w := range *conc {
		results[w] = map[string]*result{}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			var body []byte
			for time.Now().Before(stop) {
				op := pick(weights, rng)
				var target string
				target, body = g.request(body[:0], op, rng, &seq)
				t0 := time.Now()
				ok := senders[w].Send(target, body)
				r := results[w][op]
				if r == nil {
					r = &result{}
					results[w][op] = r
				}
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
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	report := map[string]any{"elapsed_s": elapsed.Seconds(), "concurrency": *conc, "connections": *conc, "client": *clientKind,
		"generator_cpu_cores": cpu.Seconds() / elapsed.Seconds()}
	var all []time.Duration
	allErrs := 0
	byOp := map[string]any{}
	for _, op := range ops {
		var lat []time.Duration
		errs := 0
		for _, m := range results {
			if r := m[op]; r != nil {
				lat = append(lat, r.lat...)
				errs += r.errs
			}
		}
		if len(lat) == 0 {
			continue
		}
		all = append(all, lat...)
		allErrs += errs
		byOp[op] = benchutil.Summarize(lat, errs, elapsed)
	}
	report["ops"] = byOp
	report["total"] = benchutil.Summarize(all, allErrs, elapsed)
	if len(all) > 0 {
		report["generator_cpu_us_per_request"] = float64(cpu.Microseconds()) / float64(len(all))
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(report)
		return
	}
	fmt.Printf("%-10s %10s %8s %8s %8s %8s %8s %7s\n", "op", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "count", "errors")
	keys := make([]string, 0, len(byOp))
	for k := range byOp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range append(keys, "total") {
		s := report["total"].(benchutil.Summary)
		if k != "total" {
			s = byOp[k].(benchutil.Summary)
		}
		fmt.Printf("%-10s %10.0f %8.2f %8.2f %8.2f %8.2f %8d %7d\n", k, s.RPS, s.P50, s.P90, s.P99, s.Max, s.Count, s.Errors)
	}
	fmt.Printf("generator CPU: %.2f cores over %.1fs, %.1f µs per request (-client %s)\n",
		report["generator_cpu_cores"], elapsed.Seconds(), report["generator_cpu_us_per_request"], *clientKind)
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

type weight struct {
	op string
	w  int
}

func parseMix(s string) ([]weight, error) {
	var out []weight
	for _, part := range strings.Split(s, ",") {
		op, ws, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(ws)
		if !ok || err != nil || n < 0 || !slices.Contains(ops, op) {
			return nil, fmt.Errorf("-mix %q: want op=weight with op in %v", part, ops)
		}
		if n > 0 {
			out = append(out, weight{op, n})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-mix %q: no operation with a positive weight", s)
	}
	return out, nil
}

func pick(ws []weight, rng *rand.Rand) string {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	n := rng.IntN(total)
	for _, w := range ws {
		if n < w.w {
			return w.op
		}
		n -= w.w
	}
	return ws[0].op
}

// sender sends one call and reports whether it got HTTP 200:
// *benchutil.Conn (one per worker) or *benchutil.Client (shared).
type sender interface {
	Send(target string, body []byte) bool
}

type gen struct {
	sender        func() (sender, error)
	value, prefix string
	params        int

	reads [][2][]byte // the bodies of get and getsecure by parameter (prepareReads)
}

func (g *gen) name(i int) string { return fmt.Sprintf("%s/p%07d", g.prefix, i) }

func (g *gen) seed(senders []sender) error {
	var wg sync.WaitGroup
	var failed atomic.Int64
	next := atomic.Int64{}
	for _, s := range senders {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < g.params; i = int(next.Add(1)) - 1 {
				for _, typ := range []string{"String", "SecureString"} {
					name := g.name(i)
					if typ == "SecureString" {
						name = g.prefix + "-secure" + name[len(g.prefix):]
					}
					body, _ := json.Marshal(map[string]any{"Name": name, "Value": g.value, "Type": typ, "Overwrite": true})
					if !s.Send("PutParameter", body) {
						failed.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d seed writes failed", n)
	}
	return nil
}

// request appends the JSON body of one call of op to body and returns the
// call's target with it.
func (g *gen) request(body []byte, op string, rng *rand.Rand, seq *atomic.Int64) (string, []byte) {
	i := rng.IntN(max(g.params, 1))
	if op == "get" || op == "getsecure" {
		// A read's body depends on i alone: encoded once, at the first use.
		return "GetParameter", append(body, g.readBody(op, i)...)
	}
	var in any
	target := ""
	switch op {
	case "bypath":
		target, in = "GetParametersByPath", map[string]any{"Path": g.prefix, "MaxResults": 10}
	case "put":
		target, in = "PutParameter", putInput{Name: g.name(i), Value: g.value, Type: "String", Overwrite: true}
	case "putnew":
		target, in = "PutParameter", putInput{Name: fmt.Sprintf("%s-new/%d/%d", g.prefix, time.Now().UnixNano(), seq.Add(1)), Value: g.value, Type: "String"}
	case "describe":
		target, in = "DescribeParameters", map[string]any{"ParameterFilters": []map[string]any{{"Key": "Path", "Option": "Recursive", "Values": []string{g.prefix}}}, "MaxResults": 10}
	}
	b, _ := json.Marshal(in)
	return target, append(body, b...)
}

// prepareReads encodes the body of every get and getsecure call the mix
// can make, before the load: json.Marshal and the name's Sprintf were a
// twentieth of the generator's CPU per call, on the cores it shares with
// the server, and a read's body depends on its parameter alone.
func (g *gen) prepareReads(ws []weight) {
	for _, w := range ws {
		if w.op == "get" || w.op == "getsecure" {
			reads := make([][2][]byte, max(g.params, 1))
			for i := range reads {
				reads[i] = [2][]byte{g.encodeRead("get", i), g.encodeRead("getsecure", i)}
			}
			g.reads = reads
			return
		}
	}
}

// readBody returns the body of the get or getsecure call of parameter i:
// prepareReads's, or encoded now without it.
func (g *gen) readBody(op string, i int) []byte {
	if g.reads == nil {
		return g.encodeRead(op, i)
	}
	if op == "getsecure" {
		return g.reads[i][1]
	}
	return g.reads[i][0]
}

func (g *gen) encodeRead(op string, i int) []byte {
	var in any = struct{ Name string }{g.name(i)}
	if op == "getsecure" {
		in = struct {
			Name           string
			WithDecryption bool
		}{g.prefix + "-secure" + g.name(i)[len(g.prefix):], true}
	}
	b, _ := json.Marshal(in)
	return b
}

type putInput struct {
	Name, Value, Type string
	Overwrite         bool `json:",omitempty"`
}
