package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

// The ports Store implements, checked at compile time.
var (
	_ store.Store          = (*Store)(nil)
	_ store.UserCreator    = (*Store)(nil)
	_ store.SignInRecorder = (*Store)(nil)
	_ session.Store        = (*Store)(nil)
)

// Store is a passreset storage adapter over a host's own accounts table:
// a table passreset did not create, with the host's column names, whose
// schema the Store never changes:
//
//	CREATE TABLE accounts (
//	    account_id   INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
//	    mail         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
//	    pw_digest    TEXT    NOT NULL DEFAULT '',       -- bcrypt; '' for no password
//	    display_name TEXT    NOT NULL DEFAULT '',
//	    verified     INTEGER NOT NULL DEFAULT 0,
//	    created      TEXT    NOT NULL,                  -- RFC 3339
//	    modified     TEXT    NOT NULL                   -- RFC 3339
//	);
//
// Everything else lives in tables of passreset's own, prefixed passreset_,
// which Migrate creates: passreset_users (what passreset knows of an account
// that accounts has no column for), passreset_resets, passreset_sessions,
// passreset_rate_limits and passreset_jobs. Store implements store.Store,
// store.UserCreator, store.SignInRecorder and session.Store, and passes
// store/storetest. To adapt it to your own table, change the statements
// that name accounts (qCheckAccounts, selectUser, qUserByEmail,
// qHostAccount, qPasswordHash, qInsertAccount, qSetPassword) and the
// helpers hostTime, parseHostTime and splitName; the rest is passreset's.
//
// # Mapping
//
//	reset.User field     where it is kept
//	ID                   "acct_" + account_id, or passreset_users.user_id (see Ids)
//	Email                accounts.mail
//	EmailVerified        accounts.verified (0 or 1)
//	FirstName, LastName  accounts.display_name (see Names)
//	CreatedAt            accounts.created
//	UpdatedAt            accounts.modified
//	(password hash)      accounts.pw_digest
//	ProfilePictureURL, ExternalID, Locale, Metadata, LastSignInAt
//	                     passreset_users: accounts has no column for them
//
// # Ids
//
// passreset names users with strings, the host with integers. An account
// the host created has the id "acct_" + account_id ("acct_42"): the prefix
// tells the host's ids from passreset's own at a glance, in logs, URLs and
// the JSON API, and no id passreset makes ("user_" + ULID) can look like
// one. An account passreset created (Service.CreateUser, the JSON API's
// POST /user_management/users) keeps the id the Service chose: the Service
// returns that id to its caller, so CreateUser must keep it, and keeps it in
// passreset_users.user_id. Either way an account has exactly one id, and it
// never changes: resets, sessions and jobs refer to it, as text. Since they
// outlive a deleted account until they are purged, account ids must never
// be reused (AUTOINCREMENT in SQLite; an identity column in Postgres).
//
// # Names
//
// passreset has a first and a last name; the host has one display_name.
// Names do not split reliably at a space ("Mary Ann Smith", "Jan van der
// Berg"), so an account's whole display_name is its FirstName and its
// LastName is empty, with one exception: CreateUser writes FirstName and
// LastName joined as display_name and remembers the two parts in
// passreset_users; while display_name still reads as those parts joined,
// they are what the Store returns. Once the host renames the account, its
// new display_name is the FirstName.
//
// # Times
//
// accounts.created and modified are the host's: text in RFC 3339, which
// the Store writes in UTC with milliseconds, the precision passreset keeps
// ("2026-01-15T12:00:00.000Z"), and reads with or without a fraction.
// passreset's own tables keep INTEGER unix milliseconds, UTC, NULL meaning
// "not yet".
//
// # Emails
//
// passreset hands UserByEmail a trimmed, lower-cased address and expects a
// match without regard to case, and CreateUser's uniqueness the same way.
// accounts.mail is COLLATE NOCASE, so "mail = ?" does both, through the
// UNIQUE index. SQLite's NOCASE folds ASCII letters only: two addresses
// that differ in the case of a non-ASCII letter are different to it. In
// Postgres, use citext or a unique index on lower(mail).
//
// # Transactions
//
// The methods that must be atomic are one transaction each (CreateUser,
// CreateReset, RedeemReset, Purge, Migrate) or one statement (AllowRequest,
// ClaimJobs, RotateSessionToken and the other updates). Open the handle
// with DSN's settings, _txlock=immediate among them: every transaction then
// begins with BEGIN IMMEDIATE and holds SQLite's write lock from its start.
// Each transaction also begins with a write, so it stays safe under a plain
// BEGIN: a transaction that read first and wrote later could fail with
// SQLITE_BUSY (snapshot) instead of waiting for the busy timeout.
type Store struct {
	db *sql.DB
}

