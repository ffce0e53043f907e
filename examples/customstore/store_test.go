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

	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/sqlitestore"
	"github.com/passreset/passreset/store/storetest"
	"github.com/passreset/passreset/token"
)

var signedUp = time.Date(2025, 3, 2, 9, 15, 0, 0, time.UTC)

// newHostDB opens a fresh SQLite file in a temporary folder with the host's
// tables in it, as they were before passreset. It returns the handle and
// the folder.
func newHostDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db := openDB(t, filepath.Join(dir, "app.db"))
	_, err := db.ExecContext(t.Context(), hostSchema)
	require.NoError(t, err)
	return db, dir
}

// openDB opens a handle on the SQLite file at path, closed with the test.
func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// hostStore is sqlitestore over db with the host's Users, as main.go
// builds it.
func hostStore(t *testing.T, db *sql.DB) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.New(db, sqlitestore.WithHostUsers(Users{}))
	require.NoError(t, err)
	return st
}

func newStore(t *testing.T, db *sql.DB) *sqlitestore.Store {
	t.Helper()
	st := hostStore(t, db)
	require.NoError(t, st.Migrate(t.Context()))
	return st
}

// TestConformance runs passreset's suite over sqlitestore and Users,
// seeding users through the host's own sign-up.
func TestConformance(t *testing.T) {
	// The handle and folder of the store under test: the suite runs its
	// subtests one after another.
	var (
		db  *sql.DB
		dir string
	)
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T) store.Store {
			db, dir = newHostDB(t)
			return newStore(t, db)
		},
		AddUser: func(t *testing.T, _ store.Store, email, hash string) string {
			id, err := signUp(t.Context(), db, "", email, hash, signedUp)
			require.NoError(t, err)
			return UserID(id)
		},
		// The account's primary address changes; the old one leaves it.
		SetEmail: func(t *testing.T, _ store.Store, userID, email string) {
			key, ok := AccountID(userID)
			require.True(t, ok)
			_, err := db.ExecContext(t.Context(),
				`UPDATE emails SET address = ?, address_key = ? WHERE account_id = ? AND is_primary`, email, EmailKey(email), key)
			require.NoError(t, err)
		},
		// The account is closed: its addresses and credentials go with it.
		DeleteUser: func(t *testing.T, _ store.Store, userID string) {
			key, ok := AccountID(userID)
			require.True(t, ok)
			_, err := db.ExecContext(t.Context(), `DELETE FROM accounts WHERE id = ?`, key)
			require.NoError(t, err)
		},
		// Another process of the app, on the same file.
		Another: func(t *testing.T, _ store.Store) store.Store {
			return hostStore(t, openDB(t, filepath.Join(dir, "app.db")))
		},
	})
}

