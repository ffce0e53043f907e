package mysqlstore_test

// The raw side of the benchmarks (storebench.Raw) on MySQL: the statements
// the Store issues on each hot path (its own text, BenchSQL), issued by
// hand with database/sql, in the transactions the Store makes, over a pool
// made as the passreset side's (benchPool). storebench.NewRaw issues them
// in the order of the flows.

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/passreset/passreset/store/internal/hostusers"
	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/mysqlstore"
)

// rawDB is the raw side's statements over a pool of its own.
type rawDB struct {
	db   *sql.DB
	now  func() time.Time  // UTC, to the millisecond
	host bool              // the users are the host's accounts
	q    map[string]string // the Store's statements (storebench.Statements)
}

// openRaw opens the raw side on db; host is HostBenchSQL of a Store over
// the host's accounts, or nil over passreset's own users.
func openRaw(tb testing.TB, db *sql.DB, host map[string]string, now func() time.Time) storebench.Raw {
	r := &rawDB{db: db, host: host != nil,
		q: storebench.Statements(tb, mysqlstore.BenchSQL, host, "RateLock", "RateCount", "RateRecord", "RateUnlock",
			"UserByEmail", "UserByID", "LockUser", "EndResets", "InsertReset", "InsertJob", "FinishJob", "ResetByID",
			"ResetByTokenHash", "SpendReset", "ResetEmail", "SetPassword", "RevokeUserSessions", "SessionByTokenHash",
			"TouchSession", "PasswordHash"),
		now: storebench.Clock(now)}
	return storebench.NewRaw(r, r.host, sql.ErrNoRows)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func (db *rawDB) Now() time.Time { return db.now() }

func (db *rawDB) UserByEmail(ctx context.Context, email string) (storebench.RawUser, error) {
	return storebench.ScanSQLUser(db.db.QueryRowContext(ctx, db.q["UserByEmail"], email), db.host)
}

func (db *rawDB) UserByID(ctx context.Context, key any) (storebench.RawUser, error) {
	return storebench.ScanSQLUser(db.db.QueryRowContext(ctx, db.q["UserByID"], key), db.host)
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

// Allow is the rate limit: the key's named lock on a connection of its
// own, the count, the record, the lock released.
func (db *rawDB) Allow(ctx context.Context, rateKey string, now time.Time) error {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, db.q["RateLock"], rateKey).Scan(&got); err != nil {
		return err
	}
	if got.Int64 != 1 {
		return errors.New("raw: lock not taken")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), db.q["RateUnlock"], rateKey)
	var (
		n      int64
		oldest sql.NullInt64
	)
	if err := conn.QueryRowContext(ctx, db.q["RateCount"], rateKey, ms(now.Add(-storebench.Window)), ms(now.Add(time.Minute))).Scan(&n, &oldest); err != nil {
		return err
	}
	if n >= storebench.RateLimit {
		return storebench.ErrRateLimited
	}
	_, err = conn.ExecContext(ctx, db.q["RateRecord"], rateKey, ms(now))
	return err
}

// CreateReset: one transaction (the user's row locked, the other resets
// ended, the reset and its job inserted).
func (db *rawDB) CreateReset(ctx context.Context, u storebench.RawUser, key any, c storebench.Created, rateKey string, payload []byte, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := storebench.ScanSQLUser(tx.QueryRowContext(ctx, db.q["LockUser"], key), db.host); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q["EndResets"], ms(now), u.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q["InsertReset"], c.ResetID, u.ID, u.Email, c.TokenHash, ms(now), ms(now.Add(storebench.TTL)),
			nil, nil, rateKey, c.CodeHash, ms(now.Add(storebench.TTL)), storebench.CodeTries); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q["InsertJob"], c.JobID, "email", u.ID, payload, 1, ms(now), ms(now.Add(storebench.Lease)), ms(now), "")
		return err
	})
}

func (db *rawDB) FinishJob(ctx context.Context, jobID string) error {
	_, err := db.db.ExecContext(ctx, db.q["FinishJob"], ms(db.now()), jobID)
	return err
}

func (db *rawDB) ResetByID(ctx context.Context, id string) error {
	var r rawReset
	return db.db.QueryRowContext(ctx, db.q["ResetByID"], id).Scan(r.dest()...)
}

func (db *rawDB) ResetByHash(ctx context.Context, h []byte) (storebench.RawReset, error) {
	var r rawReset
	err := db.db.QueryRowContext(ctx, db.q["ResetByTokenHash"], h).Scan(r.dest()...)
	if err != nil {
		return storebench.RawReset{}, err
	}
	return storebench.RawReset{ID: r.id, UserID: r.userID, Email: r.email, Used: r.used.Valid, Ended: r.ended.Valid,
		Coded: r.codeKey.Valid, CodeTries: r.codeTries, Expires: time.UnixMilli(r.expires)}, nil
}

// Redeem: one transaction (the user's row locked, the token spent, its
// address checked against the user's, the hash written, the sessions
// revoked, the notice queued).
func (db *rawDB) Redeem(ctx context.Context, r storebench.RawReset, key any, passwordHash, jobID string, payload []byte, now time.Time) (revoked int64, err error) {
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		u, err := storebench.ScanSQLUser(tx.QueryRowContext(ctx, db.q["LockUser"], key), db.host)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q["SpendReset"], ms(now), r.ID, r.UserID, ms(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(storebench.ErrInvalid, err)
		}
		// The address check: the reset's address is still the user's.
		var email string
		if err := tx.QueryRowContext(ctx, db.q["ResetEmail"], r.ID).Scan(&email); err != nil {
			return err
		}
		if hostusers.Fold(email) != hostusers.Fold(u.Email) {
			return storebench.ErrInvalid
		}
		if _, err := tx.ExecContext(ctx, db.q["SetPassword"], passwordHash, ms(now), key); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, db.q["RevokeUserSessions"], ms(now), r.UserID, ms(now))
		if err != nil {
			return err
		}
		if revoked, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q["InsertJob"], jobID, "email", r.UserID, payload, 1, ms(now), ms(now.Add(storebench.Lease)), ms(now), "")
		return err
	})
	return revoked, err
}

func (db *rawDB) SessionByHash(ctx context.Context, h []byte) (storebench.RawSession, error) {
	return storebench.ScanSQLSession(db.db.QueryRowContext(ctx, db.q["SessionByTokenHash"], h))
}

func (db *rawDB) TouchSession(ctx context.Context, id string, now time.Time) error {
	_, err := db.db.ExecContext(ctx, db.q["TouchSession"], ms(now), id)
	return err
}

func (db *rawDB) PasswordHash(ctx context.Context, key any) (string, error) {
	var h string
	err := db.db.QueryRowContext(ctx, db.q["PasswordHash"], key).Scan(&h)
	return h, err
}

var _ storebench.RawSteps = (*rawDB)(nil)
