package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWrongSignInsThenResetThenNewPassword: as a user who forgot the
// password would, from one client: ten wrong sign-ins, a reset through
// the emailed link, and the new password signs in at once.
func TestWrongSignInsThenResetThenNewPassword(t *testing.T) {
	a := startApp(t)
	const email, oldPassword, newPassword = "ana@example.com", "the old passphrase", "a brand new passphrase"
	a.createUser(t, email, oldPassword)
	c := client(t)
	for i := range 10 {
		res := post(t, c, a.URL, "/sign-in", url.Values{"email": {email}, "password": {"a wrong guess"}})
		res.Body.Close()
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "attempt %d", i+1)
	}
	res := post(t, c, a.URL, "/sign-in", url.Values{"email": {email}, "password": {oldPassword}})
	res.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "the address's failures from this client are used up")

	link := resetLink(t, a, email)
	token := link[strings.Index(link, "token=")+len("token="):]
	res = post(t, c, a.URL, "/reset-password", url.Values{"token": {token}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	signIn(t, c, a.URL, email, newPassword)
}

// TestSignInBurstFromOneClient: a burst of sign-ins with unknown
// addresses from one client is refused, 429 with Retry-After, past the
// client's allowance, before any password work.
func TestSignInBurstFromOneClient(t *testing.T) {
	a := startApp(t)
	a.createUser(t, "ana@example.com", "the old passphrase")
	c := client(t)
	refused := 0
	for i := range 30 {
		res := post(t, c, a.URL, "/sign-in", url.Values{"email": {fmt.Sprintf("nobody%d@example.com", i)}, "password": {"a guess"}})
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusUnauthorized:
			require.Zero(t, refused, "answer %d: allowed after a refusal", i+1)
		case http.StatusTooManyRequests:
			require.NotEmpty(t, res.Header.Get("Retry-After"))
			refused++
		default:
			t.Fatalf("answer %d: status %d", i+1, res.StatusCode)
		}
	}
	require.Equal(t, 10, refused, "twenty sign-ins a minute per client, the rest refused")
	require.Contains(t, a.logs.String(), "sign-in refused: too many attempts from the client")
}
