// Command benchfig reads the output of go test -bench (one run or many,
// one package or several) and prints, for every pair of sub-benchmarks
// <name>/passreset and <name>/raw (or /bcrypt), the median of each side
// and their ratio, as a Markdown table; with -svg it also draws the growth
// benchmarks (BenchmarkGrowth/rows=<n>/<path>/<side>) as a plot, one panel
// per package, and writes it to the named file.
//
//	go test -run '^$' -bench . -count 6 ./store/sqlitestore/ ./store/pgstore/ > bench.txt
//	go run ./internal/benchfig -svg docs/img/growth.svg < bench.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	svg := flag.String("svg", "", "write the growth plot to this file")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *svg); err != nil {
		fmt.Fprintln(os.Stderr, "benchfig:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, svgPath string) error {
	rs, err := parse(in)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		return fmt.Errorf("no benchmark results in the input")
	}
	if err := writeTable(out, rs); err != nil {
		return err
	}
	if svgPath == "" {
		return nil
	}
	plot, err := growthSVG(rs)
	if err != nil {
		return err
	}
	return os.WriteFile(svgPath, []byte(plot), 0o644)
}

// result is every run of one benchmark of one package.
type result struct {
	pkg, name      string // name without "Benchmark" and the -N suffix
	ns, bytes, all []float64
	other          map[string][]float64 // the metrics a benchmark reports itself, by unit
}

var line = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse reads go test -bench output, keeping the order in which
// benchmarks first appear.
func parse(in io.Reader) ([]*result, error) {
	var (
		pkg   string
		order []*result
		byKey = map[string]*result{}
	)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		t := sc.Text()
		if p, ok := strings.CutPrefix(t, "pkg: "); ok {
			pkg = p[strings.LastIndex(p, "/")+1:]
			continue
		}
		m := line.FindStringSubmatch(t)
		if m == nil {
			continue
		}
		key := pkg + " " + m[1]
		r := byKey[key]
		if r == nil {
			r = &result{pkg: pkg, name: m[1]}
			byKey[key] = r
			order = append(order, r)
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", t, err)
			}
			switch f[i+1] {
			case "ns/op":
				r.ns = append(r.ns, v)
			case "B/op":
				r.bytes = append(r.bytes, v)
			case "allocs/op":
				r.all = append(r.all, v)
			default:
				if r.other == nil {
					r.other = map[string][]float64{}
				}
				r.other[f[i+1]] = append(r.other[f[i+1]], v)
			}
		}
	}
	return order, sc.Err()
}

// median of xs; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// duration formats nanoseconds for a table.
func duration(ns float64) string {
	switch {
	case ns >= 1e6:
		return strconv.FormatFloat(ns/1e6, 'f', 3, 64) + " ms"
	case ns >= 1e3:
		return strconv.FormatFloat(ns/1e3, 'f', 2, 64) + " µs"
	}
	return strconv.FormatFloat(ns, 'f', 0, 64) + " ns"
}

// writeTable prints one row per pair: the medians of both sides and their
// ratio, with the number of runs; then, for every interleaved pair (see
// storebench), the median of its runs' ratios and of each side's time.
func writeTable(out io.Writer, rs []*result) error {
	find := map[string]*result{}
	for _, r := range rs {
		find[r.pkg+" "+r.name] = r
	}
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "| package | benchmark | passreset | raw | ratio | runs | allocs/op passreset (B/op) | raw |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|")
	for _, p := range rs {
		base, ok := strings.CutSuffix(p.name, "/passreset")
		if !ok {
			continue
		}
		var raw *result
		for _, side := range []string{"/raw", "/bcrypt"} {
			if raw = find[p.pkg+" "+base+side]; raw != nil {
				break
			}
		}
		if raw == nil {
			continue
		}
		mp, mr := median(p.ns), median(raw.ns)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.3f | %d | %.0f (%.0f B) | %.0f (%.0f B) |\n", p.pkg, base,
			duration(mp), duration(mr), mp/mr, min(len(p.ns), len(raw.ns)),
			median(p.all), median(p.bytes), median(raw.all), median(raw.bytes))
	}
	header := false
	for _, r := range rs {
		base, ok := strings.CutSuffix(r.name, "/interleaved")
		if !ok || len(r.other["ratio"]) == 0 {
			continue
		}
		if !header {
			fmt.Fprintln(w)
			fmt.Fprintln(w, "| package | interleaved | passreset mean | raw mean | ratio of means | passreset p50 | raw p50 | ratio of p50s | runs' ratios of p50s |")
			fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---|")
			header = true
		}
		ratios := slices.Clone(r.other["p50-ratio"])
		slices.Sort(ratios)
		var each []string
		for _, x := range ratios {
			each = append(each, strconv.FormatFloat(x, 'f', 3, 64))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.3f | %s | %s | %.3f | %s |\n", r.pkg, base,
			duration(median(r.other["passreset-ns/op"])), duration(median(r.other["raw-ns/op"])), median(r.other["ratio"]),
			duration(median(r.other["passreset-p50-ns"])), duration(median(r.other["raw-p50-ns"])), median(ratios),
			strings.Join(each, " "))
	}
	return w.Flush()
}
