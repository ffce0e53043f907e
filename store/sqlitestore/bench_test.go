package sqlitestore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

// The hot paths, with the default settings (synchronous=FULL) on a file.

func BenchmarkResetByTokenHash(b *testing.B) {
	st := newStore(b)
	r := seedReset(b, st, seedUser(b, st), rand.Text())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.ResetByTokenHash(ctx, r.TokenHash); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResetByTokenHashMissing(b *testing.B) {
	st := newStore(b)
	seedReset(b, st, seedUser(b, st), rand.Text())
	h := token.Sum("never issued")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.ResetByTokenHash(ctx, h); err != reset.ErrResetNotFound {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionByTokenHash(b *testing.B) {
	st := newStore(b)
	tok := rand.Text()
	seedSession(b, st, "user_x", tok)
	h := token.Hash(sha256.Sum256([]byte(tok)))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.SessionByTokenHash(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUserByID(b *testing.B) {
	st := newStore(b)
	u := seedUser(b, st)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.UserByID(ctx, u.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUserByEmail(b *testing.B) {
	st := newStore(b)
	u := seedUser(b, st)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.UserByEmail(ctx, u.Email); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTouchSession(b *testing.B) {
	st := newStore(b)
	s := seedSession(b, st, "user_x", rand.Text())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := st.TouchSession(ctx, s.ID, base); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllowRequest spreads the requests over 1,000 keys, so that each
// window counts a realistic handful of rows rather than all of them.
func BenchmarkAllowRequest(b *testing.B) {
	st := newStore(b)
	ctx := context.Background()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = rateKey(benchEmail(i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, _, err := st.AllowRequest(ctx, keys[i%len(keys)], base.Add(time.Duration(i)*time.Millisecond), time.Hour, 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedeemReset: one reset, one session and one job per redemption.
func BenchmarkRedeemReset(b *testing.B) {
	st := newStore(b)
	ctx := context.Background()
	u := seedUser(b, st)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r := seedReset(b, st, u, rand.Text())
		seedSession(b, st, u.ID, rand.Text())
		jobs := []store.Job{{ID: "job_" + rand.Text(), Kind: store.JobEmail, UserID: u.ID, Payload: []byte("sealed"), RunAt: base, CreatedAt: base}}
		b.StartTimer()
		if _, err := st.RedeemReset(ctx, store.Redemption{ResetID: r.ID, UserID: u.ID, PasswordHash: "$2a$10$new", Now: base.Add(time.Minute), Jobs: jobs}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateReset(b *testing.B) {
	st := newStore(b)
	ctx := context.Background()
	u := seedUser(b, st)
	b.ReportAllocs()
	for b.Loop() {
		r := store.Reset{ID: "password_reset_" + rand.Text(), UserID: u.ID, Email: u.Email, TokenHash: token.Sum(rand.Text()), CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
		jobs := []store.Job{{ID: "job_" + rand.Text(), Kind: store.JobEmail, UserID: u.ID, Payload: []byte("sealed"), RunAt: base, CreatedAt: base}}
		if err := st.CreateReset(ctx, r, jobs); err != nil {
			b.Fatal(err)
		}
	}
}
