package workos_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/passreset/passreset/workos"
	"github.com/stretchr/testify/require"
)

// TestDuplicateAndCaseVariantKeys: encoding/json lets the last of two keys
// win and matches keys without regard to case, so {"email":"a","Email":"b"}
// acted on b. Such bodies are refused with 422, and nothing is done.
func TestDuplicateAndCaseVariantKeys(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	e.createUser(t, "victim@example.com")
	for _, body := range []string{
		`{"email":"` + userEmail + `","Email":"victim@example.com"}`,
		`{"email":"` + userEmail + `","email":"victim@example.com"}`,
		`{"EMAIL":"victim@example.com"}`,
	} {
		r := e.post(t, "/user_management/password_reset", body)
		requireError(t, r, http.StatusUnprocessableEntity, "invalid_request_parameters")
	}
	r := e.post(t, "/user_management/users", `{"email":"md@example.com","password":"a long password","metadata":{"plan":"free","plan":"pro"}}`)
	requireError(t, r, http.StatusUnprocessableEntity, "invalid_request_parameters")
	require.Zero(t, e.mail.Len(), "a refused request sent an email")

	// Unknown keys are still ignored, and a well-formed body still works.
	r = e.post(t, "/user_management/password_reset", `{"email":"`+userEmail+`","organization_id":"org_1"}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
}

// TestCreateUserRefusesUnsafeNames: a name with a line break is 422 over
// the API too.
func TestCreateUserRefusesUnsafeNames(t *testing.T) {
	e := newEnv(t)
	r := e.post(t, "/user_management/users", map[string]any{"email": "n@example.com", "password": "a long password", "first_name": "Ana\r\nBcc: x@example.com"})
	requireError(t, r, http.StatusUnprocessableEntity, "invalid_request_parameters")
}

// TestShortAPIKeysRefused: a key anyone could guess is refused at start.
func TestShortAPIKeysRefused(t *testing.T) {
	for _, keys := range [][]string{{"k"}, {"sk_test_123"}, {apiKey, strings.Repeat("x", workos.MinAPIKeyBytes-1)}, {"   " + strings.Repeat("x", 30) + "   "}} {
		e := newEnv(t) // for a Service and a Manager
		_, err := workos.New(workos.Config{Service: e.svc, Sessions: e.sm, APIKeys: keys})
		require.ErrorContains(t, err, "at least 32 bytes", "%q", keys)
	}
}

// TestKeyGuessingIsLimited: a client that sends wrong keys is answered 401
// a few times, then 429 with Retry-After, whatever the route or the way it
// sends the key; each failure is logged without the key; and a client that
// holds the right key is not refused, nor is another client.
func TestKeyGuessingIsLimited(t *testing.T) {
	e := newEnv(t)
	guess := func(i int) resp {
		switch i % 3 {
		case 0:
			return e.do(t, req{method: http.MethodGet, path: "/user_management/users/user_x", key: ptr(fmt.Sprintf("sk_guess_%040d", i))})
		case 1:
			return e.do(t, req{method: http.MethodGet, path: "/no/such/route", key: ptr(fmt.Sprintf("sk_guess_%040d", i))})
		}
		return e.do(t, req{method: http.MethodPost, path: "/user_management/authenticate", key: ptr(""),
			body: map[string]any{"grant_type": "password", "client_secret": fmt.Sprintf("sk_guess_%040d", i), "email": userEmail, "password": "x"}})
	}
	for i := range workos.DefaultAuthFailures {
		r := guess(i)
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusBadRequest}, r.status, "guess %d: %s", i, r.raw)
	}
	r := guess(workos.DefaultAuthFailures)
	requireError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
	require.NotEmpty(t, r.header.Get("Retry-After"))

	logs := e.logs.String()
	require.Equal(t, workos.DefaultAuthFailures, strings.Count(logs, "workos: authentication failed"))
	require.Contains(t, logs, "too many failures")
	require.NotContains(t, logs, "sk_guess_")

	ok := e.get(t, "/user_management/users/user_x")
	require.Equal(t, http.StatusNotFound, ok.status, "the right key was refused: %s", ok.raw)
	other := e.do(t, req{method: http.MethodGet, path: "/user_management/users/user_x", key: ptr("sk_wrong"), remote: "198.51.100.9:1234"})
	require.Equal(t, http.StatusUnauthorized, other.status, "another client was limited")
}
