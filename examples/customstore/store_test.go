package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/storetest"
	"github.com/passreset/passreset/token"
)

// newHostDB opens a fresh SQLite file in a temporary folder and creates the
// host's accounts table in it, as the host did before passreset came. It
// returns the handle and the folder.
func newHostDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite3", DSN(filepath.Join(dir, "host.db")))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	_, err = db.ExecContext(t.Context(), hostSchema)
	require.NoError(t, err)
	return db, dir
}

// newStore wraps db and creates passreset's tables.
func newStore(t *testing.T, db *sql.DB) *Store {
	t.Helper()
	st, err := New(db)
	require.NoError(t, err)
	require.NoError(t, st.Migrate(t.Context()))
	return st
}

// insertAccount writes an account the way the host does, and returns its
// account_id.
func insertAccount(t *testing.T, db *sql.DB, mail, pwDigest, name string) int64 {
	t.Helper()
	var id int64
	err := db.QueryRowContext(t.Context(), `INSERT INTO accounts (mail, pw_digest, display_name, created, modified)
		VALUES (?, ?, ?, '2025-03-02T09:15:00Z', '2025-03-02T09:15:00Z') RETURNING account_id`,
		mail, pwDigest, name).Scan(&id)
	require.NoError(t, err)
	return id
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{NewStore: func(t *testing.T) store.Store {
		db, _ := newHostDB(t)
		return newStore(t, db)
	}})
}

// TestResetFlow runs a whole reset through reset.Service over the adapter,
// for an account the host created, and checks what it did to the host's
// table and what it left in the database files.
func TestResetFlow(t *testing.T) {
	ctx := t.Context()
	db, dir := newHostDB(t)
	const oldPassword, newPassword = "analytical engine", "correct horse battery staple"
	oldDigest, err := bcrypt.GenerateFromPassword([]byte(oldPassword), bcrypt.MinCost)
	require.NoError(t, err)
	insertAccount(t, db, "Ada.Lovelace@Example.com", string(oldDigest), "Ada Lovelace")
	insertAccount(t, db, "grace.hopper@example.com", string(oldDigest), "Grace Hopper")
	st := newStore(t, db)
	before, err := readAccounts(ctx, db)
	require.NoError(t, err)

	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sessions, err := session.New(session.Config{Store: st, Now: clock, Logger: quiet})
	require.NoError(t, err)
	var outbox mailtest.Recorder
	svc, err := reset.NewService(reset.Config{
		Store: st, Mailer: &outbox, ResetURL: "https://app.example/reset-password",
		Hasher: password.Bcrypt{Cost: 4}, Now: clock, Logger: quiet,
	})
	require.NoError(t, err)

	ada, err := st.UserByEmail(ctx, "ada.lovelace@example.com")
	require.NoError(t, err)
	require.Equal(t, "acct_1", ada.ID)
	_, laptop, err := sessions.Create(ctx, ada.ID, session.Metadata{UserAgent: "laptop"})
	require.NoError(t, err)

	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ADA.LOVELACE@EXAMPLE.COM"})
	require.NoError(t, err)
	require.Equal(t, ada.ID, pr.UserID)
	m, ok := outbox.Last()
	require.True(t, ok)
	require.Equal(t, "Ada.Lovelace@Example.com", m.To)
	require.Contains(t, m.Text, pr.URL)

	now = now.Add(time.Minute + 7*time.Millisecond)
	user, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword})
	require.NoError(t, err)
	require.Equal(t, ada.ID, user.ID)
	require.True(t, user.EmailVerified)
	require.True(t, now.Equal(user.UpdatedAt), "UpdatedAt %s", user.UpdatedAt)

	// The host's row: a bcrypt hash of the new password (at the Service's
	// cost, so passreset's), verified, modified in the host's format.
	var digest string
	var verified int
	var modified string
	err = db.QueryRowContext(ctx, `SELECT pw_digest, verified, modified FROM accounts WHERE account_id = 1`).
		Scan(&digest, &verified, &modified)
	require.NoError(t, err)
	require.NotEqual(t, string(oldDigest), digest)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(digest), []byte(password.Normalize(newPassword))))
	cost, err := bcrypt.Cost([]byte(digest))
	require.NoError(t, err)
	require.Equal(t, 4, cost)
	require.Equal(t, 1, verified)
	require.Equal(t, "2026-01-15T12:01:00.007Z", modified)

	// Nothing else in accounts changed.
	after, err := readAccounts(ctx, db)
	require.NoError(t, err)
	require.Len(t, after, 2)
	require.Equal(t, before[1], after[1], "the other account changed")
	require.Equal(t, before[0][:3], after[0][:3], "account_id, mail or display_name changed")

	// Signed out everywhere; only the new password works; the link works once.
	_, err = sessions.Validate(ctx, laptop)
	require.ErrorIs(t, err, session.ErrRevoked)
	_, err = svc.Authenticate(ctx, "ada.lovelace@example.com", oldPassword)
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	_, err = svc.Authenticate(ctx, "ada.lovelace@example.com", newPassword)
	require.NoError(t, err)
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "and once more, please"})
	require.ErrorIs(t, err, reset.ErrInvalidToken)

	// No token and no password in the database files (the main file and
	// its write-ahead log), but the token's hash is there.
	var files []byte
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		files = append(files, b...)
	}
	h := token.Sum(pr.Token)
	require.True(t, bytes.Contains(files, h[:]), "the token's hash is not in the files: wrong files?")
	require.True(t, bytes.Contains(files, []byte(pr.ID)), "the reset's id is not in the files: wrong files?")
	for what, secret := range map[string]string{"token": pr.Token, "new password": newPassword, "old password": oldPassword} {
		require.False(t, bytes.Contains(files, []byte(secret)), "the %s is in the database files", what)
	}
}

