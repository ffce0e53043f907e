package pgstore_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/pgstore"
	"github.com/passreset/passreset/token"
)

var base = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

func newID(prefix string) string { return prefix + ulid.Make().String() }

func seedUser(t *testing.T, st *pgstore.Store) reset.User {
	t.Helper()
	u := reset.User{
		ID:        newID("user_"),
		Email:     "marcelina." + strings.ToLower(ulid.Make().String()) + "@example.com",
		CreatedAt: base.Add(-time.Hour),
		UpdatedAt: base.Add(-time.Hour),
	}
	require.NoError(t, st.CreateUser(t.Context(), u, "$2a$10$seeded"))
	return u
}

func newReset(u reset.User, tok string) store.Reset {
	return store.Reset{
		ID: newID("password_reset_"), UserID: u.ID, Email: u.Email,
		TokenHash: token.Sum(tok), CreatedAt: base, ExpiresAt: base.Add(time.Hour),
	}
}

// appliedMigrations returns how many times each migration is recorded in
// table.
func appliedMigrations(t *testing.T, st *pgstore.Store, table string) map[string]int {
	t.Helper()
	rows, err := st.Pool().Query(t.Context(), "SELECT name, count(*) FROM "+table+" GROUP BY name")
	require.NoError(t, err)
	m := map[string]int{}
	var (
		name string
		n    int
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		m[name] = n
		return nil
	})
	require.NoError(t, err)
	return m
}

// ownMigrations is what a Store without WithUsers records.
func ownMigrations() map[string]int {
	m := stateMigrations()
	m["migrations/users/0001_users.sql"] = 1
	m["migrations/users/0002_email_fold.sql"] = 1
	return m
}

// stateMigrations are the migrations of passreset's own state, which a
// Store over a host's users table applies alone, each recorded once.
func stateMigrations() map[string]int {
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("no migrations: %v", err))
	}
	m := make(map[string]int, len(files))
	for _, f := range files {
		m[f] = 1
	}
	return m
}

// TestMigrateConcurrent starts several instances at once, each with its own
// pool, on one fresh schema: all succeed and every migration is applied once.
func TestMigrateConcurrent(t *testing.T) {
	testURL(t)
	const instances = 4
	t.Run("SearchPath", func(t *testing.T) {
		schema := freshSchema(t)
		stores := make([]*pgstore.Store, instances)
		for i := range stores {
			st, err := pgstore.New(t.Context(), newPool(t, schema))
			require.NoError(t, err)
			stores[i] = st
		}
		sqltest.MigrateAtOnce(t, stores...)
		assert.Equal(t, ownMigrations(), appliedMigrations(t, stores[0], "passreset_migrations"))
		seedUser(t, stores[1]) // the tables are there
	})

	t.Run("WithSchema", func(t *testing.T) {
		// The schema does not exist yet: Migrate creates it, once.
		schema := schemaName()
		dropSchemaOnCleanup(t, schema)
		stores := make([]*pgstore.Store, instances)
		for i := range stores {
			st, err := pgstore.New(t.Context(), newPool(t, ""), pgstore.WithSchema(schema))
			require.NoError(t, err)
			stores[i] = st
		}
		sqltest.MigrateAtOnce(t, stores...)
		table := pgx.Identifier{schema, "passreset_migrations"}.Sanitize()
		assert.Equal(t, ownMigrations(), appliedMigrations(t, stores[0], table))
		seedUser(t, stores[1])
	})
}

func TestMigrateAgainChangesNothing(t *testing.T) {
	st := newStore(t)
	u := seedUser(t, st)
	require.NoError(t, st.Migrate(t.Context()))
	require.NoError(t, st.Migrate(t.Context()))
	assert.Equal(t, ownMigrations(), appliedMigrations(t, st, "passreset_migrations"))
	_, err := st.UserByID(t.Context(), u.ID)
	require.NoError(t, err)
}

// TestWithSchemaIgnoresSearchPath checks that a Store with WithSchema finds
// its own tables whatever the search_path holds, even tables of the same
// names.
func TestWithSchemaIgnoresSearchPath(t *testing.T) {
	decoy := newStore(t) // migrated tables in another schema, on the search_path below
	var decoySchema string
	require.NoError(t, decoy.Pool().QueryRow(t.Context(), "SELECT current_schema()").Scan(&decoySchema))

	schema := schemaName()
	dropSchemaOnCleanup(t, schema)
	st, err := pgstore.New(t.Context(), newPool(t, decoySchema), pgstore.WithSchema(schema))
	require.NoError(t, err)
	require.NoError(t, st.Migrate(t.Context()))

	u := seedUser(t, st)
	_, err = decoy.UserByID(t.Context(), u.ID)
	require.ErrorIs(t, err, reset.ErrUserNotFound, "the user landed in the search_path's schema")
	_, err = st.UserByID(t.Context(), u.ID)
	require.NoError(t, err)
}

