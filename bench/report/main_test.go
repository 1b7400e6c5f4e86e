package main

import (
	"math"
	"strings"
	"testing"
)

func TestParseClusterBench(t *testing.T) {
	out := "goos: linux\n" +
		"BenchmarkThroughput/nodes=1/write-2         \t    5000\t   1000000 ns/op\t       812.5 req/s\n" +
		"BenchmarkThroughput/nodes=1/read-stale-2    \t    5000\t   1000000 ns/op\t      9999 req/s\n" +
		"BenchmarkThroughput/nodes=3/write-2         \t    3000\t   1000000 ns/op\t       450.1 req/s\n" +
		"BenchmarkThroughput/nodes=3/read-2          \t    3000\t   1000000 ns/op\t      7777 req/s\n"
	got := parseClusterBench([]byte(out))
	if len(got) != 2 || got[1] != 812.5 || got[3] != 450.1 {
		t.Errorf("parsed %v, want the write rows only: map[1:812.5 3:450.1]", got)
	}
}

// TestKeptScaleBody: keeping a kept section again drops the marker lines,
// so markers do not pile up; the rest is kept verbatim.
func TestKeptScaleBody(t *testing.T) {
	sec := "## Scale runs\n\n" + keptMarker + " 2026-11-30 17:45 UTC. This run skipped...\n\n" +
		scaleRunMarker + " 2026-11-30 17:45 UTC.\n\n| parameters |\n|---:|\n| 1000 |\n\n- Startup at 1000000 parameters: 4 s (target < 5 s: met).\n"
	got := string(keptScaleBody([]byte(sec)))
	if strings.Contains(got, "Scale phase of") || strings.Contains(got, "## Scale runs") {
		t.Errorf("markers kept:\n%s", got)
	}
	if !strings.HasPrefix(got, "| parameters |") || keptLine([]byte(got), "- Startup at ") == "" {
		t.Errorf("body lost:\n%s", got)
	}
}

// TestRowGeneratorCPU: the generator's CPU per request, from loadgen's and
// etcdload's reports, derived for an older report, and from the seconds
// run.sh times wrk with.
func TestRowGeneratorCPU(t *testing.T) {
	for _, c := range []struct {
		line          string
		cores, perReq float64
	}{
		{`{"op":"a","server":"s","tool":"loadgen","gen_cpu_s":0,"result":{"elapsed_s":10,"generator_cpu_cores":0.5,"generator_cpu_us_per_request":50,"total":{"RPS":10000,"Count":100000}}}`, 0.5, 50},
		{`{"op":"a","server":"s","tool":"loadgen","result":{"elapsed_s":10,"generator_cpu_cores":0.8,"total":{"RPS":1000,"Count":10000}}}`, 0.8, 800},
		{`{"op":"a","server":"s","tool":"wrk","gen_cpu_s":2,"result":{"RPS":2000,"Count":20000}}`, 0.2, 100},
		{`{"op":"a","server":"s","tool":"wrk","gen_cpu_s":0,"result":{"RPS":2000,"Count":20000}}`, -1, -1},
	} {
		rows, err := parseRows([]byte(c.line))
		if err != nil {
			t.Fatal(err)
		}
		r := rows[0]
		if math.Abs(r.genCPU-c.cores) > 1e-9 || math.Abs(r.genPerRq-c.perReq) > 1e-9 {
			t.Errorf("%s: %v cores, %v µs/req; want %v, %v", c.line, r.genCPU, r.genPerRq, c.cores, c.perReq)
		}
	}
}

func TestRowServerCPU(t *testing.T) {
	rows, err := parseRows([]byte(`{"op":"a","server":"s","tool":"wrk","gen_cpu_s":1,"server_cpu_s":2.5,"result":{"RPS":2000,"Count":25000}}
{"op":"a","server":"s","tool":"wrk","result":{"RPS":2000,"Count":25000}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[0].serverCPUText(); got != "100" {
		t.Errorf("2.5 s over 25000 requests: %q µs/req, want 100", got)
	}
	if got := rows[1].serverCPUText(); got != "–" {
		t.Errorf("not measured: %q, want –", got)
	}
}

// TestStartupTarget: the startup target is met only by a run that measured
// a million parameters.
func TestStartupTarget(t *testing.T) {
	for _, c := range []struct {
		line string
		met  bool
	}{
		{"- Startup at 1000000 parameters: 4.2 s worst of 2 restarts (target < 5 s: met).", true},
		{"- Startup at 1000000 parameters: 5.07 s worst of 2 restarts (target < 5 s: missed).", false},
		{"- Startup at 100000 parameters: 0.9 s worst of 2 restarts (target < 5 s at 1,000,000 parameters: met).", false},
		{"- Startup at ", false},
	} {
		text, met := startupVerdict(c.line)
		if met != c.met || strings.HasPrefix(text, "- ") || strings.HasSuffix(text, ".") {
			t.Errorf("%s -> %q, %v; want met=%v", c.line, text, met, c.met)
		}
	}
}
