// Package testsvc builds the reset.Service, and the account.Service on
// it, that the tests and benchmarks of reset and account share: over a
// Store the test gives, or over a fresh SQLite file, as an app runs them.
// Only tests import it.
package testsvc

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/reset"
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
