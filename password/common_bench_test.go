package password

import (
	"runtime"
	"strings"
	"testing"
)

// commonWords returns the embedded list's words.
func commonWords() []string {
	return strings.Split(strings.TrimSuffix(commonText, "\n"), "\n")
}

// heapAfter returns the bytes in use on the heap after a collection.
func heapAfter() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkCommonPassword compares IsCommon, a binary search of the
// embedded text where it lies, with a lookup in a map[string]struct{} of
// the same words (lower-cased the same way), for a word on the list, one
// off it, and one in capitals. bytes-held is the heap each keeps: the map
// its buckets (its keys point into the embedded text, so they cost no
// copy); IsCommon nothing (the list is the binary's read-only data, once
// per process, as it is for the map too).
func BenchmarkCommonPassword(b *testing.B) {
	words := commonWords()
	if len(words) != CommonWords {
		b.Fatalf("%d words, want %d", len(words), CommonWords)
	}
	before := heapAfter()
	set := make(map[string]struct{}, len(words))
	for _, w := range words {
		set[w] = struct{}{}
	}
	mapHeld := heapAfter() - before
	for _, tc := range []struct{ name, pw string }{
		{"hit", "password123"},
		{"miss", "a passreset-only phrase"},
		{"capitals", "QWERTYUIOP"},
	} {
		b.Run("IsCommon/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				IsCommon(tc.pw)
			}
			b.ReportMetric(0, "bytes-held")
		})
		b.Run("map/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = set[strings.ToLower(tc.pw)]
			}
			b.ReportMetric(float64(mapHeld), "bytes-held")
		})
	}
	runtime.KeepAlive(set)
}