// DSN returns the data source name to open the SQLite file at path with,
// for the "sqlite3" driver (github.com/mattn/go-sqlite3), which applies
// these parameters to every connection of the pool:
//
//	_journal_mode=WAL    readers never block the writer, nor it them
//	_busy_timeout=5000   a writer waits up to 5 s for another instead of failing
//	_foreign_keys=on     passreset_users.account_id follows accounts
//	_txlock=immediate    every transaction begins with BEGIN IMMEDIATE
//
// The host opens its database with it, and hands the handle to New.
func DSN(path string) string {
	// Escape the path, so that '?', '#' and '%' in it stay part of the name.
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on&_txlock=immediate"
}

// New returns a Store over db, the host's own handle on the database that
// holds its accounts table, opened with DSN's settings. Closing db is the
// host's business. New does not touch the database: call Migrate before
// first use.
func New(db *sql.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("customstore: New: nil *sql.DB")
	}
	return &Store{db: db}, nil
}

// qCheckAccounts reads no row, but fails when accounts lacks a column the
// Store maps.
const qCheckAccounts = `SELECT account_id, mail, pw_digest, display_name, verified, created, modified
FROM accounts LIMIT 0`

// schema is passreset's own part of the database. It never touches
// accounts. Every statement is IF NOT EXISTS, so Migrate may run at every
// start; a later change to these tables is a new, versioned step (as in
// store/sqlitestore's migrations), never an edit of this text. (PRAGMA
// user_version is not passreset's to use: the database is the host's.)
const schema = `
-- What passreset knows of an account beyond accounts' columns; a row only
-- for accounts passreset created or recorded a sign-in of.
CREATE TABLE IF NOT EXISTS passreset_users (
    account_id          INTEGER NOT NULL PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    user_id             TEXT    NOT NULL UNIQUE,      -- the account's passreset id
    first_name          TEXT    NOT NULL DEFAULT '',  -- the parts of display_name CreateUser was given
    last_name           TEXT    NOT NULL DEFAULT '',
    profile_picture_url TEXT    NOT NULL DEFAULT '',
    external_id         TEXT    NOT NULL DEFAULT '',
    locale              TEXT    NOT NULL DEFAULT '',
    metadata            TEXT,                         -- JSON object of strings; NULL when none
    last_sign_in_at     INTEGER
) STRICT;

CREATE TABLE IF NOT EXISTS passreset_resets (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,                      -- a passreset id: "acct_42" or "user_..."
    email      TEXT    NOT NULL,
    token_hash BLOB    NOT NULL UNIQUE,               -- SHA-256 of the tok, never the tok
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    ended_at   INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS passreset_resets_user_id ON passreset_resets (user_id);

CREATE TABLE IF NOT EXISTS passreset_sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE,             -- SHA-256 of the current tok
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    user_agent   TEXT    NOT NULL DEFAULT '',
    ip_address   TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX IF NOT EXISTS passreset_sessions_user_id ON passreset_sessions (user_id, id);

-- One row per counted request; key is a keyed hash, never an address.
CREATE TABLE IF NOT EXISTS passreset_rate_limits (
    key TEXT    NOT NULL,
    at  INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS passreset_rate_limits_key_at ON passreset_rate_limits (key, at);

CREATE TABLE IF NOT EXISTS passreset_jobs (
    id            TEXT    NOT NULL PRIMARY KEY,       -- unique: a taken id fails the whole call
    kind          TEXT    NOT NULL,
    user_id       TEXT    NOT NULL DEFAULT '',
    payload       BLOB,                               -- sealed; NULL once finished or failed
    attempts      INTEGER NOT NULL DEFAULT 0,
    run_at        INTEGER NOT NULL,
    claimed_until INTEGER,
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    failed_at     INTEGER,
    last_error    TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX IF NOT EXISTS passreset_jobs_due ON passreset_jobs (run_at, id)
    WHERE finished_at IS NULL AND failed_at IS NULL;
`

// Migrate creates passreset's tables that do not exist yet, in one
// transaction. It first checks that the host's accounts table has every
// column the Store maps, so that a wrong mapping fails here rather than at
// the first reset. It never changes accounts.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, qCheckAccounts); err != nil {
		return fmt.Errorf("customstore: migrate: the host's accounts table: %w", err)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, schema)
		return err
	})
	return wrap("migrate", err)
}

// ---- Users: the host's accounts, seen as reset.User ----

// accountIDPrefix starts the id of an account the host created: "acct_42".
const accountIDPrefix = "acct_"

