package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// dpi converts pixels to gonum's lengths in points.
const dpi = 96

// size is an image size in pixels.
type size struct{ w, h int }

func (s size) points() (w, h vg.Length) {
	return vg.Length(s.w) * vg.Inch / dpi, vg.Length(s.h) * vg.Inch / dpi
}

// palette is Tableau 10: distinct, colour-blind friendly enough, and not
// garish. A series keeps its index, so a server has one colour everywhere.
var palette = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff}, {0x76, 0xb7, 0xb2, 0xff},
	{0x59, 0xa1, 0x4f, 0xff}, {0xed, 0xc9, 0x48, 0xff}, {0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff},
	{0x9c, 0x75, 0x5f, 0xff}, {0xba, 0xb0, 0xac, 0xff},
}

func colour(i int) color.Color { return palette[i%len(palette)] }

// greyText is the colour of the figures written on a chart.
var greyText = color.Gray{0x33}

// newPlot returns a plot with the title and axis labels set and light
// horizontal grid lines.
func newPlot(title, xlabel, ylabel string, vertical bool) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(15)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.X.Label.TextStyle.Font.Size = vg.Points(12)
	p.Y.Label.TextStyle.Font.Size = vg.Points(12)
	grid := plotter.NewGrid()
	grid.Horizontal.Color = color.Gray{0xdd}
	grid.Horizontal.Width = vg.Points(0.5)
	if vertical {
		grid.Vertical.Color = color.Gray{0xdd}
		grid.Vertical.Width = vg.Points(0.5)
	} else {
		grid.Vertical.Color = nil
	}
	p.Add(grid)
	return p
}

// logTicks labels the powers of ten between min and max with format, and
// marks 2..9 times each power without a label.
type logTicks struct{ format func(float64) string }

func (t logTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := int(math.Floor(math.Log10(min) + 1e-9)); e <= int(math.Ceil(math.Log10(max)-1e-9)); e++ {
		p := math.Pow10(e)
		for i := 1; i < 10; i++ {
			v := p * float64(i)
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			tick := plot.Tick{Value: v}
			if i == 1 {
				tick.Label = t.format(v)
			}
			ticks = append(ticks, tick)
		}
	}
	return ticks
}

// decades widens [min, max] to whole powers of ten, the range of a log axis.
func decades(min, max float64) (float64, float64) {
	lo := math.Pow10(int(math.Floor(math.Log10(min) + 1e-9)))
	hi := math.Pow10(int(math.Ceil(math.Log10(max) - 1e-9)))
	if hi <= lo {
		hi = lo * 10
	}
	return lo, hi
}

// formatCount prints 500, 2k, 10k, 1.5M.
func formatCount(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// formatMS prints a power of ten in milliseconds: 0.1, 1, 10.
func formatMS(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// wrap breaks s at spaces into lines for which fits is true. A word that
// does not fit on a line of its own is split at its most balanced camel-case
// boundary ("GetParameters" "ByPath"), again if need be.
func wrap(s string, fits func(string) bool) string {
	type token struct {
		text  string
		space bool // a space separates it from the previous token
	}
	var tokens []token
	for _, word := range strings.Fields(s) {
		for i, part := range splitCamel(word, fits) {
			tokens = append(tokens, token{part, i == 0})
		}
	}
	var lines []string
	line := ""
	for _, t := range tokens {
		sep := ""
		if t.space {
			sep = " "
		}
		switch {
		case line == "":
			line = t.text
		case fits(line + sep + t.text):
			line += sep + t.text
		default:
			lines = append(lines, line)
			line = t.text
		}
	}
	return strings.Join(append(lines, line), "\n")
}

// splitCamel splits word into parts that fit, at the camel-case boundary
// that leaves the longest part shortest.
func splitCamel(word string, fits func(string) bool) []string {
	if fits(word) {
		return []string{word}
	}
	best := -1
	for i := 1; i < len(word); i++ {
		if !isLower(word[i-1]) || !isUpper(word[i]) {
			continue
		}
		if best < 0 || max(i, len(word)-i) < max(best, len(word)-best) {
			best = i
		}
	}
	if best < 0 {
		return []string{word}
	}
	return append(splitCamel(word[:best], fits), splitCamel(word[best:], fits)...)
}

func isLower(b byte) bool { return 'a' <= b && b <= 'z' }
func isUpper(b byte) bool { return 'A' <= b && b <= 'Z' }

// save draws p with leg to the right of it, outside the data area, and
// writes a PNG of sz pixels to path. layout, if not nil, is called with the
// data area before drawing, for sizes that depend on it.
func save(p *plot.Plot, leg plot.Legend, sz size, path string, layout func(data draw.Canvas)) error {
	w, h := sz.points()
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	c := draw.New(img)
	c = draw.Crop(c, vg.Points(6), -vg.Points(8), vg.Points(4), -vg.Points(6)) // margins

	legW := leg.Rectangle(c).Size().X + vg.Points(12)
	pc := draw.Crop(c, 0, -legW, 0, 0)

	// The y label is drawn here: gonum centres it at the mean of the axis
	// range, which on a log axis lies near the top and pads the plot.
	ylabel, ysty := p.Y.Label.Text, p.Y.Label.TextStyle
	p.Y.Label.Text = ""
	if ylabel != "" {
		pc = draw.Crop(pc, ysty.Height(ylabel)+vg.Points(6), 0, 0, 0)
	}
	if layout != nil {
		layout(p.DataCanvas(pc))
	}
	p.Draw(pc)
	data := p.DataCanvas(pc)
	if ylabel != "" {
		ysty.Rotation = math.Pi / 2
		ysty.XAlign, ysty.YAlign = draw.XCenter, draw.YTop
		c.FillText(ysty, vg.Point{X: c.Min.X, Y: (data.Min.Y + data.Max.Y) / 2}, ylabel)
	}

	// The legend's top lines up with the top of the data area.
	lc := draw.Crop(c, c.Max.X-c.Min.X-legW+vg.Points(12), 0, 0, 0)
	leg.Top, leg.Left = true, true
	leg.YOffs = -(c.Max.Y - data.Max.Y)
	leg.Draw(lc)

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// newLegend returns a legend in the plots' font size.
func newLegend() plot.Legend {
	leg := plot.NewLegend()
	leg.TextStyle.Font.Size = vg.Points(11)
	leg.ThumbnailWidth = vg.Points(14)
	leg.Padding = vg.Points(4)
	return leg
}
