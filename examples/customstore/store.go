package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

// Store is passreset's storage port, store.Store, written by hand for a
// host whose users a table description cannot reach.
//
// When each user is one row of one SQL table, with the email and the
// password hash in its columns, write no Store: describe the table to
// sqlitestore or pgstore (WithUsers and a store.UsersTable). Write one when
// the users are spread over tables, as here, or are not in SQL (then keep
// passreset's state in the same database as the users, so that one
// transaction covers both). This host keeps several addresses per account
// in emails, one primary and each verified on its own, and every password
// hash an account has had in credentials, the newest current (main.go has
// the schema): no UsersTable says "the newest credential", nor which
// address a reset has just proved.
//
// Each method's contract is its doc comment in package store, which
// store/storetest.Run checks clause by clause, the concurrent ones included
// (store_test.go runs it). What the methods amount to here:
//
//   - UserByEmail, UserByID, PasswordHash read the host's tables: the part
//     that differs from one host to the next.
//   - RedeemReset spends the token and writes the host's rows (a new
//     credential, the address verified, accounts.updated_at) in one
//     transaction that begins with the conditional update that spends it.
//   - ChangePassword writes the host's rows too: a new credential (or, for
//     a rehash at sign-in, the newest one's hash replaced), only while the
//     newest credential is still the hash the caller checked.
//   - CreateReset to Purge, ClaimResetCode and the replays among them,
//     keep passreset's own state (resets, rate-limit records, the outbox,
//     the answers kept for idempotent retries) in tables named
//     passreset_*, which the host never writes; their SQL suits any SQLite
//     host as it is.
//
// The clock it trusts is the Service's: every time it writes or compares
// is the one a method was given, never SQLite's own; rate-limit records
// more than store.MaxClockSkew ahead of it are ignored.
//
// Nothing else: sign-up and sign-in are the host's (no store.UserCreator,
// no store.SignInRecorder), and so are the sessions (no session.Store),
// which a reset ends through the credential stamp and Config.Sessions, as
// main.go shows.
type Store struct {
	db *sql.DB
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Durable = (*Store)(nil)
)

// DSN returns the data source name that opens the SQLite file at path for
// the "sqlite3" driver (github.com/mattn/go-sqlite3) with what the Store
// relies on: WAL, a 5 s busy timeout, foreign keys, and _txlock=immediate,
// so that a transaction takes the write lock at BEGIN and waits its turn,
// rather than failing when another commits between its read and its write.
// (Each transaction of the Store also begins with a write.)
func DSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on&_txlock=immediate"
}

// New returns a Store over db, the host's handle on the database that
// holds its users, opened with DSN. Call Migrate before first use.
func New(db *sql.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("customstore: New: nil *sql.DB")
	}
	return &Store{db: db}, nil
}

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
// Unicode, whatever the address's Unicode form, one indexed equality. A
// host that keyed its rows another way (strings.ToLower) computes the key
// again, once, for the rows whose key changes. (A table without
// such a column can do as sqlitestore does over a host's table: equality
// on the address, then a LIKE scan whose rows are folded in Go.)
func EmailKey(address string) string { return emailaddr.Fold(address) }

// hostTime is how the host writes a time: RFC 3339, UTC, milliseconds.
func hostTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// qCheckHost reads no row, but fails when a column the Store uses is missing.
const qCheckHost = `SELECT a.id, a.display_name, a.created_at, a.updated_at,
	e.address, e.address_key, e.account_id, e.is_primary, e.verified_at,
	c.id, c.account_id, c.hash, c.created_at
FROM accounts a, emails e, credentials c LIMIT 0`

