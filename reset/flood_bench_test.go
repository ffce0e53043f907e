package reset_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
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
//	go test -run x -bench 'SignIn(Idle|UnderFlood)' -count 3 ./reset/
func BenchmarkSignInUnderFlood(b *testing.B) {
	b.Run("capped", func(b *testing.B) { benchSignIn(b, floodClients, 0) })
	b.Run("uncapped", func(b *testing.B) { benchSignIn(b, floodClients, 1000) })
}

// benchSignIn times the owner's sign-in while flood goroutines sign in as
// one other client with unknown addresses, on a Service with maxHashing
// (0: the default).
func benchSignIn(b *testing.B, flood, maxHashing int) {
	ctx := b.Context()
	st, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	svc, err := reset.NewService(reset.Config{
		Store: st, Mailer: new(mailtest.Recorder), ResetURL: "https://app.example/reset-password",
		Hasher: password.Bcrypt{}, MaxHashing: maxHashing,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	const email, pw = "ana@example.com", "the owner's passphrase"
	if _, err := svc.CreateUser(ctx, reset.CreateUserParams{Email: email, Password: pw}); err != nil {
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
				_, err := svc.Authenticate(floodCtx, reset.AuthenticateParams{Email: addr, Password: "a guess", Client: "198.51.100.66"})
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
		if _, err := svc.Authenticate(ctx, reset.AuthenticateParams{Email: email, Password: pw, Client: "203.0.113.7"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Authenticate(ctx, reset.AuthenticateParams{Email: email, Password: pw, Client: "203.0.113.7"}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if flood > 0 {
		b.ReportMetric(float64(compared.Load())/float64(b.N), "flood-compares/op")
		b.ReportMetric(float64(busy.Load())/float64(b.N), "flood-busy/op")
	}
}
