package main

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var growthName = regexp.MustCompile(`^Growth/rows=(\d+)/(\w+)/(passreset|raw|interleaved)$`)

// point is the median time of one side of one path at one size.
type point struct {
	rows int
	ns   float64
}

// series is one line of a panel: a path, through passreset or raw.
type series struct {
	path, side string
	points     []point
}

// panel is one package's growth benchmarks.
type panel struct {
	pkg    string
	series []*series
	// interleaved says the points are those of the interleaved runs (the
	// medians of each side's ops, passreset-p50-ns and raw-p50-ns), which
	// a panel prefers when it has them: both sides measured at the same
	// moments, and the ops that waited for a CPU left out.
	interleaved bool
}

func (p *panel) add(path, side string, rows int, ns float64) {
	j := slices.IndexFunc(p.series, func(s *series) bool { return s.path == path && s.side == side })
	if j < 0 {
		p.series = append(p.series, &series{path: path, side: side})
		j = len(p.series) - 1
	}
	p.series[j].points = append(p.series[j].points, point{rows, ns})
}

// growthPanels gathers the growth benchmarks of rs, by package, in the
// order they first appear.
func growthPanels(rs []*result) []*panel {
	var panels []*panel
	get := func(pkg string) *panel {
		i := slices.IndexFunc(panels, func(p *panel) bool { return p.pkg == pkg })
		if i < 0 {
			panels = append(panels, &panel{pkg: pkg})
			i = len(panels) - 1
		}
		return panels[i]
	}
	for _, r := range rs {
		m := growthName.FindStringSubmatch(r.name)
		if m != nil && m[3] == "interleaved" && len(r.other["raw-p50-ns"]) > 0 {
			p := get(r.pkg)
			if !p.interleaved {
				p.series, p.interleaved = nil, true
			}
			rows, _ := strconv.Atoi(m[1])
			p.add(m[2], "passreset", rows, median(r.other["passreset-p50-ns"]))
			p.add(m[2], "raw", rows, median(r.other["raw-p50-ns"]))
		}
	}
	for _, r := range rs {
		m := growthName.FindStringSubmatch(r.name)
		if m == nil || m[3] == "interleaved" || len(r.ns) == 0 {
			continue
		}
		if p := get(r.pkg); !p.interleaved {
			rows, _ := strconv.Atoi(m[1])
			p.add(m[2], m[3], rows, median(r.ns))
		}
	}
	for _, p := range panels {
		for _, s := range p.series {
			slices.SortFunc(s.points, func(a, b point) int { return a.rows - b.rows })
		}
	}
	return panels
}

// Layout of the plot, in pixels.
const (
	panelW, panelH = 340, 220
	left, top      = 56, 34
	right, bottom  = 40, 40
	legendRow      = 20  // the height of a row of the legend
	legendCol      = 190 // the width of a column of the legend
)

var colors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// growthSVG draws the growth benchmarks of rs: per package, the median
// time of each path against the number of rows (a log scale), passreset
// solid and raw dashed.
func growthSVG(rs []*result) (string, error) {
	panels := growthPanels(rs)
	if len(panels) == 0 {
		return "", fmt.Errorf("no growth benchmarks (BenchmarkGrowth/rows=<n>/<path>/<side>) in the input")
	}
	var paths []string
	for _, p := range panels {
		for _, s := range p.series {
			if !slices.Contains(paths, s.path) {
				paths = append(paths, s.path)
			}
		}
	}
	cellW := left + panelW + right
	width := cellW * len(panels)
	cols := max(1, (width-left)/legendCol)
	items := len(paths) + 2 // the paths, then the two sides' strokes
	legendH := 14 + (items+cols-1)/cols*legendRow
	height := top + panelH + bottom + legendH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", width, height)
	for pi, p := range panels {
		x0 := pi*cellW + left
		var rows []int
		maxNS := 0.0
		for _, s := range p.series {
			for _, pt := range s.points {
				maxNS = max(maxNS, pt.ns)
				if !slices.Contains(rows, pt.rows) {
					rows = append(rows, pt.rows)
				}
			}
		}
		slices.Sort(rows)
		yMax := niceMax(maxNS / 1e3) // µs
		lo, hi := math.Log10(float64(rows[0])), math.Log10(float64(rows[len(rows)-1]))
		if hi == lo {
			hi = lo + 1
		}
		x := func(n int) float64 { return float64(x0) + (math.Log10(float64(n))-lo)/(hi-lo)*panelW }
		y := func(ns float64) float64 { return float64(top+panelH) - ns/1e3/yMax*panelH }

		title := p.pkg
		if p.interleaved {
			title += " (interleaved runs, median op)"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", x0, top-14, esc(title))
		for i := 0; i <= 4; i++ {
			v := yMax * float64(i) / 4
			yy := y(v * 1e3)
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", x0, yy, x0+panelW, yy)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, yy+4, strconv.FormatFloat(v, 'g', 4, 64))
		}
		for _, n := range rows {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(n), top+panelH+16, thousands(n))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">rows</text>`+"\n", x0+panelW/2, top+panelH+32)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" transform="rotate(-90 %d %d)">µs/op</text>`+"\n",
			x0-40, top+panelH/2, x0-40, top+panelH/2)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", x0, top, panelW, panelH)
		for _, s := range p.series {
			c := colors[slices.Index(paths, s.path)%len(colors)]
			dash := ""
			if s.side == "raw" {
				dash = ` stroke-dasharray="5,4"`
			}
			var pts []string
			for _, pt := range s.points {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(pt.rows), y(pt.ns)))
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), c, dash)
			for _, pt := range s.points {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s %s, %s rows: %s</title></circle>`+"\n",
					x(pt.rows), y(pt.ns), c, esc(s.path), s.side, thousands(pt.rows), duration(pt.ns))
			}
		}
	}
	// The legend: a grid of items, the paths' colours, then the sides'
	// strokes.
	at := func(i int) (x, y int) {
		return left + i%cols*legendCol, top + panelH + bottom + 14 + i/cols*legendRow
	}
	for i, path := range paths {
		x, y := at(i)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", x, y, x+24, y, colors[i%len(colors)])
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", x+30, y+4, esc(path))
	}
	for i, side := range []struct{ dash, label string }{{"", "passreset"}, {` stroke-dasharray="5,4"`, "raw (the same SQL by hand)"}} {
		x, y := at(len(paths) + i)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444" stroke-width="2"%s/>`+"\n", x, y, x+24, y, side.dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", x+30, y+4, side.label)
	}
	b.WriteString("</svg>\n")
	return b.String(), nil
}

// thousands writes n with commas: 1,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// esc escapes text for SVG.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
