package pgstore_test

// The raw side of the benchmarks (storebench.Raw) on Postgres: the
// statements the Store issues on each hot path, written by hand with pgx,
// batched where the Store batches them, over a pool made as the passreset
// side's (newPool: pgxpool's defaults, which prepare and cache every
// statement on each connection).

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"

	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/pgstore"
)

// The statements, as the Store has them (TestBenchRawSQLIsTheStores).
const (
	rawCommitUnsynced = `SELECT set_config('synchronous_commit', 'off', true)`
	rawRateLimitLock  = `SELECT pg_advisory_xact_lock(1886548786, hashtext($1))`
	rawRateLimitCount = `WITH w AS (
		SELECT count(*) AS n, min(at) AS oldest FROM passreset_rate_limits
		WHERE key = $1 AND at > $2 AND at <= $5
	), ins AS (
		INSERT INTO passreset_rate_limits (key, at) SELECT $1, $3 FROM w WHERE w.n < $4
	)
	SELECT n, oldest FROM w`
	rawCreateResetLock = `SELECT pg_advisory_xact_lock(1886548787, hashtext($1))`
	rawFinishJob       = `UPDATE passreset_jobs SET finished_at = $2, payload = NULL, claimed_until = NULL
	WHERE id = $1 AND finished_at IS NULL`
	rawResetByID = `SELECT id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left FROM passreset_resets WHERE id = $1`
	rawResetByTokenHash = `SELECT id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left FROM passreset_resets WHERE token_hash = $1`
	rawSessionByTokenHash = `SELECT id, user_id, created_at, last_seen_at, expires_at, revoked_at, user_agent, ip_address, stamp FROM passreset_sessions WHERE token_hash = $1`
	rawTouchSession       = `UPDATE passreset_sessions SET last_seen_at = $2 WHERE id = $1`

	// The reset and its jobs; {usr} is the users table's check.
	rawCreateReset = `WITH usr AS (
		SELECT FROM {usr} FOR KEY SHARE
	), ended AS (
		UPDATE passreset_resets SET ended_at = $5
		WHERE user_id = $2 AND used_at IS NULL AND ended_at IS NULL AND EXISTS (SELECT FROM usr)
	), created AS (
		INSERT INTO passreset_resets (id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
			code_key, code_hash, code_expires_at, code_tries_left)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 WHERE EXISTS (SELECT FROM usr)
	), queued AS (
		INSERT INTO passreset_jobs (id, kind, user_id, payload, attempts, run_at, claimed_until, created_at)
	SELECT * FROM unnest($13::text[], $14::text[], $15::text[], $16::bytea[], $17::int[],
		$18::timestamptz[], $19::timestamptz[], $20::timestamptz[]) WHERE EXISTS (SELECT FROM usr)
	)
	SELECT EXISTS (SELECT FROM usr)`
	// The redemption; {row} is the user's row, {email} its address, {set}
	// what is written, {cols} what is returned.
	rawRedeemReset = `WITH spent AS (
		UPDATE passreset_resets AS r SET used_at = $3
		WHERE r.id = $1 AND r.user_id = $2 AND r.used_at IS NULL AND r.ended_at IS NULL AND r.expires_at > $3
			AND EXISTS (SELECT FROM {row}
				AND ({email} = r.email OR lower({email} COLLATE "C") = lower(r.email COLLATE "C")) FOR NO KEY UPDATE)
		RETURNING r.user_id
	), usr AS (
		UPDATE {set}
		AND EXISTS (SELECT FROM spent)
		RETURNING {cols}
	), revoked AS (
		UPDATE passreset_sessions SET revoked_at = $3
		WHERE user_id = (SELECT user_id FROM spent) AND revoked_at IS NULL AND expires_at > $3
		RETURNING 1
	), queued AS (
		INSERT INTO passreset_jobs (id, kind, user_id, payload, attempts, run_at, claimed_until, created_at)
	SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::bytea[], $9::int[],
		$10::timestamptz[], $11::timestamptz[], $12::timestamptz[]) WHERE EXISTS (SELECT FROM spent)
	)
	SELECT usr.*, (SELECT count(*) FROM revoked) FROM usr`

	// passreset's own users table
	rawUserCols = `id, email, email_verified, first_name, last_name, profile_picture_url,
	external_id, locale, metadata, last_sign_in_at, created_at, updated_at`
	rawUserByEmail  = `SELECT ` + rawUserCols + ` FROM passreset_users WHERE email_key = $1`
	rawUserByID     = `SELECT ` + rawUserCols + ` FROM passreset_users WHERE id = $1`
	rawPasswordHash = `SELECT password_hash FROM passreset_users WHERE id = $1`

	// the host's accounts table (accounts, in host_test.go)
	rawHostCols         = `"account_id"::bigint, coalesce("email_address"::text, ''), coalesce("is_verified", false)`
	rawHostUserByEmail  = `SELECT ` + rawHostCols + ` FROM "accounts" WHERE "email_address" = $1`
	rawHostUserByID     = `SELECT ` + rawHostCols + ` FROM "accounts" WHERE "account_id" = $1::bigint`
	rawHostPasswordHash = `SELECT coalesce("pw_digest"::text, '') FROM "accounts" WHERE "account_id" = $1::bigint`
)

