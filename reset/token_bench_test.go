package reset

import (
	"strings"
	"testing"
)

// TestTokenAlphabet: the table holds the bytes of unpadded URL-safe
// base64, and no other.
func TestTokenAlphabet(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		want := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_'
		if tokenAlphabet[b] != want {
			t.Errorf("tokenAlphabet[%q] = %v, want %v", b, tokenAlphabet[b], want)
		}
	}
}

func BenchmarkWellFormedToken(b *testing.B) {
	tok := strings.Repeat("Ab9-_", 8) + "xyA"
	for b.Loop() {
		if !wellFormedToken(tok) {
			b.Fatal("refused")
		}
	}
}
