package emailaddr_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/passreset/passreset/emailaddr"
)

func TestNormalize(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	label := long(63)
	for _, tc := range []struct {
		name, in, want string
		err            error
	}{
		{"ascii", "  Ada@Example.COM \n", "Ada@example.com", nil},
		{"plus and dots", "ada.l+tag@example.com", "ada.l+tag@example.com", nil},
		{"nfd local part to nfc", "jose\u0301@example.com", "jos\u00e9@example.com", nil},
		{"nfc local part kept", "jos\u00e9@example.com", "jos\u00e9@example.com", nil},
		{"idn domain to ascii", "ada@B\u00fccher.Example", "ada@xn--bcher-kva.example", nil},
		{"idn domain nfd", "ada@bu\u0308cher.example", "ada@xn--bcher-kva.example", nil},
		{"punycode domain lower-cased", "ada@XN--BCHER-KVA.example", "ada@xn--bcher-kva.example", nil},
		{"turkish dotless i", "\u0131lker@example.com", "\u0131lker@example.com", nil},
		{"64-octet local part", long(64) + "@example.com", long(64) + "@example.com", nil},
		{"254 octets", long(64) + "@" + label + "." + label + "." + long(57) + ".com", long(64) + "@" + label + "." + label + "." + long(57) + ".com", nil},

		{"empty", "   ", "", emailaddr.ErrSyntax},
		{"no at", "ada.example.com", "", emailaddr.ErrSyntax},
		{"no local part", "@example.com", "", emailaddr.ErrSyntax},
		{"no domain", "ada@", "", emailaddr.ErrSyntax},
		{"display name", "Ada<ada@example.com>", "", emailaddr.ErrSyntax},
		{"punycode of a refused character", "ada@xn--gb-0qu.example", "", emailaddr.ErrDomain},
		{"punycode of a zero-width joiner", "ada@xn--ab-m1t.example", "", emailaddr.ErrDomain},
		{"space inside", "ada lovelace@example.com", "", emailaddr.ErrSyntax},
		{"no-break space inside", "ada\u00a0lovelace@example.com", "", emailaddr.ErrInvisible},
		{"words", "not an address", "", emailaddr.ErrSyntax},
		{"two dots", "ada..l@example.com", "", emailaddr.ErrSyntax},
		{"leading dot", ".ada@example.com", "", emailaddr.ErrSyntax},
		{"comment", "ada(x)@example.com", "", emailaddr.ErrSyntax},
		{"invalid utf-8", "ad\xffa@example.com", "", emailaddr.ErrSyntax},
		{"65-octet local part", long(65) + "@example.com", "", emailaddr.ErrTooLong},
		{"64 octets of nfc from more of nfd", strings.Repeat("e\u0301", 32) + "@example.com", strings.Repeat("\u00e9", 32) + "@example.com", nil},
		{"255 octets", long(64) + "@" + label + "." + label + "." + long(58) + ".com", "", emailaddr.ErrTooLong},
		{"label over 63", "ada@" + long(64) + ".com", "", emailaddr.ErrDomain},
		{"domain literal", "ada@[192.0.2.1]", "", emailaddr.ErrDomainLiteral},
		{"ipv6 literal", "ada@[IPv6:2001:db8::1]", "", emailaddr.ErrDomainLiteral},
		{"quoted local part", `"ada lovelace"@example.com`, "", emailaddr.ErrSyntax},
		{"quoted local part without space", `"ada@x"@example.com`, "", emailaddr.ErrQuoted},
		{"zero-width joiner", "ad\u200da@example.com", "", emailaddr.ErrInvisible},
		{"zero-width space", "\u200bada@example.com", "", emailaddr.ErrInvisible},
		{"right-to-left override", "ada\u202emoc.elpmaxe@example.com", "", emailaddr.ErrInvisible},
		{"bidi isolate", "ada@exa\u2067mple.com", "", emailaddr.ErrInvisible},
		{"left-to-right mark", "ada\u200e@example.com", "", emailaddr.ErrInvisible},
		{"byte order mark", "\ufeffada@example.com", "", emailaddr.ErrInvisible},
		{"soft hyphen", "a\u00adda@example.com", "", emailaddr.ErrInvisible},
		{"variation selector", "ada\ufe0f@example.com", "", emailaddr.ErrInvisible},
		{"hangul filler", "ada\u3164@example.com", "", emailaddr.ErrInvisible},
		{"private use", "ada\ue000@example.com", "", emailaddr.ErrInvisible},
		{"nul", "ada\x00@example.com", "", emailaddr.ErrControl},
		{"newline inside", "ada\n@example.com", "", emailaddr.ErrControl},
		{"c1 control", "ada\u0085x@example.com", "", emailaddr.ErrControl},
		{"kelvin sign in local part", "\u212Aate@example.com", "", emailaddr.ErrConfusable},
		{"kelvin sign in domain", "kate@\u212Agb.example", "", emailaddr.ErrConfusable},
		{"fullwidth letter", "\uff41da@example.com", "", emailaddr.ErrConfusable},
		{"long s", "\u017fam@example.com", "", emailaddr.ErrConfusable},
		{"ligature", "\ufb01sh@example.com", "", emailaddr.ErrConfusable},
		{"ideographic full stop", "ada@b\u00fccher\u3002example", "", emailaddr.ErrDomain},
		{"trailing dot", "ada@example.com.", "", emailaddr.ErrDomain},
		{"underscore in domain", "ada@ex_ample.com", "", emailaddr.ErrDomain},
		{"bad punycode", "ada@xn--a.example", "", emailaddr.ErrDomain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := emailaddr.Normalize(tc.in)
			if k, kErr := emailaddr.FoldValid(tc.in); kErr != err || err == nil && k != emailaddr.Fold(tc.in) {
				t.Errorf("FoldValid(%q) = %q, %v; want %q, %v", tc.in, k, kErr, emailaddr.Fold(tc.in), err)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, emailaddr.ErrInvalid) {
					t.Fatalf("Normalize(%q) = %q, %v; want an error matching %v and ErrInvalid", tc.in, got, err, tc.err)
				}
				if got != "" {
					t.Errorf("Normalize(%q) returned %q beside its error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			again, err := emailaddr.Normalize(got)
			if err != nil || again != got {
				t.Errorf("Normalize is not stable on %q: %q, %v", got, again, err)
			}
		})
	}
}

func TestFoldOneMailbox(t *testing.T) {
	// Each group names one mailbox; every member folds to the group's key.
	for _, group := range [][]string{
		{"jos\u00e9@example.com", "jose\u0301@example.com", "JOS\u00c9@EXAMPLE.COM", "JOSE\u0301@Example.Com"},
		{"ada@b\u00fccher.example", "ada@bu\u0308cher.example", "ADA@B\u00dcCHER.EXAMPLE", "ada@xn--bcher-kva.example", "Ada@XN--BCHER-KVA.EXAMPLE"},
		{"\u00c5sa@example.com", "\u212bsa@example.com", "A\u030asa@example.com", "\u00e5sa@example.com"},
	} {
		key := emailaddr.Fold(group[0])
		for _, s := range group {
			if got := emailaddr.Fold(s); got != key {
				t.Errorf("Fold(%q) = %q; want %q, as Fold(%q)", s, got, key, group[0])
			}
			if got := emailaddr.Fold(key); got != key {
				t.Errorf("Fold is not stable on %q: %q", key, got)
			}
		}
	}
}

func TestFoldRefusedMatchesNoAccepted(t *testing.T) {
	for _, tc := range []struct{ refused, lookalike string }{
		{"\u212Aate@example.com", "kate@example.com"},
		{"KATE@\u212Agb.example", "kate@kgb.example"},
		{"ad\u200da@example.com", "ada@example.com"},
		{"ada\u202e@example.com", "ada@example.com"},
		{"\uff41da@example.com", "ada@example.com"},
		{"ada@example.com.", "ada@example.com"},
	} {
		if _, err := emailaddr.Normalize(tc.refused); err == nil {
			t.Fatalf("Normalize(%q) accepted it", tc.refused)
		}
		if a, b := emailaddr.Fold(tc.refused), emailaddr.Fold(tc.lookalike); a == b {
			t.Errorf("Fold(%q) = Fold(%q) = %q: a refused address reaches an accepted one", tc.refused, tc.lookalike, a)
		}
		if emailaddr.EqualFold(tc.refused, tc.lookalike) {
			t.Errorf("EqualFold(%q, %q): a refused address reaches an accepted one", tc.refused, tc.lookalike)
		}
		if got := emailaddr.Fold(tc.refused); got != emailaddr.Fold(got) {
			t.Errorf("Fold is not stable on %q", tc.refused)
		}
	}
	if got := emailaddr.Fold("ADA@[192.0.2.1]"); got != "ada@[192.0.2.1]" {
		t.Errorf("Fold of a refused address = %q; want its ASCII lower case", got)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"ada@example.com", "jose\u0301@B\u00fccher.example", "\u212Aate@x.y", "a@[1.2.3.4]", `"a"@b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := emailaddr.Normalize(s)
		if v, vErr := emailaddr.FoldValid(s); vErr != err || err == nil && v != emailaddr.Fold(n) {
			t.Fatalf("FoldValid(%q) = %q, %v; want Fold(Normalize) = %q, %v", s, v, vErr, emailaddr.Fold(n), err)
		}
		if err != nil {
			if !errors.Is(err, emailaddr.ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if len(n) > emailaddr.MaxAddressLength {
			t.Fatalf("Normalize(%q) = %q, over the length limit", s, n)
		}
		if again, err := emailaddr.Normalize(n); err != nil || again != n {
			t.Fatalf("Normalize not stable: %q -> %q -> %q, %v", s, n, again, err)
		}
		k := emailaddr.Fold(s)
		if !emailaddr.EqualFold(s, n) || !emailaddr.EqualFold(k, s) || !emailaddr.EqualFold(s, s) {
			t.Fatalf("EqualFold: %q, its normal form %q and its fold %q are not all one mailbox", s, n, k)
		}
		if _, err := emailaddr.Normalize(k); err != nil {
			t.Fatalf("Normalize refuses the fold %q of %q: %v", k, s, err)
		}
		if emailaddr.Fold(k) != k || emailaddr.Fold(n) != k {
			t.Fatalf("Fold not stable: %q -> %q; Fold(%q) = %q", s, k, n, emailaddr.Fold(n))
		}
	})
}

// TestFoldOfEveryCharacter: for every character an address may hold, the
// fold of the address is an address Normalize accepts, and folds to
// itself: a key the Service looks up is always one it could be given.
func TestFoldOfEveryCharacter(t *testing.T) {
	if testing.Short() {
		t.Skip("every code point: a few seconds")
	}
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		s := "a" + string(r) + "@example.com"
		if _, err := emailaddr.Normalize(s); err != nil {
			continue
		}
		k := emailaddr.Fold(s)
		if n, err := emailaddr.Normalize(k); err != nil || emailaddr.Fold(n) != k {
			t.Errorf("U+%04X: Fold = %+q, which Normalize gives as %+q, %v", r, k, n, err)
		}
	}
}
