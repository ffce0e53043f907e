package testmysql_test

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix/testmysql"
	"github.com/passreset/passreset/store/mysqlstore"
)

// open opens a pool on the server or database that dsn names, closed when
// t ends.
func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	cfg, err := mysqlstore.ParseDSN(dsn)
	require.NoError(t, err)
	db, err := mysqlstore.OpenDB(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestFreshDB: the database exists, its URL opens it, and it is gone
// after the test.
func TestFreshDB(t *testing.T) {
	var name string
	t.Run("fresh", func(t *testing.T) {
		cfg := testmysql.FreshDB(t, "testfix_")
		name = cfg.DBName
		var current string
		require.NoError(t, open(t, testmysql.URL(cfg)).QueryRowContext(t.Context(), `SELECT DATABASE()`).Scan(&current))
		require.Equal(t, name, current)
	})
	if name == "" {
		return // skipped: no server
	}
	var n int
	require.NoError(t, open(t, testmysql.DSN(t)).QueryRowContext(t.Context(),
		`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, name).Scan(&n))
	require.Zero(t, n, "database %s left behind", name)
}
