package sqlitestore_test

// Paired benchmarks: each hot path through the public API ("passreset")
// and as the same SQL statements written by hand ("raw", raw_bench_test.go),
// in the same run, on equal databases, both durable (synchronous=FULL).
//
//	go test -run '^$' -bench . -benchmem -count=6 ./store/sqlitestore/
//
// Both sides of a pair start from a file seeded alike (seedSpec): 1,000
// users, each with one unused reset and one active session. The passreset
// side runs with the defaults but for: a Mailer that discards (the raw side
// sends nothing either), a discarding Logger (a host's logger costs what it
// costs), and, where the name says so, a Hasher that does no work. The
// rate limit stays on, with a limit no benchmark reaches, and requests
// spread over the 1,000 addresses, so that each counts a realistic handful
// of rows; the raw side issues the same rate-limit statement.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/sqlitestore"
	"github.com/passreset/passreset/token"
)

const (
	// pairUsers is how many users (each with a reset and a session) a
	// paired benchmark's database holds.
	pairUsers = 1000
	// benchRateLimit is the passreset side's reset.RateLimit.Limit: the
	// limit stays on, and no benchmark reaches it.
	benchRateLimit = 1 << 20
	benchResetURL  = "https://app.example/reset-password"
)

var benchSecret = []byte("passreset benchmark secret key, 32+ bytes")

// discardMailer sends nothing: a benchmark measures the module, not a
// mail server, and a recorder would grow with every iteration.
type discardMailer struct{}

func (discardMailer) Send(context.Context, mail.Message) error { return nil }

// noWorkHasher is a Hasher that does no work, so that what a redemption
// costs besides bcrypt shows.
type noWorkHasher struct{}

func (noWorkHasher) Hash(string) (string, error) { return benchPasswordHash, nil }

func (noWorkHasher) Compare(hash, _ string) error {
	if hash != benchPasswordHash {
		return reset.ErrInvalidCredentials
	}
	return nil
}

// seeded returns the path of a new database file seeded as spec says.
func seeded(tb testing.TB, spec seedSpec) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "bench.db")
	seed(tb, path, spec)
	return path
}

// pairSeed is the database of a paired benchmark, seeded now.
func pairSeed() seedSpec {
	return seedSpec{users: pairUsers, resets: pairUsers, sessions: pairUsers, now: time.Now().UTC()}
}

// openBenchStore opens the file at path with Open, as an app does, and
// migrates it (a no-op on a seeded file).
func openBenchStore(tb testing.TB, path string) *sqlitestore.Store {
	tb.Helper()
	st, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return st
}

// newBenchService returns a Service over st with the defaults but for the
// Mailer, the Logger and the rate limit (see the top of this file);
// hasher nil means the default, bcrypt at cost 12.
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

// payloadSizer is a Mailer that, when asked to send, reads the size of the
// sealed payload of the one unfinished job.
type payloadSizer struct {
	db    *sql.DB
	sizes []int
}

func (p *payloadSizer) Send(ctx context.Context, _ mail.Message) error {
	var n int
	err := p.db.QueryRowContext(ctx, `SELECT length(payload) FROM passreset_jobs WHERE finished_at IS NULL`).Scan(&n)
	p.sizes = append(p.sizes, n)
	return err
}

var payloads struct {
	once          sync.Once
	email, notice []byte
	err           error
}

// benchPayloads returns blobs of the sizes of the module's sealed reset
// email and password-changed notice for the seeded users, which the raw
// side stores in their place.
func benchPayloads(tb testing.TB) (email, notice []byte) {
	tb.Helper()
	payloads.once.Do(func() {
		ctx := context.Background()
		st := openBenchStore(tb, seeded(tb, seedSpec{users: 1, resets: 1, sessions: 1, now: time.Now().UTC()}))
		w, _ := sqlitestore.Pools(st)
		sizer := &payloadSizer{db: w}
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

// emails and rateKeys of the seeded users, made before any timer starts.
var pairEmails, pairRateKeys = func() (emails, keys []string) {
	emails, keys = make([]string, pairUsers), make([]string, pairUsers)
	for i := range emails {
		emails[i] = benchEmail(i)
		keys[i] = rateKey(emails[i])
	}
	return emails, keys
}()

func tokens(kind byte, n int) []string {
	ts := make([]string, n)
	for i := range ts {
		ts[i] = benchToken(kind, i)
	}
	return ts
}

// BenchmarkCreatePasswordReset: CreatePasswordReset for a known address:
// rate limit, user lookup, one transaction (end older resets, insert the
// reset and its email job), email sent, job finished.
func BenchmarkCreatePasswordReset(b *testing.B) {
	ctx := context.Background()
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, openBenchStore(b, seeded(b, pairSeed())), nil, nil)
		create := func(i int) error {
			_, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: pairEmails[i%pairUsers]})
			return err
		}
		loop(b, create)
	})
	b.Run("raw", func(b *testing.B) {
		payload, _ := benchPayloads(b)
		db := openRaw(b, seeded(b, pairSeed()))
		create := func(i int) error {
			_, err := db.create(ctx, pairEmails[i%pairUsers], pairRateKeys[i%pairUsers], payload)
			return err
		}
		loop(b, create)
	})
}

