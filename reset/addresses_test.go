package reset_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/memstore"
)

// TestResetRefusedAfterEmailChange: a reset sent while the account had
// one address cannot be redeemed once the host moved the account to
// another, by link or by code: the password stays, nothing is verified,
// no notice goes out. The link works again only if the address comes back.
func TestResetRefusedAfterEmailChange(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")
	code := f.codeIn(t)
	require.NoError(t, f.store.SetEmail(ctx, u.ID, "ana.new@example.com"))
	f.clock.Add(time.Minute)
	sent := f.mail.Len()

	_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidToken)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: code, NewPassword: "a brand new passphrase"})
	require.Error(t, err, "the code redeemed a reset whose address left the account")
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana.new@example.com", Password: oldPassword})
	require.NoError(t, err, "the password changed")
	got, err := f.acct.GetUser(ctx, u.ID)
	require.NoError(t, err)
	require.False(t, got.EmailVerified, "the new address was marked verified by a link sent to the old one")
	require.Equal(t, sent, f.mail.Len(), "a notice went out for a reset that did not happen")
}

// TestEndResets: a host that changes a password (or an address) itself
// ends the links already sent; the count says how many.
func TestEndResets(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")

	n, err := f.svc.EndResets(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = f.svc.CheckToken(ctx, pr.Token)
	require.ErrorIs(t, err, reset.ErrInvalidToken)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidToken)

	n, err = f.svc.EndResets(ctx, u.ID)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = f.svc.EndResets(ctx, "user_unknown")
	require.NoError(t, err)
	require.Zero(t, n)
}

// farFutureLimits is a Store whose rate limit refuses with a retry time
// hours away, as a store counting records a fast clock wrote would.
type farFutureLimits struct{ *memstore.Store }

func (farFutureLimits) AllowRequest(_ context.Context, _ string, now time.Time, _ time.Duration, _ int) (bool, time.Time, error) {
	return false, now.Add(6 * time.Hour), nil
}

func (farFutureLimits) CountRequests(_ context.Context, _ string, now time.Time, _ time.Duration) (int, time.Time, error) {
	return 1 << 20, now.Add(6 * time.Hour), nil
}

// TestRetryAtCappedAtOneWindow: whatever the Store answers, a refused
// request is told to retry within one window.
func TestRetryAtCappedAtOneWindow(t *testing.T) {
	f := newFixture(t, func(c *reset.Config) { c.Store = farFutureLimits{c.Store.(*memstore.Store)} })
	f.user(t, "ana@example.com")
	_, err := f.svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: "ana@example.com"})
	var rl *reset.RateLimitError
	require.ErrorAs(t, err, &rl)
	require.Equal(t, f.clock.Now().Add(15*time.Minute), rl.RetryAt)
	require.Equal(t, 15*time.Minute, rl.RetryAfter())

	// Sign-in, which counts failures, caps its retry time alike.
	_, err = f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword, Client: "203.0.113.7"})
	require.ErrorAs(t, err, &rl)
	require.Equal(t, f.clock.Now().Add(15*time.Minute), rl.RetryAt)
}
