package pgstore_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/pgstore"
	"github.com/passreset/passreset/token"
)

// legacyToken is the token of the reset a legacy database holds.
const legacyToken = "the token of a reset issued before the upgrade"

// buildLegacy makes, in the schema pool finds first, the database a
// pgstore older than the passreset_ prefix left: its schema_migrations
// and its one migration (testdata/legacy_0001_init.sql, as released), with
// a user, an unspent reset, a session, a queued job and a rate-limit
// record in it.
func buildLegacy(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := t.Context()
	ddl, err := os.ReadFile("testdata/legacy_0001_init.sql")
	require.NoError(t, err)
	h := token.Sum(legacyToken)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`CREATE TABLE schema_migrations (
			version    bigint      PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`, nil},
		{string(ddl), nil},
		{`INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init.sql')`, nil},
		{`INSERT INTO users (id, email, email_key, password_hash, created_at, updated_at)
			VALUES ('user_old', 'Old@Example.com', 'old@example.com', '$2a$04$old', $1, $1)`, []any{base}},
		{`INSERT INTO password_resets (id, user_id, email, token_hash, created_at, expires_at)
			VALUES ('password_reset_old', 'user_old', 'old@example.com', $1, $2, $3)`, []any{h[:], base, base.Add(time.Hour)}},
		{`INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at)
			VALUES ('session_old', 'user_old', $1, $2, $2, $3)`, []any{make([]byte, 32), base, base.Add(24 * time.Hour)}},
		{`INSERT INTO jobs (id, kind, user_id, payload, run_at, created_at)
			VALUES ('job_old', 'email', 'user_old', 'sealed', $1, $1)`, []any{base}},
		{`INSERT INTO rate_limits (key, at) VALUES ('keyed-hash', $1)`, []any{base}},
	} {
		_, err := pool.Exec(ctx, q.sql, q.args...)
		require.NoError(t, err, q.sql)
	}
}

