package pgstore_test

// The raw side of the benchmarks (storebench.Raw) on Postgres: the
// statements the Store issues on each hot path (its own text, BenchSQL),
// issued by hand with pgx, batched where the Store batches them, over a
// pool made as the passreset side's (newPool: pgxpool's defaults, which
// prepare and cache every statement on each connection).
// storebench.NewRaw issues them in the order of the flows.

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/pgstore"
)

// rawDB is the raw side's statements over a pool of its own.
type rawDB struct {
	pool *pgxpool.Pool
	now  func() time.Time  // UTC, to the millisecond
	host bool              // the users are the host's accounts
	q    map[string]string // the Store's statements (storebench.Statements)
}

// openRaw opens the raw side on pool; host is HostBenchSQL of a Store over
// the host's accounts, or nil over passreset's own users.
func openRaw(tb testing.TB, pool *pgxpool.Pool, host map[string]string, now func() time.Time) storebench.Raw {
	db := &rawDB{pool: pool, host: host != nil,
		q: storebench.Statements(tb, pgstore.BenchSQL, host, "CommitUnsynced", "RateLimitLock", "RateLimitCount", "UserByEmail",
			"CreateResetLock", "CreateReset", "FinishJob", "ResetByID", "ResetByTokenHash", "UserByID", "RedeemReset",
			"SessionByTokenHash", "TouchSession", "PasswordHash"),
		now: storebench.Clock(now)}
	return storebench.NewRaw(db, db.host, pgx.ErrNoRows)
}

func (db *rawDB) Now() time.Time { return db.now() }

// rawUser is a users row: passreset's, or the host's (id, email,
// verified).
type rawUser struct {
	id, email, first, last, picture, external, locale string
	key                                               int64 // the host's
	verified                                          bool
	metadata                                          []byte
	signIn                                            pgtype.Timestamptz
	created, updated                                  time.Time
}

func (db *rawDB) scanUser(row pgx.Row, extra ...any) (storebench.RawUser, error) {
	var u rawUser
	if db.host {
		if err := row.Scan(append([]any{&u.key, &u.email, &u.verified}, extra...)...); err != nil {
			return storebench.RawUser{}, err
		}
		return storebench.RawUser{ID: storebench.HostID(u.key), Email: u.email}, nil
	}
	err := row.Scan(append([]any{&u.id, &u.email, &u.verified, &u.first, &u.last, &u.picture,
		&u.external, &u.locale, &u.metadata, &u.signIn, &u.created, &u.updated}, extra...)...)
	return storebench.RawUser{ID: u.id, Email: u.email}, err
}

func (db *rawDB) UserByEmail(ctx context.Context, email string) (storebench.RawUser, error) {
	return db.scanUser(db.pool.QueryRow(ctx, db.q["UserByEmail"], email))
}

func (db *rawDB) UserByID(ctx context.Context, key any) (storebench.RawUser, error) {
	return db.scanUser(db.pool.QueryRow(ctx, db.q["UserByID"], key))
}

type rawReset struct {
	id, userID, email        string
	hash, codeHash           []byte
	created, expires         time.Time
	used, ended, codeExpires pgtype.Timestamptz
	codeKey                  pgtype.Text
	codeTries                int
}

func (r *rawReset) dest() []any {
	return []any{&r.id, &r.userID, &r.email, &r.hash, &r.created, &r.expires, &r.used, &r.ended,
		&r.codeKey, &r.codeHash, &r.codeExpires, &r.codeTries}
}

// job returns the eight one-element arrays of an email job.
func job(id, userID string, payload []byte, now time.Time) []any {
	return []any{[]string{id}, []string{"email"}, []string{userID}, [][]byte{payload}, []int32{1},
		[]time.Time{now}, []pgtype.Timestamptz{{Time: now.Add(storebench.Lease), Valid: true}}, []time.Time{now}}
}