// selectUser reads a reset.User, in scanUser's column order, from accounts a
// joined with passreset_users p, whose columns are NULL when passreset has
// no row for the account.
const selectUser = `SELECT coalesce(p.user_id, 'acct_' || a.account_id), a.mail, a.verified,
	a.display_name, coalesce(p.first_name, ''), coalesce(p.last_name, ''),
	coalesce(p.profile_picture_url, ''), coalesce(p.external_id, ''), coalesce(p.locale, ''),
	p.metadata, p.last_sign_in_at, a.created, a.modified
FROM accounts a LEFT JOIN passreset_users p ON p.account_id = a.account_id`

const (
	qUserByAccountID = selectUser + ` WHERE a.account_id = ?`
	// mail is COLLATE NOCASE: "=" ignores (ASCII) case and uses the UNIQUE index.
	qUserByEmail     = selectUser + ` WHERE a.mail = ?`
	qAccountByUserID = `SELECT account_id FROM passreset_users WHERE user_id = ?`
	// An "acct_" id names an account only while passreset has no id of its
	// own for it.
	qHostAccount = `SELECT account_id FROM accounts a WHERE account_id = ?
	AND NOT EXISTS (SELECT 1 FROM passreset_users p WHERE p.account_id = a.account_id)`
	qPasswordHash  = `SELECT pw_digest FROM accounts WHERE account_id = ?`
	qInsertAccount = `INSERT INTO accounts (mail, pw_digest, display_name, verified, created, modified)
	VALUES (?, ?, ?, ?, ?, ?) RETURNING account_id`
	qInsertUser = `INSERT INTO passreset_users (account_id, user_id, first_name, last_name,
	profile_picture_url, external_id, locale, metadata, last_sign_in_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qRecordSignIn = `INSERT INTO passreset_users (account_id, user_id, last_sign_in_at) VALUES (?, ?, ?)
	ON CONFLICT (account_id) DO UPDATE SET last_sign_in_at = excluded.last_sign_in_at`
	// What a redemption changes in the host's row.
	qSetPassword = `UPDATE accounts SET pw_digest = ?, verified = 1, modified = ? WHERE account_id = ?`
)

// UserByEmail returns the user whose email equals email without regard to
// (ASCII) case, or reset.ErrUserNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (reset.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, qUserByEmail, email))
	return u, wrap("user by email", err)
}

// UserByID returns the user with this passreset id, or
// reset.ErrUserNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (reset.User, error) {
	accountID, err := accountIDOf(ctx, s.db, id)
	if err != nil {
		return reset.User{}, wrap("user by id", err)
	}
	u, err := scanUser(s.db.QueryRowContext(ctx, qUserByAccountID, accountID))
	return u, wrap("user by id", err)
}

// PasswordHash returns accounts.pw_digest of the user, "" when the user has
// no password, or reset.ErrUserNotFound.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	accountID, err := accountIDOf(ctx, s.db, userID)
	if err != nil {
		return "", wrap("password hash", err)
	}
	var h string
	err = s.db.QueryRowContext(ctx, qPasswordHash, accountID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", reset.ErrUserNotFound // deleted since
	}
	return h, wrap("password hash", err)
}

// CreateUser inserts an account for u, with the given password hash, and
// passreset_users' row that keeps u.ID and the fields accounts has no
// column for, in one transaction. It returns reset.ErrEmailTaken when
// another account has the same email without regard to case. The account
// gets the host's next account_id, but keeps the id u.ID, which must not
// start with "acct_" (Service.CreateUser's ids start with "user_").
func (s *Store) CreateUser(ctx context.Context, u reset.User, passwordHash string) error {
	if u.ID == "" || strings.HasPrefix(u.ID, accountIDPrefix) {
		return fmt.Errorf("customstore: create user: id %q is empty or names a host account", u.ID)
	}
	metadata, err := encodeMetadata(u.Metadata)
	if err != nil {
		return fmt.Errorf("customstore: create user: %w", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// A host whose accounts has more required columns fills them here.
		var accountID int64
		err := tx.QueryRowContext(ctx, qInsertAccount, u.Email, passwordHash, u.Name(),
			u.EmailVerified, hostTime(u.CreatedAt), hostTime(u.UpdatedAt)).Scan(&accountID)
		if isUnique(err) { // mail is accounts' only UNIQUE column
			return reset.ErrEmailTaken
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, qInsertUser, accountID, u.ID, u.FirstName, u.LastName,
			u.ProfilePictureURL, u.ExternalID, u.Locale, metadata, nullMillis(u.LastSignInAt))
		return err
	})
	return wrap("create user", err)
}

// RecordSignIn sets the user's LastSignInAt to at, in passreset_users, or
// returns reset.ErrUserNotFound.
func (s *Store) RecordSignIn(ctx context.Context, userID string, at time.Time) error {
	accountID, err := accountIDOf(ctx, s.db, userID)
	if err != nil {
		return wrap("record sign-in", err)
	}
	// userID is the account's id for good (see Ids), so a row created here
	// keeps it.
	_, err = s.db.ExecContext(ctx, qRecordSignIn, accountID, userID, millis(at))
	return wrap("record sign-in", err)
}

// AccountID returns the host's account_id of the user with this passreset
// id, or reset.ErrUserNotFound. The host's own code uses it to turn the ids
// passreset hands it back into its own, as a reset.SessionRevoker over the
// host's sessions must.
func (s *Store) AccountID(ctx context.Context, userID string) (int64, error) {
	id, err := accountIDOf(ctx, s.db, userID)
	return id, wrap("account id", err)
}

// accountIDOf returns the host's account_id of the user with this passreset
// id, or reset.ErrUserNotFound.
func accountIDOf(ctx context.Context, q querier, userID string) (int64, error) {
	// An account passreset created, or recorded a sign-in of.
	var accountID int64
	switch err := q.QueryRowContext(ctx, qAccountByUserID, userID).Scan(&accountID); {
	case err == nil:
		return accountID, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, err
	}
	// Otherwise only "acct_" + account_id in plain decimal: "acct_042" and
	// "acct_+42" are no ids, so that an account has one.
	digits, ok := strings.CutPrefix(userID, accountIDPrefix)
	n, err := strconv.ParseInt(digits, 10, 64)
	if !ok || err != nil || strconv.FormatInt(n, 10) != digits {
		return 0, reset.ErrUserNotFound
	}
	err = q.QueryRowContext(ctx, qHostAccount, n).Scan(&accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, reset.ErrUserNotFound
	}
	return accountID, err
}

// scanUser reads the columns of selectUser, and turns no row into
// reset.ErrUserNotFound.
func scanUser(row *sql.Row) (reset.User, error) {
	var (
		u                    reset.User
		display, first, last string
		metadata             sql.NullString
		signIn               sql.NullInt64
		created, modified    string
	)
	err := row.Scan(&u.ID, &u.Email, &u.EmailVerified, &display, &first, &last,
		&u.ProfilePictureURL, &u.ExternalID, &u.Locale, &metadata, &signIn, &created, &modified)
	if errors.Is(err, sql.ErrNoRows) {
		return reset.User{}, reset.ErrUserNotFound
	}
	if err != nil {
		return reset.User{}, err
	}
	u.FirstName, u.LastName = splitName(display, first, last)
	if u.Metadata, err = decodeMetadata(metadata); err != nil {
		return reset.User{}, err
	}
	u.LastSignInAt = fromNullMillis(signIn)
	if u.CreatedAt, err = parseHostTime(created); err != nil {
		return reset.User{}, fmt.Errorf("accounts.created: %w", err)
	}
	if u.UpdatedAt, err = parseHostTime(modified); err != nil {
		return reset.User{}, fmt.Errorf("accounts.modified: %w", err)
	}
	return u, nil
}

// splitName maps the host's display_name to FirstName and LastName: the
// parts CreateUser was given while they still join up to display_name,
// otherwise all of display_name as the FirstName (see Names).
func splitName(display, first, last string) (string, string) {
	if (reset.User{FirstName: first, LastName: last}).Name() == display {
		return first, last
	}
	return display, ""
}

// hostTime formats t as the host writes times in accounts: RFC 3339, UTC,
// milliseconds. Put your own table's format here.
func hostTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// parseHostTime reads a time of accounts, RFC 3339 with or without a
// fraction of a second.
func parseHostTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

// encodeMetadata stores no metadata as NULL, and any other as JSON.
func encodeMetadata(m map[string]string) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return string(b), nil
}

func decodeMetadata(s sql.NullString) (map[string]string, error) {
	if !s.Valid {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s.String), &m); err != nil {
		return nil, fmt.Errorf("passreset_users.metadata: %w", err)
	}
	return m, nil
}

// ---- Resets ----

const (
	selectReset = `SELECT id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at
	FROM passreset_resets`
	qResetByID        = selectReset + ` WHERE id = ?`
	qResetByTokenHash = selectReset + ` WHERE token_hash = ?`
	qResetState       = `SELECT expires_at, used_at, ended_at FROM passreset_resets WHERE id = ?`
	qEndResets        = `UPDATE passreset_resets SET ended_at = ?
	WHERE user_id = ? AND used_at IS NULL AND ended_at IS NULL`
	qInsertReset = `INSERT INTO passreset_resets (id, user_id, email, token_hash, created_at, expires_at)
	VALUES (?, ?, ?, ?, ?, ?)`
	qInsertJob = `INSERT INTO passreset_jobs (id, kind, user_id, payload, attempts, run_at, claimed_until, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

	// The conditional update that spends a token: ?1 is now. Of concurrent
	// redemptions exactly one matches the row; the others find it used.
	qSpendReset = `UPDATE passreset_resets SET used_at = ?1
	WHERE id = ?2 AND used_at IS NULL AND ended_at IS NULL AND expires_at > ?1
	RETURNING user_id`

	// ?1 is now: active sessions are neither revoked nor expired.
	qRevokeActiveOfUser = `UPDATE passreset_sessions SET revoked_at = ?1
	WHERE user_id = ?2 AND revoked_at IS NULL AND expires_at > ?1`
)

// CreateReset stores r and jobs in one transaction, in which it first ends
// every other unused reset of r.UserID at r.CreatedAt. Nothing is stored
// when any part fails; an unknown user is reset.ErrUserNotFound.
func (s *Store) CreateReset(ctx context.Context, r store.Reset, jobs []store.Job) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// A write first (see Transactions).
		if _, err := tx.ExecContext(ctx, qEndResets, millis(r.CreatedAt), r.UserID); err != nil {
			return err
		}
		if _, err := accountIDOf(ctx, tx, r.UserID); err != nil {
			return err // reset.ErrUserNotFound: rolled back
		}
		if _, err := tx.ExecContext(ctx, qInsertReset, r.ID, r.UserID, r.Email, r.TokenHash[:],
			millis(r.CreatedAt), millis(r.ExpiresAt)); err != nil {
			return err
		}
		return insertJobs(ctx, tx, jobs)
	})
	return wrap("create reset", err)
}

