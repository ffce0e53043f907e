package account_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/reset"
)

// fixture is the Service and the account.Service of testsvc, over a real
// memstore, with a clock and a recording mailer; a test may rebuild its
// account.Service with another account.Config.
type fixture struct{ *testsvc.Fixture }

// newFixture builds the fixture with the default account.Config; mod may
// change the reset.Config first.
func newFixture(t testing.TB, mod ...func(*reset.Config)) *fixture {
	t.Helper()
	return &fixture{testsvc.NewFixture(t, reset.Config{}, mod...)}
}

// accounts makes f.Accounts an account.Service on f.Svc configured by cfg.
func (f *fixture) accounts(t testing.TB, cfg account.Config) {
	t.Helper()
	var err error
	f.Accounts, err = account.New(f.Svc, cfg)
	require.NoError(t, err)
}

func TestNewNeedsAService(t *testing.T) {
	_, err := account.New(nil, account.Config{})
	require.ErrorContains(t, err, "reset.Service")
}
