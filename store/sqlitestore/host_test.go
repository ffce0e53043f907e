package sqlitestore_test

import (
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/sqlitestore"
	"github.com/passreset/passreset/store/storetest"
)

// accountsDDL is a host's own users table, as an app that never heard of
// passreset made it: integer keys, its own column names, a unique index on
// the address as the app stores it.
const accountsDDL = `CREATE TABLE accounts (
    account_id    INTEGER PRIMARY KEY,
    email_address TEXT NOT NULL UNIQUE,
    pw_digest     TEXT,
    is_verified   BOOLEAN NOT NULL DEFAULT 0,
    modified_at   DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    display_name  TEXT NOT NULL DEFAULT ''
)`

// members is another host's table: text keys, no verified flag, no
// updated time, a table name that needs quoting.
const membersDDL = `CREATE TABLE "team members" (
    member_key TEXT PRIMARY KEY,
    mail       TEXT NOT NULL,
    secret     TEXT NOT NULL DEFAULT ''
)`

var members = store.UsersTable{Table: "team members", ID: "member_key", Email: "mail", PasswordHash: "secret"}

// hostDB creates a database file holding the host's table.
func hostDB(t testing.TB, ddl string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(ddl)
	require.NoError(t, err)
	return path
}

// hostStore opens a Store over the host table of a fresh database.
func hostStore(t testing.TB, ddl string, desc store.UsersTable) *sqlitestore.Store {
	t.Helper()
	return openStore(t, hostDB(t, ddl), sqlitestore.WithUsers(desc))
}

// insertAccount adds a row the way the host's own sign-up would.
func insertAccount(t testing.TB, st *sqlitestore.Store, email, hash string) string {
	t.Helper()
	w, _ := sqlitestore.Pools(st)
	var id int64
	require.NoError(t, w.QueryRowContext(t.Context(),
		`INSERT INTO accounts (email_address, pw_digest) VALUES (?, ?) RETURNING account_id`, email, hash).Scan(&id))
	return "user_" + strconv.FormatInt(id, 10)
}

// newService is a reset Service over st with cheap hashing and a fixed
// clock.
func newService(t testing.TB, st store.Store, now func() time.Time) *reset.Service {
	t.Helper()
	svc, err := reset.NewService(reset.Config{
		Store: st, Mailer: new(mailtest.Recorder), ResetURL: "https://app.example/reset-password",
		Hasher: password.Bcrypt{Cost: 4}, Now: now, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return svc
}

func TestConformanceOverHostTable(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T) store.Store { return hostStore(t, accountsDDL, sqltest.Accounts()) },
		AddUser: func(t *testing.T, st store.Store, email, hash string) string {
			return insertAccount(t, st.(*sqlitestore.Store), email, hash)
		},
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			w, _ := sqlitestore.Pools(st.(*sqlitestore.Store))
			_, err := w.ExecContext(t.Context(), `UPDATE accounts SET email_address = ? WHERE account_id = ?`,
				email, strings.TrimPrefix(userID, "user_"))
			require.NoError(t, err)
		},
		DeleteUser: func(t *testing.T, st store.Store, userID string) {
			w, _ := sqlitestore.Pools(st.(*sqlitestore.Store))
			_, err := w.ExecContext(t.Context(), `DELETE FROM accounts WHERE account_id = ?`, strings.TrimPrefix(userID, "user_"))
			require.NoError(t, err)
		},
	})
}

func TestConformanceOverTextKeys(t *testing.T) {
	n := 0
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T) store.Store { return hostStore(t, membersDDL, members) },
		AddUser: func(t *testing.T, st store.Store, email, hash string) string {
			n++
			key := "m-" + strings.Repeat("x", n%3) + time.Now().Format("150405.000000000")
			w, _ := sqlitestore.Pools(st.(*sqlitestore.Store))
			_, err := w.ExecContext(t.Context(), `INSERT INTO "team members" (member_key, mail, secret) VALUES (?, ?, ?)`, key, email, hash)
			require.NoError(t, err)
			return key
		},
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			w, _ := sqlitestore.Pools(st.(*sqlitestore.Store))
			_, err := w.ExecContext(t.Context(), `UPDATE "team members" SET mail = ? WHERE member_key = ?`, email, userID)
			require.NoError(t, err)
		},
		DeleteUser: func(t *testing.T, st store.Store, userID string) {
			w, _ := sqlitestore.Pools(st.(*sqlitestore.Store))
			_, err := w.ExecContext(t.Context(), `DELETE FROM "team members" WHERE member_key = ?`, userID)
			require.NoError(t, err)
		},
		NoVerifiedFlag: true,
	})
}