// ResetByID returns the reset with this id, whatever its state, or
// reset.ErrResetNotFound.
func (s *Store) ResetByID(ctx context.Context, id string) (store.Reset, error) {
	r, err := scanReset(s.db.QueryRowContext(ctx, qResetByID, id))
	return r, wrap("reset by id", err)
}

// ResetByTokenHash returns the reset whose token hashes to h, whatever its
// state, or reset.ErrResetNotFound: one lookup in token_hash's UNIQUE index.
func (s *Store) ResetByTokenHash(ctx context.Context, h token.Hash) (store.Reset, error) {
	r, err := scanReset(s.db.QueryRowContext(ctx, qResetByTokenHash, h[:]))
	return r, wrap("reset by token hash", err)
}

// RedeemReset, in one transaction: spends the reset with the conditional
// update qSpendReset, the transaction's first statement; writes the new
// password hash, verified = 1 and modified = r.Now to the host's accounts
// row; revokes the user's active sessions; inserts r.Jobs. It returns
// reset.ErrTokenExpired, reset.ErrInvalidToken (spent or ended, or the
// reset of another user than r.UserID) or reset.ErrResetNotFound when the
// reset cannot be spent, and keeps nothing when any step fails.
func (s *Store) RedeemReset(ctx context.Context, r store.Redemption) (store.Redeemed, error) {
	var out store.Redeemed
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := millis(r.Now)
		var userID string
		err := tx.QueryRowContext(ctx, qSpendReset, now, r.ResetID).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return whyNotSpent(ctx, tx, r.ResetID, fromMillis(now))
		}
		if err != nil {
			return err
		}
		if r.UserID != "" && r.UserID != userID {
			return reset.ErrInvalidToken
		}

		accountID, err := accountIDOf(ctx, tx, userID)
		if err != nil {
			return err // reset.ErrUserNotFound: the account was deleted
		}
		if _, err := tx.ExecContext(ctx, qSetPassword, r.PasswordHash, hostTime(r.Now), accountID); err != nil {
			return err
		}
		if out.User, err = scanUser(tx.QueryRowContext(ctx, qUserByAccountID, accountID)); err != nil {
			return err
		}

		// Active sessions only: neither revoked nor expired at r.Now.
		n, err := rowsAffected(tx.ExecContext(ctx, qRevokeActiveOfUser, now, userID))
		if err != nil {
			return err
		}
		out.SessionsRevoked = int(n)
		return insertJobs(ctx, tx, r.Jobs)
	})
	if err != nil {
		return store.Redeemed{}, wrap("redeem reset", err)
	}
	return out, nil
}

