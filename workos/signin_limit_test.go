package workos_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix/testhash"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/workos"
)

// TestSignInLimitedPerEndUser: one backend signs in many users from one
// address; the limit is per end user, by the ip_address it passes. A
// flood of sign-ins for one end user is refused before any bcrypt work
// (429 with Retry-After) while another user of the same backend signs in;
// and an attacker's failures on an address do not lock out its owner.
func TestSignInLimitedPerEndUser(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	post := func(ip, email, pw string) resp {
		t.Helper()
		body := map[string]any{"client_secret": apiKey, "grant_type": "password", "email": email, "password": pw}
		if ip != "" {
			body["ip_address"] = ip
		}
		return e.do(t, req{method: http.MethodPost, path: "/user_management/authenticate", body: body, remote: "192.0.2.10:4000"})
	}
	const attacker, owner = "203.0.113.5", "198.51.100.7"
	for i := range workos.DefaultSignInRequests { // a minute's worth, in one burst
		requireError(t, post(attacker, "nobody"+strconv.Itoa(i)+"@example.com", "x"), http.StatusBadRequest, "invalid_credentials")
	}
	r := post(attacker, "nobody-else@example.com", "x")
	requireError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
	require.NotEmpty(t, r.header.Get("Retry-After"))
	require.Equal(t, http.StatusOK, post(owner, userEmail, oldPassword).status, "another end user of the same backend")

	// The attacker comes back in a minute and guesses the owner's password.
	e.clock.Add(time.Minute)
	for range 10 {
		requireError(t, post(attacker, userEmail, "a guess"), http.StatusBadRequest, "invalid_credentials")
	}
	e.clock.Add(time.Minute)
	requireError(t, post(attacker, userEmail, oldPassword), http.StatusTooManyRequests, "rate_limit_exceeded")
	require.Equal(t, http.StatusOK, post(owner, userEmail, oldPassword).status, "the owner is not locked out by the attacker's failures")

	// Without an ip_address, the caller's own address is the client.
	e.clock.Add(time.Minute)
	for i := range workos.DefaultSignInRequests {
		requireError(t, post("", "nobody"+strconv.Itoa(i)+"@example.com", "x"), http.StatusBadRequest, "invalid_credentials")
	}
	requireError(t, post("", "nobody@example.com", "x"), http.StatusTooManyRequests, "rate_limit_exceeded")
	require.Equal(t, http.StatusOK, post(owner, userEmail, oldPassword).status)
}

// TestSignInBusy: with the Service's hashing full, a sign-in is answered
// 503 with Retry-After, not queued.
func TestSignInBusy(t *testing.T) {
	h := testhash.NewGate()
	e := newEnv(t, func(c *reset.Config, _ *workos.Config) {
		c.Hasher, c.MaxHashing, c.HashingWait = h, 1, 20*time.Millisecond
	})
	e.createUser(t, userEmail)
	body := map[string]any{"client_secret": apiKey, "grant_type": "password", "email": userEmail, "password": oldPassword}
	done := make(chan resp, 1)
	go func() {
		done <- e.do(t, req{method: http.MethodPost, path: "/user_management/authenticate", body: body, ctx: context.Background()})
	}()
	h.WaitHeld(t, 1)
	body["ip_address"] = "198.51.100.7"
	r := e.post(t, "/user_management/authenticate", body)
	requireError(t, r, http.StatusServiceUnavailable, "server_busy")
	require.Equal(t, "1", r.header.Get("Retry-After"))
	h.Release()
	require.Equal(t, http.StatusOK, (<-done).status)
}
