package pages_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/internal/testfix/testhash"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/reset/pages"
)

// TestAllowSignInPerClient: AllowSignIn counts a host's sign-in posts per
// client, apart from the pages' own posts, and names the client as its
// limit sees it (an IPv6 client by its /64).
func TestAllowSignInPerClient(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) { c.ClientLimit = clientlimit.Config{Requests: 3, Per: time.Hour} })
	signIn := func(remote string) (string, time.Duration, bool) {
		r := httptest.NewRequest(http.MethodPost, origin+"/sign-in", nil)
		r.RemoteAddr = remote
		return f.h.AllowSignIn(r)
	}
	f.postFrom(t, "192.0.2.10:1", "/forgot-password", url.Values{"email": {email}}) // counted apart
	f.h.Wait()
	for i := range 3 {
		client, _, ok := signIn("192.0.2.10:1000")
		require.True(t, ok, "sign-in %d", i+1)
		require.Equal(t, "192.0.2.10", client)
	}
	_, retry, ok := signIn("192.0.2.10:1001")
	require.False(t, ok, "the fourth sign-in post of the client")
	require.Greater(t, retry, time.Duration(0))
	client, _, ok := signIn("[2001:db8:1:2:3:4:5:6]:443")
	require.True(t, ok, "another client")
	require.Equal(t, "2001:db8:1:2::", client)
}

// TestResetBusyAnswers503: with the Service's hashing full, a reset post
// is answered 503 with Retry-After, and its token still works.
func TestResetBusyAnswers503(t *testing.T) {
	h := testhash.NewGate()
	f := newFixtureWith(t, func(c *reset.Config) {
		c.Hasher, c.MaxHashing, c.HashingWait = h, 1, 20*time.Millisecond
	}, nil)
	held := make(chan error, 1)
	go func() { // holds the one slot
		_, err := f.acct.Authenticate(context.Background(), account.AuthenticateParams{Email: email, Password: oldPassword})
		held <- err
	}()
	h.WaitHeld(t, 1)

	token := f.token(t)
	form := url.Values{"token": {token}, "new_password": {newPassword}, "confirm_password": {newPassword}}
	res := f.post(t, "/reset-password", form)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Equal(t, "1", res.Header.Get("Retry-After"))
	require.Contains(t, body(t, res), "still works")

	h.Release()
	require.NoError(t, <-held)
	res = f.post(t, "/reset-password", form)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "the token was not spent by the busy answer")
}