// whyNotSpent tells, inside the transaction whose conditional update
// matched nothing, why the reset could not be spent, judging it as
// store.Reset.Status does (spent or ended before expired), at the
// stored precision.
func whyNotSpent(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	var (
		expires     int64
		used, ended sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, qResetState, id).Scan(&expires, &used, &ended)
	if errors.Is(err, sql.ErrNoRows) {
		return reset.ErrResetNotFound
	}
	if err != nil {
		return err
	}
	r := store.Reset{ExpiresAt: fromMillis(expires), UsedAt: fromNullMillis(used), EndedAt: fromNullMillis(ended)}
	if err := r.Status(now); err != nil {
		return err
	}
	return reset.ErrInvalidToken // not reached: the update would have matched
}

// insertJobs inserts jobs inside tx. A job id already taken, even by
// another job of the same batch, fails the PRIMARY KEY, and with it the
// transaction.
func insertJobs(ctx context.Context, tx *sql.Tx, jobs []store.Job) error {
	for _, j := range jobs {
		if _, err := tx.ExecContext(ctx, qInsertJob, j.ID, string(j.Kind), j.UserID, j.Payload,
			j.Attempts, millis(j.RunAt), nullMillis(j.ClaimedUntil), millis(j.CreatedAt)); err != nil {
			return fmt.Errorf("insert job: %w", err)
		}
	}
	return nil
}