var (
	rawSQL = map[string]string{
		"RateLimitLock":    rawRateLimitLock,
		"RateLimitCount":   rawRateLimitCount,
		"CommitUnsynced":   rawCommitUnsynced,
		"UserByEmail":      rawUserByEmail,
		"UserByID":         rawUserByID,
		"PasswordHash":     rawPasswordHash,
		"CreateResetLock":  rawCreateResetLock,
		"CreateReset":      strings.ReplaceAll(rawCreateReset, "{usr}", `passreset_users WHERE id = $2`),
		"FinishJob":        rawFinishJob,
		"ResetByID":        rawResetByID,
		"ResetByTokenHash": rawResetByTokenHash,
		"RedeemReset": strings.NewReplacer("{row}", `passreset_users WHERE id = $2`, "{email}", "email",
			"{set}", `passreset_users SET password_hash = $4, email_verified = true, updated_at = $3 WHERE id = $2`,
			"{cols}", rawUserCols).Replace(rawRedeemReset),
		"SessionByTokenHash": rawSessionByTokenHash,
		"TouchSession":       rawTouchSession,
	}
	rawHostSQL = map[string]string{
		"UserByEmail":  rawHostUserByEmail,
		"UserByID":     rawHostUserByID,
		"PasswordHash": rawHostPasswordHash,
		"CreateReset":  strings.ReplaceAll(rawCreateReset, "{usr}", `"accounts" WHERE "account_id" = $21::bigint`),
		"RedeemReset": strings.NewReplacer("{row}", `"accounts" WHERE "account_id" = $13::bigint`, "{email}", `"email_address"::text`,
			"{set}", `"accounts" SET "pw_digest" = $4, "is_verified" = true, "modified_at" = $14 WHERE "account_id" = $13::bigint`,
			"{cols}", rawHostCols).Replace(rawRedeemReset),
	}
)

// rawDB is the raw side over a pool of its own.
type rawDB struct {
	pool  *pgxpool.Pool
	now   func() time.Time // UTC, to the millisecond
	host  bool             // the users are the host's accounts
	users map[string]string
}

func openRaw(pool *pgxpool.Pool, host bool, now func() time.Time) *rawDB {
	db := &rawDB{pool: pool, host: host, users: rawSQL,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
	if host {
		db.users = rawHostSQL
	}
	if now != nil {
		db.now = func() time.Time { return now().UTC().Truncate(time.Millisecond) }
	}
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
		u.id = "user_" + strconv.FormatInt(u.key, 10)
		return nil
	}
	return row.Scan(append([]any{&u.id, &u.email, &u.verified, &u.first, &u.last, &u.picture,
		&u.external, &u.locale, &u.metadata, &u.signIn, &u.created, &u.updated}, extra...)...)
}

// key is the host's integer key of a user id.
func key(userID string) (int64, error) {
	digits, ok := strings.CutPrefix(userID, "user_")
	if !ok {
		return 0, storebench.ErrNotFound
	}
	return strconv.ParseInt(digits, 10, 64)
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
	b.Queue(rawCommitUnsynced)
	b.Queue(rawRateLimitLock, rateKey)
	b.Queue(rawRateLimitCount, rateKey, now.Add(-storebench.Window), now, int64(storebench.RateLimit), now.Add(time.Minute))
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
	if err := db.scanUser(db.pool.QueryRow(ctx, db.users["UserByEmail"], email), &u); err != nil {
		return err
	}
	var t [32]byte
	_, _ = rand.Read(t[:])
	h := sha256.Sum256([]byte(base64.RawURLEncoding.EncodeToString(t[:])))
	resetID := "password_reset_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	jobID := "job_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	var codeHash [32]byte
	_, _ = rand.Read(codeHash[:])
	args := append([]any{resetID, u.id, u.email, h[:], now, now.Add(storebench.TTL), nil, nil,
		rateKey, codeHash[:], now.Add(storebench.TTL), storebench.CodeTries}, job(jobID, u.id, payload, now)...)
	if db.host {
		args = append(args, u.key)
	}
	b = &pgx.Batch{}
	b.Queue(rawCreateResetLock, u.id)
	b.Queue(db.users["CreateReset"], args...)
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
	return db.finish(ctx, jobID)
}

// finish marks a job finished in a transaction that commits without
// waiting for the disk, as the Store does.
func (db *rawDB) finish(ctx context.Context, jobID string) error {
	b := &pgx.Batch{}
	b.Queue(rawCommitUnsynced)
	b.Queue(rawFinishJob, jobID, db.now())
	return db.pool.SendBatch(ctx, b).Close()
}

func (db *rawDB) Get(ctx context.Context, id string) error {
	var r rawReset
	return db.pool.QueryRow(ctx, rawResetByID, id).Scan(r.dest()...)
}

func (db *rawDB) lookup(ctx context.Context, token string) (rawReset, error) {
	h := sha256.Sum256([]byte(token))
	var r rawReset
	err := db.pool.QueryRow(ctx, rawResetByTokenHash, h[:]).Scan(r.dest()...)
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
	var k any = r.userID
	if db.host {
		if k, err = key(r.userID); err != nil {
			return 0, err
		}
	}
	var current rawUser
	if err := db.scanUser(db.pool.QueryRow(ctx, db.users["UserByID"], k), &current); err != nil {
		return 0, err
	}
	if !strings.EqualFold(current.email, r.email) {
		return 0, errors.New("raw: the user's address changed")
	}
	now := db.now()
	jobID := "job_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	args := append([]any{r.id, r.userID, now, passwordHash}, job(jobID, r.userID, payload, now)...)
	if db.host {
		args = append(args, k, now)
	}
	var u rawUser
	if err := db.scanUser(db.pool.QueryRow(ctx, db.users["RedeemReset"], args...), &u, &revoked); err != nil {
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
	err := db.pool.QueryRow(ctx, rawSessionByTokenHash, h[:]).Scan(&s.id, &s.userID, &s.created,
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
		_, err = db.pool.Exec(ctx, rawTouchSession, s.id, now)
	}
	return err
}

func (db *rawDB) PasswordHash(ctx context.Context, userID string) (string, error) {
	var k any = userID
	if db.host {
		n, err := key(userID)
		if err != nil {
			return "", err
		}
		k = n
	}
	var h string
	err := db.pool.QueryRow(ctx, db.users["PasswordHash"], k).Scan(&h)
	return h, err
}

var _ storebench.Raw = (*rawDB)(nil)

// TestBenchRawSQLIsTheStores: the raw side issues the Store's own
// statements, as text.
func TestBenchRawSQLIsTheStores(t *testing.T) {
	storebench.SameSQL(t, rawSQL, pgstore.BenchSQL)
	db := benchDialect(true).Seeded(t, storebench.Spec{Users: 1, Resets: 1, Sessions: 1, Now: time.Now()})
	host, err := pgstore.HostBenchSQL(t.Context(), db.Store(t).(*pgstore.Store))
	if err != nil {
		t.Fatal(err)
	}
	storebench.SameSQL(t, rawHostSQL, host)
}
