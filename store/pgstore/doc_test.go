package pgstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocShowsSchema keeps the DDL in the package doc in step with the
// migrations: every line of SQL they run appears in doc.go.
func TestDocShowsSchema(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			line = strings.TrimRight(line, "\n")
			if line == "" || strings.HasPrefix(line, "--") {
				continue
			}
			if !strings.Contains(string(doc), "//\t"+line+"\n") {
				t.Errorf("%s: the package doc lacks %q", f, line)
			}
		}
	}
}