// schema is passreset's own state. Every statement is IF NOT EXISTS, so
// Migrate may run at every start; a later change is a new statement, never
// an edit of these. Times are unix milliseconds, UTC; NULL is "not yet".
const schema = `
CREATE TABLE IF NOT EXISTS passreset_resets (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,              -- "user_42"
    email      TEXT    NOT NULL,              -- the address the link went to
    token_hash BLOB    NOT NULL UNIQUE,       -- SHA-256 of the token, never the token
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    ended_at   INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS passreset_resets_user_id ON passreset_resets (user_id);

-- One row per counted request; key is a keyed hash, never an address.
CREATE TABLE IF NOT EXISTS passreset_rate_limits (
    key TEXT    NOT NULL,
    at  INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS passreset_rate_limits_key_at ON passreset_rate_limits (key, at);

CREATE TABLE IF NOT EXISTS passreset_jobs (
    id            TEXT    NOT NULL PRIMARY KEY, -- a taken id fails the whole call
    kind          TEXT    NOT NULL,
    user_id       TEXT    NOT NULL DEFAULT '',
    payload       BLOB,                         -- sealed; NULL once finished or failed
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

-- The answers kept for idempotent retries: key and fingerprint are keyed
-- hashes, answer is sealed by the Service; NULL while the claim runs.
CREATE TABLE IF NOT EXISTS passreset_replays (
    key           TEXT    NOT NULL PRIMARY KEY,
    fingerprint   BLOB    NOT NULL,
    owner         TEXT    NOT NULL,
    answer        BLOB,
    created_at    INTEGER NOT NULL,
    claimed_until INTEGER,
    expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS passreset_replays_expires_at ON passreset_replays (expires_at);
`

// schemaCodes adds each reset's short code (keyed hashes only). SQLite has
// no ADD COLUMN IF NOT EXISTS: Migrate runs it when code_key is missing.
const schemaCodes = `
ALTER TABLE passreset_resets ADD COLUMN code_key        TEXT;    -- keyed hash of the address
ALTER TABLE passreset_resets ADD COLUMN code_hash       BLOB;    -- keyed hash of the code, never the code
ALTER TABLE passreset_resets ADD COLUMN code_expires_at INTEGER;
ALTER TABLE passreset_resets ADD COLUMN code_tries_left INTEGER NOT NULL DEFAULT 0;
CREATE INDEX passreset_resets_code_key ON passreset_resets (code_key) WHERE code_key IS NOT NULL;
`

const qHasCodes = `SELECT EXISTS (SELECT 1 FROM pragma_table_info('passreset_resets') WHERE name = 'code_key')`

// Migrate checks that the host's tables have the columns the Store reads
// and writes, then creates passreset's tables, in one transaction. It
// never changes the host's tables.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, qCheckHost); err != nil {
		return fmt.Errorf("customstore: migrate: the host's tables: %w", err)
	}
	return wrap("migrate", s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return err
		}
		var hasCodes bool
		if err := tx.QueryRowContext(ctx, qHasCodes).Scan(&hasCodes); err != nil || hasCodes {
			return err
		}
		_, err := tx.ExecContext(ctx, schemaCodes)
		return err
	}))
}

// ---- The host's users ----

const (
	userCols = `a.id, coalesce(e.address, ''), e.verified_at IS NOT NULL, a.display_name, a.created_at, a.updated_at`
	// The account with an address a reset may go to (see UserByEmail).
	qUserByEmail = `SELECT ` + userCols + ` FROM emails e JOIN accounts a ON a.id = e.account_id
	WHERE e.address_key = ? AND (e.is_primary OR e.verified_at IS NOT NULL)`
	// The account, shown with its primary address.
	qUserByID = `SELECT ` + userCols + ` FROM accounts a
	LEFT JOIN emails e ON e.account_id = a.id AND e.is_primary WHERE a.id = ?`
	// The account, shown with the address a reset went to.
	qUserByAddress = `SELECT ` + userCols + ` FROM accounts a
	LEFT JOIN emails e ON e.account_id = a.id AND e.address_key = ?2 WHERE a.id = ?1`
	// The newest credential is the current password; none is "".
	qPasswordHash = `SELECT coalesce((SELECT c.hash FROM credentials c WHERE c.account_id = a.id
	ORDER BY c.id DESC LIMIT 1), '') FROM accounts a WHERE a.id = ?`
)

// UserByEmail returns the account a reset at this address may go to, with
// the address as stored: its primary address, verified or not, or another
// once verified (a link sent to an unverified secondary address would hand
// the account to whoever added it). Otherwise store.ErrUserNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, qUserByEmail, EmailKey(email)))
	return u, wrap("user by email", err)
}

// UserByID returns the account, with its primary address, or
// store.ErrUserNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	key, ok := AccountID(id)
	if !ok {
		return store.User{}, store.ErrUserNotFound
	}
	u, err := scanUser(s.db.QueryRowContext(ctx, qUserByID, key))
	return u, wrap("user by id", err)
}

