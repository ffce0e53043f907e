package pgstore_test

// The raw side of the benchmarks (storebench.Raw) on Postgres: the
// statements the Store issues on each hot path (its own text, BenchSQL),
// issued by hand with pgx, batched where the Store batches them, over a
// pool made as the passreset side's (newPool: pgxpool's defaults, which
// prepare and cache every statement on each connection).

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/pgstore"
)

// rawDB is the raw side over a pool of its own.
type rawDB struct {
	pool *pgxpool.Pool
	now  func() time.Time  // UTC, to the millisecond
	host bool              // the users are the host's accounts
	q    map[string]string // the Store's statements (storebench.Statements)
}

// openRaw opens the raw side on pool; host is HostBenchSQL of a Store over
// the host's accounts, or nil over passreset's own users.
func openRaw(tb testing.TB, pool *pgxpool.Pool, host map[string]string, now func() time.Time) *rawDB {
	db := &rawDB{pool: pool, host: host != nil,
		q: storebench.Statements(tb, pgstore.BenchSQL, host, "CommitUnsynced", "RateLimitLock", "RateLimitCount", "UserByEmail",
			"CreateResetLock", "CreateReset", "FinishJob", "ResetByID", "ResetByTokenHash", "UserByID", "RedeemReset",
			"SessionByTokenHash", "TouchSession", "PasswordHash"),
		now: storebench.Clock(now)}
	return db
}

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

func (db *rawDB) scanUser(row pgx.Row, u *rawUser, extra ...any) error {
	if db.host {
		if err := row.Scan(append([]any{&u.key, &u.email, &u.verified}, extra...)...); err != nil {
			return err
		}
		u.id = storebench.HostID(u.key)
		return nil
	}
	return row.Scan(append([]any{&u.id, &u.email, &u.verified, &u.first, &u.last, &u.picture,
		&u.external, &u.locale, &u.metadata, &u.signIn, &u.created, &u.updated}, extra...)...)
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

// Create: the rate limit (one batch, committed unsynced), the user, the
// reset and its job (one batch: the user's lock, then one statement),
// then, the email sent, the job finished.
func (db *rawDB) Create(ctx context.Context, email, rateKey string, payload []byte) error {
	now := db.now()
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
	var u rawUser
	if err := db.scanUser(db.pool.QueryRow(ctx, db.q["UserByEmail"], email), &u); err != nil {
		return err
	}
	c := storebench.NewCreated(now)
	args := append([]any{c.ResetID, u.id, u.email, c.TokenHash, now, now.Add(storebench.TTL), nil, nil,
		rateKey, c.CodeHash, now.Add(storebench.TTL), storebench.CodeTries}, job(c.JobID, u.id, payload, now)...)
	if db.host {
		args = append(args, u.key)
	}
	b = &pgx.Batch{}
	b.Queue(db.q["CreateResetLock"], u.id)
	b.Queue(db.q["CreateReset"], args...)
	br = db.pool.SendBatch(ctx, b)
	var found bool
	_, err = br.Exec()
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
	// The email is sent here.
	return db.finish(ctx, c.JobID)
}

// finish marks a job finished in a transaction that commits without
// waiting for the disk, as the Store does.
func (db *rawDB) finish(ctx context.Context, jobID string) error {
	b := &pgx.Batch{}
	b.Queue(db.q["CommitUnsynced"])
	b.Queue(db.q["FinishJob"], jobID, db.now())
	return db.pool.SendBatch(ctx, b).Close()
}

func (db *rawDB) Get(ctx context.Context, id string) error {
	var r rawReset
	return db.pool.QueryRow(ctx, db.q["ResetByID"], id).Scan(r.dest()...)
}

func (db *rawDB) lookup(ctx context.Context, token string) (rawReset, error) {
	h := sha256.Sum256([]byte(token))
	var r rawReset
	err := db.pool.QueryRow(ctx, db.q["ResetByTokenHash"], h[:]).Scan(r.dest()...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return rawReset{}, storebench.ErrInvalid
	case err != nil:
		return rawReset{}, err
	}
	return r, storebench.Spendable(r.used.Valid, r.ended.Valid, r.codeKey.Valid, r.codeTries, r.expires, db.now())
}

func (db *rawDB) Lookup(ctx context.Context, token string) error {
	_, err := db.lookup(ctx, token)
	return err
}

// Redeem: the lookup, the user's current address, then one statement
// (spend the token, write the hash, revoke the sessions, queue the
// notice), then, the notice sent, its job finished.
func (db *rawDB) Redeem(ctx context.Context, token, passwordHash string, payload []byte) (revoked int64, err error) {
	r, err := db.lookup(ctx, token)
	if err != nil {
		return 0, err
	}
	// The user's current address, which the notice goes to (and to the
	// reset's, were it another).
	k, err := storebench.UserKey(db.host, r.userID)
	if err != nil {
		return 0, err
	}
	var current rawUser
	if err := db.scanUser(db.pool.QueryRow(ctx, db.q["UserByID"], k), &current); err != nil {
		return 0, err
	}
	if !strings.EqualFold(current.email, r.email) {
		return 0, errors.New("raw: the user's address changed")
	}
	now := db.now()
	jobID := "job_" + storebench.NewID(now)
	args := append([]any{r.id, r.userID, now, passwordHash}, job(jobID, r.userID, payload, now)...)
	if db.host {
		args = append(args, k, now)
	}
	var u rawUser
	if err := db.scanUser(db.pool.QueryRow(ctx, db.q["RedeemReset"], args...), &u, &revoked); err != nil {
		return 0, err
	}
	// The notice is sent here.
	return revoked, db.finish(ctx, jobID)
}

type rawSession struct {
	id, userID, userAgent, ip, stamp string
	created, seen, expires           time.Time
	revoked                          pgtype.Timestamptz
}

func (db *rawDB) Validate(ctx context.Context, token string) error {
	h := sha256.Sum256([]byte(token))
	var s rawSession
	err := db.pool.QueryRow(ctx, db.q["SessionByTokenHash"], h[:]).Scan(&s.id, &s.userID, &s.created,
		&s.seen, &s.expires, &s.revoked, &s.userAgent, &s.ip, &s.stamp)
	if errors.Is(err, pgx.ErrNoRows) {
		return storebench.ErrNotFound
	}
	if err != nil {
		return err
	}
	now := db.now()
	touch, err := storebench.Judge(s.revoked.Valid, s.seen, s.expires, now)
	if touch {
		_, err = db.pool.Exec(ctx, db.q["TouchSession"], s.id, now)
	}
	return err
}

func (db *rawDB) PasswordHash(ctx context.Context, userID string) (string, error) {
	k, err := storebench.UserKey(db.host, userID)
	if err != nil {
		return "", err
	}
	var h string
	err = db.pool.QueryRow(ctx, db.q["PasswordHash"], k).Scan(&h)
	return h, err
}

var _ storebench.Raw = (*rawDB)(nil)
