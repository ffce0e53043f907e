package passreset_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSignInSnippetsResistLoginCSRF reads every Go snippet a reader may copy
// (the Go blocks of README.md and docs/*.md, and the indented code of the
// session and scsreset package docs): none reads a form with r.FormValue,
// which takes credentials from the query string too, where proxies and
// logs keep them; and every snippet that puts a session middleware in
// front of a mux puts http.CrossOriginProtection there as well, so that a
// copied sign-in form refuses a cross-site post (login CSRF: a page
// elsewhere signing the visitor into the attacker's account).
func TestSignInSnippetsResistLoginCSRF(t *testing.T) {
	type snippet struct{ where, text string }
	var snippets []snippet
	for _, path := range append([]string{"README.md"}, mustGlob(t, filepath.Join("docs", "*.md"))...) {
		blocks, _ := fenced(read(t, path))
		for _, b := range blocks {
			if b.lang == "go" {
				snippets = append(snippets, snippet{path + ":" + itoa(b.line), b.text})
			}
		}
	}
	snippets = append(snippets, snippet{"session/example_test.go", read(t, "session/example_test.go")})
	for _, path := range []string{"session/doc.go", "session/http.go", "scsreset/doc.go"} {
		var cur strings.Builder
		flush := func(line int) {
			if cur.Len() > 0 {
				snippets = append(snippets, snippet{path + ":" + itoa(line), cur.String()})
				cur.Reset()
			}
		}
		for i, line := range strings.Split(read(t, path), "\n") {
			if code, ok := strings.CutPrefix(line, "//\t"); ok {
				cur.WriteString(code + "\n")
				continue
			}
			flush(i)
		}
	}
	checked := 0
	for _, s := range snippets {
		if strings.Contains(strings.ReplaceAll(s.text, "PostFormValue(", ""), "FormValue(") {
			t.Errorf("%s: reads a form with FormValue, which takes the query string too; use PostFormValue", s.where)
		}
		if strings.Contains(s.text, "Middleware(") && strings.Contains(s.text, "mux") {
			checked++
			if !strings.Contains(s.text, "CrossOriginProtection") {
				t.Errorf("%s: puts a session middleware before the mux without http.CrossOriginProtection:\n%s", s.where, s.text)
			}
		}
	}
	if checked < 4 {
		t.Errorf("found %d snippets that wire a session middleware; want README's two and the package docs'", checked)
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }
