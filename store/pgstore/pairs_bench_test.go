package pgstore_test

// Paired benchmarks on Postgres: each hot path through the public API
// ("passreset") and as the same statements written by hand with pgx
// ("raw"), as in store/sqlitestore (see its pairs_bench_test.go for the
// method). Each side has a fresh schema of its own, seeded alike and
// dropped when the benchmark ends, and a pool made the same way (newPool:
// pgxpool's defaults, which prepare and cache every statement on each
// connection). They need a server:
//
//	PASSRESET_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//		go test -run '^$' -bench . -benchmem ./store/pgstore/
//
// Without PASSRESET_POSTGRES_URL they skip, saying so.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/pgstore"
)

const (
	pairUsers         = 1000
	benchRateLimit    = 1 << 20 // the limit stays on; no benchmark reaches it
	benchResetURL     = "https://app.example/reset-password"
	benchPasswordHash = "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
	benchPassword     = "correct horse battery staple"
	benchUserAgent    = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	benchIP           = "203.0.113.7"
)

var benchSecret = []byte("passreset benchmark secret key, 32+ bytes")

// Rows derived from their index, as in store/sqlitestore's benchmarks.

var benchEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func rowULID(kind byte, i int) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(benchEpoch.Add(time.Duration(i) * time.Millisecond)))
	var e [10]byte
	e[0] = kind
	binary.BigEndian.PutUint64(e[2:], uint64(i))
	_ = u.SetEntropy(e[:])
	return u.String()
}

func benchUserID(i int) string    { return "user_" + rowULID('u', i) }
func benchResetID(i int) string   { return "password_reset_" + rowULID('r', i) }
func benchSessionID(i int) string { return "session_" + rowULID('s', i) }
func benchEmail(i int) string     { return fmt.Sprintf("user%07d@example.com", i) }

const (
	resetToken   = 'r'
	sessionToken = 's'
	unknownToken = 'x'
)

func benchToken(kind byte, i int) string {
	var b [9]byte
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], uint64(i))
	h := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func tokens(kind byte, n int) []string {
	ts := make([]string, n)
	for i := range ts {
		ts[i] = benchToken(kind, i)
	}
	return ts
}

func tokenHash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// seedSpec: user i has email benchEmail(i); reset i belongs to user
// i%users, has token benchToken(resetToken, i), and is unused when it is
// its user's newest; session i belongs to user i%users and has token
// benchToken(sessionToken, i). Resets expire an hour after now, sessions
// 30 days after, last seen at now.
type seedSpec struct {
	users, resets, sessions int
	now                     time.Time
}

// seed fills the migrated, empty tables pool finds with COPY, and
// analyses them.
func seed(tb testing.TB, pool *pgxpool.Pool, spec seedSpec) {
	tb.Helper()
	ctx := context.Background()
	now := spec.now.Truncate(time.Millisecond)
	created := now.Add(-48 * time.Hour)
	copyRows := func(table string, cols []string, n int, row func(i int) []any) {
		_, err := pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			return row(i), nil
		}))
		if err != nil {
			tb.Fatalf("seed %s: %v", table, err)
		}
	}
	copyRows("passreset_users", []string{"id", "email", "email_key", "first_name", "last_name", "password_hash", "created_at", "updated_at"},
		spec.users, func(i int) []any {
			e := benchEmail(i)
			return []any{benchUserID(i), e, e, "Marcelina", "Davis", benchPasswordHash, created, created}
		})
	copyRows("passreset_resets", []string{"id", "user_id", "email", "token_hash", "created_at", "expires_at", "ended_at"},
		spec.resets, func(i int) []any {
			var ended pgtype.Timestamptz
			if i < spec.resets-spec.users {
				ended = pgtype.Timestamptz{Time: now.Add(-time.Second), Valid: true}
			}
			u := i % spec.users
			return []any{benchResetID(i), benchUserID(u), benchEmail(u), tokenHash(benchToken(resetToken, i)),
				now.Add(-time.Minute), now.Add(time.Hour), ended}
		})
	copyRows("passreset_sessions", []string{"id", "user_id", "token_hash", "created_at", "last_seen_at", "expires_at", "user_agent", "ip_address"},
		spec.sessions, func(i int) []any {
			return []any{benchSessionID(i), benchUserID(i % spec.users), tokenHash(benchToken(sessionToken, i)),
				now.Add(-time.Minute), now, now.Add(30 * 24 * time.Hour), benchUserAgent, benchIP}
		})
	if _, err := pool.Exec(ctx, "ANALYZE passreset_users, passreset_resets, passreset_sessions"); err != nil {
		tb.Fatal(err)
	}
}