// scanReset reads the columns of selectReset, and turns no row into
// reset.ErrResetNotFound.
func scanReset(row *sql.Row) (store.Reset, error) {
	var (
		r                store.Reset
		hash             []byte
		created, expires int64
		used, ended      sql.NullInt64
	)
	err := row.Scan(&r.ID, &r.UserID, &r.Email, &hash, &created, &expires, &used, &ended)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Reset{}, reset.ErrResetNotFound
	}
	if err != nil {
		return store.Reset{}, err
	}
	if len(hash) != len(r.TokenHash) {
		return store.Reset{}, fmt.Errorf("token_hash of %s: %d bytes", r.ID, len(hash))
	}
	copy(r.TokenHash[:], hash)
	r.CreatedAt, r.ExpiresAt = fromMillis(created), fromMillis(expires)
	r.UsedAt, r.EndedAt = fromNullMillis(used), fromNullMillis(ended)
	return r, nil
}

// ---- Rate limits, jobs and purging ----

const (
	// Check and record in one statement, so one atomic step: ?1 key, ?2
	// now, ?3 now-window, ?4 limit. (SQLite runs one writer at a time; in
	// Postgres two such statements can both see limit-1: take a lock on the
	// key first, as store/pgstore does.)
	qAllowRequest = `INSERT INTO passreset_rate_limits (key, at) SELECT ?1, ?2
	WHERE (SELECT count(*) FROM passreset_rate_limits WHERE key = ?1 AND at > ?3) < ?4`
	qOldestRequest = `SELECT min(at) FROM passreset_rate_limits WHERE key = ? AND at > ?`

	// One statement: ?1 now, ?2 now+lease, ?3 max. A lease ending exactly
	// at now has ended.
	qClaimJobs = `UPDATE passreset_jobs SET claimed_until = ?2, attempts = attempts + 1
	WHERE id IN (
		SELECT id FROM passreset_jobs
		WHERE finished_at IS NULL AND failed_at IS NULL AND run_at <= ?1
			AND (claimed_until IS NULL OR claimed_until <= ?1)
		ORDER BY run_at, id LIMIT ?3)
	RETURNING id, kind, user_id, payload, attempts, run_at, claimed_until, created_at`
	qFinishJob = `UPDATE passreset_jobs SET finished_at = ?, payload = NULL, claimed_until = NULL
	WHERE id = ? AND finished_at IS NULL`
	qRetryJob = `UPDATE passreset_jobs SET run_at = ?, claimed_until = NULL, last_error = ?
	WHERE id = ? AND finished_at IS NULL AND failed_at IS NULL`
	qFailJob = `UPDATE passreset_jobs SET failed_at = ?, payload = NULL, claimed_until = NULL, last_error = ?
	WHERE id = ? AND finished_at IS NULL AND failed_at IS NULL`

	// ?1 is before; the bound is strict. accounts is never purged.
	qPurgeResets     = `DELETE FROM passreset_resets WHERE expires_at < ?1 OR used_at < ?1 OR ended_at < ?1`
	qPurgeRateLimits = `DELETE FROM passreset_rate_limits WHERE at < ?1`
	qPurgeJobs       = `DELETE FROM passreset_jobs WHERE finished_at < ?1 OR failed_at < ?1`
)

// AllowRequest is a sliding-window rate limit over the requests recorded
// under key after now-window (those a concurrent caller recorded at a
// later instant included): with fewer than limit it records one at
// now and returns true; otherwise it records nothing and returns false and
// when the oldest counted request leaves the window.
func (s *Store) AllowRequest(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (bool, time.Time, error) {
	at, from := millis(now), millis(now.Add(-window))
	n, err := rowsAffected(s.db.ExecContext(ctx, qAllowRequest, key, at, from, limit))
	if err != nil {
		return false, time.Time{}, wrap("allow request", err)
	}
	if n == 1 {
		return true, time.Time{}, nil
	}
	// Refused. The oldest request in the window says when to retry.
	var oldest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, qOldestRequest, key, from).Scan(&oldest); err != nil {
		return false, time.Time{}, wrap("allow request", err)
	}
	if !oldest.Valid { // limit <= 0: nothing counted, nothing ever allowed
		return false, now.Add(window), nil
	}
	return false, fromMillis(oldest.Int64).Add(window), nil
}

