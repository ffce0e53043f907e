// Command customstore is an example of a passreset storage adapter over
// tables the host already has. store.go maps the host's own accounts table
// (its column names, integer ids, RFC 3339 times) to passreset's users and
// keeps resets, sessions, rate limits and jobs in tables of passreset's own;
// copy it into your app and change the SQL that names your columns.
//
// Run it to watch a password reset go through the adapter, on a SQLite file
// in a temporary folder:
//
//	go run ./examples/customstore
//
// It creates the host's accounts table with two accounts, as the host
// would, wraps it, resets the password of one of them, and prints what
// changed in accounts.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"golang.org/x/crypto/bcrypt"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
)

// hostSchema is the host's own table, created by the host long before
// passreset: not passreset's to change.
const hostSchema = `CREATE TABLE accounts (
    account_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    mail         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    pw_digest    TEXT    NOT NULL DEFAULT '',
    display_name TEXT    NOT NULL DEFAULT '',
    verified     INTEGER NOT NULL DEFAULT 0,
    created      TEXT    NOT NULL,
    modified     TEXT    NOT NULL
)`

// hostAccount is a row the host wrote into accounts its own way.
type hostAccount struct {
	mail, password, name string
	verified             bool
	created              string
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "customstore:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "passreset-customstore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	// 1. The host's database, as it was before passreset: its accounts
	// table, two accounts, bcrypt hashes of the host's own making.
	db, err := sql.Open("sqlite3", DSN(filepath.Join(dir, "host.db")))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := createHostAccounts(ctx, db, []hostAccount{
		{"Ada.Lovelace@Example.com", "analytical engine", "Ada Lovelace", false, "2025-03-02T09:15:00Z"},
		{"grace.hopper@example.com", "cobol forever", "Grace Hopper", true, "2025-04-10T16:40:00Z"},
	}); err != nil {
		return err
	}
	before, err := readAccounts(ctx, db)
	if err != nil {
		return err
	}
	hostDDL, err := accountsDDL(ctx, db)
	if err != nil {
		return err
	}
	say("1. The host's accounts table, before:\n")
	printAccounts(out, before)

	// 2. The adapter wraps the host's handle and adds passreset's own tables.
	st, err := New(db)
	if err != nil {
		return err
	}
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	tables, err := passresetTables(ctx, db)
	if err != nil {
		return err
	}
	ddl, err := accountsDDL(ctx, db)
	if err != nil {
		return err
	}
	if ddl != hostDDL {
		return errors.New("Migrate changed the schema of accounts")
	}
	say("\n2. Migrate added passreset's own tables (%s); accounts' schema is unchanged.", strings.Join(tables, ", "))

	// 3. passreset sees the host's accounts as its users.
	ada, err := st.UserByEmail(ctx, "ada.lovelace@example.com")
	if err != nil {
		return err
	}
	say("3. passreset sees account 1 as user %s <%s>, first name %q, verified %t.", ada.ID, ada.Email, ada.FirstName, ada.EmailVerified)

	// 4. The parts: a dev mailbox instead of SMTP, sessions in the same
	// store (so a reset revokes them in its own transaction), the Service.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mailbox := mail.NewDev(quiet, 10)
	sessions, err := session.New(session.Config{Store: st, Logger: quiet})
	if err != nil {
		return err
	}
	svc, err := reset.NewService(reset.Config{
		Store:    st,
		Mailer:   mailbox,
		ResetURL: "http://localhost:8080/reset-password",
		AppName:  "Analytical Engines Ltd",
		Logger:   quiet,
	})
	if err != nil {
		return err
	}
	_, laptop, err := sessions.Create(ctx, ada.ID, session.Metadata{UserAgent: "laptop"})
	if err != nil {
		return err
	}
	say("4. Ada signs in on her laptop: a session in passreset_sessions for %s.", ada.ID)

	// 5. Ada forgets her password; the address matches whatever its case.
	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ADA.LOVELACE@example.com"})
	if err != nil {
		return err
	}
	msgs := mailbox.Messages()
	if len(msgs) == 0 {
		return errors.New("no email was sent")
	}
	say("5. She asks for a reset as ADA.LOVELACE@example.com: %s, mailed to %s:\n", pr.ID, msgs[0].To)
	for line := range strings.Lines(msgs[0].Text) {
		say("   | %s", strings.TrimRight(line, "\n"))
	}

	// 6. She follows the link and sets a new password: one transaction
	// spends the token, writes accounts and revokes her sessions.
	const newPassword = "a much better passphrase"
	if _, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword}); err != nil {
		return err
	}
	_, err = sessions.Validate(ctx, laptop)
	say("\n6. She sets a new password. Her laptop's session: %v.", err)

	// 7. What changed in the host's table.
	after, err := readAccounts(ctx, db)
	if err != nil {
		return err
	}
	say("7. The host's accounts table, after:\n")
	printAccounts(out, after)
	say("\n   What changed:")
	for i, a := range after {
		changes := diffAccount(before[i], a)
		if len(changes) == 0 {
			changes = []string{"nothing"}
		}
		say("   account %s: %s", a[0], strings.Join(changes, "; "))
	}

	// 8. The host's own sign-in, which compares pw_digest with bcrypt,
	// takes the new password.
	if err := bcrypt.CompareHashAndPassword([]byte(after[0][5]), []byte(newPassword)); err != nil {
		return fmt.Errorf("the new password does not match pw_digest: %w", err)
	}
	say("8. The host's own bcrypt check of pw_digest accepts the new password.")
	return nil
}

