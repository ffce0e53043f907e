package reset_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/memstore"
)

// TestResetRefusedAfterEmailChange: a reset sent while the account had
// one address cannot be redeemed once the host moved the account to
// another, by link or by code: the password stays, nothing is verified,
// no notice goes out. The link works again only if the address comes back.
func TestResetRefusedAfterEmailChange(t *testing.T) {
	f := newFixture(t)
	u := f.User(t, "ana@example.com")
	ctx := t.Context()
	pr := f.CreateReset(t, "ana@example.com")
	code := testsvc.Code(t, f.Mail)
	host := f.Store.(*memstore.Store) // the host's users table
	require.NoError(t, host.SetEmail(ctx, u.ID, "ana.new@example.com"))
	f.Clock.Add(time.Minute)
	sent := f.Mail.Len()

	_, err := f.Svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidToken)
	_, err = f.Svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: code, NewPassword: "a brand new passphrase"})
	require.Error(t, err, "the code redeemed a reset whose address left the account")
	_, err = f.Accounts.Authenticate(ctx, account.AuthenticateParams{Email: "ana.new@example.com", Password: testsvc.OldPassword})
	require.NoError(t, err, "the password changed")
	got, err := f.Accounts.GetUser(ctx, u.ID)
	require.NoError(t, err)
	require.False(t, got.EmailVerified, "the new address was marked verified by a link sent to the old one")
	require.Equal(t, sent, f.Mail.Len(), "a notice went out for a reset that did not happen")
}

// TestEndResets: a host that changes a password (or an address) itself
// ends the links already sent; the count says how many.
func TestEndResets(t *testing.T) {
	f := newFixture(t)
	u := f.User(t, "ana@example.com")
	ctx := t.Context()
	pr := f.CreateReset(t, "ana@example.com")

	n, err := f.Svc.EndResets(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = f.Svc.CheckToken(ctx, pr.Token)
	require.ErrorIs(t, err, reset.ErrInvalidToken)
	_, err = f.Svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidToken)

	n, err = f.Svc.EndResets(ctx, u.ID)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = f.Svc.EndResets(ctx, "user_unknown")
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
	f.User(t, "ana@example.com")
	_, err := f.Svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: "ana@example.com"})
	var rl *reset.RateLimitError
	require.ErrorAs(t, err, &rl)
	require.Equal(t, f.Clock.Now().Add(15*time.Minute), rl.RetryAt)
	require.Equal(t, 15*time.Minute, rl.RetryAfter())

	// Sign-in, which counts failures, caps its retry time alike.
	_, err = f.Accounts.Authenticate(t.Context(), account.AuthenticateParams{Email: "ana@example.com", Password: testsvc.OldPassword, Client: "203.0.113.7"})
	require.ErrorAs(t, err, &rl)
	require.Equal(t, f.Clock.Now().Add(15*time.Minute), rl.RetryAt)
}
