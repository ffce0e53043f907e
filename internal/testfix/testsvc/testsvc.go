// Package testsvc builds the reset.Service, and the account.Service on
// it, that the tests, benchmarks and examples of reset and account share:
// over a Store the test gives, over a memstore with test doubles a test
// looks at and moves, or over a fresh SQLite file, as an app runs them.
// Only tests import it.
package testsvc

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/store/sqlitestore"
)

// ResetURL is the reset page OnSQLite gives a Service whose Config has
// none.
const ResetURL = "https://app.example/reset-password"

// New returns a Service of cfg and the account.Service on it, with the
// default account.Config. It stops tb when either refuses.
func New(tb testing.TB, cfg reset.Config) (*reset.Service, *account.Service) {
	tb.Helper()
	svc, err := reset.NewService(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	accounts, err := account.New(svc, account.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return svc, accounts
}

// NewClock returns a Clock at 2026-01-15 12:00 UTC, where the Clock of
// every Doubles starts.
func NewClock() *testfix.Clock {
	return testfix.NewClock(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC))
}

// CountingHasher is a bcrypt Hasher that counts the hashes it makes and
// the comparisons it runs.
type CountingHasher struct {
	password.Bcrypt
	Hashes, Compares atomic.Int64
}

// NewCountingHasher returns a CountingHasher of bcrypt at cost.
func NewCountingHasher(cost int) *CountingHasher {
	return &CountingHasher{Bcrypt: password.Bcrypt{Cost: cost}}
}

// Hash counts a hash and makes it.
func (h *CountingHasher) Hash(p string) (string, error) {
	h.Hashes.Add(1)
	return h.Bcrypt.Hash(p)
}

// Compare counts a comparison and runs it.
func (h *CountingHasher) Compare(hash, p string) error {
	h.Compares.Add(1)
	return h.Bcrypt.Compare(hash, p)
}

// Doubles are the parts of a Service built by OnMemory that a test looks
// at or moves.
type Doubles struct {
	Store  *memstore.Store
	Mail   *mailtest.Recorder
	Clock  *testfix.Clock
	Hasher *CountingHasher // bcrypt at its cheapest
}

// OnMemory is New over a fresh memstore and fresh Doubles: it sets cfg's
// Store, Mailer, Hasher and Now to the Doubles' and its ResetURL to
// ResetURL, then lets each mod change cfg (replace a part, wrap the
// Store) before the Service is built.
func OnMemory(tb testing.TB, cfg reset.Config, mod ...func(*reset.Config)) (*reset.Service, *account.Service, Doubles) {
	tb.Helper()
	d := Doubles{Store: memstore.New(), Mail: new(mailtest.Recorder), Clock: NewClock(), Hasher: NewCountingHasher(4)}
	cfg.Store, cfg.Mailer, cfg.Hasher, cfg.Now, cfg.ResetURL = d.Store, d.Mail, d.Hasher, d.Clock.Now, ResetURL
	for _, m := range mod {
		m(&cfg)
	}
	svc, accounts := New(tb, cfg)
	return svc, accounts, d
}

// OnSQLite is New over a fresh, migrated SQLite file in tb's temporary
// folder, closed when tb ends. It sets cfg.Store to that file's Store and,
// where cfg leaves them zero, Mailer to a mailtest.Recorder, ResetURL to
// ResetURL and Logger to one that discards.
func OnSQLite(tb testing.TB, cfg reset.Config) (*reset.Service, *account.Service, *sqlitestore.Store) {
	tb.Helper()
	st, err := sqlitestore.Open(tb.Context(), filepath.Join(tb.TempDir(), "test.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	cfg.Store = st
	if cfg.Mailer == nil {
		cfg.Mailer = new(mailtest.Recorder)
	}
	if cfg.ResetURL == "" {
		cfg.ResetURL = ResetURL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	svc, accounts := New(tb, cfg)
	return svc, accounts, st
}

// CreateUser creates a user, Marcelina Davis, at email with password pw
// through accounts. It stops tb when that fails.
func CreateUser(tb testing.TB, accounts *account.Service, email, pw string) reset.User {
	tb.Helper()
	u, err := accounts.CreateUser(tb.Context(), account.CreateUserParams{Email: email, Password: pw, FirstName: "Marcelina", LastName: "Davis"})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// Demo returns what the runnable examples of reset and account start
// from, with no testing.TB to stop: a reset.Service over a memstore (an
// app has sqlitestore or pgstore), with a dev mailbox of the last ten
// messages, bcrypt at its cheapest (an app keeps the default, 12), a clock
// fixed at 2026-01-15 12:00 UTC and a logger that discards; the
// account.Service on it, with the default account.Config; the mailbox;
// and one user, marcelina.davis@example.com, whose password is "the old
// passphrase".
func Demo() (*reset.Service, *account.Service, *mail.Dev, error) {
	quiet := slog.New(slog.DiscardHandler)
	mailbox := mail.NewDev(quiet, 10)
	svc, err := reset.NewService(reset.Config{
		Store:    memstore.New(),
		Mailer:   mailbox,
		ResetURL: ResetURL,
		Hasher:   password.Bcrypt{Cost: 4},
		Now:      NewClock().Now,
		Logger:   quiet,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("testsvc: demo: %w", err)
	}
	// The accounts share the Service's Store, Hasher, Policy and hashing
	// cap (reset.Config.MaxHashing).
	accounts, err := account.New(svc, account.Config{})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("testsvc: demo: %w", err)
	}
	if _, err := accounts.CreateUser(context.Background(), account.CreateUserParams{Email: "marcelina.davis@example.com", Password: "the old passphrase"}); err != nil {
		return nil, nil, nil, fmt.Errorf("testsvc: demo: %w", err)
	}
	return svc, accounts, mailbox, nil
}
