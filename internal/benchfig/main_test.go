package main

import (
	"encoding/xml"
	"strings"
	"testing"
)

const sample = `goos: linux
pkg: github.com/passreset/passreset/store/sqlitestore
BenchmarkPairs/GetPasswordReset/passreset-2   	  200000	      5000 ns/op	    1024 B/op	      22 allocs/op
BenchmarkPairs/GetPasswordReset/raw-2         	  200000	      4000 ns/op	     952 B/op	      24 allocs/op
BenchmarkPairs/GetPasswordReset/passreset-2   	  200000	      6000 ns/op	    1024 B/op	      22 allocs/op
BenchmarkPairs/GetPasswordReset/raw-2         	  200000	      5000 ns/op	     952 B/op	      24 allocs/op
BenchmarkPairs/GetPasswordReset/passreset-2   	  200000	      9000 ns/op	    1024 B/op	      22 allocs/op
BenchmarkPairs/GetPasswordReset/raw-2         	  200000	      4500 ns/op	     952 B/op	      24 allocs/op
BenchmarkPairs/GetPasswordReset/interleaved-2   	  100000	     11000 ns/op	      6000 passreset-ns/op	         1.200 ratio	      5000 raw-ns/op	 5500 passreset-p50-ns	 5000 raw-p50-ns	 1.100 p50-ratio
BenchmarkPairs/GetPasswordReset/interleaved-2   	  100000	     11000 ns/op	      5000 passreset-ns/op	         1.100 ratio	      5000 raw-ns/op	 4800 passreset-p50-ns	 4000 raw-p50-ns	 1.200 p50-ratio
BenchmarkPairs/GetPasswordReset/interleaved-2   	  100000	     11000 ns/op	      7000 passreset-ns/op	         1.400 ratio	      5000 raw-ns/op	 6000 passreset-p50-ns	 4000 raw-p50-ns	 1.500 p50-ratio
BenchmarkPairs/FullResetBcrypt12/passreset-2  	       5	 200000000 ns/op
BenchmarkPairs/FullResetBcrypt12/bcrypt-2     	       5	 210000000 ns/op
BenchmarkGrowth/rows=1000/GetPasswordReset/passreset-2 	  1000	      5000 ns/op
BenchmarkGrowth/rows=1000/GetPasswordReset/raw-2       	  1000	      4000 ns/op
BenchmarkGrowth/rows=1000000/GetPasswordReset/passreset-2 	  1000	      9000 ns/op
BenchmarkGrowth/rows=1000000/GetPasswordReset/raw-2       	  1000	      8000 ns/op
pkg: github.com/passreset/passreset/store/pgstore
BenchmarkGrowth/rows=1000/ValidateSession/interleaved-2 	  1000	     90000 ns/op	 50000 passreset-ns/op	 1.25 ratio	 40000 raw-ns/op	 45000 passreset-p50-ns	 30000 raw-p50-ns	 1.5 p50-ratio
BenchmarkGrowth/rows=1000000/ValidateSession/interleaved-2 	  1000	     90000 ns/op	 60000 passreset-ns/op	 1.25 ratio	 48000 raw-ns/op	 55000 passreset-p50-ns	 50000 raw-p50-ns	 1.1 p50-ratio
BenchmarkGrowth/rows=1000/ValidateSession/passreset-2 	  1000	     50000 ns/op
BenchmarkGrowth/rows=1000/ValidateSession/raw-2       	  1000	     40000 ns/op
PASS
`

// TestTable: each pair's row holds the medians and their ratio, the runs
// counted; a pair with a bcrypt side is one too.
func TestTable(t *testing.T) {
	rs, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := writeTable(&out, rs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| sqlitestore | Pairs/GetPasswordReset | 6.00 µs | 4.50 µs | 1.333 | 3 | 22 (1024 B) | 24 (952 B) |",
		"| sqlitestore | Pairs/FullResetBcrypt12 | 200.000 ms | 210.000 ms | 0.952 | 1 |",
		"| pgstore | Growth/rows=1000/ValidateSession | 50.00 µs | 40.00 µs | 1.250 | 1 |",
		"| sqlitestore | Pairs/GetPasswordReset | 6.00 µs | 5.00 µs | 1.200 | 5.50 µs | 4.00 µs | 1.200 | 1.100 1.200 1.500 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestGrowthSVG: the plot is well-formed XML with one panel per package
// and one line per path and side.
func TestGrowthSVG(t *testing.T) {
	rs, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	svg, err := growthSVG(rs)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(svg))
	lines := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 4 {
		t.Errorf("%d lines, want 4 (two per panel)", lines)
	}
	for _, want := range []string{">sqlitestore<", ">pgstore (interleaved runs, median op)<", ">1,000,000<", "stroke-dasharray",
		"ValidateSession passreset, 1,000,000 rows: 55.00 µs"} {
		if !strings.Contains(svg, want) {
			t.Errorf("plot lacks %q", want)
		}
	}
	if _, err := growthSVG(rs[:2]); err == nil {
		t.Error("no growth benchmarks: want an error")
	}
}
