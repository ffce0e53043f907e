package reset_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/reset"
)

// TestConcurrentConfirmationsHashOnce: confirmations of one reset at once,
// by its link or by its code, each with its own password, compute one
// hash, or two should the first fail: the others wait for the one that has
// the turn and then find the reset spent. Exactly one succeeds; the
// password that won signs in.
func TestConcurrentConfirmationsHashOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		confirm func(pr reset.PasswordReset, pw string) reset.ResetPasswordParams
		loser   error // what a spent link or code gets
	}{{
		name: "link",
		n:    20,
		confirm: func(pr reset.PasswordReset, pw string) reset.ResetPasswordParams {
			return reset.ResetPasswordParams{Token: pr.Token, NewPassword: pw}
		},
		loser: reset.ErrInvalidToken,
	}, {
		name: "code",
		n:    reset.CodeTries, // each claim takes a try
		confirm: func(pr reset.PasswordReset, pw string) reset.ResetPasswordParams {
			return reset.ResetPasswordParams{Email: pr.Email, Code: pr.Code, NewPassword: pw}
		},
		loser: reset.ErrInvalidCode,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			// A realistic cost, so that the confirmations overlap as they
			// do in production (at cost 4 they would run one after another).
			hasher := testsvc.NewCountingHasher(10)
			f := newFixture(t, func(c *reset.Config) { c.Hasher = hasher })
			u := f.user(t, "ana@example.com")
			pr := f.createReset(t, u.Email)
			before := hasher.Hashes.Load()

			passphrase := func(i int) string { return fmt.Sprintf("new passphrase number %d", i) }
			errs := make([]error, tc.n)
			testfix.Concurrently(tc.n, func(i int) {
				_, errs[i] = f.svc.ResetPassword(t.Context(), tc.confirm(pr, passphrase(i)))
			})

			won := -1
			for i, err := range errs {
				if err == nil {
					require.Equal(t, -1, won, "two confirmations succeeded")
					won = i
					continue
				}
				require.ErrorIs(t, err, tc.loser, "a loser gets what a spent reset gets")
			}
			require.NotEqual(t, -1, won, "no confirmation succeeded")
			hashes := hasher.Hashes.Load() - before
			require.LessOrEqual(t, hashes, int64(2), "hashes computed for %d concurrent confirmations of one reset", tc.n)
			_, err := f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: u.Email, Password: passphrase(won), Client: "c"})
			require.NoError(t, err)
		})
	}
}
