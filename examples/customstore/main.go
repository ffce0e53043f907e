// Command customstore is the guide to a host whose users a table
// description (store.UsersTable) cannot reach. store.go implements
// sqlitestore's small port for the host's users (sqlitestore.HostUsers:
// four methods), to copy and adapt; sqlitestore keeps the rest. This file
// is the host around it: its schema, its own sign-up and sign-in, and its
// sessions, which passreset never keeps.
//
// The host keeps several addresses per account in emails (one primary, each
// verified on its own) and every password hash an account has had in
// credentials (the newest is current), in one SQLite file, beside which
// sqlitestore keeps passreset's own tables.
//
// Run it to watch a reset go through, on a SQLite file in a temporary
// folder:
//
//	go run ./examples/customstore
//
// Ada signs up and signs in on her laptop, asks for a reset at her second
// address typed in other capitals, and sets a new password: her account
// gains a credential and a new updated_at, nothing else changes in the
// host's tables, her laptop is signed out, and the host's own sign-in takes
// the new password, not the old.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/passreset/passreset/examples/internal/command"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// hostSchema is the host's, made long before passreset: not passreset's to
// change.
const hostSchema = `
CREATE TABLE accounts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
    display_name TEXT    NOT NULL DEFAULT '',
    created_at   TEXT    NOT NULL,                  -- RFC 3339
    updated_at   TEXT    NOT NULL
);
CREATE TABLE emails (
    address     TEXT    NOT NULL,                   -- as the user typed it
    address_key TEXT    NOT NULL UNIQUE,            -- EmailKey(address): one account per address, whatever its case
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    is_primary  INTEGER NOT NULL DEFAULT 0,
    verified_at TEXT                                -- NULL until the user proves it
);
CREATE UNIQUE INDEX emails_primary ON emails (account_id) WHERE is_primary;
CREATE TABLE credentials (                          -- every password an account has had
    id         INTEGER PRIMARY KEY AUTOINCREMENT,   -- the highest of an account is current
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX credentials_account ON credentials (account_id, id);
`

// signUp is the host's own sign-up: an account, its primary address,
// unverified, and its first password hash ("" for none, as for an invited
// user), in one transaction. It returns the account's id.
func signUp(ctx context.Context, db *sql.DB, name, email, hash string, now time.Time) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	var id int64
	at := hostTime(now)
	err = tx.QueryRowContext(ctx, `INSERT INTO accounts (display_name, created_at, updated_at)
		VALUES (?, ?, ?) RETURNING id`, name, at, at).Scan(&id)
	if err == nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO emails (address, address_key, account_id, is_primary)
			VALUES (?, ?, ?, 1)`, email, EmailKey(email), id)
	}
	if err == nil && hash != "" {
		_, err = tx.ExecContext(ctx, `INSERT INTO credentials (account_id, hash, created_at) VALUES (?, ?, ?)`, id, hash, at)
	}
	if err != nil {
		return 0, fmt.Errorf("sign up: %w", err)
	}
	return id, tx.Commit()
}

// addEmail is the host's "add an address" page, and verified the time the
// user followed the link it mailed there (zero: not yet).
func addEmail(ctx context.Context, db *sql.DB, accountID int64, email string, verified time.Time) error {
	var at any
	if !verified.IsZero() {
		at = hostTime(verified)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO emails (address, address_key, account_id, verified_at)
		VALUES (?, ?, ?, ?)`, email, EmailKey(email), accountID, at)
	return err
}

// errSignedOut: the session is unknown, or older than the password.
var errSignedOut = errors.New("signed out")

// host is the app's own sign-in and sessions. The sessions are a map here;
// in an app, scs, a cookie or a JWT. Each keeps the credential stamp of the
// password it signed in with, checked on every request, so that a reset
// ends every session begun before it wherever it is kept; RevokeUserSessions
// also drops them at once.
type host struct {
	db  *sql.DB
	svc *reset.Service

	mu       sync.Mutex
	sessions map[string]hostSession // by session token
}