// TestHostRowAfterReset: a whole reset through the Service writes the
// host's row as the host reads it, and nothing else of the row.
func TestHostRowAfterReset(t *testing.T) {
	ctx := t.Context()
	st := hostStore(t, accountsDDL, sqltest.Accounts())
	id := insertAccount(t, st, "ana@example.com", "$2a$04$old")
	w, _ := sqlitestore.Pools(st)
	_, err := w.ExecContext(ctx, `UPDATE accounts SET display_name = 'Ana', modified_at = '2020-01-01 00:00:00' WHERE account_id = 1`)
	require.NoError(t, err)
	require.Equal(t, "user_1", id)

	at := time.Date(2026, 3, 4, 5, 6, 7, 890e6, time.UTC)
	svc := newService(t, st, func() time.Time { return at })
	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ANA@example.com"})
	require.NoError(t, err)
	require.Equal(t, "user_1", pr.UserID)
	u, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new password"})
	require.NoError(t, err)
	require.Equal(t, "user_1", u.ID)
	require.True(t, u.EmailVerified)

	var (
		digest, name, modified string
		verified               bool
	)
	require.NoError(t, w.QueryRowContext(ctx, `SELECT pw_digest, is_verified, display_name, CAST(modified_at AS TEXT) FROM accounts WHERE account_id = 1`).
		Scan(&digest, &verified, &name, &modified))
	require.True(t, strings.HasPrefix(digest, "$2a$04$"), "the new hash is bcrypt")
	require.NotEqual(t, "$2a$04$old", digest)
	require.True(t, verified)
	require.Equal(t, "Ana", name, "a column passreset was not told of changed")
	require.Equal(t, "2026-03-04 05:06:07.890", modified)

	// The host's own login reads the new hash and accepts the password.
	stamp, err := svc.CheckPassword(digest, "a brand new password")
	require.NoError(t, err)
	require.Equal(t, reset.Stamp(digest), stamp)
}

// TestHostTableMismatch: a description that does not fit the table is
// refused by Migrate with the missing column named, before any use.
func TestHostTableMismatch(t *testing.T) {
	path := hostDB(t, accountsDDL)
	for name, desc := range map[string]store.UsersTable{
		"column":  {Table: "accounts", ID: "account_id", Email: "email", PasswordHash: "pw_digest"},
		"table":   {Table: "users", ID: "id", Email: "email", PasswordHash: "hash"},
		"updated": {Table: "accounts", ID: "account_id", Email: "email_address", PasswordHash: "pw_digest", UpdatedAt: "changed"},
	} {
		st, err := sqlitestore.Open(t.Context(), path, sqlitestore.WithUsers(desc))
		require.NoError(t, err, name)
		err = st.Migrate(t.Context())
		require.Error(t, err, name)
		require.Contains(t, err.Error(), map[string]string{"column": `"email"`, "table": `"users" does not exist`, "updated": "changed"}[name], name)
		require.NoError(t, st.Close())
	}
	_, err := sqlitestore.Open(t.Context(), path, sqlitestore.WithUsers(store.UsersTable{Table: "accounts"}))
	require.ErrorContains(t, err, "UsersTable.ID is required")
}

// TestHostTableNotCreated: over a host's table, Migrate creates only
// passreset's tables, and CreateUser refuses.
func TestHostTableNotCreated(t *testing.T) {
	st := hostStore(t, accountsDDL, sqltest.Accounts())
	w, _ := sqlitestore.Pools(st)
	tables := testfix.Strings(t, w, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	require.Equal(t, append([]string{"accounts"}, sqltest.OwnTables...), tables)
	sqltest.NoUserCreator(t, st)
}

// TestHostFindsAddresses: addresses are found as sqltest.FindsAddresses
// says, in a host's table whose email column compares bytes.
func TestHostFindsAddresses(t *testing.T) {
	st := hostStore(t, accountsDDL, sqltest.Accounts())
	sqltest.FindsAddresses(t, st, func(email string) string { return insertAccount(t, st, email, "h") })
}

// TestAdoptLegacyDatabase: a database made by a passreset older than the
// passreset_ prefix keeps its users, resets and sessions through Migrate.
func TestAdoptLegacyDatabase(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	ddl, err := os.ReadFile("testdata/legacy_0001_init.sql")
	require.NoError(t, err)
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(t, err)
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
		string(ddl),
		`INSERT INTO schema_migrations VALUES (1, '0001_init.sql', 1)`,
		`INSERT INTO users (id, email, email_key, password_hash, created_at, updated_at) VALUES ('user_old', 'Old@Example.com', 'old@example.com', '$2a$04$old', 1, 1)`,
		`INSERT INTO password_resets (id, user_id, email, token_hash, created_at, expires_at) VALUES ('password_reset_old', 'user_old', 'old@example.com', zeroblob(32), 1, 9999999999999)`,
		`INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at) VALUES ('session_old', 'user_old', zeroblob(32), 1, 1, 9999999999999)`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	st := openStore(t, path) // migrates
	u, err := st.UserByEmail(ctx, "old@example.com")
	require.NoError(t, err)
	require.Equal(t, "user_old", u.ID)
	r, err := st.ResetByID(ctx, "password_reset_old")
	require.NoError(t, err)
	require.Equal(t, "user_old", r.UserID)
	s, err := st.SessionByID(ctx, "session_old")
	require.NoError(t, err)
	require.Equal(t, "", s.Stamp)
	require.NoError(t, openStore(t, path).Migrate(ctx), "a second Migrate")

	w, _ := sqlitestore.Pools(st)
	var n int
	require.NoError(t, w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('users', 'password_resets', 'sessions', 'schema_migrations')`).Scan(&n))
	require.Zero(t, n, "an old table is left")
}

// TestOtherToolsSchemaMigrations: a schema_migrations table of another
// tool (golang-migrate's shape) is left alone.
func TestOtherToolsSchemaMigrations(t *testing.T) {
	path := hostDB(t, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, dirty BOOLEAN NOT NULL)`)
	st := openStore(t, path)
	w, _ := sqlitestore.Pools(st)
	var n int
	require.NoError(t, w.QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n))
	require.Zero(t, n)
}
