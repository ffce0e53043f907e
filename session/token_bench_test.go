package session

import (
	"strings"
	"testing"
)

// TestB64Values: the table says what the base64url alphabet says, for
// every byte.
func TestB64Values(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for c := range 256 {
		if got, want := b64Value(byte(c)), strings.IndexByte(alphabet, byte(c)); got != want {
			t.Errorf("b64Value(%q) = %d, want %d", byte(c), got, want)
		}
	}
}

func BenchmarkWellFormed(b *testing.B) {
	tok := strings.Repeat("Ab9-_", 8) + "xyA"
	for b.Loop() {
		if !wellFormed(tok) {
			b.Fatal("refused")
		}
	}
}
