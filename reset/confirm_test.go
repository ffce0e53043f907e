package reset_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
)

// TestConcurrentConfirmationsHashOnce: twenty confirmations of one token
// at once, each with its own password, compute one hash, or two should
// the first fail: the others wait for the one that has the turn and then
// find the token spent. Exactly one succeeds; the password that won
// signs in.
func TestConcurrentConfirmationsHashOnce(t *testing.T) {
	ctx := t.Context()
	// A realistic cost, so that the confirmations overlap as they do in
	// production (at cost 4 they would run one after another).
	hasher := &countingHasher{Bcrypt: password.Bcrypt{Cost: 10}}
	f := newFixture(t, func(c *reset.Config) { c.Hasher = hasher })
	u := f.user(t, "ana@example.com")
	pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: u.Email})
	require.NoError(t, err)
	before := hasher.hashes.Load()

	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: fmt.Sprintf("new passphrase number %d", i)})
		})
	}
	close(start)
	wg.Wait()

	won := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, won, "two confirmations succeeded")
			won = i
			continue
		}
		require.ErrorIs(t, err, reset.ErrInvalidToken, "a loser gets what a spent token gets")
	}
	require.NotEqual(t, -1, won, "no confirmation succeeded")
	hashes := hasher.hashes.Load() - before
	require.LessOrEqual(t, hashes, int64(2), "hashes computed for %d concurrent confirmations of one token", n)
	_, err = f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: u.Email, Password: fmt.Sprintf("new passphrase number %d", won), Client: "c"})
	require.NoError(t, err)
}

// TestConcurrentCodeConfirmationsHashOnce: the same through the code.
func TestConcurrentCodeConfirmationsHashOnce(t *testing.T) {
	ctx := t.Context()
	// A realistic cost, so that the confirmations overlap as they do in
	// production (at cost 4 they would run one after another).
	hasher := &countingHasher{Bcrypt: password.Bcrypt{Cost: 10}}
	f := newFixture(t, func(c *reset.Config) { c.Hasher = hasher })
	u := f.user(t, "ana@example.com")
	pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: u.Email})
	require.NoError(t, err)
	before := hasher.hashes.Load()
	const n = reset.CodeTries // each claim takes a try
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: u.Email, Code: pr.Code, NewPassword: fmt.Sprintf("new passphrase number %d", i)})
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, reset.ErrInvalidCode)
	}
	require.Equal(t, 1, ok)
	require.LessOrEqual(t, hasher.hashes.Load()-before, int64(2))
}
