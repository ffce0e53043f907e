package account_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testhash"
	"github.com/passreset/passreset/reset"
	"github.com/stretchr/testify/require"
)

// signIn signs in as client, with the fixture's clock.
func (f *fixture) signIn(t *testing.T, email, pw, client string) error {
	t.Helper()
	_, err := f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: email, Password: pw, Client: client})
	return err
}

// TestSignInLockoutLiftedByReset: ten wrong sign-ins use up the client's
// failures for the address; a reset starts the count afresh, so the new
// password signs in at once, from the same client. A password change does
// the same.
func TestSignInLockoutLiftedByReset(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	const client = "203.0.113.7"
	for i := range 10 {
		require.ErrorIs(t, f.signIn(t, u.Email, "a wrong guess", client), reset.ErrInvalidCredentials, "guess %d", i+1)
	}
	require.ErrorIs(t, f.signIn(t, u.Email, oldPassword, client), reset.ErrRateLimited, "the eleventh, right or not, is refused")

	pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: u.Email})
	require.NoError(t, err)
	const newPassword = "a fresh and long passphrase"
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword})
	require.NoError(t, err)
	require.NoError(t, f.signIn(t, u.Email, newPassword, client), "the new password signs in at once after the reset")

	for range 10 {
		require.ErrorIs(t, f.signIn(t, u.Email, "another wrong guess", client), reset.ErrInvalidCredentials)
	}
	require.ErrorIs(t, f.signIn(t, u.Email, newPassword, client), reset.ErrRateLimited)
	const changed = "changed from a signed-in device"
	_, err = f.acct.ChangePassword(ctx, account.ChangePasswordParams{UserID: u.ID, CurrentPassword: newPassword, NewPassword: changed})
	require.NoError(t, err)
	require.NoError(t, f.signIn(t, u.Email, changed, client), "a password change lifts the count too")
}

// TestSignInAttackerCannotLockOwnerOut: an attacker's failures, from as
// many rounds as it likes, refuse the attacker's client only; the owner,
// from another client, signs in every time.
func TestSignInAttackerCannotLockOwnerOut(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	for round := range 4 { // renewing the lockout every window
		for range 10 {
			require.ErrorIs(t, f.signIn(t, u.Email, "an attacker's guess", "198.51.100.66"), reset.ErrInvalidCredentials)
		}
		require.ErrorIs(t, f.signIn(t, u.Email, "an attacker's guess", "198.51.100.66"), reset.ErrRateLimited)
		require.NoError(t, f.signIn(t, u.Email, oldPassword, "203.0.113.7"), "round %d: the owner's client is not locked out", round)
		f.clock.Add(15 * time.Minute)
	}
}

// TestSignInSuccessesNotCounted: only failures count; a client that signs
// in many times is never refused.
func TestSignInSuccessesNotCounted(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	for i := range 25 {
		require.NoError(t, f.signIn(t, u.Email, oldPassword, "203.0.113.7"), "sign-in %d", i+1)
	}
	for i := range 9 {
		require.ErrorIs(t, f.signIn(t, u.Email, "typo", "203.0.113.7"), reset.ErrInvalidCredentials, "typo %d", i+1)
	}
	require.NoError(t, f.signIn(t, u.Email, oldPassword, "203.0.113.7"), "nine failures are under the limit")
}

// TestSignInAddressBudgetStopsSpraying: guesses spread over many clients
// stop at the per-address budget, for addresses with an account and
// without alike, and cost no hash comparison past it.
func TestSignInAddressBudgetStopsSpraying(t *testing.T) {
	f := newFixture(t)
	f.accounts(t, account.Config{SignInAddressLimit: reset.RateLimit{Limit: 30, Window: 15 * time.Minute}})
	u := f.user(t, "ana@example.com")
	for _, email := range []string{u.Email, "ghost@example.com"} {
		for i := range 30 {
			require.ErrorIs(t, f.signIn(t, email, "spray", fmt.Sprintf("client-%d", i)), reset.ErrInvalidCredentials, "%s guess %d", email, i+1)
		}
		before := f.hasher.Compares.Load()
		err := f.signIn(t, email, oldPassword, "a client that never failed")
		var rl *reset.RateLimitError
		require.ErrorAs(t, err, &rl, "%s: past the address budget every client is refused", email)
		require.Equal(t, 15*time.Minute, rl.RetryAfter())
		require.Equal(t, before, f.hasher.Compares.Load(), "no comparison past the budget")
	}
	// The owner's way in: a reset.
	pr, err := f.svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: u.Email})
	require.NoError(t, err)
	_, err = f.svc.ResetPassword(t.Context(), reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a fresh and long passphrase"})
	require.NoError(t, err)
	require.NoError(t, f.signIn(t, u.Email, "a fresh and long passphrase", "a client that never failed"))
}

