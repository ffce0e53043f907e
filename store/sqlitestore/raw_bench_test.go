package sqlitestore_test

// The raw side of the paired benchmarks: the statements the Store issues
// on each hot path, written by hand with database/sql, prepared where the
// Store prepares them, over pools shaped as Open shapes them and opened
// with the same DSN. No code of the module runs here but sqlitestore.DSN.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/passreset/passreset/store/sqlitestore"
)

// The statements, as the Store has them (TestBenchRawSQLIsTheStores).
const (
	rawAllowRequest = `INSERT INTO passreset_rate_limits (key, at) SELECT ?1, ?2
	WHERE (SELECT count(*) FROM passreset_rate_limits WHERE key = ?1 AND at > ?3) < ?4`
	rawUserByEmail = `SELECT id, email, email_verified, first_name, last_name, profile_picture_url,
	external_id, locale, metadata, last_sign_in_at, created_at, updated_at FROM passreset_users WHERE email_key = ?`
	rawEndResets = `UPDATE passreset_resets SET ended_at = ?
	WHERE user_id = ? AND used_at IS NULL AND ended_at IS NULL`
	rawInsertReset = `INSERT INTO passreset_resets
	(id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	rawInsertJob = `INSERT INTO passreset_jobs (id, kind, user_id, payload, attempts, run_at, claimed_until, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	rawFinishJob = `UPDATE passreset_jobs SET finished_at = ?, payload = NULL, claimed_until = NULL
	WHERE id = ? AND finished_at IS NULL`
	rawResetByID = `SELECT id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left
	FROM passreset_resets WHERE id = ?`
	rawResetByTokenHash = `SELECT id, user_id, email, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left
	FROM passreset_resets WHERE token_hash = ?`
	rawSpendReset = `UPDATE passreset_resets SET used_at = ?1
	WHERE id = ?2 AND used_at IS NULL AND ended_at IS NULL AND expires_at > ?1
	RETURNING user_id, email`
	rawSetPassword = `UPDATE passreset_users SET password_hash = ?1, email_verified = 1, updated_at = ?2
	WHERE id = ?3 RETURNING id, email, email_verified, first_name, last_name, profile_picture_url,
	external_id, locale, metadata, last_sign_in_at, created_at, updated_at`
	rawRevokeUserSessions = `UPDATE passreset_sessions SET revoked_at = ?1
	WHERE user_id = ?2 AND revoked_at IS NULL AND expires_at > ?1`
	rawSessionByTokenHash = `SELECT id, user_id, created_at, last_seen_at, expires_at, revoked_at, user_agent, ip_address, stamp
	FROM passreset_sessions WHERE token_hash = ?`
	rawTouchSession = `UPDATE passreset_sessions SET last_seen_at = ? WHERE id = ?`
)

// rawSQL names the raw statements as sqlitestore.BenchSQL does.
var rawSQL = map[string]string{
	"AllowRequest":       rawAllowRequest,
	"UserByEmail":        rawUserByEmail,
	"EndResets":          rawEndResets,
	"InsertReset":        rawInsertReset,
	"InsertJob":          rawInsertJob,
	"FinishJob":          rawFinishJob,
	"ResetByID":          rawResetByID,
	"ResetByTokenHash":   rawResetByTokenHash,
	"SpendReset":         rawSpendReset,
	"SetPassword":        rawSetPassword,
	"RevokeUserSessions": rawRevokeUserSessions,
	"SessionByTokenHash": rawSessionByTokenHash,
	"TouchSession":       rawTouchSession,
}

// The raw side's settings: those of the Service and Manager defaults the
// passreset side runs with.
const (
	rawWindow     = 15 * time.Minute // reset.RateLimit.Window's default
	rawLimit      = benchRateLimit   // the passreset side's reset.RateLimit.Limit
	rawTTL        = 15 * time.Minute // reset.Config.TokenTTL's default
	rawLease      = 2 * time.Minute  // reset.DispatchConfig.Lease's default
	rawIdle       = 24 * time.Hour   // session.DefaultIdleTimeout
	rawTouchEvery = time.Minute      // session.DefaultTouchInterval
)

var (
	errRawRateLimited = errors.New("raw: rate limited")
	errRawInvalid     = errors.New("raw: invalid token")
	errRawExpired     = errors.New("raw: expired")
	errRawNotFound    = errors.New("raw: not found")
)

// rawDB is the raw side's database: a write pool of one connection and a
// read pool, opened as sqlitestore.Open opens them.
type rawDB struct {
	w, r *sql.DB
	now  func() int64 // the clock, in UTC milliseconds; nowMillis unless pinned
	// on r
	userByEmail, resetByID, resetByTokenHash, sessionByTokenHash *sql.Stmt
	// on w
	allowRequest, endResets, insertReset, insertJob, spendReset, setPassword,
	revokeUserSessions, touchSession, finishJob *sql.Stmt
}

func openRaw(tb testing.TB, path string) *rawDB {
	tb.Helper()
	ctx := context.Background()
	dsn := sqlitestore.DSN(path)
	w, err := sql.Open("sqlite3", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.Close() })
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	if err := w.PingContext(ctx); err != nil {
		tb.Fatal(err)
	}
	r, err := sql.Open("sqlite3", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return openRawOn(tb, w, r)
}

// openRawOn prepares the raw side's statements on w and r.
func openRawOn(tb testing.TB, w, r *sql.DB) *rawDB {
	tb.Helper()
	ctx := context.Background()
	db := &rawDB{w: w, r: r, now: nowMillis}
	for _, p := range []struct {
		st   **sql.Stmt
		db   *sql.DB
		text string
	}{
		{&db.userByEmail, r, rawUserByEmail},
		{&db.resetByID, r, rawResetByID},
		{&db.resetByTokenHash, r, rawResetByTokenHash},
		{&db.sessionByTokenHash, r, rawSessionByTokenHash},
		{&db.allowRequest, w, rawAllowRequest},
		{&db.endResets, w, rawEndResets},
		{&db.insertReset, w, rawInsertReset},
		{&db.insertJob, w, rawInsertJob},
		{&db.spendReset, w, rawSpendReset},
		{&db.setPassword, w, rawSetPassword},
		{&db.revokeUserSessions, w, rawRevokeUserSessions},
		{&db.touchSession, w, rawTouchSession},
		{&db.finishJob, w, rawFinishJob},
	} {
		st, err := p.db.PrepareContext(ctx, p.text)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		*p.st = st
	}
	return db
}

// unsynced runs fn in a transaction committed without a disk flush, as
// the Store commits its two bookkeeping writes (the rate-limit record and
// the finished job): the write connection, opened at synchronous=FULL,
// switches to NORMAL for the transaction, and back.
func (db *rawDB) unsynced(ctx context.Context, fn func(*sql.Tx) error) error {
	c, err := db.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `PRAGMA synchronous=NORMAL`); err != nil {
		return err
	}
	defer c.ExecContext(ctx, `PRAGMA synchronous=2`)
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// finish marks a job finished, unsynced.
func (db *rawDB) finish(ctx context.Context, jobID string) error {
	return db.unsynced(ctx, func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, db.finishJob).ExecContext(ctx, db.now(), jobID)
		return err
	})
}

