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
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
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
// every Fixture starts.
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

// Fixture is a reset.Service over a fresh memstore, the account.Service
// on it, and the test doubles it runs with, which a test looks at and
// moves. Make one with NewFixture.
type Fixture struct {
	Svc      *reset.Service
	Accounts *account.Service
	// Store is the Store Svc runs on: the fresh memstore, or whatever a
	// mod of NewFixture put in its place, so that what a test reads of it
	// is what the Service wrote.
	Store store.Store
	// Mail is the Service's Mailer; nil when a mod replaced the Mailer
	// with something other than a mailtest.Recorder.
	Mail *mailtest.Recorder
	// Clock is the Service's clock, unless a mod replaced Config.Now: the
	// test then moves the clock it gave.
	Clock *testfix.Clock
	// Hasher is the Service's Hasher, bcrypt at its cheapest; nil when a
	// mod replaced the Hasher with something other than a CountingHasher.
	Hasher *CountingHasher
}

// NewFixture is New over a fresh memstore and fresh test doubles: it sets
// cfg's Store, Mailer, Hasher and Now to the Fixture's and its ResetURL
// to ResetURL, then lets each mod change cfg (replace a part, wrap the
// Store) before the Service is built. The Fixture's fields are the parts
// the Service was built with.
func NewFixture(tb testing.TB, cfg reset.Config, mod ...func(*reset.Config)) *Fixture {
	tb.Helper()
	f := &Fixture{Mail: new(mailtest.Recorder), Clock: NewClock(), Hasher: NewCountingHasher(4)}
	cfg.Store, cfg.Mailer, cfg.Hasher, cfg.Now, cfg.ResetURL = memstore.New(), f.Mail, f.Hasher, f.Clock.Now, ResetURL
	for _, m := range mod {
		m(&cfg)
	}
	f.Store = cfg.Store
	f.Mail, _ = cfg.Mailer.(*mailtest.Recorder)
	f.Hasher, _ = cfg.Hasher.(*CountingHasher)
	f.Svc, f.Accounts = New(tb, cfg)
	return f
}

// OldPassword is the password of the users that User creates.
const OldPassword = "correct horse battery"

// User creates a user at email with OldPassword through f.Accounts. It
// stops tb when that fails.
func (f *Fixture) User(tb testing.TB, email string) reset.User {
	tb.Helper()
	return CreateUser(tb, f.Accounts, email, OldPassword)
}

// CreateReset creates a reset for email through f.Svc. It stops tb when
// that fails.
func (f *Fixture) CreateReset(tb testing.TB, email string) reset.PasswordReset {
	tb.Helper()
	pr, err := f.Svc.CreatePasswordReset(tb.Context(), reset.CreatePasswordResetParams{Email: email})
	if err != nil {
		tb.Fatal(err)
	}
	return pr
}

// HashOf returns the password hash f.Store keeps for the user id. It
// stops tb when there is none.
func (f *Fixture) HashOf(tb testing.TB, id string) string {
	tb.Helper()
	h, err := f.Store.PasswordHash(tb.Context(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// Restart is the app restarted with the Hasher h: a reset.Service over
// f's Store, Mail and Clock, and the account.Service on it.
func (f *Fixture) Restart(tb testing.TB, h password.Hasher) (*reset.Service, *account.Service) {
	tb.Helper()
	return New(tb, reset.Config{Store: f.Store, Mailer: f.Mail, ResetURL: ResetURL, Hasher: h, Now: f.Clock.Now})
}

// Code returns the code of the last email rec recorded, as the email
// shows it: two groups of four digits on a line of their own in the text,
// and the same in the HTML. It stops tb when there is no email or no code.
func Code(tb testing.TB, rec *mailtest.Recorder) string {
	tb.Helper()
	m, ok := rec.Last()
	if !ok {
		tb.Fatal("testsvc: no email recorded")
	}
	code := regexp.MustCompile(`(?m)^    (\d{4} \d{4})$`).FindStringSubmatch(m.Text)
	if code == nil {
		tb.Fatalf("testsvc: the email shows no code:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, code[1]) {
		tb.Fatalf("testsvc: the email's HTML lacks the code %q:\n%s", code[1], m.HTML)
	}
	return code[1]
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
