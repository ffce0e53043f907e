package deploy_test

import (
	"net/url"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/examples/internal/deploy"
	"github.com/passreset/passreset/internal/testfix/testmysql"
	"github.com/passreset/passreset/internal/testfix/testpg"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
)

func TestShared(t *testing.T) {
	for db, want := range map[string]bool{
		"postgres://h/db": true, "postgresql://h/db": true, "PostgreSQL://h/db": true, "mysql://h/db": true, "MySQL://h/db": true,
		"app.db": false, "/var/lib/app/postgres.db": false, "file:app.db": false, "": false,
	} {
		require.Equal(t, want, deploy.Shared(db), db)
	}
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := deploy.Open(t.Context(), path)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, path, db.Name)
	require.False(t, deploy.Shared(path))
	_, err = db.UserByID(t.Context(), "user_1")
	require.Error(t, err, "migrated: the lookup runs, and finds nobody")
	requireOptionalParts(t, db)
}

func TestOpenNeverQuotesTheURL(t *testing.T) {
	// Nothing listens on port 1: the error comes from connecting.
	for _, url := range []string{
		"postgres://app:s3cret-pw@127.0.0.1:1/db?connect_timeout=1",
		"POSTGRESQL://app:s3cret-pw@127.0.0.1:1/db?connect_timeout=1",
		"postgres://app:s3cret-pw@[bad",
		"mysql://app:s3cret-pw@127.0.0.1:1/db?timeout=1s",
		"MYSQL://app:s3cret-pw@127.0.0.1:1/db?timeout=1s",
		"mysql://app:s3cret-pw@127.0.0.1:1",
		"mysql://app:s3cret-pw%zz@h/db",
	} {
		_, err := deploy.Open(t.Context(), url)
		require.Error(t, err, url)
		require.NotContains(t, err.Error(), "s3cret-pw")
	}
}

// TestOpenMySQL: a mysql:// URL opens a migrated mysqlstore.
func TestOpenMySQL(t *testing.T) {
	u, err := url.Parse(testmysql.URL(testmysql.FreshDB(t, "passreset_example_")))
	require.NoError(t, err)
	db, err := deploy.Open(t.Context(), u.String())
	require.NoError(t, err)
	defer db.Close()
	require.True(t, deploy.Shared(u.String()))
	requireOptionalParts(t, db)
	require.Contains(t, db.Name, u.Host)
	require.Contains(t, db.Name, u.Path)
	_, err = db.UserByID(t.Context(), "user_1")
	require.ErrorIs(t, err, store.ErrUserNotFound, "migrated: the lookup runs, and finds nobody")
}

func TestOpenPostgres(t *testing.T) {
	ctx := t.Context()
	schema, schemaURL := testpg.FreshSchema(t, "deploy_test_")
	pool, err := pgxpool.New(ctx, schemaURL)
	require.NoError(t, err)
	defer pool.Close()

	u, err := url.Parse(schemaURL)
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), "pw-not-needed")
	db, err := deploy.Open(ctx, u.String())
	require.NoError(t, err)
	defer db.Close()
	require.True(t, deploy.Shared(u.String()))
	requireOptionalParts(t, db)
	require.NotContains(t, db.Name, "pw-not-needed")
	require.Contains(t, db.Name, u.Host)

	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'passreset_replays'", schema).Scan(&n))
	require.Equal(t, 1, n, "migrated, in the URL's search_path")
}

// requireOptionalParts: the DB offers every optional part of a Store that
// reset.Service and session.Manager look for, as the store it opened does.
func requireOptionalParts(t *testing.T, db *deploy.DB) {
	t.Helper()
	var st any = db
	_, ok := st.(store.SignInRecorder)
	require.True(t, ok, "store.SignInRecorder: the Service would not record sign-ins")
	_, ok = st.(store.UserCreator)
	require.True(t, ok, "store.UserCreator")
	_, ok = st.(session.Store)
	require.True(t, ok, "session.Store")
}
