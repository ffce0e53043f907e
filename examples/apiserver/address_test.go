package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAddressFormsOverTheAPI: through the running API, one mailbox in
// another Unicode spelling is the one account (a second user is refused,
// a reset goes to the first), an address with an invisible, bidirectional
// or look-alike character, a domain literal or a 65-octet local part is
// refused as a user (422), and a reset asked for it gets the answer of an
// unknown address, word for word.
func TestAddressFormsOverTheAPI(t *testing.T) {
	c := client{t, serveApp(t, []string{"-db", filepath.Join(t.TempDir(), "api.db"), "-bcrypt-cost", "4"}, getenv(testKey))}

	status, user := c.call("POST", "/user_management/users", map[string]any{"email": "JOSE\u0301@BU\u0308CHER.example"})
	require.Equal(t, http.StatusCreated, status, user)
	require.Equal(t, "jos\u00e9@xn--bcher-kva.example", user["email"])
	status, dup := c.call("POST", "/user_management/users", map[string]any{"email": "jos\u00e9@b\u00fccher.example"})
	require.Equal(t, http.StatusBadRequest, status, dup)
	require.Contains(t, dup["errors"], map[string]any{"code": "email_not_available", "message": "This email is not available."})
	status, pr := c.call("POST", "/user_management/password_reset", map[string]any{"email": "jos\u00e9@xn--bcher-kva.example"})
	require.Equal(t, http.StatusCreated, status, pr)
	require.Equal(t, user["id"], pr["user_id"])

	status, _ = c.call("POST", "/user_management/users", map[string]any{"email": "kate@example.com"})
	require.Equal(t, http.StatusCreated, status)
	for i, refused := range []string{"\u212aate@example.com", "ka\u200dte@example.com", "kate\u202e@example.com",
		"kate@[192.0.2.1]", strings.Repeat("k", 65) + "@example.com"} {
		status, body := c.call("POST", "/user_management/users", map[string]any{"email": refused})
		require.Equal(t, http.StatusUnprocessableEntity, status, "%+q: %v", refused, body)

		status, body = c.call("POST", "/user_management/password_reset", map[string]any{"email": refused})
		nobody := fmt.Sprintf("nobody%d@example.com", i)
		ustatus, unknown := c.call("POST", "/user_management/password_reset", map[string]any{"email": nobody})
		require.Equal(t, http.StatusNotFound, ustatus)
		require.Equal(t, ustatus, status, "%+q", refused)
		require.Equal(t, strings.ReplaceAll(unknown["message"].(string), nobody, "EMAIL"),
			strings.ReplaceAll(body["message"].(string), refused, "EMAIL"), "%+q", refused)
	}
}