// TestIDs checks the id mapping: "acct_" + account_id for the host's
// accounts, the Service's own id for accounts passreset created, and one id
// per account.
func TestIDs(t *testing.T) {
	ctx := t.Context()
	db, _ := newHostDB(t)
	st := newStore(t, db)
	hostID := insertAccount(t, db, "ada@example.com", "", "Ada Lovelace")
	require.Equal(t, int64(1), hostID)

	u, err := st.UserByID(ctx, "acct_1")
	require.NoError(t, err)
	require.Equal(t, "acct_1", u.ID)
	require.Equal(t, "ada@example.com", u.Email)
	for _, id := range []string{"acct_01", "acct_+1", "acct_1 ", "1", "acct_2", "acct_", "user_1", ""} {
		_, err := st.UserByID(ctx, id)
		require.ErrorIs(t, err, reset.ErrUserNotFound, "%q", id)
	}

	created := reset.User{
		ID: "user_01E4ZCR3C56J083X43JQXF3JK5", Email: "grace@example.com", FirstName: "Grace", LastName: "Hopper",
		CreatedAt: time.Date(2026, 1, 15, 12, 0, 0, 5e6, time.UTC), UpdatedAt: time.Date(2026, 1, 15, 12, 0, 0, 5e6, time.UTC),
	}
	require.NoError(t, st.CreateUser(ctx, created, ""))
	got, err := st.UserByID(ctx, created.ID)
	require.NoError(t, err)
	require.Equal(t, created, got)
	var accountID int64
	var createdText string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT account_id, created FROM accounts WHERE mail = 'grace@example.com'`).
		Scan(&accountID, &createdText))
	require.Equal(t, int64(2), accountID, "CreateUser takes the host's next account_id")
	require.Equal(t, "2026-01-15T12:00:00.005Z", createdText)
	_, err = st.UserByID(ctx, "acct_2")
	require.ErrorIs(t, err, reset.ErrUserNotFound, "an account passreset created has one id, not two")
	n, err := st.AccountID(ctx, created.ID)
	require.NoError(t, err)
	require.Equal(t, accountID, n)
	n, err = st.AccountID(ctx, "acct_1")
	require.NoError(t, err)
	require.Equal(t, hostID, n)
	_, err = st.AccountID(ctx, "acct_2")
	require.ErrorIs(t, err, reset.ErrUserNotFound)

	err = st.CreateUser(ctx, reset.User{ID: "acct_9", Email: "nine@example.com", CreatedAt: created.CreatedAt, UpdatedAt: created.UpdatedAt}, "")
	require.Error(t, err, "an id in the host's form")
	require.NotErrorIs(t, err, reset.ErrEmailTaken)

	// A sign-in of a host account gives it a passreset_users row under the
	// same id.
	at := time.Date(2026, 1, 15, 13, 0, 0, 0, time.UTC)
	require.NoError(t, st.RecordSignIn(ctx, "acct_1", at))
	u, err = st.UserByEmail(ctx, "ADA@example.com")
	require.NoError(t, err)
	require.Equal(t, "acct_1", u.ID)
	require.True(t, at.Equal(u.LastSignInAt))
	_, err = st.UserByID(ctx, "acct_1")
	require.NoError(t, err)
}

// TestNames checks the mapping of display_name to FirstName and LastName.
func TestNames(t *testing.T) {
	ctx := t.Context()
	db, _ := newHostDB(t)
	st := newStore(t, db)
	insertAccount(t, db, "jan@example.com", "", "Jan van der Berg")

	u, err := st.UserByID(ctx, "acct_1")
	require.NoError(t, err)
	require.Equal(t, "Jan van der Berg", u.FirstName, "a host's name is not split")
	require.Empty(t, u.LastName)

	when := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	mary := reset.User{ID: "user_01", Email: "mary@example.com", FirstName: "Mary Ann", LastName: "Smith", CreatedAt: when, UpdatedAt: when}
	require.NoError(t, st.CreateUser(ctx, mary, ""))
	var display string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT display_name FROM accounts WHERE mail = ?`, mary.Email).Scan(&display))
	require.Equal(t, "Mary Ann Smith", display)
	u, err = st.UserByID(ctx, mary.ID)
	require.NoError(t, err)
	require.Equal(t, [2]string{"Mary Ann", "Smith"}, [2]string{u.FirstName, u.LastName})

	// The host renames her: its display_name wins.
	_, err = db.ExecContext(ctx, `UPDATE accounts SET display_name = 'Mary Ann Jones' WHERE mail = ?`, mary.Email)
	require.NoError(t, err)
	u, err = st.UserByID(ctx, mary.ID)
	require.NoError(t, err)
	require.Equal(t, [2]string{"Mary Ann Jones", ""}, [2]string{u.FirstName, u.LastName})
}