// rawUser is a users row.
type rawUser struct {
	id, email, first, last, picture, external, locale string
	verified                                          bool
	metadata                                          sql.NullString
	signIn                                            sql.NullInt64
	created, updated                                  int64
}

func (u *rawUser) dest() []any {
	return []any{&u.id, &u.email, &u.verified, &u.first, &u.last, &u.picture,
		&u.external, &u.locale, &u.metadata, &u.signIn, &u.created, &u.updated}
}

// rawReset is a password_resets row.
type rawReset struct {
	id, userID, email        string
	created, expires         int64
	used, ended, codeExpires sql.NullInt64
	codeKey                  sql.NullString
	codeHash                 []byte
	codeTries                int
}

// nowMillis is the clock as the module reads it: UTC milliseconds.
func nowMillis() int64 { return time.Now().UnixMilli() }

// create is CreatePasswordReset's statements: the rate limit, the user,
// one transaction (end the older resets, insert the reset and its email
// job), then, the email sent, the job finished. The token is made as the
// module makes it; the job's payload is a blob of the size of the
// module's sealed email, made before the timer starts.
func (db *rawDB) create(ctx context.Context, email, key string, payload []byte) (token string, err error) {
	now := db.now()
	var n int64
	err = db.unsynced(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, db.allowRequest).ExecContext(ctx, key, now, now-rawWindow.Milliseconds(), rawLimit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return "", err
	}
	if n != 1 {
		return "", errRawRateLimited
	}
	var u rawUser
	if err := db.userByEmail.QueryRowContext(ctx, email).Scan(u.dest()...); err != nil {
		return "", err
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(token))
	resetID := "password_reset_" + ulid.MustNew(uint64(now), rand.Reader).String()
	jobID := "job_" + ulid.MustNew(uint64(now), rand.Reader).String()

	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, db.endResets).ExecContext(ctx, now, u.id); err != nil {
		return "", err
	}
	var codeHash [32]byte
	_, _ = rand.Read(codeHash[:])
	if _, err := tx.StmtContext(ctx, db.insertReset).ExecContext(ctx, resetID, u.id, u.email, h[:],
		now, now+rawTTL.Milliseconds(), nil, nil, key, codeHash[:], now+rawTTL.Milliseconds(), 5); err != nil {
		return "", err
	}
	if _, err := tx.StmtContext(ctx, db.insertJob).ExecContext(ctx, jobID, "email", u.id, payload, 1,
		now, now+rawLease.Milliseconds(), now); err != nil {
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	// The email is sent here.
	if err := db.finish(ctx, jobID); err != nil {
		return "", err
	}
	return token, nil
}

