package mysqlstore_test

// The raw side of the benchmarks (storebench.Raw) on MySQL: the statements
// the Store issues on each hot path, written by hand with database/sql,
// in the transactions the Store makes, over a pool made as the passreset
// side's (benchPool).

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/passreset/passreset/store/internal/hostusers"
	"github.com/passreset/passreset/store/internal/storebench"
)

// The statements, as the Store has them (TestBenchRawSQLIsTheStores).
const (
	rawRateLock   = `SELECT GET_LOCK(CONCAT('passreset/rl/', LEFT(SHA2(CONCAT(DATABASE(), '/', ?), 256), 40)), 10)`
	rawRateUnlock = `DO RELEASE_LOCK(CONCAT('passreset/rl/', LEFT(SHA2(CONCAT(DATABASE(), '/', ?), 256), 40)))`
	rawRateCount  = `SELECT COUNT(*), MIN(at) FROM passreset_rate_limits WHERE rate_key = ? AND at > ? AND at <= ?`
	rawRateRecord = `INSERT INTO passreset_rate_limits (rate_key, at) VALUES (?, ?)`
	rawEndResets  = `UPDATE passreset_resets SET ended_at = ? WHERE user_id = ? AND used_at IS NULL AND ended_at IS NULL`
	rawResetCols  = `id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left`
	rawInsertReset = `INSERT INTO passreset_resets (` + rawResetCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	rawInsertJob   = `INSERT INTO passreset_jobs (id, kind, user_id, payload, attempts, run_at, claimed_until, created_at, last_error)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	rawFinishJob = `UPDATE passreset_jobs SET finished_at = ?, payload = NULL, claimed_until = NULL
	WHERE id = ? AND finished_at IS NULL`
	rawResetByID        = `SELECT ` + rawResetCols + ` FROM passreset_resets WHERE id = ?`
	rawResetByTokenHash = `SELECT ` + rawResetCols + ` FROM passreset_resets WHERE token_hash = ?`
	rawSpendReset       = `UPDATE passreset_resets SET used_at = ?
	WHERE id = ? AND user_id = ? AND used_at IS NULL AND ended_at IS NULL AND expires_at > ?`
	rawResetEmail         = `SELECT email FROM passreset_resets WHERE id = ?`
	rawRevokeUserSessions = `UPDATE passreset_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?`
	rawSessionByTokenHash = `SELECT id, user_id, created_at, last_seen_at, expires_at, revoked_at, user_agent, ip_address, stamp
	FROM passreset_sessions WHERE token_hash = ?`
	rawTouchSession = `UPDATE passreset_sessions SET last_seen_at = ? WHERE id = ?`

	// passreset's own users table
	rawUserCols = `id, email, email_verified, first_name, last_name, profile_picture_url,
	external_id, locale, metadata, last_sign_in_at, created_at, updated_at`

	// the host's accounts table (accounts, in host_test.go)
	rawHostCols = "`account_id`, COALESCE(`email_address`, ''), COALESCE(`is_verified`, 0) <> 0"
)

var (
	rawSQL = map[string]string{
		"RateLock":           rawRateLock,
		"RateCount":          rawRateCount,
		"RateRecord":         rawRateRecord,
		"RateUnlock":         rawRateUnlock,
		"UserByEmail":        `SELECT ` + rawUserCols + ` FROM passreset_users WHERE email_key = ?`,
		"UserByID":           `SELECT ` + rawUserCols + ` FROM passreset_users WHERE id = ?`,
		"LockUser":           `SELECT ` + rawUserCols + ` FROM passreset_users WHERE id = ? FOR UPDATE`,
		"EndResets":          rawEndResets,
		"InsertReset":        rawInsertReset,
		"InsertJob":          rawInsertJob,
		"FinishJob":          rawFinishJob,
		"ResetByID":          rawResetByID,
		"ResetByTokenHash":   rawResetByTokenHash,
		"SpendReset":         rawSpendReset,
		"ResetEmail":         rawResetEmail,
		"SetPassword":        `UPDATE passreset_users SET password_hash = ?, email_verified = TRUE, updated_at = ? WHERE id = ?`,
		"RevokeUserSessions": rawRevokeUserSessions,
		"SessionByTokenHash": rawSessionByTokenHash,
		"TouchSession":       rawTouchSession,
		"PasswordHash":       `SELECT password_hash FROM passreset_users WHERE id = ?`,
	}
	rawHostSQL = map[string]string{
		"UserByEmail":  `SELECT ` + rawHostCols + " FROM `accounts` WHERE `email_address` = ?",
		"UserByID":     `SELECT ` + rawHostCols + " FROM `accounts` WHERE `account_id` = ?",
		"LockUser":     `SELECT ` + rawHostCols + " FROM `accounts` WHERE `account_id` = ? FOR UPDATE",
		"SetPassword":  "UPDATE `accounts` SET `pw_digest` = ?, `is_verified` = 1, `modified_at` = FROM_UNIXTIME(? / 1000) WHERE `account_id` = ?",
		"PasswordHash": "SELECT COALESCE(`pw_digest`, '') FROM `accounts` WHERE `account_id` = ?",
	}
)

// rawDB is the raw side over a pool of its own.
type rawDB struct {
	db    *sql.DB
	now   func() time.Time // UTC, to the millisecond
	host  bool             // the users are the host's accounts
	users map[string]string
}

func openRaw(db *sql.DB, host bool, now func() time.Time) *rawDB {
	r := &rawDB{db: db, host: host, users: rawSQL,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
	if host {
		r.users = rawHostSQL
	}
	if now != nil {
		r.now = func() time.Time { return now().UTC().Truncate(time.Millisecond) }
	}
	return r
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// rawUser is a users row: passreset's, or the host's (id, email,
// verified).
type rawUser struct {
	id, email, first, last, picture, external, locale, metadata string
	key                                                         int64 // the host's
	verified                                                    bool
	signIn                                                      sql.NullInt64
	created, updated                                            int64
}

type scanner interface{ Scan(...any) error }

func (db *rawDB) scanUser(row scanner, u *rawUser) error {
	if db.host {
		if err := row.Scan(&u.key, &u.email, &u.verified); err != nil {
			return err
		}
		u.id = "user_" + strconv.FormatInt(u.key, 10)
		return nil
	}
	return row.Scan(&u.id, &u.email, &u.verified, &u.first, &u.last, &u.picture,
		&u.external, &u.locale, &u.metadata, &u.signIn, &u.created, &u.updated)
}

// userKey is the users table's key of a user id.
func (db *rawDB) userKey(userID string) (any, error) {
	if !db.host {
		return userID, nil
	}
	digits, ok := strings.CutPrefix(userID, "user_")
	if !ok {
		return nil, storebench.ErrNotFound
	}
	return strconv.ParseInt(digits, 10, 64)
}

type rawReset struct {
	id, userID, email        string
	hash, codeHash           []byte
	created, expires         int64
	used, ended, codeExpires sql.NullInt64
	codeKey                  sql.NullString
	codeTries                int
}

func (r *rawReset) dest() []any {
	return []any{&r.id, &r.userID, &r.email, &r.hash, &r.created, &r.expires, &r.used, &r.ended,
		&r.codeKey, &r.codeHash, &r.codeExpires, &r.codeTries}
}

// inTx runs fn in a transaction and commits it.
func (db *rawDB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// allow is the rate limit: the key's named lock on a connection of its
// own, the count, the record, the lock released.
func (db *rawDB) allow(ctx context.Context, rateKey string, now time.Time) error {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, rawRateLock, rateKey).Scan(&got); err != nil {
		return err
	}
	if got.Int64 != 1 {
		return errors.New("raw: lock not taken")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), rawRateUnlock, rateKey)
	var (
		n      int64
		oldest sql.NullInt64
	)
	if err := conn.QueryRowContext(ctx, rawRateCount, rateKey, ms(now.Add(-storebench.Window)), ms(now.Add(time.Minute))).Scan(&n, &oldest); err != nil {
		return err
	}
	if n >= storebench.RateLimit {
		return storebench.ErrRateLimited
	}
	_, err = conn.ExecContext(ctx, rawRateRecord, rateKey, ms(now))
	return err
}

// Create: the rate limit, the user, one transaction (the user's row
// locked, the other resets ended, the reset and its job inserted), then,
// the email sent, the job finished.
func (db *rawDB) Create(ctx context.Context, email, rateKey string, payload []byte) error {
	now := db.now()
	if err := db.allow(ctx, rateKey, now); err != nil {
		return err
	}
	var u rawUser
	if err := db.scanUser(db.db.QueryRowContext(ctx, db.users["UserByEmail"], email), &u); err != nil {
		return err
	}
	var t [32]byte
	_, _ = rand.Read(t[:])
	h := sha256.Sum256([]byte(base64.RawURLEncoding.EncodeToString(t[:])))
	resetID := "password_reset_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	jobID := "job_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	var codeHash [32]byte
	_, _ = rand.Read(codeHash[:])
	key, err := db.userKey(u.id)
	if err != nil {
		return err
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var locked rawUser
		if err := db.scanUser(tx.QueryRowContext(ctx, db.users["LockUser"], key), &locked); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, rawEndResets, ms(now), u.id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, rawInsertReset, resetID, u.id, u.email, h[:], ms(now), ms(now.Add(storebench.TTL)),
			nil, nil, rateKey, codeHash[:], ms(now.Add(storebench.TTL)), storebench.CodeTries); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, rawInsertJob, jobID, "email", u.id, payload, 1, ms(now), ms(now.Add(storebench.Lease)), ms(now), "")
		return err
	})
	if err != nil {
		return err
	}
	// The email is sent here.
	return db.finish(ctx, jobID)
}

func (db *rawDB) finish(ctx context.Context, jobID string) error {
	_, err := db.db.ExecContext(ctx, rawFinishJob, ms(db.now()), jobID)
	return err
}

func (db *rawDB) Get(ctx context.Context, id string) error {
	var r rawReset
	return db.db.QueryRowContext(ctx, rawResetByID, id).Scan(r.dest()...)
}

func (db *rawDB) lookup(ctx context.Context, token string) (rawReset, error) {
	h := sha256.Sum256([]byte(token))
	var r rawReset
	err := db.db.QueryRowContext(ctx, rawResetByTokenHash, h[:]).Scan(r.dest()...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return rawReset{}, storebench.ErrInvalid
	case err != nil:
		return rawReset{}, err
	}
	return r, storebench.Spendable(r.used.Valid, r.ended.Valid, r.codeKey.Valid, r.codeTries,
		time.UnixMilli(r.expires), db.now())
}

func (db *rawDB) Lookup(ctx context.Context, token string) error {
	_, err := db.lookup(ctx, token)
	return err
}

// Redeem: the lookup, the user's current address (the notice goes
// there), then one transaction (the user's row locked, the
// token spent, its address checked against the user's, the hash written,
// the sessions revoked, the notice queued),
// then, the notice sent, its job finished.
func (db *rawDB) Redeem(ctx context.Context, token, passwordHash string, payload []byte) (revoked int64, err error) {
	r, err := db.lookup(ctx, token)
	if err != nil {
		return 0, err
	}
	now := db.now()
	jobID := "job_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	key, err := db.userKey(r.userID)
	if err != nil {
		return 0, err
	}
	// The user's current address, which the notice goes to (and to the
	// reset's, were it another), read before the transaction as the flow
	// reads it.
	var current rawUser
	if err := db.scanUser(db.db.QueryRowContext(ctx, db.users["UserByID"], key), &current); err != nil {
		return 0, err
	}
	if hostusers.Fold(current.email) != hostusers.Fold(r.email) {
		return 0, errors.New("raw: the user's address changed")
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var u rawUser
		if err := db.scanUser(tx.QueryRowContext(ctx, db.users["LockUser"], key), &u); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, rawSpendReset, ms(now), r.id, r.userID, ms(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(storebench.ErrInvalid, err)
		}
		// The address check: the reset's address is still the user's.
		var email string
		if err := tx.QueryRowContext(ctx, rawResetEmail, r.id).Scan(&email); err != nil {
			return err
		}
		if hostusers.Fold(email) != hostusers.Fold(u.email) {
			return storebench.ErrInvalid
		}
		if _, err := tx.ExecContext(ctx, db.users["SetPassword"], passwordHash, ms(now), key); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, rawRevokeUserSessions, ms(now), r.userID, ms(now))
		if err != nil {
			return err
		}
		if revoked, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, rawInsertJob, jobID, "email", r.userID, payload, 1, ms(now), ms(now.Add(storebench.Lease)), ms(now), "")
		return err
	})
	if err != nil {
		return 0, err
	}
	// The notice is sent here.
	return revoked, db.finish(ctx, jobID)
}

type rawSession struct {
	id, userID, userAgent, ip, stamp string
	created, seen, expires           int64
	revoked                          sql.NullInt64
}

func (db *rawDB) Validate(ctx context.Context, token string) error {
	h := sha256.Sum256([]byte(token))
	var s rawSession
	err := db.db.QueryRowContext(ctx, rawSessionByTokenHash, h[:]).Scan(&s.id, &s.userID, &s.created,
		&s.seen, &s.expires, &s.revoked, &s.userAgent, &s.ip, &s.stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return storebench.ErrNotFound
	}
	if err != nil {
		return err
	}
	now := db.now()
	touch, err := storebench.Judge(s.revoked.Valid, time.UnixMilli(s.seen), time.UnixMilli(s.expires), now)
	if touch {
		_, err = db.db.ExecContext(ctx, rawTouchSession, ms(now), s.id)
	}
	return err
}

func (db *rawDB) PasswordHash(ctx context.Context, userID string) (string, error) {
	k, err := db.userKey(userID)
	if err != nil {
		return "", err
	}
	var h string
	err = db.db.QueryRowContext(ctx, db.users["PasswordHash"], k).Scan(&h)
	return h, err
}

var _ storebench.Raw = (*rawDB)(nil)