// ClaimJobs claims up to maxJobs due jobs in one statement: each gets
// ClaimedUntil = now+lease and Attempts+1.
func (s *Store) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, maxJobs int) ([]store.Job, error) {
	if maxJobs <= 0 {
		return nil, nil // and not LIMIT -1, which SQLite reads as no limit
	}
	rows, err := s.db.QueryContext(ctx, qClaimJobs, millis(now), millis(now.Add(lease)), maxJobs)
	if err != nil {
		return nil, wrap("claim jobs", err)
	}
	defer rows.Close()
	var jobs []store.Job
	for rows.Next() {
		var (
			j                     store.Job
			kind                  string
			runAt, claim, created int64
		)
		if err := rows.Scan(&j.ID, &kind, &j.UserID, &j.Payload, &j.Attempts, &runAt, &claim, &created); err != nil {
			return nil, wrap("claim jobs", err)
		}
		j.Kind = store.JobKind(kind)
		j.RunAt, j.ClaimedUntil, j.CreatedAt = fromMillis(runAt), fromMillis(claim), fromMillis(created)
		jobs = append(jobs, j)
	}
	// The statement commits when the rows close: check that error too.
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, wrap("claim jobs", err)
	}
	return jobs, nil
}

// FinishJob marks a job done and drops its payload. A job already finished,
// or missing, is not an error.
func (s *Store) FinishJob(ctx context.Context, id string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, qFinishJob, millis(now), id)
	return wrap("finish job", err)
}

// RetryJob releases a job's lease so that it is due again at runAt,
// recording lastError.
func (s *Store) RetryJob(ctx context.Context, id string, runAt time.Time, lastError string) error {
	_, err := s.db.ExecContext(ctx, qRetryJob, millis(runAt), lastError, id)
	return wrap("retry job", err)
}

// FailJob marks a job failed for good, dropping its payload and keeping
// lastError.
func (s *Store) FailJob(ctx context.Context, id string, now time.Time, lastError string) error {
	_, err := s.db.ExecContext(ctx, qFailJob, millis(now), lastError, id)
	return wrap("fail job", err)
}

// Purge deletes, in one transaction, the resets that expired or were spent
// or ended before before, the rate-limit records older than before, and the
// jobs that finished or failed before before, and returns how many rows it
// deleted. It never deletes accounts.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{qPurgeResets, qPurgeRateLimits, qPurgeJobs} {
			n, err := rowsAffected(tx.ExecContext(ctx, q, millis(before)))
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, wrap("purge", err)
	}
	return total, nil
}

// ---- Sessions ----

