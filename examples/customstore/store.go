package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/sqlitestore"
)

// Users is the host's users as passreset needs them: sqlitestore's
// HostUsers port, over the host's accounts, emails and credentials tables
// (main.go has the schema). sqlitestore keeps everything else (resets,
// rate limits, the outbox, sessions, idempotent replays) in its own
// passreset_* tables of the same file, and calls SetPasswordHash inside
// the transaction that spends a reset token, so both commit or neither.
//
// When each user is one row of one table, write nothing: describe the
// table (sqlitestore.WithUsers and a store.UsersTable). Implement HostUsers
// when the users are spread over tables, as here: this host keeps several
// addresses per account in emails, one primary and each verified on its
// own, and every password hash an account has had in credentials, the
// newest current. No UsersTable says "the newest credential", nor which
// address a reset has just proved.
//
// Users holds no state: every method reads and writes through the handle
// or transaction sqlitestore gives it.
type Users struct{}

var (
	_ sqlitestore.HostUsers    = Users{}
	_ sqlitestore.UsersChecker = Users{}
)

// UserID is the id passreset shows for the host's account: "user_42" for
// 42. Resets and jobs keep it, so account ids are never reused.
func UserID(accountID int64) string { return store.DefaultIDPrefix + strconv.FormatInt(accountID, 10) }

// AccountID returns the account a user id names, and false when it names
// none: "user_042" names none, so that an account has one id. The host
// turns the ids passreset hands it (to a SessionRevoker, say) back with it.
func AccountID(userID string) (int64, bool) {
	digits, ok := strings.CutPrefix(userID, store.DefaultIDPrefix)
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, ok && err == nil && strconv.FormatInt(n, 10) == digits
}

// EmailKey is the form in which addresses are compared, which the host
// keeps beside each address, in emails.address_key under a UNIQUE index:
// emailaddr.Fold (NFC, the domain in ASCII, Unicode lower case), as the
// Service folds the address it looks up (reset.NormalizeEmail). SQLite's
// lower() and NOCASE fold ASCII only; the key makes a match in full
// Unicode, whatever the address's Unicode form, one indexed equality.
func EmailKey(address string) string { return emailaddr.Fold(address) }

// hostTime is how the host writes a time: RFC 3339, UTC, milliseconds.
func hostTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

const (
	// Reads no row, but fails when a column Users uses is missing.
	qCheckHost = `SELECT a.id, a.display_name, a.created_at, a.updated_at,
	e.address, e.address_key, e.account_id, e.is_primary, e.verified_at,
	c.id, c.account_id, c.hash, c.created_at
FROM accounts a, emails e, credentials c LIMIT 0`

	userCols = `a.id, coalesce(e.address, ''), e.verified_at IS NOT NULL, a.display_name, a.created_at, a.updated_at`
	// The account with an address a reset may go to (see UserByEmail).
	qUserByEmail = `SELECT ` + userCols + ` FROM emails e JOIN accounts a ON a.id = e.account_id
	WHERE e.address_key = ? AND (e.is_primary OR e.verified_at IS NOT NULL)`
	// The account, shown with its primary address.
	qUserByID = `SELECT ` + userCols + ` FROM accounts a
	LEFT JOIN emails e ON e.account_id = a.id AND e.is_primary WHERE a.id = ?`
	// The newest credential is the current password; none is "".
	qPasswordHash = `SELECT coalesce((SELECT c.hash FROM credentials c WHERE c.account_id = a.id
	ORDER BY c.id DESC LIMIT 1), '') FROM accounts a WHERE a.id = ?`

	// What a new password writes: the account's updated time, a new
	// credential, and the address a reset proved, verified.
	qTouchAccount     = `UPDATE accounts SET updated_at = ? WHERE id = ?`
	qInsertCredential = `INSERT INTO credentials (account_id, hash, created_at) VALUES (?, ?, ?)`
	qVerifyEmail      = `UPDATE emails SET verified_at = coalesce(verified_at, ?) WHERE account_id = ? AND address_key = ?`
	// A rehash replaces the newest credential's hash: the same password.
	qRehashCredential = `UPDATE credentials SET hash = ?
	WHERE id = (SELECT id FROM credentials WHERE account_id = ? ORDER BY id DESC LIMIT 1)`
)

// CheckUsers fails when the host's tables lack a column Users reads or
// writes; sqlitestore's Migrate calls it before it creates anything.
func (Users) CheckUsers(ctx context.Context, q sqlitestore.Querier) error {
	rows, err := q.QueryContext(ctx, qCheckHost)
	if err != nil {
		return fmt.Errorf("the host's tables: %w", err)
	}
	return rows.Close()
}

// UserByEmail returns the account a reset at this address may go to, with
// the address as stored: its primary address, verified or not, or another
// once verified (a link sent to an unverified secondary address would hand
// the account to whoever added it). Otherwise store.ErrUserNotFound.
func (Users) UserByEmail(ctx context.Context, q sqlitestore.Querier, email string) (store.User, error) {
	return scanUser(q.QueryRowContext(ctx, qUserByEmail, EmailKey(email)))
}

// UserByID returns the account, with its primary address, or
// store.ErrUserNotFound.
func (Users) UserByID(ctx context.Context, q sqlitestore.Querier, id string) (store.User, error) {
	key, ok := AccountID(id)
	if !ok {
		return store.User{}, store.ErrUserNotFound
	}
	return scanUser(q.QueryRowContext(ctx, qUserByID, key))
}

// PasswordHash returns the account's newest credential, "" when it has
// none, or store.ErrUserNotFound.
func (Users) PasswordHash(ctx context.Context, q sqlitestore.Querier, id string) (string, error) {
	key, ok := AccountID(id)
	if !ok {
		return "", store.ErrUserNotFound
	}
	var h string
	err := q.QueryRowContext(ctx, qPasswordHash, key).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrUserNotFound
	}
	return h, err
}

// SetPasswordHash adds w.Hash to the account's credentials (a rehash
// replaces the newest one's hash instead, and writes nothing else), sets
// accounts.updated_at, and marks the address a reset proved verified.
func (Users) SetPasswordHash(ctx context.Context, tx *sql.Tx, w sqlitestore.PasswordWrite) error {
	key, ok := AccountID(w.UserID)
	if !ok {
		return store.ErrUserNotFound
	}
	if w.Rehash {
		_, err := tx.ExecContext(ctx, qRehashCredential, w.Hash, key)
		return err
	}
	now := hostTime(w.Now)
	res, err := tx.ExecContext(ctx, qTouchAccount, now, key)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrUserNotFound
	}
	if _, err := tx.ExecContext(ctx, qInsertCredential, key, w.Hash, now); err != nil {
		return err
	}
	if w.Email != "" {
		_, err = tx.ExecContext(ctx, qVerifyEmail, now, key, EmailKey(w.Email))
	}
	return err
}

// scanUser reads userCols. The host keeps one display name, which becomes
// FirstName: names do not split reliably at a space.
func scanUser(row *sql.Row) (store.User, error) {
	var (
		u                store.User
		key              int64
		created, updated string
	)
	err := row.Scan(&key, &u.Email, &u.EmailVerified, &u.FirstName, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrUserNotFound
	}
	if err != nil {
		return store.User{}, err
	}
	u.ID = UserID(key)
	if u.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return store.User{}, fmt.Errorf("accounts.created_at: %w", err)
	}
	if u.UpdatedAt, err = time.Parse(time.RFC3339Nano, updated); err != nil {
		return store.User{}, fmt.Errorf("accounts.updated_at: %w", err)
	}
	return u, nil
}
