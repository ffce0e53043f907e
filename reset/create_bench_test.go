package reset_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/memstore"
)

// discardMailer sends nothing: the benchmark measures the flow, not a
// mail server, and a recorder would grow with every iteration.
type discardMailer struct{}

func (discardMailer) Send(context.Context, mail.Message) error { return nil }

// BenchmarkCreatePasswordResetFlow is CreatePasswordReset over memstore,
// where the store costs little: what is left is the flow's own work (the
// address normalised and its keyed hash, the token, the code and its
// hashes, the email rendered and sealed, the job's lease), which the SQL
// stores' paired benchmarks (store/internal/storebench) charge against
// hand-written SQL that does none of it.
func BenchmarkCreatePasswordResetFlow(b *testing.B) {
	ctx := context.Background()
	st := memstore.New()
	const users = 1000
	emails := make([]string, users)
	for i := range users {
		emails[i] = fmt.Sprintf("user%07d@example.com", i)
		u := reset.User{ID: fmt.Sprintf("user_%d", i), Email: emails[i], FirstName: "Marcelina", LastName: "Davis"}
		if err := st.CreateUser(ctx, u, ""); err != nil {
			b.Fatal(err)
		}
	}
	svc, err := reset.NewService(reset.Config{Store: st, Mailer: discardMailer{}, ResetURL: "https://app.example/reset-password",
		SecretKey: []byte("passreset benchmark secret key, 32+ bytes"), RateLimit: reset.RateLimit{Limit: 1 << 30},
		Hasher: password.Bcrypt{Cost: 4}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: emails[i%users]}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
