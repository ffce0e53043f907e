package account_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/memstore"
)

// fixture is an account.Service on a reset.Service over a real memstore,
// with a clock and a recording mailer.
type fixture struct {
	svc    *reset.Service
	acct   *account.Service
	store  *memstore.Store
	mail   *mailtest.Recorder
	clock  *testfix.Clock
	hasher *testsvc.CountingHasher
}

// newFixture builds the fixture with the default account.Config; mod may
// change the reset.Config first.
func newFixture(t testing.TB, mod ...func(*reset.Config)) *fixture {
	t.Helper()
	f := new(fixture)
	var d testsvc.Doubles
	f.svc, f.acct, d = testsvc.OnMemory(t, reset.Config{}, mod...)
	f.store, f.mail, f.clock, f.hasher = d.Store, d.Mail, d.Clock, d.Hasher
	return f
}

// accounts makes f.acct an account.Service on f.svc configured by cfg.
func (f *fixture) accounts(t testing.TB, cfg account.Config) {
	t.Helper()
	var err error
	f.acct, err = account.New(f.svc, cfg)
	require.NoError(t, err)
}

// hashOf is the password hash f's store keeps for the user id.
func (f *fixture) hashOf(t testing.TB, id string) string {
	t.Helper()
	h, err := f.store.PasswordHash(t.Context(), id)
	require.NoError(t, err)
	return h
}

// restart is the app restarted with the Hasher h: a reset.Service over
// f's store, mailer and clock, and the account.Service on it.
func (f *fixture) restart(t testing.TB, h password.Hasher) (*reset.Service, *account.Service) {
	t.Helper()
	return testsvc.New(t, reset.Config{Store: f.store, Mailer: f.mail, ResetURL: testsvc.ResetURL, Hasher: h, Now: f.clock.Now})
}

const oldPassword = "correct horse battery"

// user creates a user with oldPassword.
func (f *fixture) user(t testing.TB, email string) reset.User {
	t.Helper()
	return testsvc.CreateUser(t, f.acct, email, oldPassword)
}

func TestNewNeedsAService(t *testing.T) {
	_, err := account.New(nil, account.Config{})
	require.ErrorContains(t, err, "reset.Service")
}