// get is GetPasswordReset's statement.
func (db *rawDB) get(ctx context.Context, id string) (rawReset, error) {
	var r rawReset
	var hash []byte
	err := db.resetByID.QueryRowContext(ctx, id).Scan(&r.id, &r.userID, &r.email, &hash,
		&r.created, &r.expires, &r.used, &r.ended, &r.codeKey, &r.codeHash, &r.codeExpires, &r.codeTries)
	return r, err
}

// lookup is the cheap rejection of ResetPassword: the reset of the token,
// if it can still be spent.
func (db *rawDB) lookup(ctx context.Context, token string) (rawReset, error) {
	h := sha256.Sum256([]byte(token))
	var r rawReset
	err := db.resetByTokenHash.QueryRowContext(ctx, h[:]).Scan(&r.id, &r.userID, &r.email,
		&r.created, &r.expires, &r.used, &r.ended, &r.codeKey, &r.codeHash, &r.codeExpires, &r.codeTries)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return rawReset{}, errRawInvalid
	case err != nil:
		return rawReset{}, err
	case r.used.Valid || r.ended.Valid, r.codeKey.Valid && r.codeTries <= 0:
		return rawReset{}, errRawInvalid
	case db.now() >= r.expires:
		return rawReset{}, errRawExpired
	}
	return r, nil
}

// redeem is ResetPassword's statements with a password hash computed
// elsewhere: the lookup, one transaction (spend the token, set the
// password, revoke the sessions, queue the notice), then, the notice sent,
// its job finished.
func (db *rawDB) redeem(ctx context.Context, token, passwordHash string, payload []byte) (revoked int64, err error) {
	r, err := db.lookup(ctx, token)
	if err != nil {
		return 0, err
	}
	now := db.now()
	jobID := "job_" + ulid.MustNew(uint64(now), rand.Reader).String()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var userID, email string
	if err := tx.StmtContext(ctx, db.spendReset).QueryRowContext(ctx, now, r.id).Scan(&userID, &email); err != nil {
		return 0, err // a lost race or an expiry since the lookup
	}
	var u rawUser
	if err := tx.StmtContext(ctx, db.setPassword).QueryRowContext(ctx, passwordHash, now, userID).Scan(u.dest()...); err != nil {
		return 0, err
	}
	if !strings.EqualFold(u.email, email) {
		return 0, sql.ErrNoRows // the address left the user
	}
	res, err := tx.StmtContext(ctx, db.revokeUserSessions).ExecContext(ctx, now, userID)
	if err != nil {
		return 0, err
	}
	if revoked, err = res.RowsAffected(); err != nil {
		return 0, err
	}
	if _, err := tx.StmtContext(ctx, db.insertJob).ExecContext(ctx, jobID, "email", userID, payload, 1,
		now, now+rawLease.Milliseconds(), now); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	// The notice is sent here.
	if err := db.finish(ctx, jobID); err != nil {
		return 0, err
	}
	return revoked, nil
}

// rawSession is a sessions row.
type rawSession struct {
	id, userID, userAgent, ip, stamp string
	created, seen, expires           int64
	revoked                          sql.NullInt64
}

// validate is session.Manager.Validate's statements: the lookup, judged at
// the clock, and the write of last_seen_at when it is a minute stale.
func (db *rawDB) validate(ctx context.Context, token string) (rawSession, error) {
	h := sha256.Sum256([]byte(token))
	var s rawSession
	err := db.sessionByTokenHash.QueryRowContext(ctx, h[:]).Scan(&s.id, &s.userID, &s.created,
		&s.seen, &s.expires, &s.revoked, &s.userAgent, &s.ip, &s.stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return rawSession{}, errRawNotFound
	}
	if err != nil {
		return rawSession{}, err
	}
	return s, db.judge(ctx, &s, db.now())
}

func (db *rawDB) judge(ctx context.Context, s *rawSession, now int64) error {
	switch {
	case s.revoked.Valid:
		return errRawInvalid
	case now >= s.expires, now >= s.seen+rawIdle.Milliseconds():
		return errRawExpired
	}
	if now-s.seen >= rawTouchEvery.Milliseconds() {
		if _, err := db.touchSession.ExecContext(ctx, now, s.id); err != nil {
			return err
		}
		s.seen = now
	}
	return nil
}
