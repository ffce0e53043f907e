package hostusers

import (
	"testing"
)

func TestIDs(t *testing.T) {
	ints := IDs{Integer: true, Prefix: "user_"}
	if got := ints.Public(42); got != "user_42" {
		t.Fatalf("Public(42) = %q", got)
	}
	for id, want := range map[string]any{"user_42": int64(42), "user_0": int64(0), "user_-7": int64(-7)} {
		got, ok := ints.Key(id)
		if !ok || got != want {
			t.Errorf("Key(%q) = %v, %v; want %v", id, got, ok, want)
		}
	}
	for _, id := range []string{"", "user_", "42", "acct_42", "user_042", "user_+42", "user_4x", "user_99999999999999999999"} {
		if k, ok := ints.Key(id); ok {
			t.Errorf("Key(%q) = %v, want no key", id, k)
		}
	}
	text := IDs{Prefix: "user_"}
	if k, ok := text.Key("acct-7f3a"); !ok || k != "acct-7f3a" {
		t.Errorf("text Key = %v, %v", k, ok)
	}
	if _, ok := text.Key(""); ok {
		t.Error("an empty text id named a row")
	}
}

func TestLikePattern(t *testing.T) {
	for in, want := range map[string]string{
		"ana@example.com":            "ana@example.com",
		"ünal@bücher.example":        "%nal@b%cher.example",
		"a_b%c\\d@example.com":       `a\_b\%c\\d@example.com`,
		"漢字@example.com":             "%@example.com",
		"i\u0307lkay@x.dk":           "i%lkay@x.dk",
		"ana@xn--bcher-kva.xn--p1ai": "ana@%.%",
		"ana@a.xn--bcher-kva.de":     "ana@a.%.de",
		"xn--ana@xn--x.de":           "xn--ana@%.de",
	} {
		if got := LikePattern(in, '\\'); got != want {
			t.Errorf("LikePattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPick(t *testing.T) {
	key := Fold("Ünal@Example.com")
	if i := Pick(key, []string{"Xnal@example.com", "ÜNAL@EXAMPLE.COM", "ünal@example.com"}); i != 2 {
		t.Errorf("Pick preferred %d, want the exact match 2", i)
	}
	if i := Pick(key, []string{"Xnal@example.com", "ÜNAL@EXAMPLE.COM"}); i != 1 {
		t.Errorf("Pick = %d, want 1", i)
	}
	if i := Pick(key, []string{"unal@example.com"}); i != -1 {
		t.Errorf("Pick matched another letter: %d", i)
	}
	// Stored in NFD, with a Unicode domain: one mailbox.
	key = Fold("jos\u00e9@xn--bcher-kva.example")
	if i := Pick(key, []string{"jose@buecher.example", "JOSE\u0301@B\u00dcCHER.example"}); i != 1 {
		t.Errorf("Pick = %d, want the NFD row 1", i)
	}
	// A Kelvin sign is not k.
	if i := Pick(Fold("kate@example.com"), []string{"\u212aate@example.com"}); i != -1 {
		t.Errorf("Pick matched a Kelvin sign to k: %d", i)
	}
}

func TestFoldsTo(t *testing.T) {
	key := Fold("Ünal@Example.com")
	for _, c := range []struct {
		email string
		want  bool
	}{
		{key, true},                      // as stored by the Service: no fold needed
		{"ÜNAL@EXAMPLE.COM", true},       // another case
		{"U\u0308nal@example.com", true}, // NFD
		{"unal@example.com", false},
		{"", false},
	} {
		if got := FoldsTo(c.email, key); got != c.want || got != (Fold(c.email) == key) {
			t.Errorf("FoldsTo(%q, %q) = %v, want %v", c.email, key, got, c.want)
		}
	}
}
