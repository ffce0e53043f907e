package emailaddr

import (
	"strings"
	"testing"
	"unicode"
)

// TestLDHDomainAsIDNA: every domain the fast path takes is one IDNA
// leaves as it is, and asciiDomain answers as IDNA alone does, on the
// fast path's edges and beyond them.
func TestLDHDomainAsIDNA(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	long := strings.TrimSuffix(strings.Repeat(label63+".", 4), ".") // 255 octets
	for _, d := range []string{
		"example.com", "a.b", "localhost", "1.2.3.4", "a-b.c-d", "x1--y.example",
		"xn--bcher-kva.example", "ab--c.example", "-a.example", "a-.example", "a..b", ".a", "a.",
		"Example.com", "ex_ample.com", "b\u00fccher.example", label63 + ".com", label63 + "a.com",
		long, long[:253], long[:254], long + "a", "a b.com", "a\u3002b",
	} {
		fast, fastErr := asciiDomain(d)
		slow, slowErr := idnaDomain(d)
		if fast != slow || fastErr != slowErr {
			t.Errorf("asciiDomain(%q) = %q, %v; IDNA alone: %q, %v", d, fast, fastErr, slow, slowErr)
		}
	}
}

func FuzzLDHDomain(f *testing.F) {
	for _, d := range []string{"example.com", "xn--bcher-kva.example", "a--b.c", "a-.b", "A.b"} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d string) {
		if !ldhDomain(d) {
			return
		}
		if got, err := idnaDomain(d); err != nil || got != d {
			t.Fatalf("ldhDomain(%q) took it, but IDNA gives %q, %v", d, got, err)
		}
	})
}

// TestCheckRuneASCII: the shortcut for printable ASCII answers as the
// Unicode tests would.
func TestCheckRuneASCII(t *testing.T) {
	for r := rune(0); r < 0x80; r++ {
		var want error
		switch {
		case r == ' ':
			want = ErrSyntax
		case unicode.IsControl(r):
			want = ErrControl
		case !unicode.IsGraphic(r), unicode.Is(unicode.Zs, r),
			unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r), unicode.Is(unicode.Variation_Selector, r):
			want = ErrInvisible
		}
		if got := checkRune(r); got != want {
			t.Errorf("checkRune(%U) = %v, want %v", r, got, want)
		}
	}
}