const (
	selectSession = `SELECT id, user_id, created_at, last_seen_at, expires_at, revoked_at, user_agent, ip_address
	FROM passreset_sessions`
	qSessionByID        = selectSession + ` WHERE id = ?`
	qSessionByTokenHash = selectSession + ` WHERE token_hash = ?`
	qInsertSession      = `INSERT INTO passreset_sessions (id, user_id, token_hash, created_at, last_seen_at,
	expires_at, revoked_at, user_agent, ip_address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qTouchSession = `UPDATE passreset_sessions SET last_seen_at = ? WHERE id = ?`
	// Only while oldHash is current and the session not revoked: of
	// concurrent rotations exactly one matches.
	qRotateSession = `UPDATE passreset_sessions SET token_hash = ?, last_seen_at = ?
	WHERE id = ? AND token_hash = ? AND revoked_at IS NULL`
	// Revoking twice keeps the first time and still finds the row.
	qRevokeSession = `UPDATE passreset_sessions SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`
	// ?1 is before; the bound is strict.
	qPurgeSessions = `DELETE FROM passreset_sessions WHERE expires_at < ?1 OR revoked_at < ?1`
)

// CreateSession inserts sess, findable by h. The user need not be one of
// accounts: the session Manager checks nothing of the kind either.
func (s *Store) CreateSession(ctx context.Context, sess session.Session, h token.Hash) error {
	_, err := s.db.ExecContext(ctx, qInsertSession, sess.ID, sess.UserID, h[:],
		millis(sess.CreatedAt), millis(sess.LastSeenAt), millis(sess.ExpiresAt),
		nullMillis(sess.RevokedAt), sess.UserAgent, sess.IPAddress)
	return wrap("create session", err)
}

// SessionByTokenHash returns the session whose current token hashes to h,
// revoked or expired alike, or session.ErrNotFound.
func (s *Store) SessionByTokenHash(ctx context.Context, h token.Hash) (session.Session, error) {
	sess, err := scanSession(s.db.QueryRowContext(ctx, qSessionByTokenHash, h[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return session.Session{}, session.ErrNotFound
	}
	return sess, wrap("session by token hash", err)
}

// SessionByID returns the session with this id, or session.ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (session.Session, error) {
	sess, err := scanSession(s.db.QueryRowContext(ctx, qSessionByID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return session.Session{}, session.ErrNotFound
	}
	return sess, wrap("session by id", err)
}

// TouchSession sets the session's LastSeenAt to at, or returns
// session.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	return wrap("touch session", oneSession(s.db.ExecContext(ctx, qTouchSession, millis(at), id)))
}

// RotateSessionToken replaces the session's token hash oldHash with newHash
// and sets LastSeenAt to at, in one conditional update: of concurrent
// rotations exactly one wins, the others get session.ErrNotFound.
func (s *Store) RotateSessionToken(ctx context.Context, id string, oldHash, newHash token.Hash, at time.Time) error {
	return wrap("rotate session token", oneSession(s.db.ExecContext(ctx, qRotateSession, newHash[:], millis(at), id, oldHash[:])))
}

// RevokeSession sets RevokedAt to at unless the session is already revoked,
// or returns session.ErrNotFound.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	return wrap("revoke session", oneSession(s.db.ExecContext(ctx, qRevokeSession, millis(at), id)))
}

// RevokeUserSessions revokes every active (neither revoked nor expired at
// at) session of the user at at, and returns how many it revoked.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error) {
	n, err := rowsAffected(s.db.ExecContext(ctx, qRevokeActiveOfUser, millis(at), userID))
	return int(n), wrap("revoke user sessions", err)
}

// ListSessions returns a page of the user's sessions, revoked and expired
// ones included, ordered by id: the p.Limit (10 when <= 0) lowest ids that
// match p.Before and p.After, or the highest, newest first, when p.Desc.
func (s *Store) ListSessions(ctx context.Context, userID string, p session.ListParams) ([]session.Session, error) {
	q, args := selectSession+` WHERE user_id = ?`, []any{userID}
	if p.Before != "" {
		q, args = q+` AND id < ?`, append(args, p.Before)
	}
	if p.After != "" {
		q, args = q+` AND id > ?`, append(args, p.After)
	}
	if p.Desc {
		q += ` ORDER BY id DESC`
	} else {
		q += ` ORDER BY id`
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 10
	}
	q, args = q+` LIMIT ?`, append(args, limit)

	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	defer rows.Close()
	var out []session.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, wrap("list sessions", err)
		}
		out = append(out, sess)
	}
	return out, wrap("list sessions", rows.Err())
}

// PurgeSessions deletes the sessions that expired or were revoked before
// before, and returns how many.
func (s *Store) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	n, err := rowsAffected(s.db.ExecContext(ctx, qPurgeSessions, millis(before)))
	return n, wrap("purge sessions", err)
}

// scanSession reads the columns of selectSession from a *sql.Row or *sql.Rows.
func scanSession(row interface{ Scan(...any) error }) (session.Session, error) {
	var (
		sess                   session.Session
		created, seen, expires int64
		revoked                sql.NullInt64
	)
	err := row.Scan(&sess.ID, &sess.UserID, &created, &seen, &expires, &revoked, &sess.UserAgent, &sess.IPAddress)
	if err != nil {
		return session.Session{}, err
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = fromMillis(created), fromMillis(seen), fromMillis(expires)
	sess.RevokedAt = fromNullMillis(revoked)
	return sess, nil
}

// oneSession turns an update of a session that matched no row into
// session.ErrNotFound.
func oneSession(res sql.Result, err error) error {
	n, err := rowsAffected(res, err)
	if err == nil && n == 0 {
		return session.ErrNotFound
	}
	return err
}

// ---- Plumbing ----

// querier is a *sql.DB or a *sql.Tx, so that a helper runs inside a
// transaction or outside one.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in one transaction, which commits when fn returns nil and
// rolls back otherwise. With DSN's _txlock=immediate it begins with BEGIN
// IMMEDIATE.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op once committed
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// wrap returns nil and passreset's sentinels as they are, for callers that
// compare them, and wraps any other error with the operation that failed.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, sentinel := range []error{
		reset.ErrUserNotFound, reset.ErrEmailTaken, reset.ErrResetNotFound,
		reset.ErrInvalidToken, reset.ErrTokenExpired, session.ErrNotFound,
	} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	return fmt.Errorf("customstore: %s: %w", op, err)
}

// rowsAffected is the row count of an Exec that succeeded.
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// isUnique reports whether err is a UNIQUE constraint violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}

// millis is how passreset's own tables keep a time: unix milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

// nullMillis keeps a zero time as NULL.
func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func fromNullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMillis(n.Int64)
}