// TestHashingCapAnswersBusy: with every hashing slot taken, a sign-in
// waits HashingWait and returns a *BusyError, counting nothing; one
// client takes at most half the slots, so another client still gets one.
// The cap is the reset.Service's: sign-ins that hold it leave a reset's
// redemption busy too, without spending its token.
func TestHashingCapAnswersBusy(t *testing.T) {
	gate := testhash.NewGate()
	f := newFixture(t, func(c *reset.Config) {
		c.MaxHashing = 2
		c.HashingWait = 50 * time.Millisecond
		c.Hasher = gate
	})
	u := f.user(t, "ana@example.com")
	pr, err := f.svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: u.Email})
	require.NoError(t, err)

	// The flooding client holds its one slot (half of two).
	flood := make(chan error, 1)
	go func() {
		_, err := f.acct.Authenticate(context.Background(), account.AuthenticateParams{Email: "ghost@example.com", Password: "x", Client: "flood"})
		flood <- err
	}()
	gate.WaitHeld(t, 1)
	err = f.signIn(t, "ghost2@example.com", "x", "flood")
	var busy *reset.BusyError
	require.ErrorAs(t, err, &busy, "the flooding client's second sign-in")
	require.ErrorIs(t, err, reset.ErrBusy)
	require.Equal(t, time.Second, busy.RetryAfter())

	// Another client gets the other slot, and holds it.
	owner := make(chan error, 1)
	go func() {
		_, err := f.acct.Authenticate(context.Background(), account.AuthenticateParams{Email: u.Email, Password: oldPassword, Client: "owner"})
		owner <- err
	}()
	gate.WaitHeld(t, 2)
	// Every slot is taken: a third client, a password change and a
	// reset's redemption are busy.
	require.ErrorIs(t, f.signIn(t, u.Email, oldPassword, "third"), reset.ErrBusy)
	_, err = f.acct.ChangePassword(t.Context(), account.ChangePasswordParams{UserID: u.ID, CurrentPassword: oldPassword, NewPassword: "whatever passphrase"})
	require.ErrorIs(t, err, reset.ErrBusy)
	_, err = f.svc.ResetPassword(t.Context(), reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a passphrase from the link"})
	require.ErrorIs(t, err, reset.ErrBusy, "a redemption shares the sign-ins' cap")
	_, err = f.svc.CheckToken(t.Context(), pr.Token)
	require.NoError(t, err, "a busy redemption spends nothing")

	gate.Release()
	require.NoError(t, <-owner)
	require.ErrorIs(t, <-flood, reset.ErrInvalidCredentials)
	// Busy answers counted no failure: ten more wrong guesses are allowed.
	for range 10 {
		require.ErrorIs(t, f.signIn(t, "ghost2@example.com", "x", "flood"), reset.ErrInvalidCredentials)
	}
}

func TestAuthenticateRefusesPasswordsPastBcryptLimit(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	long := strings.Repeat("x", 72)
	_, err := f.acct.CreateUser(ctx, account.CreateUserParams{Email: "ana@example.com", Password: long})
	require.NoError(t, err)
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: long})
	require.NoError(t, err)
	// bcrypt alone would accept this: it reads only 72 bytes.
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: long + "suffix"})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "nobody@example.com", Password: long})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
}

func TestSignInAttemptsAreThrottledPerAddress(t *testing.T) {
	f := newFixture(t)
	f.accounts(t, account.Config{SignInLimit: reset.RateLimit{Limit: 3, Window: time.Minute}})
	f.user(t, "ana@example.com")
	f.user(t, "bo@example.com")
	ctx := t.Context()
	for range 3 {
		_, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: "a wrong guess"})
		require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	}
	before := f.hasher.Compares.Load()
	_, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ANA@example.com", Password: oldPassword})
	var rl *reset.RateLimitError
	require.ErrorAs(t, err, &rl, "the right password too: the limit comes first")
	require.Equal(t, time.Minute, rl.RetryAfter())
	require.Equal(t, before, f.hasher.Compares.Load(), "no bcrypt work past the limit")

	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "bo@example.com", Password: oldPassword})
	require.NoError(t, err, "another address is not affected")
	for range 3 {
		_, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ghost@example.com", Password: "a guess"})
		require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	}
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ghost@example.com", Password: "a guess"})
	require.ErrorIs(t, err, reset.ErrRateLimited, "unknown addresses alike")

	// Sign-in attempts and reset emails are counted apart.
	_, err = f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)

	f.clock.Add(time.Minute)
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
}
