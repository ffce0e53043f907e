package reset_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/reset"
)

// refusedAddresses are addresses emailaddr refuses for what they hold,
// each beside the accepted address it passes for.
var refusedAddresses = []struct{ name, refused, lookalike string }{
	{"kelvin sign", "\u212aate@example.com", "kate@example.com"},
	{"zero-width joiner", "ka\u200dte@example.com", "kate@example.com"},
	{"right-to-left override", "kate\u202e@example.com", "kate@example.com"},
	{"domain literal", "kate@[192.0.2.1]", "kate@example.com"},
	{"65-octet local part", strings.Repeat("k", 65) + "@example.com", strings.Repeat("k", 64) + "@example.com"},
}

// TestOneMailboxOneAccount: an address in NFD and in NFC, with its domain
// in Unicode or in punycode, or in other case, is one account: CreateUser
// refuses the second spelling, and a reset asked for by any spelling is
// the one account's, sent to the address as stored.
func TestOneMailboxOneAccount(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u := f.User(t, "JOSE\u0301@BU\u0308CHER.example") // NFD, Unicode domain
	require.Equal(t, "jos\u00e9@xn--bcher-kva.example", u.Email, "stored in one form: NFC, the domain in ASCII")

	for _, email := range []string{"jos\u00e9@xn--bcher-kva.example", "Jos\u00e9@B\u00fccher.Example", "jose\u0301@XN--BCHER-KVA.EXAMPLE"} {
		_, err := f.Accounts.CreateUser(ctx, account.CreateUserParams{Email: email})
		require.ErrorIs(t, err, account.ErrEmailTaken, "%+q", email)

		pr, err := f.Svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: email})
		require.NoError(t, err, "%+q", email)
		require.Equal(t, u.ID, pr.UserID, "%+q", email)
	}
	for _, m := range f.Mail.Messages() {
		require.Equal(t, u.Email, m.To)
	}
	_, err := f.Accounts.Authenticate(ctx, account.AuthenticateParams{Email: "jose\u0301@b\u00fccher.example", Password: testsvc.OldPassword})
	require.NoError(t, err, "sign-in by another spelling")
}

// TestRefusedAddresses: CreateUser refuses an address with an invisible,
// bidirectional or look-alike character, a domain literal or a long local
// part (ErrInvalidEmail, which the JSON API answers 422); a reset asked
// for such an address gets the answer of an unknown address
// (ErrUserNotFound), even beside an account whose address it passes for,
// and sends nothing.
func TestRefusedAddresses(t *testing.T) {
	ctx := t.Context()
	for _, a := range refusedAddresses {
		t.Run(a.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.Accounts.CreateUser(ctx, account.CreateUserParams{Email: a.refused})
			require.ErrorIs(t, err, reset.ErrInvalidEmail)
			_, err = reset.NormalizeEmail(a.refused)
			require.ErrorIs(t, err, reset.ErrInvalidEmail)

			f.User(t, a.lookalike)
			sent := f.Mail.Len()
			_, err = f.Svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: a.refused})
			require.ErrorIs(t, err, reset.ErrUserNotFound)
			_, unknown := f.Svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "nobody." + a.lookalike})
			require.Equal(t, unknown.Error(), err.Error(), "the same answer as for an unknown address")

			req, err := f.Svc.RequestPasswordReset(ctx, reset.CreatePasswordResetParams{Email: a.refused})
			require.NoError(t, err, "recorded like any other")
			require.ErrorIs(t, req.Run(ctx), reset.ErrUserNotFound)
			require.Equal(t, sent, f.Mail.Len(), "mail was sent for a refused address")

			_, err = f.Accounts.Authenticate(ctx, account.AuthenticateParams{Email: a.refused, Password: testsvc.OldPassword})
			require.ErrorIs(t, err, reset.ErrInvalidCredentials)
		})
	}
}

// TestRefusedAddressesAreLimited: a refused address counts against the
// per-address limit as an unknown one does, so that the limit tells the
// two apart no more than the answer does.
func TestRefusedAddressesAreLimited(t *testing.T) {
	f := newFixture(t, func(c *reset.Config) { c.RateLimit = reset.RateLimit{Limit: 1, Window: 3600e9} })
	ctx := t.Context()
	for _, email := range []string{"ka\u200dte@example.com", "nobody@example.com"} {
		_, err := f.Svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: email})
		require.ErrorIs(t, err, reset.ErrUserNotFound, "%+q", email)
		_, err = f.Svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: email})
		require.ErrorIs(t, err, reset.ErrRateLimited, "%+q", email)
	}
}
