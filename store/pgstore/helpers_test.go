package pgstore_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix/testpg"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/pgstore"
)

// testURL returns the server's URL, or skips the test when there is none.
func testURL(t testing.TB) string { return testpg.PostgresURL(t) }

// schemaName returns a new random schema name, unique to the caller.
func schemaName() string { return testpg.SchemaName("passreset_test_") }

// dropSchemaOnCleanup drops the schema, whoever created it, when the test
// ends (testpg.DropSchemaOnCleanup).
func dropSchemaOnCleanup(t testing.TB, schema string) { testpg.DropSchemaOnCleanup(t, schema) }

// freshSchema creates an empty schema of its own for the test.
func freshSchema(t testing.TB) string {
	schema, _ := testpg.FreshSchema(t, "passreset_test_")
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
	return migratedStore(t, newPool(t, schema))
}

// migratedStore returns a Store over pool made with opts, migrated.
func migratedStore(t testing.TB, pool *pgxpool.Pool, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	st, err := pgstore.New(t.Context(), pool, opts...)
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
	return migratedStore(t, newPool(t, ""), pgstore.WithSchema(schema))
}

// exec runs a statement on the pool of st, a *pgstore.Store, as the host's
// own code would.
func exec(t *testing.T, st store.Store, query string, args ...any) {
	t.Helper()
	_, err := st.(*pgstore.Store).Pool().Exec(t.Context(), query, args...)
	require.NoError(t, err)
}
