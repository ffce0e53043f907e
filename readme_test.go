package passreset_test

// The documentation is checked against the code: every Go block of the
// README that claims to be a complete program builds against this module,
// every relative link of the Markdown documents leads to a file that
// exists (and to a heading that exists, when it names one), and the README
// stays short.

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// maxReadmeBytes bounds README.md below 25 KB, in either sense of KB:
// the long forms live in docs/.
const maxReadmeBytes = 25_000

// docs returns the Markdown documents whose links are checked: README.md,
// CHANGELOG.md and docs/*.md, as paths from the module's root (the folder
// of this package).
func docs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md", "CHANGELOG.md"}, files...)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// block is a fenced code block of a Markdown document.
type block struct {
	lang string
	line int // of the opening fence, from 1
	text string
}

// fenced splits a Markdown document into its fenced code blocks and the
// prose around them, in which the code blocks are replaced by empty lines
// (so that line numbers still hold).
func fenced(doc string) (blocks []block, prose string) {
	var out strings.Builder
	var cur *block
	var body strings.Builder
	for i, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: i + 1}
			body.Reset()
		case cur != nil && trimmed == "```":
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		default:
			out.WriteString(line)
		}
		out.WriteByte('\n')
	}
	return blocks, out.String()
}

// TestReadmeProgramsBuild builds each Go block of README.md that begins
// with "package main", alone, in a temporary folder inside the module, so
// that it compiles against this very code; and checks it is gofmt'ed.
func TestReadmeProgramsBuild(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH: the README's programs are not built")
	}
	blocks, _ := fenced(read(t, "README.md"))
	n := 0
	for _, b := range blocks {
		if b.lang != "go" || !strings.HasPrefix(strings.TrimSpace(b.text), "package main") {
			continue
		}
		n++
		t.Run(fmt.Sprintf("line%d", b.line), func(t *testing.T) {
			if formatted, err := format.Source([]byte(b.text)); err != nil {
				t.Fatalf("README.md:%d: %v", b.line, err)
			} else if !bytes.Equal(formatted, []byte(b.text)) {
				t.Errorf("README.md:%d: the program is not gofmt'ed; gofmt writes:\n%s", b.line, formatted)
			}
			// A folder whose name begins with "_" is part of the module,
			// so the program builds against this code, but ./... skips it.
			dir, err := os.MkdirTemp(".", "_readme-")
			if err != nil { // a read-only copy, such as the module cache's
				t.Skipf("the README's programs are not built: no folder can be made in the module (%v)", err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(b.text), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(goTool, "build", "-o", os.DevNull, "./"+filepath.ToSlash(dir))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("README.md:%d: the program does not build: %v\n%s", b.line, err, out)
			}
		})
	}
	if n == 0 {
		t.Fatal("README.md has no Go block that begins with \"package main\"")
	}
}

var (
	// mdLink matches a Markdown link or image: [text](target "title").
	mdLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// htmlLink matches the target of an HTML link or image.
	htmlLink = regexp.MustCompile(`(?:href|src)="([^"]+)"`)
	// scheme matches an absolute URL's scheme, or mailto:.
	scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	// codeSpan matches inline code, whose brackets are not links.
	codeSpan = regexp.MustCompile("`[^`\n]*`")
)

// TestDocLinks checks every relative link of README.md, CHANGELOG.md and
// docs/*.md: the file or folder it names exists in the module, and a
// #fragment into a Markdown file names one of its headings, as GitHub
// makes their anchors.
func TestDocLinks(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		a := headingAnchors(read(t, path))
		anchors[path] = a
		return a
	}
	for _, doc := range docs(t) {
		_, prose := fenced(read(t, doc))
		for i, line := range strings.Split(prose, "\n") {
			line = codeSpan.ReplaceAllString(line, "")
			var targets []string
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				targets = append(targets, m[1])
			}
			for _, m := range htmlLink.FindAllStringSubmatch(line, -1) {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if scheme.MatchString(target) {
					continue
				}
				where := fmt.Sprintf("%s:%d: link %q", doc, i+1, target)
				path, frag, _ := strings.Cut(target, "#")
				file := doc
				if path != "" {
					file = filepath.Join(filepath.Dir(doc), filepath.FromSlash(path))
					abs, err := filepath.Abs(file)
					if err != nil {
						t.Fatal(err)
					}
					if rel, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(rel, "..") {
						t.Errorf("%s: leads out of the module", where)
						continue
					}
					if _, err := os.Stat(file); err != nil {
						t.Errorf("%s: no such file", where)
						continue
					}
				}
				if frag != "" && strings.HasSuffix(file, ".md") && !anchorsOf(file)[frag] {
					t.Errorf("%s: %s has no heading with the anchor #%s", where, file, frag)
				}
			}
		}
	}
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown document: the heading's text in lower case, without
// punctuation, spaces made hyphens, and -1, -2, ... after repeats.
func headingAnchors(doc string) map[string]bool {
	_, prose := fenced(doc)
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range strings.Split(prose, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimLeft(line, "#")
		if len(text) == len(line) || !strings.HasPrefix(text, " ") {
			continue // not a heading: "#" without a space after it
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(text), "#"))) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			seen[a]++
			a = fmt.Sprintf("%s-%d", a, n)
		} else {
			seen[a] = 1
		}
		anchors[a] = true
	}
	return anchors
}

// TestReadmeSize keeps README.md short, as its readers need it: the long
// forms belong in docs/.
func TestReadmeSize(t *testing.T) {
	if n := len(read(t, "README.md")); n > maxReadmeBytes {
		t.Errorf("README.md is %d bytes, over %d: move the long forms to docs/", n, maxReadmeBytes)
	}
}