// PasswordHash returns the account's newest credential, "" when it has
// none, or store.ErrUserNotFound.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	key, ok := AccountID(userID)
	if !ok {
		return "", store.ErrUserNotFound
	}
	var h string
	err := s.db.QueryRowContext(ctx, qPasswordHash, key).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrUserNotFound
	}
	return h, wrap("password hash", err)
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

// ---- Resets ----

const (
	resetCols = `id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left`
	qResetByID        = `SELECT ` + resetCols + ` FROM passreset_resets WHERE id = ?`
	qResetByTokenHash = `SELECT ` + resetCols + ` FROM passreset_resets WHERE token_hash = ?`
	qEndResets        = `UPDATE passreset_resets SET ended_at = ? WHERE user_id = ? AND used_at IS NULL AND ended_at IS NULL`
	qAccountExists    = `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?)`
	qInsertReset      = `INSERT INTO passreset_resets (id, user_id, email, token_hash, created_at, expires_at,
	code_key, code_hash, code_expires_at, code_tries_left)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// One statement, so one atomic step: ?2 is now.
	qClaimResetCode = `UPDATE passreset_resets SET code_tries_left = code_tries_left - 1
	WHERE id = (SELECT id FROM passreset_resets
		WHERE code_key = ?1 AND used_at IS NULL AND ended_at IS NULL AND expires_at > ?2
		AND code_expires_at > ?2 AND code_tries_left > 0
		ORDER BY created_at DESC, id DESC LIMIT 1)
	RETURNING ` + resetCols
	// A rehash replaces the newest credential's hash: the same password.
	qRehashCredential = `UPDATE credentials SET hash = ?
	WHERE id = (SELECT id FROM credentials WHERE account_id = ? ORDER BY id DESC LIMIT 1)`
	qInsertJob = `INSERT INTO passreset_jobs (id, kind, user_id, payload, attempts, run_at, claimed_until, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

	// Spends a token: ?1 is now. Of concurrent redemptions exactly one
	// matches the row; the others find it used.
	qSpendReset = `UPDATE passreset_resets SET used_at = ?1
	WHERE id = ?2 AND used_at IS NULL AND ended_at IS NULL AND expires_at > ?1
	RETURNING user_id, email`
	// Whether the address a reset went to is still one a reset may go to
	// (as UserByEmail finds it): the account's primary address, or a
	// verified one. ?1 is the account, ?2 the address key.
	qAddressStillHeld = `SELECT EXISTS (SELECT 1 FROM emails
	WHERE account_id = ?1 AND address_key = ?2 AND (is_primary OR verified_at IS NOT NULL))`
	// What a reset writes to the host's tables.
	qTouchAccount = `UPDATE accounts SET updated_at = ? WHERE id = ?`
	// ?2 true (a rehash) writes updated_at as it is: the write that takes
	// the lock, and tells whether the account exists.
	qTouchAccountIf   = `UPDATE accounts SET updated_at = CASE WHEN ?2 THEN updated_at ELSE ?3 END WHERE id = ?1`
	qInsertCredential = `INSERT INTO credentials (account_id, hash, created_at) VALUES (?, ?, ?)`
	qVerifyEmail      = `UPDATE emails SET verified_at = coalesce(verified_at, ?) WHERE account_id = ? AND address_key = ?`
)

// CreateReset ends the user's other unused resets, stores r and inserts
// jobs, in one transaction.
func (s *Store) CreateReset(ctx context.Context, r store.Reset, jobs []store.Job) error {
	return wrap("create reset", s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, qEndResets, millis(r.CreatedAt), r.UserID); err != nil {
			return err
		}
		key, ok := AccountID(r.UserID)
		if !ok {
			return store.ErrUserNotFound
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, qAccountExists, key).Scan(&exists); err != nil || !exists {
			return cmp.Or(err, store.ErrUserNotFound)
		}
		var codeKey, codeHash, codeExpires any
		if r.Code.Key != "" {
			codeKey, codeHash, codeExpires = r.Code.Key, r.Code.Hash[:], millis(r.Code.ExpiresAt)
		}
		if _, err := tx.ExecContext(ctx, qInsertReset, r.ID, r.UserID, r.Email, r.TokenHash[:],
			millis(r.CreatedAt), millis(r.ExpiresAt), codeKey, codeHash, codeExpires, r.Code.TriesLeft); err != nil {
			return err
		}
		return insertJobs(ctx, tx, jobs)
	}))
}