// tablesIn returns the names of the tables of schema.
func tablesIn(t *testing.T, pool *pgxpool.Pool, schema string) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = $1 ORDER BY table_name`, schema)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return tables
}

// schemaShape describes passreset's tables in schema as the catalog holds
// them, schema name left out: columns in order, with types, nullability
// and defaults; indexes with their definitions; constraints with theirs.
func schemaShape(t *testing.T, pool *pgxpool.Pool, schema string) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `
		SELECT format('column %s.%s #%s %s %s %s', table_name, column_name, ordinal_position, data_type,
			is_nullable, coalesce(column_default, ''))
		FROM information_schema.columns WHERE table_schema = $1 AND table_name LIKE 'passreset\_%'
			AND table_name <> 'passreset_migrations'
		UNION ALL
		SELECT format('index %s %s', indexname, replace(indexdef, $1 || '.', ''))
		FROM pg_indexes WHERE schemaname = $1 AND tablename LIKE 'passreset\_%' AND tablename <> 'passreset_migrations'
		UNION ALL
		SELECT format('constraint %s.%s %s', c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid))
		FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE n.nspname = $1 AND c.conname NOT LIKE 'passreset\_migrations%'
		ORDER BY 1`, schema)
	require.NoError(t, err)
	shape, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	for i, s := range shape {
		shape[i] = strings.ReplaceAll(s, schema+".", "")
	}
	return shape
}

// TestAdoptLegacyDatabase: a database made by a pgstore older than the
// passreset_ prefix keeps its users, resets, sessions and jobs through
// Migrate, run by several instances at once, and ends with the schema a
// fresh database gets.
func TestAdoptLegacyDatabase(t *testing.T) {
	testURL(t)
	for _, withSchema := range []bool{false, true} {
		name := "SearchPath"
		if withSchema {
			name = "WithSchema"
		}
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			schema := freshSchema(t)
			buildLegacy(t, newPool(t, schema))
			newInstance := func() *pgstore.Store {
				if withSchema {
					st, err := pgstore.New(ctx, newPool(t, ""), pgstore.WithSchema(schema))
					require.NoError(t, err)
					return st
				}
				st, err := pgstore.New(ctx, newPool(t, schema))
				require.NoError(t, err)
				return st
			}
			stores := []*pgstore.Store{newInstance(), newInstance(), newInstance()}
			sqltest.MigrateAtOnce(t, stores...)
			st := stores[0]

			require.Equal(t, []string{"passreset_jobs", "passreset_migrations", "passreset_rate_limits", "passreset_replays",
				"passreset_resets", "passreset_retired_session_tokens", "passreset_sessions", "passreset_users"}, tablesIn(t, st.Pool(), schema),
				"an old table, or schema_migrations, is left")
			require.Equal(t, ownMigrations(), appliedMigrations(t, st, pgx.Identifier{schema, "passreset_migrations"}.Sanitize()))

			fresh := schemaName()
			dropSchemaOnCleanup(t, fresh)
			fst, err := pgstore.New(ctx, newPool(t, ""), pgstore.WithSchema(fresh))
			require.NoError(t, err)
			require.NoError(t, fst.Migrate(ctx))
			require.Equal(t, schemaShape(t, fst.Pool(), fresh), schemaShape(t, st.Pool(), schema),
				"the adopted schema differs from a fresh one")

			u, err := st.UserByEmail(ctx, "old@example.com")
			require.NoError(t, err)
			require.Equal(t, "user_old", u.ID)
			require.Equal(t, "Old@Example.com", u.Email)
			r, err := st.ResetByTokenHash(ctx, token.Sum(legacyToken))
			require.NoError(t, err)
			require.Equal(t, "password_reset_old", r.ID)
			s, err := st.SessionByID(ctx, "session_old")
			require.NoError(t, err)
			require.Equal(t, "", s.Stamp)
			jobs, err := st.ClaimJobs(ctx, base, time.Minute, 10)
			require.NoError(t, err)
			require.Len(t, jobs, 1)
			require.Equal(t, "job_old", jobs[0].ID)
			ok, _, err := st.AllowRequest(ctx, "keyed-hash", base.Add(time.Second), time.Hour, 1)
			require.NoError(t, err)
			require.False(t, ok, "the old rate-limit record was lost")

			got, err := st.RedeemReset(ctx, store.Redemption{ResetID: r.ID, UserID: "user_old", PasswordHash: "$2a$04$new", Now: base.Add(time.Minute)})
			require.NoError(t, err)
			require.True(t, got.User.EmailVerified)
			require.Equal(t, 1, got.SessionsRevoked)

			// Without the old foreign key, an unknown user is still refused.
			ghost := newReset(store.User{ID: "user_ghost", Email: "ghost@example.com"}, "ghost token")
			require.ErrorIs(t, st.CreateReset(ctx, ghost, nil), store.ErrUserNotFound)

			for _, again := range stores {
				require.NoError(t, again.Migrate(ctx), "a second Migrate")
			}
			require.Equal(t, ownMigrations(), appliedMigrations(t, st, pgx.Identifier{schema, "passreset_migrations"}.Sanitize()))
		})
	}
}

// TestAdoptLegacyWithUsers: with WithUsers, an older database's own tables
// are adopted too; its users table becomes passreset_users, unless it is
// the very table WithUsers names, which then keeps its name.
func TestAdoptLegacyWithUsers(t *testing.T) {
	testURL(t)
	t.Run("AnotherTable", func(t *testing.T) {
		ctx := t.Context()
		schema := freshSchema(t)
		pool := newPool(t, schema)
		buildLegacy(t, pool)
		_, err := pool.Exec(ctx, accountsDDL)
		require.NoError(t, err)
		st, err := pgstore.New(ctx, pool, pgstore.WithUsers(sqltest.Accounts()))
		require.NoError(t, err)
		require.NoError(t, st.Migrate(ctx))

		require.Equal(t, []string{"accounts", "passreset_jobs", "passreset_migrations", "passreset_rate_limits", "passreset_replays",
			"passreset_resets", "passreset_retired_session_tokens", "passreset_sessions", "passreset_users"}, tablesIn(t, pool, schema))
		// The adopted users table is recorded as it was made; with
		// WithUsers no later users migration runs on it.
		want := ownMigrations()
		delete(want, "migrations/users/0002_email_fold.sql")
		require.Equal(t, want, appliedMigrations(t, st, "passreset_migrations"))
		id := insertAccount(t, st, "ana@example.com", "h")
		require.NoError(t, st.CreateReset(ctx, newReset(store.User{ID: id, Email: "ana@example.com"}, "t"), nil))
		r, err := st.ResetByID(ctx, "password_reset_old")
		require.NoError(t, err)
		require.Equal(t, "user_old", r.UserID)
	})

	t.Run("TheHostsTable", func(t *testing.T) {
		ctx := t.Context()
		schema := freshSchema(t)
		pool := newPool(t, schema)
		buildLegacy(t, pool)
		st, err := pgstore.New(ctx, pool, pgstore.WithUsers(store.UsersTable{
			Table: "users", ID: "id", Email: "email", PasswordHash: "password_hash",
			Verified: "email_verified", UpdatedAt: "updated_at",
		}))
		require.NoError(t, err)
		require.NoError(t, st.Migrate(ctx))

		require.Equal(t, []string{"passreset_jobs", "passreset_migrations", "passreset_rate_limits", "passreset_replays",
			"passreset_resets", "passreset_retired_session_tokens", "passreset_sessions", "users"}, tablesIn(t, pool, schema))
		require.Equal(t, stateMigrations(), appliedMigrations(t, st, "passreset_migrations"))
		u, err := st.UserByEmail(ctx, "old@example.com")
		require.NoError(t, err)
		require.Equal(t, "user_old", u.ID)
		got, err := st.RedeemReset(ctx, store.Redemption{ResetID: "password_reset_old", UserID: "user_old", PasswordHash: "$2a$04$new", Now: base.Add(time.Minute)})
		require.NoError(t, err)
		require.True(t, got.User.EmailVerified)
		var hash string
		require.NoError(t, pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = 'user_old'`).Scan(&hash))
		require.Equal(t, "$2a$04$new", hash)
	})
}

