package account_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/sqlitestore"
)

// floodClients is how many sign-ins the flooding client keeps in flight:
// the 24 of the report that made a legitimate sign-in take 12 s.
const floodClients = 24

// BenchmarkSignInIdle is the baseline of BenchmarkSignInUnderFlood: one
// legitimate sign-in, bcrypt at its default cost (12), over SQLite, on an
// otherwise idle Service.
func BenchmarkSignInIdle(b *testing.B) {
	benchSignIn(b, 0, 0)
}

// BenchmarkSignInUnderFlood measures the same sign-in while one client
// keeps 24 sign-ins for unknown addresses in flight, each a bcrypt
// comparison: "capped" with the default Config.MaxHashing (the cores, one
// client at most half of them), "uncapped" with a cap too high to bite,
// as before it existed. The flood runs in this process, against the
// Service itself, so that no HTTP limit stops it: only the hashing cap
// stands between it and the legitimate sign-in. Run the three together
// and compare ns/op:
//
//	go test -run x -bench 'SignIn(Idle|UnderFlood)' -count 3 ./account/
func BenchmarkSignInUnderFlood(b *testing.B) {
	b.Run("capped", func(b *testing.B) { benchSignIn(b, floodClients, 0) })
	b.Run("uncapped", func(b *testing.B) { benchSignIn(b, floodClients, 1000) })
}

// benchSignIn times the owner's sign-in while flood goroutines sign in as
// one other client with unknown addresses, on a Service with maxHashing
// (0: the default).
func benchSignIn(b *testing.B, flood, maxHashing int) {
	ctx := b.Context()
	svc, _ := benchAccounts(b, reset.Config{Hasher: password.Bcrypt{}, MaxHashing: maxHashing})
	const email, pw = "ana@example.com", "the owner's passphrase"
	if _, err := svc.CreateUser(ctx, account.CreateUserParams{Email: email, Password: pw}); err != nil {
		b.Fatal(err)
	}

	floodCtx, stop := context.WithCancel(context.Background())
	var (
		wg             sync.WaitGroup
		compared, busy atomic.Int64
		next           atomic.Int64
	)
	for range flood {
		wg.Go(func() {
			for floodCtx.Err() == nil {
				addr := fmt.Sprintf("nobody-%d@example.com", next.Add(1))
				_, err := svc.Authenticate(floodCtx, account.AuthenticateParams{Email: addr, Password: "a guess", Client: "198.51.100.66"})
				switch {
				case err == nil:
					b.Error("an unknown address signed in")
				case errors.Is(err, reset.ErrInvalidCredentials):
					compared.Add(1)
				case errors.Is(err, reset.ErrBusy):
					busy.Add(1)
				case floodCtx.Err() == nil:
					b.Errorf("flood: %v", err)
				}
			}
		})
	}
	b.Cleanup(func() { stop(); wg.Wait() })

	// Let the flood fill whatever it can before the first timed sign-in.
	for flood > 0 && compared.Load()+busy.Load() == 0 {
		if _, err := svc.Authenticate(ctx, account.AuthenticateParams{Email: email, Password: pw, Client: "203.0.113.7"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Authenticate(ctx, account.AuthenticateParams{Email: email, Password: pw, Client: "203.0.113.7"}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if flood > 0 {
		b.ReportMetric(float64(compared.Load())/float64(b.N), "flood-compares/op")
		b.ReportMetric(float64(busy.Load())/float64(b.N), "flood-busy/op")
	}
}

// benchAccounts is an account.Service over a fresh SQLite file, the
// embedded default, on a reset.Service of cfg, with the default limits.
func benchAccounts(b *testing.B, cfg reset.Config) (*account.Service, *sqlitestore.Store) {
	_, accounts, st := testsvc.OnSQLite(b, cfg)
	return accounts, st
}

// BenchmarkSignInRehash measures Authenticate over SQLite at bcrypt cost
// 10: "current", a stored hash at the configured cost; "rehash", a stored
// hash at cost 9, which the sign-in compares, hashes again at cost 10 and
// stores in its conditional step (the benchmark puts the cost-9 hash back
// outside the timer).
func BenchmarkSignInRehash(b *testing.B) {
	const email, pw = "ana@example.com", "the current passphrase"
	for _, name := range []string{"current", "rehash"} {
		b.Run(name, func(b *testing.B) {
			svc, st := benchAccounts(b, reset.Config{Hasher: password.Bcrypt{Cost: 10}})
			u, err := svc.CreateUser(b.Context(), account.CreateUserParams{Email: email, Password: pw})
			if err != nil {
				b.Fatal(err)
			}
			current, _ := st.PasswordHash(b.Context(), u.ID)
			old, err := password.Bcrypt{Cost: 9}.Hash(pw)
			if err != nil {
				b.Fatal(err)
			}
			set := func(from, to string) {
				if _, err := st.ChangePassword(b.Context(), store.PasswordChange{UserID: u.ID, OldHash: from, NewHash: to, Now: time.Now(), Rehash: true}); err != nil {
					b.Fatal(err)
				}
			}
			stored := current
			for range b.N {
				if name == "rehash" {
					b.StopTimer()
					h, _ := st.PasswordHash(b.Context(), u.ID)
					set(h, old)
					b.StartTimer()
				}
				if _, err := svc.Authenticate(b.Context(), account.AuthenticateParams{Email: email, Password: pw}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			got, _ := st.PasswordHash(b.Context(), u.ID)
			if name == "rehash" && got == old {
				b.Fatal("the hash was not upgraded")
			}
			if name == "current" && got != stored {
				b.Fatal("an up-to-date hash was rehashed")
			}
		})
	}
}