// ResetByID returns the reset with this id, or store.ErrResetNotFound.
func (s *Store) ResetByID(ctx context.Context, id string) (store.Reset, error) {
	r, err := scanReset(s.db.QueryRowContext(ctx, qResetByID, id))
	return r, wrap("reset by id", err)
}

// ResetByTokenHash returns the reset whose token hashes to h, or
// store.ErrResetNotFound: one lookup in token_hash's UNIQUE index.
func (s *Store) ResetByTokenHash(ctx context.Context, h token.Hash) (store.Reset, error) {
	r, err := scanReset(s.db.QueryRowContext(ctx, qResetByTokenHash, h[:]))
	return r, wrap("reset by token hash", err)
}

// RedeemReset, in one transaction: spends the reset (the first statement),
// sets accounts.updated_at (store.ErrUserNotFound when the account is
// gone), checks that the address it went to is still one of the account's
// that a reset may go to (refused with store.ErrInvalidToken otherwise),
// adds the new hash to credentials, marks the address verified, and
// inserts r.Jobs. It returns the user as seen through that
// address.
func (s *Store) RedeemReset(ctx context.Context, r store.Redemption) (store.Redeemed, error) {
	var out store.Redeemed
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var userID, email string
		err := tx.QueryRowContext(ctx, qSpendReset, millis(r.Now), r.ResetID).Scan(&userID, &email)
		if errors.Is(err, sql.ErrNoRows) {
			return whyNotSpent(ctx, tx, r.ResetID, r.Now)
		}
		if err != nil {
			return err
		}
		if r.UserID != userID {
			return store.ErrInvalidToken
		}
		key, ok := AccountID(userID)
		if !ok {
			return store.ErrUserNotFound
		}
		now := hostTime(r.Now)
		if n, err := rowsAffected(tx.ExecContext(ctx, qTouchAccount, now, key)); err != nil {
			return err
		} else if n == 0 {
			return store.ErrUserNotFound // deleted since the reset was made: rolled back
		}
		// The transaction holds the write lock from its first statement
		// (_txlock=immediate), so no change to the account's addresses can
		// commit between this check and the commit.
		var held bool
		if err := tx.QueryRowContext(ctx, qAddressStillHeld, key, EmailKey(email)).Scan(&held); err != nil {
			return err
		}
		if !held {
			return store.ErrInvalidToken // the address left the account: rolled back
		}
		if _, err := tx.ExecContext(ctx, qInsertCredential, key, r.PasswordHash, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qVerifyEmail, now, key, EmailKey(email)); err != nil {
			return err
		}
		if out.User, err = scanUser(tx.QueryRowContext(ctx, qUserByAddress, key, EmailKey(email))); err != nil {
			return err
		}
		return insertJobs(ctx, tx, r.Jobs)
	})
	if err != nil {
		return store.Redeemed{}, wrap("redeem reset", err)
	}
	return out, nil
}

// EndResets ends the user's unspent, unended resets at now, and returns
// how many. The host calls it (through reset.Service.EndResets) when it
// removes an address from an account or changes its password.
func (s *Store) EndResets(ctx context.Context, userID string, now time.Time) (int, error) {
	n, err := rowsAffected(s.db.ExecContext(ctx, qEndResets, millis(now), userID))
	return int(n), wrap("end resets", err)
}

// ClaimResetCode takes one try from the code of the newest reset under key
// that can still take a guess at now, in one statement.
func (s *Store) ClaimResetCode(ctx context.Context, key string, now time.Time) (store.Reset, error) {
	r, err := scanReset(s.db.QueryRowContext(ctx, qClaimResetCode, key, millis(now)))
	return r, wrap("claim reset code", err)
}

