package pgstore_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/passreset/passreset/store/pgstore"
)

// envURL names the variable that points the tests at a Postgres server.
const envURL = "PASSRESET_POSTGRES_URL"

// testURL returns the server's URL, or skips the test when there is none.
func testURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		t.Skip("the pgstore tests need a Postgres server; run them with " +
			envURL + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./store/pgstore")
	}
	return url
}

// schemaName returns a new random schema name, unique to the caller.
func schemaName() string {
	return "passreset_test_" + strings.ToLower(rand.Text()[:16])
}

// dropSchemaOnCleanup drops the schema, whoever created it, when the test
// ends, so that runs never see each other's rows. Register it before the
// pools that use the schema, so that they are closed first.
func dropSchemaOnCleanup(t testing.TB, schema string) {
	t.Helper()
	url := testURL(t)
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
}

// freshSchema creates an empty schema of its own for the test.
func freshSchema(t testing.TB) string {
	t.Helper()
	schema := schemaName()
	dropSchemaOnCleanup(t, schema)
	conn, err := pgx.Connect(t.Context(), testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return schema
}

// newPool returns a pool of its own, closed when the test ends, whose
// connections find tables through search_path = schema ("" leaves the
// server's default).
func newPool(t testing.TB, schema string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newStore returns a migrated, empty Store over a fresh schema of its own,
// found through the pool's search_path.
func newStore(t testing.TB) *pgstore.Store {
	t.Helper()
	return newStoreIn(t, freshSchema(t))
}

// newStoreIn returns a migrated Store with its own pool over schema, found
// through the pool's search_path: a second instance of an app.
func newStoreIn(t testing.TB, schema string) *pgstore.Store {
	t.Helper()
	st, err := pgstore.New(t.Context(), newPool(t, schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

// newQualifiedStore returns a migrated, empty Store that names its tables
// qualified with a fresh schema (WithSchema), over a pool that leaves the
// search_path alone. Migrate creates the schema.
func newQualifiedStore(t testing.TB) *pgstore.Store {
	t.Helper()
	schema := schemaName()
	dropSchemaOnCleanup(t, schema)
	st, err := pgstore.New(t.Context(), newPool(t, ""), pgstore.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}
