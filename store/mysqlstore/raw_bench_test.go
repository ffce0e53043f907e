package mysqlstore_test

// The raw side of the benchmarks (storebench.Raw) on MySQL: the statements
// the Store issues on each hot path (its own text, BenchSQL), issued by
// hand with database/sql, in the transactions the Store makes, over a pool
// made as the passreset side's (benchPool).

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/passreset/passreset/store/internal/hostusers"
	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/mysqlstore"
)

// rawDB is the raw side over a pool of its own.
type rawDB struct {
	db   *sql.DB
	now  func() time.Time  // UTC, to the millisecond
	host bool              // the users are the host's accounts
	q    map[string]string // the Store's statements (storebench.Statements)
}

// openRaw opens the raw side on db; host is HostBenchSQL of a Store over
// the host's accounts, or nil over passreset's own users.
func openRaw(tb testing.TB, db *sql.DB, host map[string]string, now func() time.Time) *rawDB {
	r := &rawDB{db: db, host: host != nil,
		q: storebench.Statements(tb, mysqlstore.BenchSQL, host, "RateLock", "RateCount", "RateRecord", "RateUnlock",
			"UserByEmail", "UserByID", "LockUser", "EndResets", "InsertReset", "InsertJob", "FinishJob", "ResetByID",
			"ResetByTokenHash", "SpendReset", "ResetEmail", "SetPassword", "RevokeUserSessions", "SessionByTokenHash",
			"TouchSession", "PasswordHash"),
		now: storebench.Clock(now)}
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
		u.id = storebench.HostID(u.key)
		return nil
	}
	return row.Scan(&u.id, &u.email, &u.verified, &u.first, &u.last, &u.picture,
		&u.external, &u.locale, &u.metadata, &u.signIn, &u.created, &u.updated)
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

// Create: the rate limit, the user, one transaction (the user's row
// locked, the other resets ended, the reset and its job inserted), then,
// the email sent, the job finished.
func (db *rawDB) Create(ctx context.Context, email, rateKey string, payload []byte) error {
	now := db.now()
	if err := db.allow(ctx, rateKey, now); err != nil {
		return err
	}
	var u rawUser
	if err := db.scanUser(db.db.QueryRowContext(ctx, db.q["UserByEmail"], email), &u); err != nil {
		return err
	}
	c := storebench.NewCreated(now)
	key, err := storebench.UserKey(db.host, u.id)
	if err != nil {
		return err
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var locked rawUser
		if err := db.scanUser(tx.QueryRowContext(ctx, db.q["LockUser"], key), &locked); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q["EndResets"], ms(now), u.id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q["InsertReset"], c.ResetID, u.id, u.email, c.TokenHash, ms(now), ms(now.Add(storebench.TTL)),
			nil, nil, rateKey, c.CodeHash, ms(now.Add(storebench.TTL)), storebench.CodeTries); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q["InsertJob"], c.JobID, "email", u.id, payload, 1, ms(now), ms(now.Add(storebench.Lease)), ms(now), "")
		return err
	})
	if err != nil {
		return err
	}
	// The email is sent here.
	return db.finish(ctx, c.JobID)
}

func (db *rawDB) finish(ctx context.Context, jobID string) error {
	_, err := db.db.ExecContext(ctx, db.q["FinishJob"], ms(db.now()), jobID)
	return err
}

func (db *rawDB) Get(ctx context.Context, id string) error {
	var r rawReset
	return db.db.QueryRowContext(ctx, db.q["ResetByID"], id).Scan(r.dest()...)
}

func (db *rawDB) lookup(ctx context.Context, token string) (rawReset, error) {
	h := sha256.Sum256([]byte(token))
	var r rawReset
	err := db.db.QueryRowContext(ctx, db.q["ResetByTokenHash"], h[:]).Scan(r.dest()...)
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
	jobID := "job_" + storebench.NewID(now)
	key, err := storebench.UserKey(db.host, r.userID)
	if err != nil {
		return 0, err
	}
	// The user's current address, which the notice goes to (and to the
	// reset's, were it another), read before the transaction as the flow
	// reads it.
	var current rawUser
	if err := db.scanUser(db.db.QueryRowContext(ctx, db.q["UserByID"], key), &current); err != nil {
		return 0, err
	}
	if hostusers.Fold(current.email) != hostusers.Fold(r.email) {
		return 0, errors.New("raw: the user's address changed")
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var u rawUser
		if err := db.scanUser(tx.QueryRowContext(ctx, db.q["LockUser"], key), &u); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q["SpendReset"], ms(now), r.id, r.userID, ms(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(storebench.ErrInvalid, err)
		}
		// The address check: the reset's address is still the user's.
		var email string
		if err := tx.QueryRowContext(ctx, db.q["ResetEmail"], r.id).Scan(&email); err != nil {
			return err
		}
		if hostusers.Fold(email) != hostusers.Fold(u.email) {
			return storebench.ErrInvalid
		}
		if _, err := tx.ExecContext(ctx, db.q["SetPassword"], passwordHash, ms(now), key); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, db.q["RevokeUserSessions"], ms(now), r.userID, ms(now))
		if err != nil {
			return err
		}
		if revoked, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q["InsertJob"], jobID, "email", r.userID, payload, 1, ms(now), ms(now.Add(storebench.Lease)), ms(now), "")
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
	err := db.db.QueryRowContext(ctx, db.q["SessionByTokenHash"], h[:]).Scan(&s.id, &s.userID, &s.created,
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
		_, err = db.db.ExecContext(ctx, db.q["TouchSession"], ms(now), s.id)
	}
	return err
}

func (db *rawDB) PasswordHash(ctx context.Context, userID string) (string, error) {
	k, err := storebench.UserKey(db.host, userID)
	if err != nil {
		return "", err
	}
	var h string
	err = db.db.QueryRowContext(ctx, db.q["PasswordHash"], k).Scan(&h)
	return h, err
}

var _ storebench.Raw = (*rawDB)(nil)
