package mysqlstore_test

import (
	"crypto/rand"
	"database/sql"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the driver of TestNewOverPlainPool
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/mysqlstore"
	"github.com/passreset/passreset/token"
)

// TestMigrateConcurrent: instances starting at once over one empty
// database each apply every migration exactly once (the named lock), and
// all of them end up with a working Store.
func TestMigrateConcurrent(t *testing.T) {
	cfg := freshDB(t)
	const n = 6
	stores := make([]*mysqlstore.Store, n)
	for i := range stores {
		st, err := mysqlstore.New(t.Context(), newDB(t, cfg))
		require.NoError(t, err)
		stores[i] = st
	}
	sqltest.MigrateAtOnce(t, stores...)
	var applied, distinct int
	require.NoError(t, stores[0].DB().QueryRowContext(t.Context(),
		`SELECT COUNT(*), COUNT(DISTINCT name) FROM passreset_migrations`).Scan(&applied, &distinct))
	require.Equal(t, distinct, applied, "a migration recorded twice")
	require.Equal(t, 3, applied, "the state, the retired session tokens and the users migrations")
	redeemOnce(t, stores[n-1])
}

// TestMigrateAgainChangesNothing: a second Migrate over a migrated
// database keeps its rows.
func TestMigrateAgainChangesNothing(t *testing.T) {
	st := newStore(t)
	id := redeemOnce(t, st)
	require.NoError(t, st.Migrate(t.Context()))
	r, err := st.ResetByID(t.Context(), id)
	require.NoError(t, err)
	require.False(t, r.UsedAt.IsZero())
}

// redeemOnce creates a user and a reset, redeems it, and returns the
// reset's id.
func redeemOnce(t *testing.T, st *mysqlstore.Store) string {
	t.Helper()
	ctx := t.Context()
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	u := store.User{ID: "user_" + dbName(), Email: dbName() + "@example.com", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, st.CreateUser(ctx, u, "old"))
	_, h, err := token.New(rand.Reader)
	require.NoError(t, err)
	r := store.Reset{ID: "password_reset_" + dbName(), UserID: u.ID, Email: u.Email, TokenHash: h,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	require.NoError(t, st.CreateReset(ctx, r, nil))
	got, err := st.RedeemReset(ctx, store.Redemption{ResetID: r.ID, UserID: u.ID, PasswordHash: "new", Now: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, u.ID, got.User.ID)
	_, err = st.RedeemReset(ctx, store.Redemption{ResetID: r.ID, UserID: u.ID, PasswordHash: "newer", Now: now.Add(time.Minute)})
	require.ErrorIs(t, err, store.ErrInvalidToken)
	stored, err := st.PasswordHash(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, "new", stored)
	return r.ID
}

// TestOpen: Open takes the driver's DSN and a mysql:// URL alike, and its
// connections run their transactions at READ COMMITTED.
func TestOpen(t *testing.T) {
	cfg := freshDB(t)
	url := "mysql://" + cfg.User
	if cfg.Passwd != "" {
		url += ":" + cfg.Passwd
	}
	url += "@" + cfg.Addr + "/" + cfg.DBName
	for _, dsn := range []string{cfg.FormatDSN(), url} {
		st, err := mysqlstore.Open(t.Context(), dsn)
		require.NoError(t, err)
		require.NoError(t, st.Migrate(t.Context()))
		var level string
		require.NoError(t, st.DB().QueryRowContext(t.Context(), `SELECT @@tx_isolation`).Scan(&level))
		require.Equal(t, "READ-COMMITTED", level)
		redeemOnce(t, st)
		require.NoError(t, st.Close())
	}
}

// TestNewOverPlainPool: over a pool the app opened with the driver alone
// (REPEATABLE READ by default, no interpolation), the Store sets READ
// COMMITTED on each transaction, and works.
func TestNewOverPlainPool(t *testing.T) {
	cfg := freshDB(t)
	plain := cfg.Clone()
	plain.InterpolateParams = false
	db, err := sql.Open("mysql", plain.FormatDSN())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	var level string
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT @@tx_isolation`).Scan(&level))
	require.NotEqual(t, "READ-COMMITTED", level, "the server's default is not what the test needs to prove anything")
	st, err := mysqlstore.New(t.Context(), db)
	require.NoError(t, err)
	require.NoError(t, st.Migrate(t.Context()))
	redeemOnce(t, st)
}

func TestParseDSN(t *testing.T) {
	for _, c := range []struct{ in, user, pass, addr, db string }{
		{"mysql://root@127.0.0.1:3306/test", "root", "", "127.0.0.1:3306", "test"},
		{"mysql://app:s%40cret@db.internal:3307/app_db?timeout=5s", "app", "s@cret", "db.internal:3307", "app_db"},
		{"root@tcp(127.0.0.1:3306)/test", "root", "", "127.0.0.1:3306", "test"},
	} {
		cfg, err := mysqlstore.ParseDSN(c.in)
		require.NoError(t, err, c.in)
		require.Equal(t, []string{c.user, c.pass, c.addr, c.db}, []string{cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName}, c.in)
		require.True(t, cfg.InterpolateParams)
	}
	cfg, err := mysqlstore.ParseDSN("mysql://app@h:1/d?timeout=5s")
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, cfg.Timeout)
	for _, bad := range []string{"mysql://app:pw@host", "mysql:///db", "mysql://app:pw%zz@h/db", "app:topsecret@tcp(h:1/db"} {
		_, err := mysqlstore.ParseDSN(bad)
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), "topsecret")
		require.NotContains(t, err.Error(), "pw")
	}
}

// TestRefusesMyISAM: Migrate fails when a passreset table is not InnoDB
// (no transactions: a redemption could be half kept).
func TestRefusesMyISAM(t *testing.T) {
	cfg := freshDB(t)
	st := newStoreIn(t, cfg)
	_, err := st.DB().ExecContext(t.Context(), `ALTER TABLE passreset_replays ENGINE=MyISAM`)
	require.NoError(t, err)
	err = st.Migrate(t.Context())
	require.ErrorContains(t, err, "passreset_replays is MyISAM")
}

// TestNewOverOpenDB: a pool OpenDB made is READ COMMITTED on every
// connection, so the Store given it sets no level per transaction; Migrate
// checks the connections' level.
func TestNewOverOpenDB(t *testing.T) {
	cfg := freshDB(t)
	db := newDB(t, cfg)
	st, err := mysqlstore.New(t.Context(), db)
	require.NoError(t, err)
	require.NoError(t, st.Migrate(t.Context()))
	require.False(t, mysqlstore.SetsLevelPerTx(st))
	redeemOnce(t, st)

	plain, err := sql.Open("mysql", cfg.FormatDSN())
	require.NoError(t, err)
	t.Cleanup(func() { plain.Close() })
	st, err = mysqlstore.New(t.Context(), plain)
	require.NoError(t, err)
	require.True(t, mysqlstore.SetsLevelPerTx(st))
}
