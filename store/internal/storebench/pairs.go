package storebench

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/passreset/passreset/reset"
)

// PairUsers is how many users (each with a reset and a session) a pair's
// database holds.
const PairUsers = 1000

// op is one iteration of a side: op(i) does the work on the i-th row of
// those it cycles through.
type op func(i int) error

// side opens one side of a path on db; rows are the numbers of the rows it
// cycles through (users, resets or sessions, as the path reads), and now
// the clock (nil: time.Now).
type side func(tb testing.TB, db DB, rows []int, now func() time.Time) op

// path is a hot path with its two sides.
type path struct {
	name           string
	passreset, raw side
}

// paths are the hot paths of a Dialect, the raw side's payloads sized by p.
func paths(d Dialect, p *payloads) (create, get, reject, redeem, validate, stamp path) {
	ctx := context.Background()
	unknown := tokens(UnknownToken, 1<<16)
	create = path{"CreatePasswordReset",
		func(tb testing.TB, db DB, rows []int, _ func() time.Time) op {
			svc := NewService(tb, db.Store(tb), nil, nil)
			emails := mapRows(rows, Email)
			return func(i int) error {
				_, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: emails[i%len(emails)]})
				return err
			}
		},
		func(tb testing.TB, db DB, rows []int, now func() time.Time) op {
			payload, _ := p.get(tb, d)
			raw := db.Raw(tb, now)
			emails, keys := mapRows(rows, Email), mapRows(rows, func(i int) string { return RateKey(Email(i)) })
			return func(i int) error {
				return raw.Create(ctx, emails[i%len(emails)], keys[i%len(keys)], payload)
			}
		}}
	get = path{"GetPasswordReset",
		func(tb testing.TB, db DB, rows []int, _ func() time.Time) op {
			svc := NewService(tb, db.Store(tb), nil, nil)
			ids := mapRows(rows, ResetID)
			return func(i int) error {
				_, err := svc.GetPasswordReset(ctx, ids[i%len(ids)])
				return err
			}
		},
		func(tb testing.TB, db DB, rows []int, now func() time.Time) op {
			raw := db.Raw(tb, now)
			ids := mapRows(rows, ResetID)
			return func(i int) error { return raw.Get(ctx, ids[i%len(ids)]) }
		}}
	// A well-formed token that was never issued: the rejection that comes
	// before any bcrypt work, the token's SHA-256 and one indexed lookup
	// that finds nothing.
	reject = path{"RejectInvalidToken",
		func(tb testing.TB, db DB, _ []int, _ func() time.Time) op {
			svc := NewService(tb, db.Store(tb), nil, nil)
			return func(i int) error {
				_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: unknown[i%len(unknown)], NewPassword: Password})
				if !errors.Is(err, reset.ErrInvalidToken) {
					return errors.Join(errors.New("want ErrInvalidToken"), err)
				}
				return nil
			}
		},
		func(tb testing.TB, db DB, _ []int, now func() time.Time) op {
			raw := db.Raw(tb, now)
			return func(i int) error {
				if err := raw.Lookup(ctx, unknown[i%len(unknown)]); err != ErrInvalid {
					return errors.Join(errors.New("want ErrInvalid"), err)
				}
				return nil
			}
		}}
	// With a Hasher that does no work (the raw side hashes nothing): token
	// lookup, one transaction (spend the token, set the password, revoke
	// the user's session, queue the notice), notice sent, job finished.
	// Each iteration spends a reset of its own.
	redeem = path{"RedeemWithoutBcrypt",
		func(tb testing.TB, db DB, rows []int, _ func() time.Time) op {
			svc := NewService(tb, db.Store(tb), NoWorkHasher{}, nil)
			toks := mapRows(rows, func(i int) string { return Token(ResetToken, i) })
			return func(i int) error {
				_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: toks[i], NewPassword: Password})
				return err
			}
		},
		func(tb testing.TB, db DB, rows []int, now func() time.Time) op {
			_, notice := p.get(tb, d)
			raw := db.Raw(tb, now)
			toks := mapRows(rows, func(i int) string { return Token(ResetToken, i) })
			return func(i int) error {
				revoked, err := raw.Redeem(ctx, toks[i], PasswordHash, notice)
				if err == nil && revoked != 1 {
					err = errors.New("raw redeem revoked " + strconv.FormatInt(revoked, 10) + " sessions, want 1")
				}
				return err
			}
		}}
	// session.Manager.Validate of an active session last seen within the
	// minute (so, a lookup and no write).
	validate = path{"ValidateSession",
		func(tb testing.TB, db DB, rows []int, now func() time.Time) op {
			m := NewManager(tb, db.Store(tb), now)
			toks := mapRows(rows, func(i int) string { return Token(SessionToken, i) })
			return func(i int) error {
				_, err := m.Validate(ctx, toks[i%len(toks)])
				return err
			}
		},
		func(tb testing.TB, db DB, rows []int, now func() time.Time) op {
			raw := db.Raw(tb, now)
			toks := mapRows(rows, func(i int) string { return Token(SessionToken, i) })
			return func(i int) error { return raw.Validate(ctx, toks[i%len(toks)]) }
		}}
	// The credential-stamp check a host runs on every signed-in request
	// (Service.StampMatches) beside the indexed lookup of the user's
	// password hash.
	stamp = path{"StampCheck",
		func(tb testing.TB, db DB, rows []int, _ func() time.Time) op {
			svc := NewService(tb, db.Store(tb), nil, nil)
			ids, s := mapRows(rows, d.userID), reset.Stamp(PasswordHash)
			return func(i int) error {
				ok, err := svc.StampMatches(ctx, ids[i%len(ids)], s)
				if err == nil && !ok {
					err = errors.New("stamp refused")
				}
				return err
			}
		},
		func(tb testing.TB, db DB, rows []int, now func() time.Time) op {
			raw := db.Raw(tb, now)
			ids := mapRows(rows, d.userID)
			return func(i int) error {
				h, err := raw.PasswordHash(ctx, ids[i%len(ids)])
				if err == nil && h == "" {
					err = errors.New("no hash")
				}
				return err
			}
		}}
	return create, get, reject, redeem, validate, stamp
}

