package main

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// scaleRow is one latency figure at one parameter count.
type scaleRow struct {
	Params float64 `json:"params"`
	Metric string  `json:"metric"`
	MS     float64 `json:"ms"`
}

// logYRatio is the spread of latencies above which the y axis turns
// logarithmic, so that sub-millisecond and tens-of-milliseconds lines are
// both readable.
const logYRatio = 30

// glyphs mark the points of each line, filled ones first.
var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{},
	draw.RingGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PlusGlyph{},
}

// drawScale draws latency against parameter count (log x), one line with
// points per metric.
func drawScale(rows []scaleRow, c config) error {
	if len(rows) == 0 {
		return errors.New("-scale: no rows")
	}
	var metrics []string
	series := map[string]plotter.XYs{}
	xlo, xhi := math.Inf(1), math.Inf(-1)
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		if r.Params <= 0 || r.MS < 0 || math.IsNaN(r.MS) || math.IsInf(r.MS, 0) {
			return fmt.Errorf("-scale: row %+v: want params > 0 and ms >= 0", r)
		}
		if !slices.Contains(metrics, r.Metric) {
			metrics = append(metrics, r.Metric)
		}
		series[r.Metric] = append(series[r.Metric], plotter.XY{X: r.Params, Y: r.MS})
		xlo, xhi = min(xlo, r.Params), max(xhi, r.Params)
		ylo, yhi = min(ylo, r.MS), max(yhi, r.MS)
	}

	title := c.title
	if title == "" {
		title = "Latency against number of parameters"
	}
	logY := ylo > 0 && yhi/ylo > logYRatio
	ylabel := "latency, ms"
	if logY {
		ylabel += " (log scale)"
	}
	p := newPlot(title, "parameters (log scale)", ylabel, true)
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{formatCount}
	p.X.Tick.Label.Font.Size = vg.Points(11)
	p.Y.Tick.Label.Font.Size = vg.Points(11)

	leg := newLegend()
	for i, m := range metrics {
		xys := series[m]
		slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("-scale: %s: %w", m, err)
		}
		line.Color = colour(i)
		line.Width = vg.Points(2)
		points.Color = colour(i)
		points.Shape = glyphs[i%len(glyphs)]
		points.Radius = vg.Points(3.5)
		p.Add(line, points)
		leg.Add(m, line, points)
	}

	// A little room either side of the first and last counts.
	p.X.Min, p.X.Max = xlo/1.5, xhi*1.5
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{formatMS}
		p.Y.Min, p.Y.Max = decades(ylo, yhi)
	} else {
		p.Y.Min, p.Y.Max = 0, yhi*1.1
		if yhi == 0 {
			p.Y.Max = 1
		}
	}
	return save(p, leg, c.size, c.out, nil)
}
