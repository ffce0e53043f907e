// Package testpg gives a test a Postgres schema of its own on the server
// that PostgresEnv names, and skips the test without one.
package testpg

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/passreset/passreset/internal/testfix"
)

// PostgresEnv names the variable that points tests at a Postgres server.
const PostgresEnv = "PASSRESET_POSTGRES_URL"

// PostgresURL returns the server's URL, or skips tb, saying how to run it,
// when PostgresEnv is not set.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	return testfix.Server(tb, PostgresEnv, "a Postgres URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

// SchemaName returns a new random schema name that starts with prefix.
func SchemaName(prefix string) string { return testfix.Name(prefix) }

// DropSchemaOnCleanup drops the schema, whoever creates it, when tb ends,
// so that runs never see each other's rows. Register it before the pools
// that use the schema, so that they are closed first.
func DropSchemaOnCleanup(tb testing.TB, schema string) {
	tb.Helper()
	base := PostgresURL(tb)
	testfix.DropOnCleanup(tb, "schema "+schema, func(ctx context.Context) error {
		return exec(ctx, base, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
}

// FreshSchema creates an empty schema of the test's own, named with
// prefix, dropped when tb ends. It returns the schema and the server's URL
// with search_path set to it, whose connections find their tables there.
// It skips tb without a server (PostgresURL).
func FreshSchema(tb testing.TB, prefix string) (schema, schemaURL string) {
	tb.Helper()
	base := PostgresURL(tb)
	schema = SchemaName(prefix)
	DropSchemaOnCleanup(tb, schema)
	if err := exec(context.Background(), base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return schema, u.String()
}

// exec runs one statement on a connection of its own to server, a
// Postgres URL.
func exec(ctx context.Context, server, sql string) error {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
