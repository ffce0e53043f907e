package pgstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocShowsSchema keeps the DDL in the package doc in step with the
// migrations, both ways: every line of SQL they run appears in doc.go, and
// every table or index the doc shows being created is created by one of
// them.
func TestDocShowsSchema(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, pattern := range []string{"migrations/*.sql", "migrations/users/*.sql"} {
		m, err := filepath.Glob(pattern)
		if err != nil || len(m) == 0 {
			t.Fatalf("no migrations %s: %v", pattern, err)
		}
		files = append(files, m...)
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
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
	shown := 0
	for line := range strings.Lines(string(doc)) {
		sql, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "//\t")
		if !ok || !(strings.HasPrefix(sql, "CREATE TABLE ") || strings.HasPrefix(sql, "CREATE INDEX") ||
			strings.HasPrefix(sql, "CREATE UNIQUE INDEX")) {
			continue
		}
		shown++
		if !strings.Contains(all.String(), sql+"\n") {
			t.Errorf("the package doc shows %q, which no migration runs", sql)
		}
	}
	if shown < 13 {
		t.Errorf("the package doc shows %d tables and indexes of the schema; want all 13", shown)
	}
}