// TestResetFlow runs a whole reset through reset.Service over the Store and
// the host's own sign-in and sessions, and checks what it did to the
// host's tables and what it left in the database files.
func TestResetFlow(t *testing.T) {
	ctx := t.Context()
	db, dir := newHostDB(t)
	const oldPassword, newPassword = "analytical engine", "corréct horse battery staple" // é: normalised, as CheckPassword must
	digest, err := bcrypt.GenerateFromPassword([]byte(oldPassword), bcrypt.MinCost)
	require.NoError(t, err)
	ada, err := signUp(ctx, db, "Ada Lovelace", "ada@example.com", string(digest), signedUp)
	require.NoError(t, err)
	require.NoError(t, addEmail(ctx, db, ada, "Ada.Lovelace@Bücher.Example", signedUp.Add(time.Hour)))
	require.NoError(t, addEmail(ctx, db, ada, "ada@old-job.example", time.Time{}))
	grace, err := signUp(ctx, db, "Grace Hopper", "grace@example.com", string(digest), signedUp)
	require.NoError(t, err)
	st := newStore(t, db)
	graceBefore := hostRows(t, db, grace)

	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var outbox mailtest.Recorder
	h := &host{db: db, sessions: map[string]hostSession{}}
	h.svc, err = reset.NewService(reset.Config{
		Store: st, Mailer: &outbox, Sessions: h, ResetURL: "https://app.example/reset-password",
		Hasher: password.Bcrypt{Cost: 4}, Now: func() time.Time { return now }, Logger: quiet,
	})
	require.NoError(t, err)

	laptop, err := h.signIn(ctx, "ada@example.com", oldPassword)
	require.NoError(t, err)
	adaID, err := h.current(ctx, laptop)
	require.NoError(t, err)
	require.Equal(t, "user_1", adaID)
	cookie := h.sessions[laptop] // as a cookie session would hold it, out of the revoker's reach

	// An unverified second address gets no link; a verified one does, in
	// any case, at the address as stored.
	_, err = h.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ada@old-job.example"})
	require.ErrorIs(t, err, reset.ErrUserNotFound)
	require.Zero(t, outbox.Len())
	first, err := h.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ADA.LOVELACE@BÜCHER.EXAMPLE"})
	require.NoError(t, err)
	require.Equal(t, adaID, first.UserID)
	m, ok := outbox.Last()
	require.True(t, ok)
	require.Equal(t, "Ada.Lovelace@Bücher.Example", m.To)
	require.Contains(t, m.Text, first.URL)

	// A second request, at the unverified primary address, ends the first.
	now = now.Add(time.Minute)
	pr, err := h.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "Ada@Example.com"})
	require.NoError(t, err)
	m, _ = outbox.Last()
	require.Equal(t, "ada@example.com", m.To)

	now = now.Add(time.Minute + 7*time.Millisecond)
	user, err := h.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword})
	require.NoError(t, err)
	require.Equal(t, adaID, user.ID)
	require.Equal(t, "ada@example.com", user.Email)
	require.True(t, user.EmailVerified)
	require.True(t, now.Equal(user.UpdatedAt), "UpdatedAt %s", user.UpdatedAt)

	// The host's rows: a new credential, the old one kept; the primary
	// address verified at the reset; the others as they were.
	rows := hostRows(t, db, ada)
	require.Equal(t, []string{
		"account Ada Lovelace 2025-03-02T09:15:00.000Z 2026-01-15T12:02:00.007Z",
		"email Ada.Lovelace@Bücher.Example 0 2025-03-02T10:15:00.000Z",
		"email ada@example.com 1 2026-01-15T12:02:00.007Z",
		"email ada@old-job.example 0 -",
		"credential 2025-03-02T09:15:00.000Z",
		"credential 2026-01-15T12:02:00.007Z",
	}, rows)
	hash, err := st.PasswordHash(ctx, adaID)
	require.NoError(t, err)
	require.NotEqual(t, string(digest), hash)
	require.Equal(t, graceBefore, hostRows(t, db, grace), "another account changed")

	// Signed out everywhere: the revoker dropped the laptop's session, and
	// the stamp of a session it cannot reach no longer matches.
	_, err = h.current(ctx, laptop)
	require.ErrorIs(t, err, errSignedOut)
	matches, err := h.svc.StampMatches(ctx, cookie.userID, cookie.stamp)
	require.NoError(t, err)
	require.False(t, matches, "a session from before the reset still matches")

	// The host's own sign-in: the old password refused, the new one taken.
	_, err = h.signIn(ctx, "ada@example.com", oldPassword)
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	phone, err := h.signIn(ctx, "ada.lovelace@bücher.example", newPassword)
	require.NoError(t, err)
	_, err = h.current(ctx, phone)
	require.NoError(t, err)

	// Each link works once, and the older one not at all.
	for _, tok := range []string{pr.Token, first.Token} {
		_, err = h.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: tok, NewPassword: "and once more, please"})
		require.ErrorIs(t, err, reset.ErrInvalidToken)
	}

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
	sum := token.Sum(pr.Token)
	require.True(t, bytes.Contains(files, sum[:]), "the token's hash is not in the files: wrong files?")
	require.True(t, bytes.Contains(files, []byte(pr.ID)), "the reset's id is not in the files: wrong files?")
	for what, secret := range map[string]string{
		"token": pr.Token, "first token": first.Token, "new password": newPassword,
		"new password, normalised": password.Normalize(newPassword), "old password": oldPassword,
	} {
		require.False(t, bytes.Contains(files, []byte(secret)), "the %s is in the database files", what)
	}
}