// loop runs op once untimed (the Store prepares its statements on first
// use), then op(1), op(2), ... under b.Loop.
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

// BenchmarkGetPasswordReset: GetPasswordReset by id, over 1,000 resets.
func BenchmarkGetPasswordReset(b *testing.B) {
	ctx := context.Background()
	ids := make([]string, pairUsers)
	for i := range ids {
		ids[i] = benchResetID(i)
	}
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, openBenchStore(b, seeded(b, pairSeed())), nil, nil)
		loop(b, func(i int) error {
			_, err := svc.GetPasswordReset(ctx, ids[i%len(ids)])
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		db := openRaw(b, seeded(b, pairSeed()))
		loop(b, func(i int) error {
			_, err := db.get(ctx, ids[i%len(ids)])
			return err
		})
	})
}

// BenchmarkRejectInvalidToken: ResetPassword with a well-formed token that
// was never issued, the rejection that comes before any bcrypt work: the
// token's SHA-256 and one indexed lookup that finds nothing.
func BenchmarkRejectInvalidToken(b *testing.B) {
	ctx := context.Background()
	unknown := tokens(unknownToken, 1024)
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, openBenchStore(b, seeded(b, pairSeed())), nil, nil)
		loop(b, func(i int) error {
			_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: unknown[i%len(unknown)], NewPassword: benchPassword})
			if !errors.Is(err, reset.ErrInvalidToken) {
				return errors.Join(errors.New("want ErrInvalidToken"), err)
			}
			return nil
		})
	})
	b.Run("raw", func(b *testing.B) {
		db := openRaw(b, seeded(b, pairSeed()))
		loop(b, func(i int) error {
			if _, err := db.lookup(ctx, unknown[i%len(unknown)]); err != errRawInvalid {
				return errors.Join(errors.New("want errRawInvalid"), err)
			}
			return nil
		})
	})
}

// redeemSeed is a database of n+1 users, each with an unused reset and an
// active session, so that each iteration redeems a token of its own,
// made before the timer starts.
func redeemSeed(n int) seedSpec {
	return seedSpec{users: n + 1, resets: n + 1, sessions: n + 1, now: time.Now().UTC()}
}

// BenchmarkRedeemWithoutBcrypt: ResetPassword with a Hasher that does no
// work (the raw side hashes nothing): token lookup, one transaction (spend
// the token, set the password, revoke the user's session, queue the
// notice), notice sent, job finished.
func BenchmarkRedeemWithoutBcrypt(b *testing.B) {
	ctx := context.Background()
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, openBenchStore(b, seeded(b, redeemSeed(b.N))), noWorkHasher{}, nil)
		toks := tokens(resetToken, b.N+1)
		redeemLoop(b, func(i int) error {
			_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: toks[i], NewPassword: benchPassword})
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		_, notice := benchPayloads(b)
		db := openRaw(b, seeded(b, redeemSeed(b.N)))
		toks := tokens(resetToken, b.N+1)
		redeemLoop(b, func(i int) error {
			revoked, err := db.redeem(ctx, toks[i], benchPasswordHash, notice)
			if err == nil && revoked != 1 {
				err = errors.New("raw redeem revoked no session")
			}
			return err
		})
	})
}

// redeemLoop runs op(0) untimed, then op(1) to op(b.N): each iteration
// spends a token of its own, so the loop counts to b.N rather than use
// b.Loop, whose count is not known in advance.
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

// BenchmarkFullResetBcrypt12: a whole reset with the default Hasher
// (bcrypt, cost 12) against one bcrypt hash at cost 12 alone. Each
// iteration takes about a quarter of a second; -benchtime=5x is enough.
func BenchmarkFullResetBcrypt12(b *testing.B) {
	ctx := context.Background()
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, openBenchStore(b, seeded(b, redeemSeed(b.N))), nil, nil)
		toks := tokens(resetToken, b.N+1)
		redeemLoop(b, func(i int) error {
			_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: toks[i], NewPassword: benchPassword})
			return err
		})
	})
	b.Run("bcrypt", func(b *testing.B) {
		redeemLoop(b, func(int) error {
			_, err := bcrypt.GenerateFromPassword([]byte(benchPassword), 12)
			return err
		})
	})
}

