package testpg_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/passreset/passreset/internal/testfix/testpg"
)

// TestFreshSchema: the schema exists and the URL's connections work in
// it, and it is gone after the test.
func TestFreshSchema(t *testing.T) {
	var schema string
	t.Run("fresh", func(t *testing.T) {
		var u string
		schema, u = testpg.FreshSchema(t, "testfix_")
		conn, err := pgx.Connect(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var current string
		if err := conn.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&current); err != nil {
			t.Fatal(err)
		}
		if current != schema {
			t.Fatalf("current_schema() = %q, want %q", current, schema)
		}
	})
	if schema == "" {
		return // skipped: no server
	}
	conn, err := pgx.Connect(t.Context(), testpg.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("schema %s left behind", schema)
	}
}
