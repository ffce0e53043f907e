package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/reset"
)

// With gorilla/sessions' CookieStore the whole session lives in the
// browser's cookie: there is nothing on the server to delete. The
// credential stamp in the cookie is what signs it out after a reset, the
// copy of the cookie someone took before the reset included.
func TestCookieSessionSignedOutByTheStampAlone(t *testing.T) {
	h := newHarness(t, databases(t)["sqlite"](t))
	svc := h.app.kit
	id, err := h.app.createAccount(t.Context(), "ada@example.com", oldPassword)
	require.NoError(t, err)

	cookies := sessions.NewCookieStore([]byte(rand.Text() + rand.Text()))
	cookies.Options.HttpOnly = true
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var digest string
		_ = h.app.db.QueryRowContext(r.Context(), `SELECT pw_digest FROM accounts WHERE account_id = $1`, id).Scan(&digest)
		stamp, err := svc.CheckPassword(digest, r.PostFormValue("password"))
		if err != nil {
			http.Error(w, "wrong password", http.StatusUnauthorized)
			return
		}
		s, _ := cookies.New(r, "session")
		s.Values["user_id"] = fmt.Sprintf("user_%d", id)
		s.Values["stamp"] = stamp
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := cookies.Get(r, "session")
		userID, _ := s.Values["user_id"].(string)
		stamp, _ := s.Values["stamp"].(string)
		ok, err := svc.StampMatches(r.Context(), userID, stamp)
		if err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		if !ok {
			s.Options.MaxAge = -1 // the browser drops the cookie
			_ = s.Save(r, w)
			http.Error(w, "signed out", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, userID)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}
	res, err := browser.PostForm(srv.URL+"/login", url.Values{"password": {oldPassword}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	me := func(c *http.Client, cookie *http.Cookie) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/me", nil)
		require.NoError(t, err)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := c.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	require.Equal(t, http.StatusOK, me(browser, nil))
	srvURL, err := url.Parse(srv.URL)
	require.NoError(t, err)
	stolen := jar.Cookies(srvURL)[0] // a copy taken before the reset
	require.Equal(t, http.StatusOK, me(http.DefaultClient, stolen))

	pr, err := svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: "ada@example.com"})
	require.NoError(t, err)
	_, err = svc.ResetPassword(t.Context(), reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword})
	require.NoError(t, err)

	require.Equal(t, http.StatusUnauthorized, me(browser, nil))
	require.Empty(t, jar.Cookies(srvURL), "the browser was told to drop the cookie")
	require.Equal(t, http.StatusUnauthorized, me(http.DefaultClient, stolen), "the copy is refused too: nothing on the server had to be deleted")

	res, err = browser.PostForm(srv.URL+"/login", url.Values{"password": {newPassword}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, http.StatusOK, me(browser, nil))
}