// BenchmarkValidateSession: session.Manager.Validate of an active session
// last seen within the minute (so, a lookup and no write), over 1,000
// sessions.
func BenchmarkValidateSession(b *testing.B) {
	ctx := context.Background()
	toks := tokens(sessionToken, pairUsers)
	b.Run("passreset", func(b *testing.B) {
		m := newBenchManager(b, openBenchStore(b, seeded(b, pairSeed())), nil)
		loop(b, func(i int) error {
			_, err := m.Validate(ctx, toks[i%len(toks)])
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		db := openRaw(b, seeded(b, pairSeed()))
		loop(b, func(i int) error {
			_, err := db.validate(ctx, toks[i%len(toks)])
			return err
		})
	})
}

// parallel runs op(i) for i = 1, 2, ... from GOMAXPROCS goroutines under
// b.RunParallel. Any error, SQLITE_BUSY included, fails the benchmark.
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

// BenchmarkCreatePasswordResetParallel: CreatePasswordReset from both
// cores at once: the writes of one process queue on its one write
// connection; none may fail with SQLITE_BUSY.
func BenchmarkCreatePasswordResetParallel(b *testing.B) {
	ctx := context.Background()
	b.Run("passreset", func(b *testing.B) {
		svc := newBenchService(b, openBenchStore(b, seeded(b, pairSeed())), nil, nil)
		parallel(b, func(i int) error {
			_, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: pairEmails[i%pairUsers]})
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		payload, _ := benchPayloads(b)
		db := openRaw(b, seeded(b, pairSeed()))
		parallel(b, func(i int) error {
			_, err := db.create(ctx, pairEmails[i%pairUsers], pairRateKeys[i%pairUsers], payload)
			return err
		})
	})
}

// BenchmarkValidateSessionParallel: Validate from both cores at once, on
// the read pool.
func BenchmarkValidateSessionParallel(b *testing.B) {
	ctx := context.Background()
	toks := tokens(sessionToken, pairUsers)
	b.Run("passreset", func(b *testing.B) {
		m := newBenchManager(b, openBenchStore(b, seeded(b, pairSeed())), nil)
		parallel(b, func(i int) error {
			_, err := m.Validate(ctx, toks[i%len(toks)])
			return err
		})
	})
	b.Run("raw", func(b *testing.B) {
		db := openRaw(b, seeded(b, pairSeed()))
		parallel(b, func(i int) error {
			_, err := db.validate(ctx, toks[i%len(toks)])
			return err
		})
	})
}

// TestBenchRawSQLIsTheStores: the raw side of the paired benchmarks issues
// the Store's own statements, as text.
func TestBenchRawSQLIsTheStores(t *testing.T) {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if len(rawSQL) != len(sqlitestore.BenchSQL) {
		t.Errorf("raw side has %d statements, the Store %d", len(rawSQL), len(sqlitestore.BenchSQL))
	}
	for name, want := range sqlitestore.BenchSQL {
		if got, ok := rawSQL[name]; !ok || norm(got) != norm(want) {
			t.Errorf("%s:\nraw   %s\nstore %s", name, norm(got), norm(want))
		}
	}
}

// TestBenchTokensAreWellFormed: the seeded tokens pass the module's checks,
// so that the benchmarks measure lookups, not the refusal of malformed
// tokens.
func TestBenchTokensAreWellFormed(t *testing.T) {
	ctx := t.Context()
	st := openBenchStore(t, seeded(t, seedSpec{users: 1, resets: 2, sessions: 2, now: time.Now().UTC()}))
	m := newBenchManager(t, st, nil)
	if _, err := m.Validate(ctx, benchToken(sessionToken, 1)); err != nil {
		t.Fatal(err)
	}
	svc := newBenchService(t, st, noWorkHasher{}, nil)
	if _, err := svc.CheckToken(ctx, benchToken(resetToken, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CheckToken(ctx, benchToken(resetToken, 0)); !errors.Is(err, reset.ErrInvalidToken) {
		t.Fatalf("an ended reset: got %v, want ErrInvalidToken", err)
	}
	if _, err := svc.CheckToken(ctx, benchToken(unknownToken, 1)); !errors.Is(err, reset.ErrInvalidToken) {
		t.Fatalf("an unknown token: got %v, want ErrInvalidToken", err)
	}
	if h := sha256.Sum256([]byte(benchToken(sessionToken, 1))); token.Sum(benchToken(sessionToken, 1)) != h {
		t.Fatal("session.HashToken is not the SHA-256 of the token's text")
	}
}