func mapRows(rows []int, f func(int) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out
}

// upTo returns 0, 1, ..., n-1.
func upTo(n int) []int {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	return rows
}

// pairSpec is the database of a pair: PairUsers users, each with a reset
// and a session, seeded now.
func pairSpec() Spec {
	return Spec{Users: PairUsers, Resets: PairUsers, Sessions: PairUsers, Now: time.Now().UTC()}
}

// redeemSpec is a database of n+1 users, each with an unused reset and an
// active session, so that each iteration of a redemption spends a token
// of its own, made before the timer starts.
func redeemSpec(n int) Spec {
	return Spec{Users: n + 1, Resets: n + 1, Sessions: n + 1, Now: time.Now().UTC()}
}

// Pairs runs the paired benchmarks of d, each as b's sub-benchmarks
// <path>/passreset and <path>/raw, and, where the sides are not parallel,
// <path>/interleaved (both sides in one loop, see interleaved): CreatePasswordReset, GetPasswordReset,
// RejectInvalidToken, RedeemWithoutBcrypt, ValidateSession, StampCheck,
// the Parallel variants of create and validate (from GOMAXPROCS goroutines
// at once; any error, a busy database included, fails them), and
// FullResetBcrypt12 (a whole reset with the default Hasher, bcrypt at cost
// 12, beside one bcrypt hash at cost 12 alone: about a quarter of a second
// an iteration; -benchtime=5x is enough).
func Pairs(b *testing.B, d Dialect) {
	create, get, reject, redeem, validate, stamp := paths(d, new(payloads))
	users := upTo(PairUsers)
	pair := func(name string, pt path, run func(*testing.B, op), both bool) {
		b.Run(name, func(b *testing.B) {
			b.Run("passreset", func(b *testing.B) { run(b, pt.passreset(b, d.Seeded(b, pairSpec()), users, nil)) })
			b.Run("raw", func(b *testing.B) { run(b, pt.raw(b, d.Seeded(b, pairSpec()), users, nil)) })
			if both {
				b.Run("interleaved", func(b *testing.B) {
					interleaved(b, pt.passreset(b, d.Seeded(b, pairSpec()), users, nil), pt.raw(b, d.Seeded(b, pairSpec()), users, nil))
				})
			}
		})
	}
	pair(create.name, create, loop, true)
	pair(get.name, get, loop, true)
	pair(reject.name, reject, loop, true)
	b.Run(redeem.name, func(b *testing.B) {
		b.Run("passreset", func(b *testing.B) {
			redeemLoop(b, redeem.passreset(b, d.Seeded(b, redeemSpec(b.N)), upTo(b.N+1), nil))
		})
		b.Run("raw", func(b *testing.B) {
			redeemLoop(b, redeem.raw(b, d.Seeded(b, redeemSpec(b.N)), upTo(b.N+1), nil))
		})
		b.Run("interleaved", func(b *testing.B) {
			interleaved(b, redeem.passreset(b, d.Seeded(b, redeemSpec(b.N)), upTo(b.N+1), nil),
				redeem.raw(b, d.Seeded(b, redeemSpec(b.N)), upTo(b.N+1), nil))
		})
	})
	pair(validate.name, validate, loop, true)
	pair(stamp.name, stamp, loop, true)
	pair(create.name+"Parallel", create, parallel, false)
	pair(validate.name+"Parallel", validate, parallel, false)
	b.Run("FullResetBcrypt12", func(b *testing.B) {
		b.Run("passreset", func(b *testing.B) {
			svc := NewService(b, d.Seeded(b, redeemSpec(b.N)).Store(b), nil, nil)
			ctx := context.Background()
			redeemLoop(b, func(i int) error {
				_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: Token(ResetToken, i), NewPassword: Password})
				return err
			})
		})
		b.Run("bcrypt", func(b *testing.B) {
			redeemLoop(b, func(int) error {
				_, err := bcrypt.GenerateFromPassword([]byte(Password), 12)
				return err
			})
		})
	})
}

