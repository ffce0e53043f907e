package sqlitestore_test

// The raw side of the benchmarks (storebench.Raw) on SQLite: the
// statements the Store issues on each hot path (their text, BenchSQL),
// issued by hand with database/sql, prepared where the Store prepares
// them, over pools shaped as Open shapes them and opened with the same
// DSN. No code of the module runs here but sqlitestore.DSN.
// storebench.NewRaw issues them in the order of the flows.

import (
	"context"
	"database/sql"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/sqlitestore"
)

// rawDB is the raw side's statements on its database: a write pool of one
// connection and a read pool, opened as sqlitestore.Open opens them.
type rawDB struct {
	w, r *sql.DB
	now  func() time.Time // UTC, to the millisecond
	host bool             // the users are the host's accounts
	// on r
	userByEmail, userByID, passwordHash, resetByID, resetByTokenHash, sessionByTokenHash *sql.Stmt
	// on w
	allowRequest, endResets, userExists, insertReset, insertJob, spendReset, setPassword,
	revokeUserSessions, touchSession, finishJob *sql.Stmt
}

// openRaw opens the raw side on the file at path.
func openRaw(tb testing.TB, path string, host bool, now func() time.Time) storebench.Raw {
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
func openRawOn(tb testing.TB, w, r *sql.DB, host bool, now func() time.Time) storebench.Raw {
	tb.Helper()
	db := &rawDB{w: w, r: r, host: host, now: storebench.Clock(now)}
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
	return storebench.NewRaw(db, host, sql.ErrNoRows)
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

func (db *rawDB) Now() time.Time { return db.now() }

// Allow is the rate limit: one statement that records the request unless
// the limit is reached, committed unsynced.
func (db *rawDB) Allow(ctx context.Context, rateKey string, at time.Time) error {
	now := at.UnixMilli()
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
	return nil
}

// FinishJob marks a job finished, unsynced.
func (db *rawDB) FinishJob(ctx context.Context, jobID string) error {
	return db.unsynced(ctx, func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, db.finishJob).ExecContext(ctx, db.now().UnixMilli(), jobID)
		return err
	})
}

func (db *rawDB) UserByEmail(ctx context.Context, email string) (storebench.RawUser, error) {
	return storebench.ScanSQLUser(db.userByEmail.QueryRowContext(ctx, email), db.host)
}

func (db *rawDB) UserByID(ctx context.Context, key any) (storebench.RawUser, error) {
	return storebench.ScanSQLUser(db.userByID.QueryRowContext(ctx, key), db.host)
}

// CreateReset: one transaction (end the older resets, check the user,
// insert the reset and its email job).
func (db *rawDB) CreateReset(ctx context.Context, u storebench.RawUser, key any, c storebench.Created, rateKey string, payload []byte, at time.Time) error {
	now := at.UnixMilli()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, db.endResets).ExecContext(ctx, now, u.ID); err != nil {
		return err
	}
	var one int
	if err := tx.StmtContext(ctx, db.userExists).QueryRowContext(ctx, key).Scan(&one); err != nil {
		return err
	}
	ttl := storebench.TTL.Milliseconds()
	if _, err := tx.StmtContext(ctx, db.insertReset).ExecContext(ctx, c.ResetID, u.ID, u.Email, c.TokenHash,
		now, now+ttl, nil, nil, rateKey, c.CodeHash, now+ttl, storebench.CodeTries); err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, db.insertJob).ExecContext(ctx, c.JobID, "email", u.ID, payload, 1,
		now, now+storebench.Lease.Milliseconds(), now); err != nil {
		return err
	}
	return tx.Commit()
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

// ResetByID is GetPasswordReset's statement.
func (db *rawDB) ResetByID(ctx context.Context, id string) error {
	var r rawReset
	return db.resetByID.QueryRowContext(ctx, id).Scan(&r.id, &r.userID, &r.email, &r.hash,
		&r.created, &r.expires, &r.used, &r.ended, &r.codeKey, &r.codeHash, &r.codeExpires, &r.codeTries)
}

func (db *rawDB) ResetByHash(ctx context.Context, h []byte) (storebench.RawReset, error) {
	var r rawReset
	err := db.resetByTokenHash.QueryRowContext(ctx, h).Scan(&r.id, &r.userID, &r.email,
		&r.created, &r.expires, &r.used, &r.ended, &r.codeKey, &r.codeHash, &r.codeExpires, &r.codeTries)
	if err != nil {
		return storebench.RawReset{}, err
	}
	return storebench.RawReset{ID: r.id, UserID: r.userID, Email: r.email, Used: r.used.Valid, Ended: r.ended.Valid,
		Coded: r.codeKey.Valid, CodeTries: r.codeTries, Expires: time.UnixMilli(r.expires)}, nil
}

// Redeem: one transaction (spend the token, set the password, revoke the
// sessions, queue the notice), then the write-ahead log truncated.
func (db *rawDB) Redeem(ctx context.Context, r storebench.RawReset, key any, passwordHash, jobID string, payload []byte, at time.Time) (revoked int64, err error) {
	now := at.UnixMilli()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var userID, email string
	if err := tx.StmtContext(ctx, db.spendReset).QueryRowContext(ctx, now, r.ID).Scan(&userID, &email); err != nil {
		return 0, err // a lost race or an expiry since the lookup
	}
	if userID != r.UserID {
		return 0, storebench.ErrInvalid
	}
	var updated any = now
	if db.host {
		updated = at.UTC().Format("2006-01-02 15:04:05.000")
	}
	u, err := storebench.ScanSQLUser(tx.StmtContext(ctx, db.setPassword).QueryRowContext(ctx, passwordHash, updated, key), db.host)
	if err != nil {
		return 0, err
	}
	if !strings.EqualFold(u.Email, email) {
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
	return revoked, nil
}

func (db *rawDB) SessionByHash(ctx context.Context, h []byte) (storebench.RawSession, error) {
	return storebench.ScanSQLSession(db.sessionByTokenHash.QueryRowContext(ctx, h))
}

// TouchSession writes last_seen_at.
func (db *rawDB) TouchSession(ctx context.Context, id string, at time.Time) error {
	_, err := db.touchSession.ExecContext(ctx, at.UnixMilli(), id)
	return err
}

// PasswordHash is the indexed lookup of the user's hash.
func (db *rawDB) PasswordHash(ctx context.Context, key any) (string, error) {
	var h string
	err := db.passwordHash.QueryRowContext(ctx, key).Scan(&h)
	return h, err
}

var _ storebench.RawSteps = (*rawDB)(nil)