// ChangePassword, in one transaction, only while the newest credential is
// still c.OldHash: a rehash replaces that credential's hash (the same
// password); a new password is a new credential, and sets
// accounts.updated_at, and c.Jobs are inserted. The sessions are the
// host's: none is revoked here (the credential stamp ends them).
func (s *Store) ChangePassword(ctx context.Context, c store.PasswordChange) (store.Changed, error) {
	key, ok := AccountID(c.UserID)
	if !ok {
		return store.Changed{}, store.ErrUserNotFound
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// A write first, so that the transaction holds the write lock
		// from its start (as _txlock=immediate also makes sure).
		now := hostTime(c.Now)
		if n, err := rowsAffected(tx.ExecContext(ctx, qTouchAccountIf, key, c.Rehash, now)); err != nil {
			return err
		} else if n == 0 {
			return store.ErrUserNotFound
		}
		var current string
		if err := tx.QueryRowContext(ctx, qPasswordHash, key).Scan(&current); err != nil {
			return err
		}
		if current != c.OldHash {
			return store.ErrPasswordChanged
		}
		if c.Rehash {
			_, err := tx.ExecContext(ctx, qRehashCredential, c.NewHash, key)
			return err
		}
		if _, err := tx.ExecContext(ctx, qInsertCredential, key, c.NewHash, now); err != nil {
			return err
		}
		return insertJobs(ctx, tx, c.Jobs)
	})
	if err != nil {
		return store.Changed{}, wrap("change password", err)
	}
	return store.Changed{}, nil
}

// whyNotSpent tells, inside the transaction whose update matched nothing,
// why the reset could not be spent, as store.Reset.Status judges it.
func whyNotSpent(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	r, err := scanReset(tx.QueryRowContext(ctx, qResetByID, id))
	if err != nil {
		return err // store.ErrResetNotFound among others
	}
	return cmp.Or(r.Status(now), store.ErrInvalidToken) // nil is not reached: the update would have matched
}

// insertJobs inserts jobs inside tx. A taken id fails the PRIMARY KEY, and
// with it the transaction.
func insertJobs(ctx context.Context, tx *sql.Tx, jobs []store.Job) error {
	for _, j := range jobs {
		if _, err := tx.ExecContext(ctx, qInsertJob, j.ID, string(j.Kind), j.UserID, j.Payload,
			j.Attempts, millis(j.RunAt), nullMillis(j.ClaimedUntil), millis(j.CreatedAt)); err != nil {
			return fmt.Errorf("insert job: %w", err)
		}
	}
	return nil
}

// scanReset reads resetCols, and turns no row into store.ErrResetNotFound.
func scanReset(row *sql.Row) (store.Reset, error) {
	var (
		r                        store.Reset
		hash, codeHash           []byte
		created, expires         int64
		used, ended, codeExpires sql.NullInt64
		codeKey                  sql.NullString
	)
	err := row.Scan(&r.ID, &r.UserID, &r.Email, &hash, &created, &expires, &used, &ended,
		&codeKey, &codeHash, &codeExpires, &r.Code.TriesLeft)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Reset{}, store.ErrResetNotFound
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
	r.Code.Key, r.Code.ExpiresAt = codeKey.String, fromNullMillis(codeExpires)
	copy(r.Code.Hash[:], codeHash)
	return r, nil
}

// ---- Rate limits, jobs and purging ----

const (
	// Check and record in one statement, so one atomic step: ?1 key, ?2
	// now, ?3 now-window, ?4 limit, ?5 now+store.MaxClockSkew. (SQLite runs
	// one writer at a time; in Postgres, lock the key first, as
	// store/pgstore does.)
	qAllowRequest = `INSERT INTO passreset_rate_limits (key, at) SELECT ?1, ?2
	WHERE (SELECT count(*) FROM passreset_rate_limits WHERE key = ?1 AND at > ?3 AND at <= ?5) < ?4`
	qOldestRequest = `SELECT min(at) FROM passreset_rate_limits WHERE key = ? AND at > ? AND at <= ?`
	qCountRequests = `SELECT count(*), min(at) FROM passreset_rate_limits WHERE key = ? AND at > ? AND at <= ?`

	// One statement: ?1 now, ?2 now+lease, ?3 max.
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
	// ?1 until, ?2 id, ?3 the claim's attempts, ?4 now.
	qRenewJob = `UPDATE passreset_jobs SET claimed_until = ?1
	WHERE id = ?2 AND attempts = ?3 AND claimed_until > ?4 AND finished_at IS NULL AND failed_at IS NULL`
	qNextDue = `SELECT min(max(run_at, coalesce(claimed_until, run_at))) FROM passreset_jobs
	WHERE finished_at IS NULL AND failed_at IS NULL`

	// ?1 is before; the bound is strict. The host's tables are never purged.
	qPurgeResets     = `DELETE FROM passreset_resets WHERE expires_at < ?1 OR used_at < ?1 OR ended_at < ?1`
	qPurgeRateLimits = `DELETE FROM passreset_rate_limits WHERE at < ?1`
	qPurgeJobs       = `DELETE FROM passreset_jobs WHERE finished_at < ?1 OR failed_at < ?1`
)

