package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/examples/internal/appkey"
	"github.com/passreset/passreset/internal/testfix/testmysql"
)

// TestFlowOnMySQL runs the app main builds on a MySQL or MariaDB database
// (-db mysql://...) and plays a whole flow through its routes: a user,
// a sign-in, a reset (replayed under an Idempotency-Key), its
// confirmation, the old session revoked, a sign-in with the new password.
func TestFlowOnMySQL(t *testing.T) {
	db := testmysql.URL(testmysql.FreshDB(t, "passreset_example_"))
	env := func(name string) string {
		switch name {
		case apiKeyEnv:
			return testKey
		case appkey.Env:
			return strings.Repeat("5a", 32)
		}
		return ""
	}
	c := client{t, serveApp(t, []string{"-db", db, "-bcrypt-cost", "4"}, env)}
	const oldPassword, newPassword = "the old passphrase", "a brand new passphrase"

	status, user := c.call("POST", "/user_management/users", map[string]any{"email": email, "password": oldPassword})
	require.Equal(t, http.StatusCreated, status, user)
	uid := user["id"].(string)
	status, auth := c.call("POST", "/user_management/authenticate", map[string]any{
		"client_secret": testKey, "grant_type": "password", "email": strings.ToUpper(email), "password": oldPassword})
	require.Equal(t, http.StatusOK, status, auth)

	pr := c.resetReplayed(email)
	token := pr["password_reset_token"].(string)

	status, confirmed := c.call("POST", "/user_management/password_reset/confirm", map[string]any{"token": token, "new_password": newPassword})
	require.Equal(t, http.StatusOK, status, confirmed)
	require.Equal(t, uid, confirmed["user"].(map[string]any)["id"])
	require.Equal(t, true, confirmed["user"].(map[string]any)["email_verified"])
	status, _ = c.call("POST", "/user_management/password_reset/confirm", map[string]any{"token": token, "new_password": "yet another passphrase"})
	require.Equal(t, http.StatusBadRequest, status, "the token was spent")

	status, dead := c.call("POST", "/user_management/authenticate", map[string]any{
		"client_secret": testKey, "grant_type": "refresh_token", "refresh_token": auth["refresh_token"]})
	require.Equal(t, http.StatusBadRequest, status, "the reset revoked the session")
	require.Equal(t, "invalid_grant", dead["error"])
	status, _ = c.call("POST", "/user_management/authenticate", map[string]any{
		"client_secret": testKey, "grant_type": "password", "email": email, "password": oldPassword})
	require.NotEqual(t, http.StatusOK, status, "the old password still works")
	status, after := c.call("POST", "/user_management/authenticate", map[string]any{
		"client_secret": testKey, "grant_type": "password", "email": email, "password": newPassword})
	require.Equal(t, http.StatusOK, status, after)
}
