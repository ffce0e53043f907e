package main

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/examples/internal/appkey"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/internal/testfix/testmysql"
)

// TestRunOnMySQL runs the command on a MySQL or MariaDB database (-db
// mysql://...) and plays a whole reset through it: the request, the email
// in the dev mailbox, the link, the new password, the sign-in with it.
func TestRunOnMySQL(t *testing.T) {
	db := testmysql.URL(testmysql.FreshDB(t, "passreset_example_"))
	t.Setenv(appkey.Env, strings.Repeat("5a", 32))
	const email, oldPassword, newPassword = "ana@example.com", "a given passphrase", "a brand new passphrase"
	base, banner := started(t, new(testfix.Buffer), "-addr", "127.0.0.1:0", "-bcrypt-cost", "4", "-db", db,
		"-demo-user", email+":"+oldPassword)
	require.Contains(t, banner, "(database mysql://")
	signIn(t, client(t), base, email, oldPassword)

	res := post(t, client(t), base, "/forgot-password", url.Values{"email": {"Ana@Example.com"}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	var link string
	require.Eventually(t, func() bool {
		link = html.UnescapeString(linkRETest.FindString(readBody(t, get(t, client(t), base+"/dev/mail"))))
		return link != ""
	}, 10*time.Second, 20*time.Millisecond, "no reset email in the dev mailbox")
	require.Equal(t, http.StatusOK, get(t, client(t), link).StatusCode)
	token := link[strings.Index(link, "token=")+len("token="):]
	res = post(t, client(t), base, "/reset-password", url.Values{"token": {token}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/sign-in?notice=password_reset", res.Header.Get("Location"))

	res = post(t, client(t), base, "/sign-in", url.Values{"email": {email}, "password": {oldPassword}})
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	signIn(t, client(t), base, email, newPassword)
	require.Equal(t, http.StatusGone, get(t, client(t), link).StatusCode, "the link was spent")
}

// TestRunOnMySQLNeedsTheSecretKey: a MySQL database is shared by the
// instances on it, so, as on Postgres, the app refuses to start without
// PASSRESET_SECRET_KEY, before it opens anything.
func TestRunOnMySQLNeedsTheSecretKey(t *testing.T) {
	t.Setenv(appkey.Env, "")
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-db", "mysql://app@127.0.0.1:1/app"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, appkey.Env+" is not set")
}