// AllowRequest checks and records a request under key in one statement.
func (s *Store) AllowRequest(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (bool, time.Time, error) {
	// Records further ahead than store.MaxClockSkew were written by a
	// clock that ran fast: they do not count.
	from, upto := millis(now.Add(-window)), millis(now.Add(store.MaxClockSkew))
	n, err := rowsAffected(s.db.ExecContext(ctx, qAllowRequest, key, millis(now), from, limit, upto))
	if err != nil {
		return false, time.Time{}, wrap("allow request", err)
	}
	if n == 1 {
		return true, time.Time{}, nil
	}
	// Refused: the oldest request in the window says when to retry.
	var oldest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, qOldestRequest, key, from, upto).Scan(&oldest); err != nil {
		return false, time.Time{}, wrap("allow request", err)
	}
	if !oldest.Valid { // limit <= 0: nothing counted, nothing allowed
		return false, now.Add(window), nil
	}
	return false, fromMillis(min(oldest.Int64, millis(now))).Add(window), nil // never past one window
}

// CountRequests counts what AllowRequest counts under key, recording
// nothing.
func (s *Store) CountRequests(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	var (
		n      int
		oldest sql.NullInt64
	)
	if err := s.db.QueryRowContext(ctx, qCountRequests, key, millis(now.Add(-window)), millis(now.Add(store.MaxClockSkew))).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, wrap("count requests", err)
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, fromMillis(oldest.Int64), nil
}

// ClaimJobs claims up to maxJobs due jobs in one statement.
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
			runAt, claim, created int64
		)
		if err := rows.Scan(&j.ID, &j.Kind, &j.UserID, &j.Payload, &j.Attempts, &runAt, &claim, &created); err != nil {
			return nil, wrap("claim jobs", err)
		}
		j.RunAt, j.ClaimedUntil, j.CreatedAt = fromMillis(runAt), fromMillis(claim), fromMillis(created)
		jobs = append(jobs, j)
	}
	// The statement commits when the rows close: that error counts too.
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, wrap("claim jobs", err)
	}
	return jobs, nil
}

// FinishJob marks a job done and drops its payload.
func (s *Store) FinishJob(ctx context.Context, id string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, qFinishJob, millis(now), id)
	return wrap("finish job", err)
}

// RetryJob releases a job to run again at runAt.
func (s *Store) RetryJob(ctx context.Context, id string, runAt time.Time, lastError string) error {
	_, err := s.db.ExecContext(ctx, qRetryJob, millis(runAt), lastError, id)
	return wrap("retry job", err)
}

// FailJob marks a job failed for good and drops its payload.
func (s *Store) FailJob(ctx context.Context, id string, now time.Time, lastError string) error {
	_, err := s.db.ExecContext(ctx, qFailJob, millis(now), lastError, id)
	return wrap("fail job", err)
}

// EnqueueJob stores one job on its own; the commit is synced, as every
// other (SQLite's default synchronous=FULL).
func (s *Store) EnqueueJob(ctx context.Context, j store.Job) error {
	return wrap("enqueue job", s.inTx(ctx, func(tx *sql.Tx) error { return insertJobs(ctx, tx, []store.Job{j}) }))
}

// RenewJobs extends the leases of the claims still held, in one
// transaction, and returns their ids.
func (s *Store) RenewJobs(ctx context.Context, jobs []store.Job, now, until time.Time) ([]string, error) {
	var renewed []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		renewed = nil
		for _, j := range jobs {
			n, err := rowsAffected(tx.ExecContext(ctx, qRenewJob, millis(until), j.ID, j.Attempts, millis(now)))
			if err != nil {
				return err
			}
			if n == 1 {
				renewed = append(renewed, j.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("renew jobs", err)
	}
	return renewed, nil
}

// NextDue returns when the first pending job becomes claimable, or the
// zero time.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	if err := s.db.QueryRowContext(ctx, qNextDue).Scan(&next); err != nil {
		return time.Time{}, wrap("next due", err)
	}
	return fromNullMillis(next), nil
}