// TestOtherToolsSchemaMigrations: another tool's schema_migrations, and the
// app's own tables of the names the older pgstore used, are left alone.
func TestOtherToolsSchemaMigrations(t *testing.T) {
	testURL(t)
	for name, setup := range map[string][]string{
		// golang-migrate's table, beside an app's own sessions and users.
		"golang-migrate": {
			`CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`,
			`INSERT INTO schema_migrations VALUES (20240101120000, false)`,
			`CREATE TABLE users (id serial PRIMARY KEY, login text NOT NULL)`,
			`CREATE TABLE sessions (sid text PRIMARY KEY, data bytea NOT NULL)`,
			`INSERT INTO sessions VALUES ('s1', '\x00')`,
		},
		// A migrator of the app's with the same columns, and even a file of
		// the same name, over tables that are not passreset's.
		"look-alike": {
			`CREATE TABLE schema_migrations (version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
			`INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init.sql')`,
			`CREATE TABLE users (id serial PRIMARY KEY, login text NOT NULL)`,
			`CREATE TABLE password_resets (id serial PRIMARY KEY, token text NOT NULL)`,
			`CREATE TABLE sessions (sid text PRIMARY KEY, data bytea NOT NULL)`,
			`INSERT INTO sessions VALUES ('s1', '\x00')`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			schema := freshSchema(t)
			pool := newPool(t, schema)
			for _, q := range setup {
				_, err := pool.Exec(ctx, q)
				require.NoError(t, err, q)
			}
			before := dump(t, pool)
			st, err := pgstore.New(ctx, pool)
			require.NoError(t, err)
			require.NoError(t, st.Migrate(ctx))
			assert.Equal(t, before, dump(t, pool), "the app's tables changed")
			assert.Equal(t, ownMigrations(), appliedMigrations(t, st, "passreset_migrations"))
			u := seedUser(t, st)
			_, err = st.UserByID(ctx, u.ID)
			require.NoError(t, err)
		})
	}
}

// dump returns every row of every table of the schema pool finds first
// that is not passreset's, as text.
func dump(t *testing.T, pool *pgxpool.Pool) map[string][]string {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	rows, err := pool.Query(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name NOT LIKE 'passreset\_%'`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := pool.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t ORDER BY 1`)
		require.NoError(t, err)
		out[table], err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
	}
	return out
}