// interleaved runs p(0) and r(0) untimed, then p(i) and r(i) for i = 1
// to b.N, one beside the other, in turn first, and reports each side's
// mean time per op (passreset-ns/op, raw-ns/op) and their ratio, and each
// side's median time per op (passreset-p50-ns, raw-p50-ns) and their ratio
// (p50-ratio). A burst of load from elsewhere on the machine falls on both
// sides alike, where the separate passreset and raw runs take their
// seconds one after the other; and the medians leave out the ops that
// waited for a CPU, which on a loaded machine are most of a mean. i counts
// to b.N, so that a side that spends a row per op (a redemption) has b.N+1
// of them.
func interleaved(b *testing.B, p, r op) {
	b.Helper()
	if err := p(0); err != nil {
		b.Fatal(err)
	}
	if err := r(0); err != nil {
		b.Fatal(err)
	}
	dp, dr := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		first, second, d1, d2 := p, r, &dp, &dr
		if i%2 == 0 {
			first, second, d1, d2 = r, p, &dr, &dp
		}
		start := time.Now()
		if err := first(i); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := second(i); err != nil {
			b.Fatal(err)
		}
		*d1 = append(*d1, mid.Sub(start))
		*d2 = append(*d2, time.Since(mid))
	}
	b.StopTimer()
	mp, mr := mean(dp), mean(dr)
	b.ReportMetric(mp, "passreset-ns/op")
	b.ReportMetric(mr, "raw-ns/op")
	b.ReportMetric(mp/mr, "ratio")
	pp, pr := p50(dp), p50(dr)
	b.ReportMetric(pp, "passreset-p50-ns")
	b.ReportMetric(pr, "raw-p50-ns")
	b.ReportMetric(pp/pr, "p50-ratio")
}

func mean(ds []time.Duration) float64 {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return float64(sum) / float64(len(ds))
}

func p50(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2])
}

// loop runs op(0) untimed (a Store prepares its statements on first use),
// then op(1), op(2), ... under b.Loop.
func loop(b *testing.B, op op) {
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

// redeemLoop runs op(0) untimed, then op(1) to op(b.N): each iteration
// spends a token of its own, so the loop counts to b.N rather than use
// b.Loop, whose count is not known in advance.
func redeemLoop(b *testing.B, op op) {
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

// parallel runs op(0) untimed, then op(1), op(2), ... from GOMAXPROCS
// goroutines under b.RunParallel. Any error fails the benchmark.
func parallel(b *testing.B, op op) {
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

// GrowthRows are the sizes of the growth benchmarks' tables.
var GrowthRows = []int{1_000, 100_000, 1_000_000}

// GrowthNow is the growth benchmarks' seeding time, pinned so that a
// database built on one day is as fresh on the next: both sides run with
// the clock a second later, when the sessions need no write of their
// last-seen time.
var GrowthNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// GrowthSpec is the growth database of rows resets and rows sessions, ten
// of each per user.
func GrowthSpec(rows int) Spec {
	return Spec{Users: max(rows/10, 1), Resets: rows, Sessions: rows, Now: GrowthNow}
}

// growthSample is how many rows a growth benchmark cycles through: picked
// at random over the whole table, many more than a database's page cache
// holds the pages of.
const growthSample = 1 << 16

// sample returns growthSample row numbers below rows, the same for both
// sides of a pair.
func sample(rows int) []int {
	r := rand.New(rand.NewPCG(uint64(rows), 1))
	idx := make([]int, growthSample)
	for i := range idx {
		idx[i] = r.IntN(rows)
	}
	return idx
}

// Growth runs the read hot paths at each size of GrowthRows, as b's
// sub-benchmarks rows=<n>/<path>/passreset, .../raw and .../interleaved
// (both sides in one loop, see interleaved), looking up rows
// spread over the whole table so that the page cache does not hide the
// size: GetPasswordReset, RejectInvalidToken and ValidateSession. Both
// sides of a size share one database (Dialect.Grown).
func Growth(b *testing.B, d Dialect) {
	_, get, reject, _, validate, _ := paths(d, new(payloads))
	pinned := func() time.Time { return GrowthNow.Add(time.Second) }
	for _, rows := range GrowthRows {
		b.Run("rows="+strconv.Itoa(rows), func(b *testing.B) {
			db := d.grown(b, GrowthSpec(rows))
			idx := sample(rows)
			for _, pt := range []path{get, reject, validate} {
				b.Run(pt.name, func(b *testing.B) {
					b.Run("passreset", func(b *testing.B) { loop(b, pt.passreset(b, db, idx, pinned)) })
					b.Run("raw", func(b *testing.B) { loop(b, pt.raw(b, db, idx, pinned)) })
					b.Run("interleaved", func(b *testing.B) {
						interleaved(b, pt.passreset(b, db, idx, pinned), pt.raw(b, db, idx, pinned))
					})
				})
			}
		})
	}
}
