// Command chart draws the benchmark PNG charts with gonum.org/v1/plot.
//
// Build (bench/tools is its own module) and run from the repository root:
//
//	cd bench/tools && go build -o ../../bin/chart ./chart && cd ../..
//
//	# Grouped bars, one group per op, one bar per server, req/s on a log scale;
//	# with -out-p99 also a p99 latency chart (ms, log scale).
//	bin/chart -results results.json -out bench/results.png -out-p99 bench/results-p99.png
//
//	# Latency (ms) against parameter count (log scale), one line per metric.
//	bin/chart -scale scale.json -out bench/scale.png
//
// -results reads a JSON array of
//
//	{"op":"GetParameter (String)","server":"paramstore","rps":21000.5,"p50":0.6,"p90":1.1,"p99":4.2,"max":9.1,"errors":0}
//
// and -scale a JSON array of
//
//	{"params":1000,"metric":"GetParameter p50","ms":0.5}
//
// Ops, servers and metrics keep their order of first appearance, and each
// server or metric keeps its colour in every chart. -w and -h set the size in
// pixels (default 900x500) and -title replaces the default title.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

type config struct {
	results, scale string // input files; exactly one is set
	out, outP99    string
	title          string
	size           size
}

func run(args []string, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("chart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.results, "results", "", "JSON array of {op, server, rps, p50, p90, p99, max, errors}: draw grouped bars")
	fs.StringVar(&c.scale, "scale", "", "JSON array of {params, metric, ms}: draw latency against parameter count")
	fs.StringVar(&c.out, "out", "", "output PNG (req/s chart with -results)")
	fs.StringVar(&c.outP99, "out-p99", "", "with -results, also write a p99 latency chart to this PNG")
	fs.StringVar(&c.title, "title", "", "chart title (default depends on the chart)")
	fs.IntVar(&c.size.w, "w", 900, "width in pixels")
	fs.IntVar(&c.size.h, "h", 500, "height in pixels")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case (c.results == "") == (c.scale == ""):
		return errors.New("want exactly one of -results and -scale")
	case c.out == "":
		return errors.New("-out: missing output file")
	case c.outP99 != "" && c.results == "":
		return errors.New("-out-p99: only with -results")
	case c.size.w < 100 || c.size.h < 100:
		return fmt.Errorf("-w %d -h %d: want at least 100x100 pixels", c.size.w, c.size.h)
	}
	if c.results != "" {
		var rows []resultRow
		if err := readJSON(c.results, &rows); err != nil {
			return err
		}
		return drawResults(rows, c)
	}
	var rows []scaleRow
	if err := readJSON(c.scale, &rows); err != nil {
		return err
	}
	return drawScale(rows, c)
}

func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
