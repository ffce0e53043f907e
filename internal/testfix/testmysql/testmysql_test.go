package testmysql_test

import (
	"context"
	"testing"

	"github.com/passreset/passreset/internal/testfix/testmysql"
	"github.com/passreset/passreset/store/mysqlstore"
)

// TestFreshDB: the database exists, its URL opens it, and it is gone
// after the test.
func TestFreshDB(t *testing.T) {
	var name string
	t.Run("fresh", func(t *testing.T) {
		cfg := testmysql.FreshDB(t, "testfix_")
		name = cfg.DBName
		parsed, err := mysqlstore.ParseDSN(testmysql.URL(cfg))
		if err != nil {
			t.Fatal(err)
		}
		db, err := mysqlstore.OpenDB(parsed)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var current string
		if err := db.QueryRowContext(t.Context(), `SELECT DATABASE()`).Scan(&current); err != nil {
			t.Fatal(err)
		}
		if current != name {
			t.Fatalf("DATABASE() = %q, want %q", current, name)
		}
	})
	if name == "" {
		return // skipped: no server
	}
	cfg, err := mysqlstore.ParseDSN(testmysql.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	db, err := mysqlstore.OpenDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s left behind", name)
	}
}