// hostRows describes an account's rows in the host's tables, one line each.
func hostRows(t *testing.T, db *sql.DB, accountID int64) []string {
	t.Helper()
	return testfix.Strings(t, db, `
		SELECT 'account ' || display_name || ' ' || created_at || ' ' || updated_at FROM accounts WHERE id = ?1
		UNION ALL SELECT * FROM (SELECT 'email ' || address || ' ' || is_primary || ' ' || coalesce(verified_at, '-')
			FROM emails WHERE account_id = ?1 ORDER BY address)
		UNION ALL SELECT * FROM (SELECT 'credential ' || created_at FROM credentials WHERE account_id = ?1 ORDER BY id)`,
		accountID)
}

// TestIDs checks that an account has one id, both ways.
func TestIDs(t *testing.T) {
	require.Equal(t, "user_42", UserID(42))
	n, ok := AccountID("user_42")
	require.True(t, ok)
	require.Equal(t, int64(42), n)
	for _, id := range []string{"user_042", "user_+42", "user_42 ", "user_", "42", "acct_42", "user_01E4ZCR3C56J083X43JQXF3JK5", ""} {
		_, ok := AccountID(id)
		require.False(t, ok, "%q", id)
	}
}

// TestMigrate checks that Migrate may run again, never changes the host's
// tables, and refuses a database without them, creating nothing.
func TestMigrate(t *testing.T) {
	ctx := t.Context()
	db, _ := newHostDB(t)
	before, err := schemaOf(ctx, db)
	require.NoError(t, err)
	st := newStore(t, db)
	require.NoError(t, st.Migrate(ctx), "a second Migrate")
	after, err := schemaOf(ctx, db)
	require.NoError(t, err)
	require.Equal(t, before, after, "Migrate changed the host's tables")
	require.Equal(t, []string{"passreset_jobs", "passreset_migrations", "passreset_rate_limits", "passreset_replays",
		"passreset_resets", "passreset_retired_session_tokens", "passreset_sessions"}, passresetTables(t, db))

	for name, ddl := range map[string]string{
		"no host tables": ``,
		"no credentials": strings.Split(hostSchema, "CREATE TABLE credentials")[0],
	} {
		t.Run(name, func(t *testing.T) {
			db := openDB(t, filepath.Join(t.TempDir(), "app.db"))
			if ddl != "" {
				_, err := db.ExecContext(ctx, ddl)
				require.NoError(t, err)
			}
			st := hostStore(t, db)
			require.ErrorContains(t, st.Migrate(ctx), "the host's tables")
			require.Empty(t, passresetTables(t, db), "a failed Migrate created tables")
		})
	}
}

func passresetTables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	return testfix.Strings(t, db, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name LIKE 'passreset\_%' ESCAPE '\' ORDER BY name`)
}

// TestDemo runs the command.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes passwords at bcrypt's default costs")
	}
	var out strings.Builder
	require.NoError(t, run(context.Background(), &out))
	require.Contains(t, out.String(), "mailed to Ada.Lovelace@Bücher.Example")
	require.Contains(t, out.String(), "Her laptop's session: signed out.")
	require.Contains(t, out.String(), "takes the new one")
}

// TestNoticeAndRemovedAddress: a reset through a verified second address
// sends the password-changed notice to the primary address too; a reset
// through an address the account has since given up is refused.
func TestNoticeAndRemovedAddress(t *testing.T) {
	ctx := t.Context()
	db, _ := newHostDB(t)
	digest, err := bcrypt.GenerateFromPassword([]byte("analytical engine"), bcrypt.MinCost)
	require.NoError(t, err)
	ada, err := signUp(ctx, db, "Ada Lovelace", "ada@example.com", string(digest), signedUp)
	require.NoError(t, err)
	require.NoError(t, addEmail(ctx, db, ada, "ada@work.example", signedUp.Add(time.Hour)))
	st := newStore(t, db)
	var outbox mailtest.Recorder
	svc, err := reset.NewService(reset.Config{
		Store: st, Mailer: &outbox, ResetURL: "https://app.example/reset-password", Hasher: password.Bcrypt{Cost: 4},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)

	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ada@work.example"})
	require.NoError(t, err)
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new passphrase"})
	require.NoError(t, err)
	msgs := outbox.Messages()
	require.Len(t, msgs, 3, "the reset email and two notices")
	require.ElementsMatch(t, []string{"ada@example.com", "ada@work.example"}, []string{msgs[1].To, msgs[2].To})

	pr, err = svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ada@work.example"})
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `DELETE FROM emails WHERE address_key = ?`, EmailKey("ada@work.example"))
	require.NoError(t, err)
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "the old mailbox's passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidToken)
}