// Allow is the rate limit: one batch, committed unsynced.
func (db *rawDB) Allow(ctx context.Context, rateKey string, now time.Time) error {
	b := &pgx.Batch{}
	b.Queue(db.q["CommitUnsynced"])
	b.Queue(db.q["RateLimitLock"], rateKey)
	b.Queue(db.q["RateLimitCount"], rateKey, now.Add(-storebench.Window), now, int64(storebench.RateLimit), now.Add(time.Minute))
	br := db.pool.SendBatch(ctx, b)
	var (
		n      int64
		oldest pgtype.Timestamptz
	)
	_, err := br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	if err == nil {
		err = br.QueryRow().Scan(&n, &oldest)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n >= storebench.RateLimit {
		return storebench.ErrRateLimited
	}
	return nil
}

// CreateReset: one batch, the user's lock, then one statement (the other
// resets ended, the reset and its job inserted).
func (db *rawDB) CreateReset(ctx context.Context, u storebench.RawUser, key any, c storebench.Created, rateKey string, payload []byte, now time.Time) error {
	args := append([]any{c.ResetID, u.ID, u.Email, c.TokenHash, now, now.Add(storebench.TTL), nil, nil,
		rateKey, c.CodeHash, now.Add(storebench.TTL), storebench.CodeTries}, job(c.JobID, u.ID, payload, now)...)
	if db.host {
		args = append(args, key)
	}
	b := &pgx.Batch{}
	b.Queue(db.q["CreateResetLock"], u.ID)
	b.Queue(db.q["CreateReset"], args...)
	br := db.pool.SendBatch(ctx, b)
	var found bool
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&found)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if !found {
		return storebench.ErrNotFound
	}
	return nil
}

// FinishJob marks a job finished in a transaction that commits without
// waiting for the disk, as the Store does.
func (db *rawDB) FinishJob(ctx context.Context, jobID string) error {
	b := &pgx.Batch{}
	b.Queue(db.q["CommitUnsynced"])
	b.Queue(db.q["FinishJob"], jobID, db.now())
	return db.pool.SendBatch(ctx, b).Close()
}

func (db *rawDB) ResetByID(ctx context.Context, id string) error {
	var r rawReset
	return db.pool.QueryRow(ctx, db.q["ResetByID"], id).Scan(r.dest()...)
}

func (db *rawDB) ResetByHash(ctx context.Context, h []byte) (storebench.RawReset, error) {
	var r rawReset
	err := db.pool.QueryRow(ctx, db.q["ResetByTokenHash"], h).Scan(r.dest()...)
	if err != nil {
		return storebench.RawReset{}, err
	}
	return storebench.RawReset{ID: r.id, UserID: r.userID, Email: r.email, Used: r.used.Valid, Ended: r.ended.Valid,
		Coded: r.codeKey.Valid, CodeTries: r.codeTries, Expires: r.expires}, nil
}

// Redeem: one statement (spend the token, write the hash, revoke the
// sessions, queue the notice).
func (db *rawDB) Redeem(ctx context.Context, r storebench.RawReset, key any, passwordHash, jobID string, payload []byte, now time.Time) (revoked int64, err error) {
	args := append([]any{r.ID, r.UserID, now, passwordHash}, job(jobID, r.UserID, payload, now)...)
	if db.host {
		args = append(args, key, now)
	}
	_, err = db.scanUser(db.pool.QueryRow(ctx, db.q["RedeemReset"], args...), &revoked)
	return revoked, err
}

type rawSession struct {
	id, userID, userAgent, ip, stamp string
	created, seen, expires           time.Time
	revoked                          pgtype.Timestamptz
}

func (db *rawDB) SessionByHash(ctx context.Context, h []byte) (storebench.RawSession, error) {
	var s rawSession
	err := db.pool.QueryRow(ctx, db.q["SessionByTokenHash"], h).Scan(&s.id, &s.userID, &s.created,
		&s.seen, &s.expires, &s.revoked, &s.userAgent, &s.ip, &s.stamp)
	return storebench.RawSession{ID: s.id, Revoked: s.revoked.Valid, Seen: s.seen, Expires: s.expires}, err
}

func (db *rawDB) TouchSession(ctx context.Context, id string, now time.Time) error {
	_, err := db.pool.Exec(ctx, db.q["TouchSession"], id, now)
	return err
}

func (db *rawDB) PasswordHash(ctx context.Context, key any) (string, error) {
	var h string
	err := db.pool.QueryRow(ctx, db.q["PasswordHash"], key).Scan(&h)
	return h, err
}

var _ storebench.RawSteps = (*rawDB)(nil)
