package pgstore_test

// Growth on Postgres: the read hot paths at 1,000, 100,000 and 1,000,000
// stored rows, through the module and raw, looking up rows spread over the
// whole table. Each benchmark seeds a fresh schema per size with COPY
// (about half a minute for the million rows) that both sides read, and
// drops it when the benchmark ends.

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/pgstore"
)

var growthRows = []int{1_000, 100_000, 1_000_000}

// growthNow is the growth benchmarks' clock, pinned as in
// store/sqlitestore's.
var growthNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

func pinnedNow() time.Time { return growthNow.Add(time.Second) }

const growthSample = 1 << 16

func sample(rows int) []int {
	r := rand.New(rand.NewPCG(uint64(rows), 1))
	idx := make([]int, growthSample)
	for i := range idx {
		idx[i] = r.IntN(rows)
	}
	return idx
}

// growth seeds a schema for each size in growthRows, dropped when b ends,
// and runs pair on it with a Store of the passreset side's and one whose
// pool the raw side uses, both over that schema.
func growth(b *testing.B, pair func(b *testing.B, passreset, raw *pgstore.Store, rows int)) {
	testURL(b)
	for _, rows := range growthRows {
		b.Run("rows="+strconv.Itoa(rows), func(b *testing.B) {
			schema := freshSchema(b)
			st := newStoreIn(b, schema)
			seed(b, st.Pool(), seedSpec{users: max(rows/10, 1), resets: rows, sessions: rows, now: growthNow})
			pair(b, st, newStoreIn(b, schema), rows)
		})
	}
}

func BenchmarkGetPasswordResetGrowth(b *testing.B) {
	ctx := context.Background()
	growth(b, func(b *testing.B, passreset, raw *pgstore.Store, rows int) {
		ids := make([]string, growthSample)
		for i, r := range sample(rows) {
			ids[i] = benchResetID(r)
		}
		b.Run("passreset", func(b *testing.B) {
			svc := newBenchService(b, passreset, nil, nil)
			loop(b, func(i int) error {
				_, err := svc.GetPasswordReset(ctx, ids[i%len(ids)])
				return err
			})
		})
		b.Run("raw", func(b *testing.B) {
			db := rawPool(raw)
			loop(b, func(i int) error {
				_, err := db.get(ctx, ids[i%len(ids)])
				return err
			})
		})
	})
}

func BenchmarkRejectInvalidTokenGrowth(b *testing.B) {
	ctx := context.Background()
	unknown := tokens(unknownToken, growthSample)
	growth(b, func(b *testing.B, passreset, raw *pgstore.Store, rows int) {
		b.Run("passreset", func(b *testing.B) {
			svc := newBenchService(b, passreset, nil, nil)
			loop(b, func(i int) error {
				_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: unknown[i%len(unknown)], NewPassword: benchPassword})
				if !errors.Is(err, reset.ErrInvalidToken) {
					return errors.Join(errors.New("want ErrInvalidToken"), err)
				}
				return nil
			})
		})
		b.Run("raw", func(b *testing.B) {
			db := rawPool(raw)
			loop(b, func(i int) error {
				if _, err := db.lookup(ctx, unknown[i%len(unknown)]); err != errRawInvalid {
					return errors.Join(errors.New("want errRawInvalid"), err)
				}
				return nil
			})
		})
	})
}

func BenchmarkValidateSessionGrowth(b *testing.B) {
	ctx := context.Background()
	growth(b, func(b *testing.B, passreset, raw *pgstore.Store, rows int) {
		toks := make([]string, growthSample)
		for i, r := range sample(rows) {
			toks[i] = benchToken(sessionToken, r)
		}
		b.Run("passreset", func(b *testing.B) {
			m := newBenchManager(b, passreset, pinnedNow)
			loop(b, func(i int) error {
				_, err := m.Validate(ctx, toks[i%len(toks)])
				return err
			})
		})
		b.Run("raw", func(b *testing.B) {
			db := rawPool(raw)
			db.now = func() time.Time { return pinnedNow().Truncate(time.Millisecond) }
			loop(b, func(i int) error {
				_, err := db.validate(ctx, toks[i%len(toks)])
				return err
			})
		})
	})
}