type hostSession struct{ userID, stamp string }

// signIn is the host's own sign-in. It reads the current hash itself and
// checks the password with svc.CheckPassword, which compares it as
// passreset stored it (normalised), and keeps the stamp it returns. (An
// app throttles its sign-in too; that is left out here.)
func (h *host) signIn(ctx context.Context, email, password string) (token string, err error) {
	var accountID int64
	var hash string
	err = h.db.QueryRowContext(ctx, `SELECT c.account_id, c.hash FROM emails e
		JOIN credentials c ON c.account_id = e.account_id
		WHERE e.address_key = ? AND (e.is_primary OR e.verified_at IS NOT NULL)
		ORDER BY c.id DESC LIMIT 1`, EmailKey(strings.TrimSpace(email))).Scan(&accountID, &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	stamp, err := h.svc.CheckPassword(hash, password) // "" never matches, in the time a hash takes
	if err != nil {
		return "", err
	}
	token = rand.Text()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[token] = hostSession{userID: UserID(accountID), stamp: stamp}
	return token, nil
}

// current is the check of every request: it returns the session's user, or
// errSignedOut when there is no such session or the password has changed
// since it began.
func (h *host) current(ctx context.Context, token string) (string, error) {
	h.mu.Lock()
	s, ok := h.sessions[token]
	h.mu.Unlock()
	if !ok {
		return "", errSignedOut
	}
	if ok, err := h.svc.StampMatches(ctx, s.userID, s.stamp); err != nil || !ok {
		return "", cmp.Or(err, errSignedOut)
	}
	return s.userID, nil
}

// RevokeUserSessions makes host a reset.SessionRevoker.
func (h *host) RevokeUserSessions(_ context.Context, userID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for token, s := range h.sessions {
		if s.userID == userID {
			delete(h.sessions, token)
		}
	}
	return nil
}

func main() {
	command.Main("customstore", func(ctx context.Context) error {
		return run(ctx, os.Stdout)
	})
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "passreset-customstore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	// 1. The host's database before passreset: Ada and Grace signed up,
	// Ada added and verified a second address.
	db, err := sql.Open("sqlite3", sqlitestore.DSN(filepath.Join(dir, "app.db")))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, hostSchema); err != nil {
		return err
	}
	const oldPassword, newPassword = "analytical engine", "a much better passphrase"
	then := time.Date(2025, 3, 2, 9, 15, 0, 0, time.UTC)
	var ada int64
	for _, a := range []struct{ name, email, password string }{
		{"Ada Lovelace", "ada@example.com", oldPassword},
		{"Grace Hopper", "grace@example.com", "cobol forever"},
	} {
		digest, err := bcrypt.GenerateFromPassword([]byte(a.password), bcrypt.DefaultCost) // the host's own hashing
		if err != nil {
			return err
		}
		id, err := signUp(ctx, db, a.name, a.email, string(digest), then)
		if err != nil {
			return err
		}
		ada = cmp.Or(ada, id) // the first
	}
	if err := addEmail(ctx, db, ada, "Ada.Lovelace@Bücher.Example", then.Add(time.Hour)); err != nil {
		return err
	}
	say("1. The host's tables, before:")
	if err := printTables(ctx, out, db); err != nil {
		return err
	}
	hostDDL, err := schemaOf(ctx, db)
	if err != nil {
		return err
	}

	// 2. The store: sqlitestore over the same handle, reading and writing
	// the host's users through Users; it adds passreset's own tables
	// beside the host's.
	st, err := sqlitestore.New(db, sqlitestore.WithHostUsers(Users{}))
	if err != nil {
		return err
	}
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	if ddl, err := schemaOf(ctx, db); err != nil || ddl != hostDDL {
		return cmp.Or(err, errors.New("the store's Migrate changed the host's tables"))
	}
	say("2. Migrate adds passreset's tables (passreset_resets, passreset_jobs, ...); the host's tables are as they were.")

	// 3. The Service, with the host as its SessionRevoker; a dev mailbox
	// instead of SMTP.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mailbox := mail.NewDev(quiet, 10)
	h := &host{db: db, sessions: map[string]hostSession{}}
	h.svc, err = reset.NewService(reset.Config{
		Store: st, Mailer: mailbox, Sessions: h,
		ResetURL: "http://localhost:8080/reset-password", AppName: "Analytical Engines Ltd", Logger: quiet,
	})
	if err != nil {
		return err
	}
	laptop, err := h.signIn(ctx, "ada@example.com", oldPassword)
	if err != nil {
		return err
	}
	say("3. Ada signs in on her laptop through the host's own sign-in.")

	// 4. She forgets her password and asks at her second address, in
	// capitals: it matches in full Unicode, and the link goes there.
	pr, err := h.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ADA.LOVELACE@BÜCHER.EXAMPLE"})
	if err != nil {
		return err
	}
	msgs := mailbox.Messages()
	if len(msgs) == 0 {
		return errors.New("no email was sent")
	}
	say("4. She asks for a reset as ADA.LOVELACE@BÜCHER.EXAMPLE: %s for %s, mailed to %s:\n", pr.ID, pr.UserID, msgs[0].To)
	for line := range strings.Lines(msgs[0].Text) {
		say("   | %s", strings.TrimRight(line, "\n"))
	}

	// 5. She sets a new password: one transaction spends the token and
	// writes the host's tables; then the host's revoker runs.
	if _, err := h.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword}); err != nil {
		return err
	}
	_, err = h.current(ctx, laptop)
	say("\n5. She sets a new password. Her laptop's session: %v.", err)

	// 6. The host's tables, and its own sign-in.
	say("6. The host's tables, after:")
	if err := printTables(ctx, out, db); err != nil {
		return err
	}
	_, errOld := h.signIn(ctx, "ada@example.com", oldPassword)
	_, errNew := h.signIn(ctx, "ada@example.com", newPassword)
	if !errors.Is(errOld, reset.ErrInvalidCredentials) || errNew != nil {
		return fmt.Errorf("sign-in after the reset: old password %v, new password %v", errOld, errNew)
	}
	say("7. The host's own sign-in refuses the old password and takes the new one.")
	return nil
}