// seededStore returns a migrated Store over a fresh schema, seeded as
// spec says; its pool is the raw side's when the raw side uses it.
func seededStore(tb testing.TB, spec seedSpec) *pgstore.Store {
	tb.Helper()
	st := newStore(tb)
	seed(tb, st.Pool(), spec)
	return st
}

func pairSeed() seedSpec {
	return seedSpec{users: pairUsers, resets: pairUsers, sessions: pairUsers, now: time.Now().UTC()}
}

func redeemSeed(n int) seedSpec {
	return seedSpec{users: n + 1, resets: n + 1, sessions: n + 1, now: time.Now().UTC()}
}

type discardMailer struct{}

func (discardMailer) Send(context.Context, mail.Message) error { return nil }

type noWorkHasher struct{}

func (noWorkHasher) Hash(string) (string, error) { return benchPasswordHash, nil }

func (noWorkHasher) Compare(hash, _ string) error {
	if hash != benchPasswordHash {
		return reset.ErrInvalidCredentials
	}
	return nil
}

func newBenchService(tb testing.TB, st store.Store, hasher password.Hasher, m reset.Mailer) *reset.Service {
	tb.Helper()
	if m == nil {
		m = discardMailer{}
	}
	svc, err := reset.NewService(reset.Config{
		Store:     st,
		Mailer:    m,
		ResetURL:  benchResetURL,
		Hasher:    hasher,
		SecretKey: benchSecret,
		RateLimit: reset.RateLimit{Limit: benchRateLimit},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

func newBenchManager(tb testing.TB, st session.Store, now func() time.Time) *session.Manager {
	tb.Helper()
	m, err := session.New(session.Config{Store: st, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// payloadSizer reads, when asked to send, the size of the sealed payload
// of the one unfinished job.
type payloadSizer struct {
	pool  *pgxpool.Pool
	sizes []int
}

func (p *payloadSizer) Send(ctx context.Context, _ mail.Message) error {
	var n int
	err := p.pool.QueryRow(ctx, `SELECT length(payload) FROM passreset_jobs WHERE finished_at IS NULL`).Scan(&n)
	p.sizes = append(p.sizes, n)
	return err
}

var payloads struct {
	once          sync.Once
	email, notice []byte
	err           error
}

// benchPayloads returns blobs of the sizes of the module's sealed reset
// email and notice, which the raw side stores in their place.
func benchPayloads(tb testing.TB) (email, notice []byte) {
	tb.Helper()
	payloads.once.Do(func() {
		ctx := context.Background()
		st := seededStore(tb, seedSpec{users: 1, resets: 1, sessions: 1, now: time.Now().UTC()})
		sizer := &payloadSizer{pool: st.Pool()}
		svc := newBenchService(tb, st, noWorkHasher{}, sizer)
		pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: benchEmail(0)})
		if err == nil {
			_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: benchPassword})
		}
		if err == nil && (len(sizer.sizes) != 2 || sizer.sizes[0] == 0 || sizer.sizes[1] == 0) {
			err = errors.New("payload sizes not found")
		}
		if err != nil {
			payloads.err = err
			return
		}
		payloads.email = []byte(strings.Repeat("e", sizer.sizes[0]))
		payloads.notice = []byte(strings.Repeat("n", sizer.sizes[1]))
	})
	if payloads.err != nil {
		tb.Fatal(payloads.err)
	}
	return payloads.email, payloads.notice
}

var pairEmails, pairRateKeys = func() (emails, keys []string) {
	emails, keys = make([]string, pairUsers), make([]string, pairUsers)
	for i := range emails {
		emails[i] = benchEmail(i)
		m := hmac.New(sha256.New, []byte("raw side rate-limit key, 32 bytes"))
		m.Write([]byte(emails[i]))
		keys[i] = hex.EncodeToString(m.Sum(nil))
	}
	return emails, keys
}()

// The raw side: the Store's statements, by hand (TestBenchRawSQLIsTheStores).
const (
	rawCommitUnsynced = `SELECT set_config('synchronous_commit', 'off', true)`
	rawRateLimitLock  = `SELECT pg_advisory_xact_lock(1886548786, hashtext($1))`
	rawRateLimitCount = `WITH w AS (
		SELECT count(*) AS n, min(at) AS oldest FROM passreset_rate_limits
		WHERE key = $1 AND at > $2
	), ins AS (
		INSERT INTO passreset_rate_limits (key, at) SELECT $1, $3 FROM w WHERE w.n < $4
	)
	SELECT n, oldest FROM w`
	rawUserByEmail = `SELECT id, email, email_verified, first_name, last_name, profile_picture_url,
	external_id, locale, metadata, last_sign_in_at, created_at, updated_at FROM passreset_users WHERE email_key = $1`
	rawCreateReset = `WITH usr AS (
		SELECT FROM passreset_users WHERE id = $2 FOR KEY SHARE
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
	rawFinishJob = `UPDATE passreset_jobs SET finished_at = $2, payload = NULL, claimed_until = NULL
	WHERE id = $1 AND finished_at IS NULL`
	rawResetByID = `SELECT id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left FROM passreset_resets WHERE id = $1`
	rawResetByTokenHash = `SELECT id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left FROM passreset_resets WHERE token_hash = $1`
	rawRedeemReset = `WITH spent AS (
		UPDATE passreset_resets AS r SET used_at = $3
		WHERE r.id = $1 AND r.user_id = $2 AND r.used_at IS NULL AND r.ended_at IS NULL AND r.expires_at > $3
			AND EXISTS (SELECT FROM passreset_users WHERE id = $2
				AND (email = r.email OR lower(email) = lower(r.email)) FOR NO KEY UPDATE)
		RETURNING r.user_id
	), usr AS (
		UPDATE passreset_users SET password_hash = $4, email_verified = true, updated_at = $3
		WHERE id = $2 AND EXISTS (SELECT FROM spent)
		RETURNING id, email, email_verified, first_name, last_name, profile_picture_url,
	external_id, locale, metadata, last_sign_in_at, created_at, updated_at
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
	rawSessionByTokenHash = `SELECT id, user_id, created_at, last_seen_at, expires_at, revoked_at, user_agent, ip_address, stamp FROM passreset_sessions WHERE token_hash = $1`
	rawTouchSession       = `UPDATE passreset_sessions SET last_seen_at = $2 WHERE id = $1`
)

var rawSQL = map[string]string{
	"RateLimitLock":      rawRateLimitLock,
	"RateLimitCount":     rawRateLimitCount,
	"CommitUnsynced":     rawCommitUnsynced,
	"UserByEmail":        rawUserByEmail,
	"CreateReset":        rawCreateReset,
	"FinishJob":          rawFinishJob,
	"ResetByID":          rawResetByID,
	"ResetByTokenHash":   rawResetByTokenHash,
	"RedeemReset":        rawRedeemReset,
	"SessionByTokenHash": rawSessionByTokenHash,
	"TouchSession":       rawTouchSession,
}

const (
	rawWindow     = 15 * time.Minute
	rawTTL        = 15 * time.Minute
	rawLease      = 2 * time.Minute
	rawIdle       = 24 * time.Hour
	rawTouchEvery = time.Minute
)

var (
	errRawRateLimited = errors.New("raw: rate limited")
	errRawInvalid     = errors.New("raw: invalid token")
	errRawExpired     = errors.New("raw: expired")
	errRawNotFound    = errors.New("raw: not found")
)

type rawDB struct {
	pool *pgxpool.Pool
	now  func() time.Time // UTC, to the millisecond
}

func nowMillis() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// rawPool is the raw side over a Store's pool (newPool's: the same
// settings as the passreset side's), without the Store.
func rawPool(st *pgstore.Store) *rawDB { return &rawDB{pool: st.Pool(), now: nowMillis} }

type rawUser struct {
	id, email, first, last, picture, external, locale string
	verified                                          bool
	metadata                                          []byte
	signIn                                            pgtype.Timestamptz
	created, updated                                  time.Time
}

func (u *rawUser) dest() []any {
	return []any{&u.id, &u.email, &u.verified, &u.first, &u.last, &u.picture,
		&u.external, &u.locale, &u.metadata, &u.signIn, &u.created, &u.updated}
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
		[]time.Time{now}, []pgtype.Timestamptz{{Time: now.Add(rawLease), Valid: true}}, []time.Time{now}}
}

func (db *rawDB) create(ctx context.Context, email, key string, payload []byte) error {
	now := db.now()
	b := &pgx.Batch{}
	b.Queue(rawCommitUnsynced)
	b.Queue(rawRateLimitLock, key)
	b.Queue(rawRateLimitCount, key, now.Add(-rawWindow), now, int64(benchRateLimit))
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
	if n >= benchRateLimit {
		return errRawRateLimited
	}
	var u rawUser
	if err := db.pool.QueryRow(ctx, rawUserByEmail, email).Scan(u.dest()...); err != nil {
		return err
	}
	var t [32]byte
	_, _ = rand.Read(t[:])
	h := sha256.Sum256([]byte(base64.RawURLEncoding.EncodeToString(t[:])))
	resetID := "password_reset_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	jobID := "job_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	var codeHash [32]byte
	_, _ = rand.Read(codeHash[:])
	args := append([]any{resetID, u.id, u.email, h[:], now, now.Add(rawTTL), nil, nil,
		key, codeHash[:], now.Add(rawTTL), 5}, job(jobID, u.id, payload, now)...)
	var found bool
	if err := db.pool.QueryRow(ctx, rawCreateReset, args...).Scan(&found); err != nil {
		return err
	}
	if !found {
		return errRawNotFound
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

func (db *rawDB) get(ctx context.Context, id string) (rawReset, error) {
	var r rawReset
	err := db.pool.QueryRow(ctx, rawResetByID, id).Scan(r.dest()...)
	return r, err
}

func (db *rawDB) lookup(ctx context.Context, token string) (rawReset, error) {
	h := sha256.Sum256([]byte(token))
	var r rawReset
	err := db.pool.QueryRow(ctx, rawResetByTokenHash, h[:]).Scan(r.dest()...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return rawReset{}, errRawInvalid
	case err != nil:
		return rawReset{}, err
	case r.used.Valid || r.ended.Valid, r.codeKey.Valid && r.codeTries <= 0:
		return rawReset{}, errRawInvalid
	case !db.now().Before(r.expires):
		return rawReset{}, errRawExpired
	}
	return r, nil
}

func (db *rawDB) redeem(ctx context.Context, token string, payload []byte) (revoked int64, err error) {
	r, err := db.lookup(ctx, token)
	if err != nil {
		return 0, err
	}
	now := db.now()
	jobID := "job_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	args := append([]any{r.id, r.userID, now, benchPasswordHash}, job(jobID, r.userID, payload, now)...)
	var u rawUser
	if err := db.pool.QueryRow(ctx, rawRedeemReset, args...).Scan(append(u.dest(), &revoked)...); err != nil {
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

func (db *rawDB) validate(ctx context.Context, token string) (rawSession, error) {
	h := sha256.Sum256([]byte(token))
	var s rawSession
	err := db.pool.QueryRow(ctx, rawSessionByTokenHash, h[:]).Scan(&s.id, &s.userID, &s.created,
		&s.seen, &s.expires, &s.revoked, &s.userAgent, &s.ip, &s.stamp)
	if errors.Is(err, pgx.ErrNoRows) {
		return rawSession{}, errRawNotFound
	}
	if err != nil {
		return rawSession{}, err
	}
	now := db.now()
	switch {
	case s.revoked.Valid:
		return rawSession{}, errRawInvalid
	case !now.Before(s.expires), !now.Before(s.seen.Add(rawIdle)):
		return rawSession{}, errRawExpired
	}
	if now.Sub(s.seen) >= rawTouchEvery {
		if _, err := db.pool.Exec(ctx, rawTouchSession, s.id, now); err != nil {
			return rawSession{}, err
		}
	}
	return s, nil
}

// loop runs op(0) untimed, then op(1), op(2), ... under b.Loop.
func loop(b *testing.B, op func(i int) error) {
	b.Helper()
	if err := op(0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := op(i); err != nil {
			b.Fatal(err)
		}
	}
}

// redeemLoop runs op(0) untimed, then op(1) to op(b.N): each spends a
// token of its own.
func redeemLoop(b *testing.B, op func(i int) error) {
	b.Helper()
	if err := op(0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		if err := op(i); err != nil {
			b.Fatal(err)
		}
	}
}

// parallel runs op from GOMAXPROCS goroutines; any error fails the
// benchmark.
func parallel(b *testing.B, op func(i int) error) {
	b.Helper()
	if err := op(0); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(int(next.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkCreatePasswordReset(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, seededStore(b, pairSeed()), nil, nil)
		loop(b, func(i int) error {
			_, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: pairEmails[i%pairUsers]})
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		payload, _ := benchPayloads(b)
		db := rawPool(seededStore(b, pairSeed()))
		loop(b, func(i int) error {
			return db.create(ctx, pairEmails[i%pairUsers], pairRateKeys[i%pairUsers], payload)
		})
	})
}

func BenchmarkGetPasswordReset(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	ids := make([]string, pairUsers)
	for i := range ids {
		ids[i] = benchResetID(i)
	}
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, seededStore(b, pairSeed()), nil, nil)
		loop(b, func(i int) error {
			_, err := svc.GetPasswordReset(ctx, ids[i%len(ids)])
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		db := rawPool(seededStore(b, pairSeed()))
		loop(b, func(i int) error {
			_, err := db.get(ctx, ids[i%len(ids)])
			return err
		})
	})
}

func BenchmarkRejectInvalidToken(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	unknown := tokens(unknownToken, 1024)
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, seededStore(b, pairSeed()), nil, nil)
		loop(b, func(i int) error {
			_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: unknown[i%len(unknown)], NewPassword: benchPassword})
			if !errors.Is(err, reset.ErrInvalidToken) {
				return errors.Join(errors.New("want ErrInvalidToken"), err)
			}
			return nil
		})
	})
	b.Run("raw", func(b *testing.B) {
		db := rawPool(seededStore(b, pairSeed()))
		loop(b, func(i int) error {
			if _, err := db.lookup(ctx, unknown[i%len(unknown)]); err != errRawInvalid {
				return errors.Join(errors.New("want errRawInvalid"), err)
			}
			return nil
		})
	})
}

