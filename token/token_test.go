package token

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNewIsWellFormedAndHashed(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok, h, err := New(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !WellFormed(tok) {
			t.Fatalf("New made %q, which WellFormed refuses", tok)
		}
		if h != sha256.Sum256([]byte(tok)) || Sum(tok) != h {
			t.Fatalf("the hash of %q is not its SHA-256", tok)
		}
		if seen[tok] {
			t.Fatalf("New repeated %q", tok)
		}
		seen[tok] = true
	}
}

func TestNewReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, _, err := New(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
	if _, _, err := New(bytes.NewReader(make([]byte, Bytes-1))); err == nil {
		t.Fatal("a short read made a token")
	}
}

func TestWellFormed(t *testing.T) {
	good := strings.Repeat("Ab9-_", 8) + "xyA"
	for _, tc := range []struct {
		tok  string
		want bool
	}{
		{good, true},
		{good[:Len-1], false},                     // short
		{good + "A", false},                       // long
		{good[:Len-1] + "B", false},               // low bits of the last character set: not canonical
		{good[:Len-1] + "E", true},                // 4 = 0b000100: canonical
		{strings.Repeat("A", Len-1) + "=", false}, // padding
		{strings.Repeat("+", Len), false},         // standard, not URL, alphabet
		{"", false},
		{strings.Repeat("é", Len/2), false},
	} {
		if got := WellFormed(tc.tok); got != tc.want {
			t.Errorf("WellFormed(%q) = %v, want %v", tc.tok, got, tc.want)
		}
	}
}

// TestB64Values: the table says what the base64url alphabet says, for
// every byte.
func TestB64Values(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for c := range 256 {
		if got, want := int(b64Values[c]), strings.IndexByte(alphabet, byte(c)); got != want {
			t.Errorf("b64Values[%q] = %d, want %d", byte(c), got, want)
		}
	}
}

func FuzzWellFormed(f *testing.F) {
	tok, _, _ := New(rand.Reader)
	f.Add(tok)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if !WellFormed(s) {
			return
		}
		// Whatever WellFormed accepts decodes to exactly Bytes bytes and
		// encodes back to itself.
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != Bytes || base64.RawURLEncoding.EncodeToString(b) != s {
			t.Fatalf("WellFormed accepted %q, which is not a canonical %d-byte token", s, Bytes)
		}
	})
}

func BenchmarkWellFormed(b *testing.B) {
	tok := strings.Repeat("Ab9-_", 8) + "xyA"
	for b.Loop() {
		if !WellFormed(tok) {
			b.Fatal("refused")
		}
	}
}

func BenchmarkSum(b *testing.B) {
	tok := strings.Repeat("Ab9-_", 8) + "xyA"
	b.ReportAllocs()
	for b.Loop() {
		_ = Sum(tok)
	}
}
