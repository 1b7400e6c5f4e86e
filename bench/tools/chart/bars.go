package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// resultRow is one op on one server, as the bench scripts write it.
type resultRow struct {
	Op     string  `json:"op"`
	Server string  `json:"server"`
	RPS    float64 `json:"rps"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
	Errors int     `json:"errors"`
}

// barSpec says which value of a row a bar chart shows and how.
type barSpec struct {
	value  func(resultRow) float64
	label  func(float64) string // the figure above a bar
	ticks  func(float64) string // the y tick labels
	ylabel string
	title  string
	out    string
}

// drawResults writes the req/s chart to c.out and, with c.outP99, the p99
// latency chart.
func drawResults(rows []resultRow, c config) error {
	if len(rows) == 0 {
		return errors.New("-results: no rows")
	}
	specs := []barSpec{{
		value:  func(r resultRow) float64 { return r.RPS },
		label:  func(v float64) string { return formatRounded(v, 1000, "k") },
		ticks:  formatCount,
		ylabel: "requests/s (log scale)",
		title:  "Throughput by operation (requests/s, higher is better)",
		out:    c.out,
	}}
	if c.title != "" {
		specs[0].title = c.title
	}
	if c.outP99 != "" {
		specs = append(specs, barSpec{
			value:  func(r resultRow) float64 { return r.P99 },
			label:  func(v float64) string { return strconv.FormatFloat(v, 'f', decimals(v), 64) },
			ticks:  formatMS,
			ylabel: "p99 latency, ms (log scale)",
			title:  "p99 latency by operation (ms, lower is better)",
			out:    c.outP99,
		})
	}
	for _, s := range specs {
		if err := drawBars(rows, s, c.size); err != nil {
			return fmt.Errorf("%s: %w", s.out, err)
		}
	}
	return nil
}

// drawBars draws one group of bars per op and one bar per server, on a log
// y axis, with each bar's figure above it.
func drawBars(rows []resultRow, s barSpec, sz size) error {
	var ops, servers []string
	type cell struct {
		v    float64
		errs int
	}
	cells := map[[2]string]cell{}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		if !slices.Contains(ops, r.Op) {
			ops = append(ops, r.Op)
		}
		if !slices.Contains(servers, r.Server) {
			servers = append(servers, r.Server)
		}
		v := s.value(r)
		if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			continue // no bar: a log axis has no room for zero
		}
		cells[[2]string{r.Op, r.Server}] = cell{v, r.Errors}
		lo, hi = min(lo, v), max(hi, v)
	}
	if len(cells) == 0 {
		return errors.New("no positive values to draw")
	}
	lo, hi = decades(lo, hi*1.6) // headroom for the figures above the tallest bar

	p := newPlot(s.title, "", s.ylabel, false)
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{s.ticks}
	p.Y.Tick.Label.Font.Size = vg.Points(11)
	p.X.Tick.Label.Font.Size = vg.Points(11)

	// Bars are stacked on an invisible base as tall as the axis floor: a
	// BarChart starts at 0, which a log axis cannot place.
	floor := make(plotter.Values, len(ops))
	for i := range floor {
		floor[i] = lo
	}
	base, err := plotter.NewBarChart(floor, 1)
	if err != nil {
		return err
	}
	leg := newLegend()
	bars := make([]*plotter.BarChart, len(servers))
	labels := make([]*plotter.Labels, len(servers))
	for j, server := range servers {
		heights := make(plotter.Values, len(ops))
		var figs plotter.XYLabels
		for i, op := range ops {
			c, ok := cells[[2]string{op, server}]
			if !ok {
				continue // height 0: no bar
			}
			heights[i] = c.v - lo
			text := s.label(c.v)
			if c.errs > 0 {
				text += fmt.Sprintf(" (%d err)", c.errs)
			}
			figs.XYs = append(figs.XYs, plotter.XY{X: float64(i), Y: c.v})
			figs.Labels = append(figs.Labels, text)
		}
		b, err := plotter.NewBarChart(heights, 1)
		if err != nil {
			return err
		}
		b.Color = colour(j)
		b.LineStyle.Width = 0
		b.StackOn(base)
		bars[j] = b
		p.Add(b)
		leg.Add(server, b)
		if len(figs.Labels) > 0 {
			l, err := plotter.NewLabels(figs)
			if err != nil {
				return err
			}
			for k := range l.TextStyle {
				l.TextStyle[k].Font.Size = vg.Points(8)
				l.TextStyle[k].Rotation = math.Pi / 2
				l.TextStyle[k].XAlign = draw.XLeft
				l.TextStyle[k].YAlign = draw.YCenter
				l.TextStyle[k].Color = greyText
			}
			labels[j] = l
			p.Add(l)
		}
	}

	p.NominalX(ops...)
	p.Y.Padding = vg.Points(4)
	p.X.Min, p.X.Max = -0.5, float64(len(ops))-0.5
	p.Y.Min, p.Y.Max = lo, hi

	layout := func(data draw.Canvas) {
		group := (data.Max.X - data.Min.X) / vg.Length(len(ops))
		width := min(group*0.8/vg.Length(len(servers)), vg.Points(40))
		for j, b := range bars {
			off := (vg.Length(j) - vg.Length(len(servers)-1)/2) * width
			b.Width, b.Offset = width, off
			if labels[j] != nil {
				labels[j].Offset = vg.Point{X: off, Y: vg.Points(2)}
			}
		}
		// Long op names wrap to the width of a group.
		fits := func(s string) bool { return p.X.Tick.Label.Width(s) <= group*0.95 }
		ticks := make(plot.ConstantTicks, len(ops))
		for i, op := range ops {
			ticks[i] = plot.Tick{Value: float64(i), Label: wrap(op, fits)}
		}
		p.X.Tick.Marker = ticks
	}
	return save(p, leg, sz, s.out, layout)
}

// formatRounded prints v with 3 significant digits, in units of unit above
// it: 512, 21.0k, 4.25k.
func formatRounded(v, unit float64, suffix string) string {
	if v < unit {
		return strconv.FormatFloat(v, 'f', decimals(v), 64)
	}
	v /= unit
	return strconv.FormatFloat(v, 'f', decimals(v), 64) + suffix
}

// decimals gives about 3 significant digits, at most 2 decimals.
func decimals(v float64) int {
	switch {
	case v >= 100:
		return 0
	case v >= 10:
		return 1
	}
	return 2
}