// TestMigrate checks that Migrate may run again, never changes accounts,
// and refuses a database without the columns the Store maps.
func TestMigrate(t *testing.T) {
	ctx := t.Context()
	db, _ := newHostDB(t)
	ddl, err := accountsDDL(ctx, db)
	require.NoError(t, err)
	st := newStore(t, db)
	require.NoError(t, st.Migrate(ctx), "a second Migrate")
	again, err := accountsDDL(ctx, db)
	require.NoError(t, err)
	require.Equal(t, ddl, again, "Migrate changed accounts' schema")
	tables, err := passresetTables(ctx, db)
	require.NoError(t, err)
	require.Equal(t, []string{"passreset_jobs", "passreset_rate_limits", "passreset_resets", "passreset_sessions", "passreset_users"}, tables)

	for name, host := range map[string]string{
		"no accounts table": ``,
		"a column of its own": `CREATE TABLE accounts (account_id INTEGER PRIMARY KEY, email TEXT, pw_digest TEXT,
			display_name TEXT, verified INTEGER, created TEXT, modified TEXT)`,
	} {
		t.Run(name, func(t *testing.T) {
			db, err := sql.Open("sqlite3", DSN(filepath.Join(t.TempDir(), "host.db")))
			require.NoError(t, err)
			defer db.Close()
			if host != "" {
				_, err := db.ExecContext(ctx, host)
				require.NoError(t, err)
			}
			st, err := New(db)
			require.NoError(t, err)
			err = st.Migrate(ctx)
			require.ErrorContains(t, err, "accounts")
			tables, err := passresetTables(ctx, db)
			require.NoError(t, err)
			require.Empty(t, tables, "a failed Migrate created tables")
		})
	}
}

// TestDemo runs the command.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes passwords at bcrypt's default costs")
	}
	var out strings.Builder
	require.NoError(t, run(context.Background(), &out))
	require.Contains(t, out.String(), "account 2: nothing")
	require.Contains(t, out.String(), "accepts the new password")
}