// TestNoPlaintextToken stores a reset and a session for known tokens and
// reads every row of every table as text: neither token appears anywhere.
func TestNoPlaintextToken(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	u := seedUser(t, st)
	resetToken, sessionToken := rand.Text(), rand.Text()

	r := newReset(u, resetToken)
	job := store.Job{ID: newID("job_"), Kind: store.JobEmail, UserID: u.ID, Payload: []byte("sealed"), RunAt: base, CreatedAt: base}
	require.NoError(t, st.CreateReset(ctx, r, []store.Job{job}))
	sess := session.Session{ID: newID("session_"), UserID: u.ID, CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(time.Hour)}
	require.NoError(t, st.CreateSession(ctx, sess, token.Hash(token.Sum(sessionToken))))
	_, _, err := st.AllowRequest(ctx, "keyed-hash", base, time.Hour, 5)
	require.NoError(t, err)

	rows, err := st.Pool().Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Subset(t, tables, []string{"passreset_users", "passreset_resets", "passreset_sessions", "passreset_jobs", "passreset_rate_limits"})

	seen := 0
	for _, table := range tables {
		rows, err := st.Pool().Query(ctx, "SELECT t::text FROM "+pgx.Identifier{table}.Sanitize()+" t")
		require.NoError(t, err)
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		for _, text := range texts {
			seen++
			for _, secret := range []string{resetToken, sessionToken, strings.ToLower(resetToken), strings.ToLower(sessionToken)} {
				require.NotContains(t, text, secret, "table %s holds a plaintext token", table)
			}
		}
	}
	require.GreaterOrEqual(t, seen, 5)

	// The hash is what is stored.
	var stored []byte
	require.NoError(t, st.Pool().QueryRow(ctx, "SELECT token_hash FROM passreset_resets WHERE id = $1", r.ID).Scan(&stored))
	require.Equal(t, r.TokenHash[:], stored)
}

// TestErrorTextHoldsNoSecret makes the database refuse a token hash and a
// user and checks that the error text names neither the hash nor the
// password hash.
func TestErrorTextHoldsNoSecret(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	u := seedUser(t, st)
	r := newReset(u, rand.Text())
	require.NoError(t, st.CreateReset(ctx, r, nil))

	dup := newReset(u, "")
	dup.TokenHash = r.TokenHash
	err := st.CreateReset(ctx, dup, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), hex.EncodeToString(r.TokenHash[:]))
	assert.Contains(t, err.Error(), "pgstore: create reset")

	const pwHash = "$2a$10$secret.hash.never.in.errors"
	err = st.CreateUser(ctx, reset.User{ID: u.ID, Email: "other@example.com", CreatedAt: base, UpdatedAt: base}, pwHash)
	require.Error(t, err, "a duplicate id")
	require.NotErrorIs(t, err, store.ErrEmailTaken, "the id, not the email, is taken")
	assert.NotContains(t, err.Error(), pwHash)
}

// TestTimes checks that times are kept to the millisecond and come back in
// UTC, whatever location they were given in.
func TestTimes(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	warsaw := time.FixedZone("CET", 3600)
	created := time.Date(2026, 1, 15, 13, 0, 0, 123_456_789, warsaw)
	u := reset.User{ID: newID("user_"), Email: "times@example.com", CreatedAt: created, UpdatedAt: created, LastSignInAt: created}
	require.NoError(t, st.CreateUser(ctx, u, ""))

	got, err := st.UserByID(ctx, u.ID)
	require.NoError(t, err)
	want := time.Date(2026, 1, 15, 12, 0, 0, 123_000_000, time.UTC)
	for _, tm := range []time.Time{got.CreatedAt, got.UpdatedAt, got.LastSignInAt} {
		assert.Equal(t, want, tm) // same instant, same location, no monotonic reading
	}
}

// TestHotPathsUseIndexes checks that the lookups the contract calls hot
// paths have an index to use (sequential scans are switched off so that
// the plan shows whether one exists, whatever the table sizes).
func TestHotPathsUseIndexes(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	tx, err := st.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "SET LOCAL enable_seqscan = off")
	require.NoError(t, err)

	for _, c := range []struct{ query, index string }{
		{`SELECT id FROM passreset_users WHERE email_key = 'a@example.com'`, "passreset_users_email_key"},
		{`SELECT id FROM passreset_resets WHERE token_hash = '\x00'`, "passreset_resets_token_hash_key"},
		{`SELECT id FROM passreset_sessions WHERE token_hash = '\x00'`, "passreset_sessions_token_hash_key"},
		{`SELECT id FROM passreset_sessions WHERE user_id = 'u' ORDER BY id LIMIT 10`, "passreset_sessions_user_id_idx"},
		{`SELECT id FROM passreset_resets WHERE user_id = 'u' AND used_at IS NULL`, "passreset_resets_user_id_idx"},
		{`SELECT count(*) FROM passreset_rate_limits WHERE key = 'k' AND at > now()`, "passreset_rate_limits_key_at_idx"},
		{`SELECT id FROM passreset_jobs WHERE finished_at IS NULL AND failed_at IS NULL AND run_at <= now() ORDER BY run_at LIMIT 10`, "passreset_jobs_due_idx"},
	} {
		rows, err := tx.Query(ctx, "EXPLAIN "+c.query)
		require.NoError(t, err)
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		assert.Contains(t, strings.Join(plan, "\n"), c.index, c.query)
	}
}

func TestOpen(t *testing.T) {
	url := testURL(t)
	schema := schemaName()
	dropSchemaOnCleanup(t, schema)
	st, err := pgstore.Open(t.Context(), url, pgstore.WithSchema(schema))
	require.NoError(t, err)
	require.NoError(t, st.Migrate(t.Context()))
	seedUser(t, st)
	st.Close()
	require.Error(t, st.Pool().Ping(t.Context()), "Close left the pool Open made open")

	_, err = pgstore.Open(t.Context(), "postgres://user:hunter2-secret@127.0.0.1:notaport/db")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2-secret")
}

func TestCloseLeavesCallersPool(t *testing.T) {
	pool := newPool(t, freshSchema(t))
	st, err := pgstore.New(t.Context(), pool)
	require.NoError(t, err)
	st.Close()
	require.NoError(t, pool.Ping(t.Context()))

	_, err = pgstore.New(t.Context(), nil)
	require.Error(t, err)
}
