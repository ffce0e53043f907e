package reset

import (
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/passreset/passreset/token"
)

// TestLinkForIsTheEncodedQuery: the links a Service cuts from ResetURL are
// byte for byte the ones url.Values encodes, whatever the reset page's own
// query and fragment, and a URL it cannot cut (the placeholder in it) is
// built the long way.
func TestLinkForIsTheEncodedQuery(t *testing.T) {
	tok, _, err := token.New(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{
		"https://app.example/reset-password",
		"https://app.example/reset-password?",
		"https://app.example/reset-password?a=1&z=2",
		"https://app.example/reset-password?token=old&token=older&b=%20x",
		"https://app.example/r?tokens=1&tok=2&Token=3#frag",
		"https://app.example:8443/a%2Fb/c?x=%zz;y=1#f%20g",
		"http://localhost:8080/reset?lang=fr",
		"https://app.example/" + linkPlaceholder + "?q=1",
		"https://app.example/r?q=" + linkPlaceholder,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		s := &Service{resetURL: u, link: cutLink(u)}
		if want := !strings.Contains(raw, linkPlaceholder); s.link.ok != want {
			t.Errorf("%s: cut %v, want %v", raw, s.link.ok, want)
		}
		for _, tk := range []string{tok, "a b&c=d/é", ""} {
			if got, want := s.linkFor(tk), linkTo(u, tk); got != want {
				t.Errorf("%s, token %q:\n got %s\nwant %s", raw, tk, got, want)
			}
		}
	}
}
