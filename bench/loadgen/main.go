// Command loadgen drives an SSM endpoint (Paramstore, moto, AWS) the way an
// SDK does: every request is SigV4-signed (aws-sdk-go-v2's signer), with a
// configurable concurrency, duration, operation mix, value size and number
// of parameters. It reports requests/s and p50/p90/p99/max per operation,
// and its own CPU use, so a run can tell when the generator, not the server,
// is the limit (then replay presigned requests with wrk instead).
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
	g := &gen{Client: benchutil.NewClient(*url, *region, creds, *conc*2),
		value: strings.Repeat("x", *size), prefix: *prefix, params: *params}
	if !*noseed {
		if err := g.seed(*conc); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: seed:", err)
			os.Exit(1)
		}
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
			for time.Now().Before(stop) {
				op := pick(weights, rng)
				target, body := g.request(op, rng, &seq)
				t0 := time.Now()
				ok := g.Send(target, body)
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

	report := map[string]any{"elapsed_s": elapsed.Seconds(), "concurrency": *conc, "generator_cpu_cores": cpu.Seconds() / elapsed.Seconds()}
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
	fmt.Printf("generator CPU: %.2f cores over %.1fs\n", report["generator_cpu_cores"], elapsed.Seconds())
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

type gen struct {
	*benchutil.Client
	value, prefix string
	params        int
}

func (g *gen) name(i int) string { return fmt.Sprintf("%s/p%07d", g.prefix, i) }

func (g *gen) seed(conc int) error {
	var wg sync.WaitGroup
	var failed atomic.Int64
	next := atomic.Int64{}
	for range conc {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < g.params; i = int(next.Add(1)) - 1 {
				for _, typ := range []string{"String", "SecureString"} {
					name := g.name(i)
					if typ == "SecureString" {
						name = g.prefix + "-secure" + name[len(g.prefix):]
					}
					body, _ := json.Marshal(map[string]any{"Name": name, "Value": g.value, "Type": typ, "Overwrite": true})
					if !g.Send("PutParameter", body) {
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

func (g *gen) request(op string, rng *rand.Rand, seq *atomic.Int64) (string, []byte) {
	i := rng.IntN(max(g.params, 1))
	var in map[string]any
	target := ""
	switch op {
	case "get":
		target, in = "GetParameter", map[string]any{"Name": g.name(i)}
	case "getsecure":
		target, in = "GetParameter", map[string]any{"Name": g.prefix + "-secure" + g.name(i)[len(g.prefix):], "WithDecryption": true}
	case "bypath":
		target, in = "GetParametersByPath", map[string]any{"Path": g.prefix, "MaxResults": 10}
	case "put":
		target, in = "PutParameter", map[string]any{"Name": g.name(i), "Value": g.value, "Type": "String", "Overwrite": true}
	case "putnew":
		target, in = "PutParameter", map[string]any{"Name": fmt.Sprintf("%s-new/%d/%d", g.prefix, time.Now().UnixNano(), seq.Add(1)), "Value": g.value, "Type": "String"}
	case "describe":
		target, in = "DescribeParameters", map[string]any{"ParameterFilters": []map[string]any{{"Key": "Path", "Option": "Recursive", "Values": []string{g.prefix}}}, "MaxResults": 10}
	}
	body, _ := json.Marshal(in)
	return target, body
}
