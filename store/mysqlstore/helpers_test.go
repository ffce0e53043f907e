package mysqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix/testmysql"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/mysqlstore"
)

// testURL returns the server's DSN, or skips the test when there is none.
// The user it names must be able to create and drop databases: each test
// runs in a fresh one.
func testURL(t testing.TB) string { return testmysql.DSN(t) }

// dbName returns a new random database name, unique to the caller.
func dbName() string { return testmysql.Name("passreset_test_") }

// freshDB creates an empty database of its own for the test, dropped when
// the test ends, and returns the configuration of a connection to it.
// Register it before the pools that use it, so that they are closed first.
func freshDB(t testing.TB) *mysql.Config { return testmysql.FreshDB(t, "passreset_test_") }

// newDB returns a pool of its own over cfg, closed when the test ends.
func newDB(t testing.TB, cfg *mysql.Config) *sql.DB {
	t.Helper()
	db, err := mysqlstore.OpenDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(16)
	t.Cleanup(func() { db.Close() })
	return db
}

// newStore returns a migrated, empty Store over a fresh database of its
// own.
func newStore(t testing.TB) *mysqlstore.Store {
	t.Helper()
	return newStoreIn(t, freshDB(t))
}

// newStoreIn returns a migrated Store with its own pool over the database
// of cfg: a second instance of an app.
func newStoreIn(t testing.TB, cfg *mysql.Config, opts ...mysqlstore.Option) *mysqlstore.Store {
	t.Helper()
	st, err := mysqlstore.New(t.Context(), newDB(t, cfg), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

// exec runs a statement on the database of st, a *mysqlstore.Store, as the
// host's own code would.
func exec(t *testing.T, st store.Store, query string, args ...any) {
	t.Helper()
	_, err := st.(*mysqlstore.Store).DB().ExecContext(t.Context(), query, args...)
	require.NoError(t, err)
}