// Durable reports true: the state is in the host's SQLite file
// (store.Durable), so reset.NewService warns when it is given no SecretKey.
func (s *Store) Durable() bool { return true }

// Purge deletes old resets, rate-limit records and jobs in one transaction.
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

// ---- Idempotent replays ----

const (
	// Claim a key nobody holds, or replace a record that no longer counts
	// (expired, or unanswered with its lease over): ?1 key ... ?6
	// expires_at, ?7 now. No row changes when a live record holds the key.
	qClaimReplay = `INSERT INTO passreset_replays (key, fingerprint, owner, answer, created_at, claimed_until, expires_at)
	VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)
	ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, owner = excluded.owner, answer = NULL,
		created_at = excluded.created_at, claimed_until = excluded.claimed_until, expires_at = excluded.expires_at
	WHERE passreset_replays.expires_at <= ?7
		OR (passreset_replays.answer IS NULL AND coalesce(passreset_replays.claimed_until, 0) <= ?7)`
	qReplayByKey = `SELECT fingerprint, owner, answer, created_at, claimed_until, expires_at
	FROM passreset_replays WHERE key = ?`
	qSaveReplay    = `UPDATE passreset_replays SET answer = ?3, claimed_until = NULL WHERE key = ?1 AND owner = ?2 AND answer IS NULL`
	qReleaseReplay = `DELETE FROM passreset_replays WHERE key = ? AND owner = ? AND answer IS NULL`
	qPurgeReplays  = `DELETE FROM passreset_replays WHERE expires_at < ?`
)

// ClaimReplay claims r.Key, or reads the live record that holds it, in one
// transaction (which begins with the write, so it holds SQLite's lock).
func (s *Store) ClaimReplay(ctx context.Context, r store.Replay, now time.Time) (store.Replay, bool, error) {
	got, claimed := r, false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := rowsAffected(tx.ExecContext(ctx, qClaimReplay, r.Key, notNull(r.Fingerprint), r.Owner,
			millis(r.CreatedAt), nullMillis(r.ClaimedUntil), millis(r.ExpiresAt), millis(now)))
		if err != nil || n == 1 {
			claimed = n == 1
			return err
		}
		var (
			created, expires int64
			claimedUntil     sql.NullInt64
		)
		err = tx.QueryRowContext(ctx, qReplayByKey, r.Key).Scan(&got.Fingerprint, &got.Owner, &got.Answer, &created, &claimedUntil, &expires)
		got.CreatedAt, got.ClaimedUntil, got.ExpiresAt = fromMillis(created), fromNullMillis(claimedUntil), fromMillis(expires)
		return err
	})
	if err != nil {
		return store.Replay{}, false, wrap("claim replay", err)
	}
	if claimed {
		got.Answer = nil
	}
	return got, claimed, nil
}

// SaveReplay stores the answer of the key owner claimed.
func (s *Store) SaveReplay(ctx context.Context, key, owner string, answer []byte) error {
	n, err := rowsAffected(s.db.ExecContext(ctx, qSaveReplay, key, owner, notNull(answer)))
	if err == nil && n == 0 {
		return store.ErrReplayNotClaimed
	}
	return wrap("save replay", err)
}

// ReleaseReplay deletes the unanswered record owner claimed.
func (s *Store) ReleaseReplay(ctx context.Context, key, owner string) error {
	_, err := s.db.ExecContext(ctx, qReleaseReplay, key, owner)
	return wrap("release replay", err)
}

// PurgeReplays deletes the records that expired before before.
func (s *Store) PurgeReplays(ctx context.Context, before time.Time) (int64, error) {
	n, err := rowsAffected(s.db.ExecContext(ctx, qPurgeReplays, millis(before)))
	return n, wrap("purge replays", err)
}

// notNull keeps a nil byte slice out of NOT NULL and "answered" columns.
func notNull(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ---- Plumbing ----

// inTx runs fn in one transaction, which commits when fn returns nil.
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

// wrap names the operation that failed; passreset's sentinels still match
// with errors.Is.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("customstore: %s: %w", op, err)
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

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
