package sqlitestore_test

// The raw side of the benchmarks (storebench.Raw) on SQLite: the
// statements the Store issues on each hot path (their text, BenchSQL),
// issued by hand with database/sql, prepared where the Store prepares
// them, over pools shaped as Open shapes them and opened with the same
// DSN. No code of the module runs here but sqlitestore.DSN.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/sqlitestore"
)

// rawDB is the raw side's database: a write pool of one connection and a
// read pool, opened as sqlitestore.Open opens them.
type rawDB struct {
	w, r *sql.DB
	now  func() int64 // the clock, in UTC milliseconds
	host bool         // the users are the host's accounts
	// on r
	userByEmail, userByID, passwordHash, resetByID, resetByTokenHash, sessionByTokenHash *sql.Stmt
	// on w
	allowRequest, endResets, userExists, insertReset, insertJob, spendReset, setPassword,
	revokeUserSessions, touchSession, finishJob *sql.Stmt
}

// openRaw opens the raw side on the file at path.
func openRaw(tb testing.TB, path string, host bool, now func() time.Time) *rawDB {
	tb.Helper()
	dsn := sqlitestore.DSN(path)
	w, err := sql.Open("sqlite3", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.Close() })
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	if err := w.PingContext(context.Background()); err != nil {
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
	return openRawOn(tb, w, r, host, now)
}

// openRawOn prepares the raw side's statements on w and r.
func openRawOn(tb testing.TB, w, r *sql.DB, host bool, now func() time.Time) *rawDB {
	tb.Helper()
	db := &rawDB{w: w, r: r, host: host, now: func() int64 { return time.Now().UnixMilli() }}
	if now != nil {
		db.now = func() int64 { return now().UnixMilli() }
	}
	var hostSQL map[string]string
	if host {
		hostSQL = sqlitestore.HostBenchSQL(sqltest.Accounts())
	}
	q := storebench.Statements(tb, sqlitestore.BenchSQL, hostSQL, "UserByEmail", "UserByID", "PasswordHash", "ResetByID",
		"ResetByTokenHash", "SessionByTokenHash", "AllowRequest", "EndResets", "UserExists", "InsertReset", "InsertJob",
		"SpendReset", "SetPassword", "RevokeUserSessions", "TouchSession", "FinishJob")
	for _, p := range []struct {
		st   **sql.Stmt
		db   *sql.DB
		text string
	}{
		{&db.userByEmail, r, q["UserByEmail"]},
		{&db.userByID, r, q["UserByID"]},
		{&db.passwordHash, r, q["PasswordHash"]},
		{&db.resetByID, r, q["ResetByID"]},
		{&db.resetByTokenHash, r, q["ResetByTokenHash"]},
		{&db.sessionByTokenHash, r, q["SessionByTokenHash"]},
		{&db.allowRequest, w, q["AllowRequest"]},
		{&db.endResets, w, q["EndResets"]},
		{&db.userExists, w, q["UserExists"]},
		{&db.insertReset, w, q["InsertReset"]},
		{&db.insertJob, w, q["InsertJob"]},
		{&db.spendReset, w, q["SpendReset"]},
		{&db.setPassword, w, q["SetPassword"]},
		{&db.revokeUserSessions, w, q["RevokeUserSessions"]},
		{&db.touchSession, w, q["TouchSession"]},
		{&db.finishJob, w, q["FinishJob"]},
	} {
		st, err := p.db.PrepareContext(context.Background(), p.text)
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

// rawUser is a users row: passreset's, or the host's (id, email,
// verified).
type rawUser struct {
	id, email, first, last, picture, external, locale string
	key                                               int64 // the host's
	verified                                          bool
	metadata                                          sql.NullString
	signIn                                            sql.NullInt64
	created, updated                                  int64
}

func (db *rawDB) scanUser(row *sql.Row, u *rawUser) error {
	if db.host {
		if err := row.Scan(&u.key, &u.email, &u.verified); err != nil {
			return err
		}
		u.id = storebench.HostID(u.key)
		return nil
	}
	return row.Scan(&u.id, &u.email, &u.verified, &u.first, &u.last, &u.picture,
		&u.external, &u.locale, &u.metadata, &u.signIn, &u.created, &u.updated)
}

// Create: the rate limit, the user, one transaction (end the older
// resets, check the user, insert the reset and its email job), then, the
// email sent, the job finished. The token is made as the module makes it.
func (db *rawDB) Create(ctx context.Context, email, rateKey string, payload []byte) error {
	now := db.now()
	var n int64
	err := db.unsynced(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, db.allowRequest).ExecContext(ctx, rateKey, now, now-storebench.Window.Milliseconds(), storebench.RateLimit, now+time.Minute.Milliseconds())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n != 1 {
		return storebench.ErrRateLimited
	}
	var u rawUser
	if err := db.scanUser(db.userByEmail.QueryRowContext(ctx, email), &u); err != nil {
		return err
	}
	c := storebench.NewCreated(time.UnixMilli(now))

	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, db.endResets).ExecContext(ctx, now, u.id); err != nil {
		return err
	}
	key, err := storebench.UserKey(db.host, u.id)
	if err != nil {
		return err
	}
	var one int
	if err := tx.StmtContext(ctx, db.userExists).QueryRowContext(ctx, key).Scan(&one); err != nil {
		return err
	}
	ttl := storebench.TTL.Milliseconds()
	if _, err := tx.StmtContext(ctx, db.insertReset).ExecContext(ctx, c.ResetID, u.id, u.email, c.TokenHash,
		now, now+ttl, nil, nil, rateKey, c.CodeHash, now+ttl, storebench.CodeTries); err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, db.insertJob).ExecContext(ctx, c.JobID, "email", u.id, payload, 1,
		now, now+storebench.Lease.Milliseconds(), now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// The email is sent here.
	return db.finish(ctx, c.JobID)
}

// rawReset is a passreset_resets row.
type rawReset struct {
	id, userID, email        string
	hash, codeHash           []byte
	created, expires         int64
	used, ended, codeExpires sql.NullInt64
	codeKey                  sql.NullString
	codeTries                int
}

// Get is GetPasswordReset's statement.
func (db *rawDB) Get(ctx context.Context, id string) error {
	var r rawReset
	return db.resetByID.QueryRowContext(ctx, id).Scan(&r.id, &r.userID, &r.email, &r.hash,
		&r.created, &r.expires, &r.used, &r.ended, &r.codeKey, &r.codeHash, &r.codeExpires, &r.codeTries)
}

func (db *rawDB) lookup(ctx context.Context, token string) (rawReset, error) {
	h := sha256.Sum256([]byte(token))
	var r rawReset
	err := db.resetByTokenHash.QueryRowContext(ctx, h[:]).Scan(&r.id, &r.userID, &r.email,
		&r.created, &r.expires, &r.used, &r.ended, &r.codeKey, &r.codeHash, &r.codeExpires, &r.codeTries)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return rawReset{}, storebench.ErrInvalid
	case err != nil:
		return rawReset{}, err
	}
	return r, storebench.Spendable(r.used.Valid, r.ended.Valid, r.codeKey.Valid, r.codeTries,
		time.UnixMilli(r.expires), time.UnixMilli(db.now()))
}