// createHostAccounts does what the host did long ago: create its table and
// fill it, its own way.
func createHostAccounts(ctx context.Context, db *sql.DB, accounts []hostAccount) error {
	if _, err := db.ExecContext(ctx, hostSchema); err != nil {
		return fmt.Errorf("create accounts: %w", err)
	}
	for _, a := range accounts {
		digest, err := bcrypt.GenerateFromPassword([]byte(a.password), bcrypt.DefaultCost)
		if err != nil {
			return fmt.Errorf("hash: %w", err)
		}
		_, err = db.ExecContext(ctx, `INSERT INTO accounts (mail, pw_digest, display_name, verified, created, modified)
			VALUES (?, ?, ?, ?, ?, ?)`, a.mail, string(digest), a.name, a.verified, a.created, a.created)
		if err != nil {
			return fmt.Errorf("insert account: %w", err)
		}
	}
	return nil
}

// accountColumns are the columns readAccounts returns, in order.
var accountColumns = []string{"account_id", "mail", "display_name", "verified", "modified", "pw_digest"}

// readAccounts returns every row of accounts as text, in accountColumns'
// order.
func readAccounts(ctx context.Context, db *sql.DB) ([][]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+strings.Join(accountColumns, ", ")+` FROM accounts ORDER BY account_id`)
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	defer rows.Close()
	var all [][]string
	for rows.Next() {
		row := make([]string, len(accountColumns))
		dest := make([]any, len(row))
		for i := range row {
			dest[i] = &row[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read accounts: %w", err)
		}
		all = append(all, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	return all, nil
}

func printAccounts(out io.Writer, rows [][]string) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   "+strings.Join(accountColumns, "\t"))
	for _, r := range rows {
		r = slices.Clone(r)
		r[5] = abbreviate(r[5])
		fmt.Fprintln(tw, "   "+strings.Join(r, "\t"))
	}
	tw.Flush()
}

// diffAccount describes the columns that differ between two rows of
// readAccounts.
func diffAccount(before, after []string) []string {
	var changes []string
	for i, col := range accountColumns {
		if before[i] != after[i] {
			changes = append(changes, fmt.Sprintf("%s %s -> %s", col, abbreviate(before[i]), abbreviate(after[i])))
		}
	}
	return changes
}

// abbreviate shortens a bcrypt hash to its algorithm, cost and the start of
// its salt.
func abbreviate(s string) string {
	if strings.HasPrefix(s, "$2") && len(s) > 12 {
		return s[:12] + "..."
	}
	return s
}

// accountsDDL returns the schema SQLite keeps for accounts and its indexes.
func accountsDDL(ctx context.Context, db *sql.DB) (string, error) {
	var ddl string
	err := db.QueryRowContext(ctx, `SELECT group_concat(coalesce(sql, name), ';') FROM
		(SELECT sql, name FROM sqlite_schema WHERE tbl_name = 'accounts' ORDER BY name)`).Scan(&ddl)
	if err != nil {
		return "", fmt.Errorf("read the schema of accounts: %w", err)
	}
	return ddl, nil
}

// passresetTables lists the tables Migrate created.
func passresetTables(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name LIKE 'passreset\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return names, nil
}