func BenchmarkRedeemWithoutBcrypt(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, seededStore(b, redeemSeed(b.N)), noWorkHasher{}, nil)
		toks := tokens(resetToken, b.N+1)
		redeemLoop(b, func(i int) error {
			_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: toks[i], NewPassword: benchPassword})
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		_, notice := benchPayloads(b)
		db := rawPool(seededStore(b, redeemSeed(b.N)))
		toks := tokens(resetToken, b.N+1)
		redeemLoop(b, func(i int) error {
			revoked, err := db.redeem(ctx, toks[i], notice)
			if err == nil && revoked != 1 {
				err = errors.New("raw redeem revoked no session")
			}
			return err
		})
	})
}

func BenchmarkValidateSession(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	toks := tokens(sessionToken, pairUsers)
	b.Run("passreset", func(b *testing.B) {
		m := newBenchManager(b, seededStore(b, pairSeed()), nil)
		loop(b, func(i int) error {
			_, err := m.Validate(ctx, toks[i%len(toks)])
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		db := rawPool(seededStore(b, pairSeed()))
		loop(b, func(i int) error {
			_, err := db.validate(ctx, toks[i%len(toks)])
			return err
		})
	})
}

func BenchmarkCreatePasswordResetParallel(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, seededStore(b, pairSeed()), nil, nil)
		parallel(b, func(i int) error {
			_, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: pairEmails[i%pairUsers]})
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		payload, _ := benchPayloads(b)
		db := rawPool(seededStore(b, pairSeed()))
		parallel(b, func(i int) error {
			return db.create(ctx, pairEmails[i%pairUsers], pairRateKeys[i%pairUsers], payload)
		})
	})
}

func BenchmarkValidateSessionParallel(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	toks := tokens(sessionToken, pairUsers)
	b.Run("passreset", func(b *testing.B) {
		m := newBenchManager(b, seededStore(b, pairSeed()), nil)
		parallel(b, func(i int) error {
			_, err := m.Validate(ctx, toks[i%len(toks)])
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		db := rawPool(seededStore(b, pairSeed()))
		parallel(b, func(i int) error {
			_, err := db.validate(ctx, toks[i%len(toks)])
			return err
		})
	})
}

func TestBenchRawSQLIsTheStores(t *testing.T) {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if len(rawSQL) != len(pgstore.BenchSQL) {
		t.Errorf("raw side has %d statements, the Store %d", len(rawSQL), len(pgstore.BenchSQL))
	}
	for name, want := range pgstore.BenchSQL {
		if got, ok := rawSQL[name]; !ok || norm(got) != norm(want) {
			t.Errorf("%s:\nraw   %s\nstore %s", name, norm(got), norm(want))
		}
	}
}