// Lookup is the cheap rejection of ResetPassword.
func (db *rawDB) Lookup(ctx context.Context, token string) error {
	_, err := db.lookup(ctx, token)
	return err
}

// Redeem: the lookup, the user's current address, one transaction (spend
// the token, set the password, revoke the sessions, queue the notice),
// then, the notice sent, its job finished.
func (db *rawDB) Redeem(ctx context.Context, token, passwordHash string, payload []byte) (revoked int64, err error) {
	r, err := db.lookup(ctx, token)
	if err != nil {
		return 0, err
	}
	// The user's current address, which the notice goes to (and to the
	// reset's, were it another).
	key, err := storebench.UserKey(db.host, r.userID)
	if err != nil {
		return 0, err
	}
	var current rawUser
	if err := db.scanUser(db.userByID.QueryRowContext(ctx, key), &current); err != nil {
		return 0, err
	}
	if !strings.EqualFold(current.email, r.email) {
		return 0, errors.New("raw: the user's address changed")
	}
	now := db.now()
	jobID := "job_" + storebench.NewID(time.UnixMilli(now))
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var userID, email string
	if err := tx.StmtContext(ctx, db.spendReset).QueryRowContext(ctx, now, r.id).Scan(&userID, &email); err != nil {
		return 0, err // a lost race or an expiry since the lookup
	}
	if userID != r.userID {
		return 0, storebench.ErrInvalid
	}
	var updated any = now
	if db.host {
		updated = time.UnixMilli(now).UTC().Format("2006-01-02 15:04:05.000")
	}
	var u rawUser
	if err := db.scanUser(tx.StmtContext(ctx, db.setPassword).QueryRowContext(ctx, passwordHash, updated, key), &u); err != nil {
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
		now, now+storebench.Lease.Milliseconds(), now); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	// The old hash's page images leave the write-ahead log.
	if _, err := db.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return 0, err
	}
	// The notice is sent here.
	return revoked, db.finish(ctx, jobID)
}

// rawSession is a passreset_sessions row.
type rawSession struct {
	id, userID, userAgent, ip, stamp string
	created, seen, expires           int64
	revoked                          sql.NullInt64
}

// Validate: the lookup, judged at the clock, and the write of
// last_seen_at when it is a minute stale.
func (db *rawDB) Validate(ctx context.Context, token string) error {
	h := sha256.Sum256([]byte(token))
	var s rawSession
	err := db.sessionByTokenHash.QueryRowContext(ctx, h[:]).Scan(&s.id, &s.userID, &s.created,
		&s.seen, &s.expires, &s.revoked, &s.userAgent, &s.ip, &s.stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return storebench.ErrNotFound
	}
	if err != nil {
		return err
	}
	now := db.now()
	touch, err := storebench.Judge(s.revoked.Valid, time.UnixMilli(s.seen), time.UnixMilli(s.expires), time.UnixMilli(now))
	if touch {
		_, err = db.touchSession.ExecContext(ctx, now, s.id)
	}
	return err
}

// PasswordHash is the indexed lookup of the user's hash.
func (db *rawDB) PasswordHash(ctx context.Context, userID string) (string, error) {
	key, err := storebench.UserKey(db.host, userID)
	if err != nil {
		return "", err
	}
	var h string
	err = db.passwordHash.QueryRowContext(ctx, key).Scan(&h)
	return h, err
}