// printTables prints the host's tables, bcrypt hashes cut short.
func printTables(ctx context.Context, out io.Writer, db *sql.DB) error {
	for _, q := range []string{
		`SELECT id, display_name, created_at, updated_at FROM accounts ORDER BY id`,
		`SELECT account_id, address, is_primary, coalesce(verified_at, '-') AS verified_at FROM emails ORDER BY account_id, address`,
		`SELECT id, account_id, substr(hash, 1, 12) || '...' AS hash, created_at FROM credentials ORDER BY id`,
	} {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		cols, _ := rows.Columns()
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "   "+strings.Join(cols, "\t"))
		for rows.Next() {
			vals := make([]string, len(cols))
			dest := make([]any, len(cols))
			for i := range vals {
				dest[i] = &vals[i]
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return err
			}
			fmt.Fprintln(tw, "   "+strings.Join(vals, "\t"))
		}
		fmt.Fprintln(tw)
		if err := errors.Join(rows.Err(), rows.Close(), tw.Flush()); err != nil {
			return err
		}
	}
	return nil
}

// schemaOf returns SQLite's text of the host's tables and indexes.
func schemaOf(ctx context.Context, db *sql.DB) (string, error) {
	var ddl string
	err := db.QueryRowContext(ctx, `SELECT group_concat(coalesce(sql, name), ';') FROM (SELECT sql, name
		FROM sqlite_schema WHERE tbl_name IN ('accounts', 'emails', 'credentials') ORDER BY name)`).Scan(&ddl)
	return ddl, err
}
