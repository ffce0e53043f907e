package account_test

import (
	"strings"
	"testing"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/reset"
	"github.com/stretchr/testify/require"
)

// TestCreateUserRefusesUnsafeNames: a name lands verbatim in the text of an
// email; one that breaks lines, hides text or never ends is refused, and
// nothing is stored.
func TestCreateUserRefusesUnsafeNames(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	for _, name := range []string{
		"Ana\r\nBcc: victim@example.com", "Ana\nEve", "Ana\x00", "Ana\u2028Eve", "\u202eevE", "Ana\u2066x",
		strings.Repeat("a", account.MaxNameLength+1), "\xff",
	} {
		_, err := f.Accounts.CreateUser(ctx, account.CreateUserParams{Email: "n@example.com", FirstName: name})
		require.ErrorIs(t, err, account.ErrInvalidName, "%q", name)
		_, err = f.Accounts.CreateUser(ctx, account.CreateUserParams{Email: "n@example.com", LastName: name})
		require.ErrorIs(t, err, account.ErrInvalidName, "%q", name)
	}
	_, err := f.Store.UserByEmail(ctx, "n@example.com")
	require.ErrorIs(t, err, reset.ErrUserNotFound)
	u, err := f.Accounts.CreateUser(ctx, account.CreateUserParams{Email: "n@example.com", FirstName: "Zoë", LastName: strings.Repeat("Ł", account.MaxNameLength)})
	require.NoError(t, err)
	require.Equal(t, "Zoë", u.FirstName)
}
