package pages_test

import (
	"bytes"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/reset/pages"
)

// fuzzTargets are the pages and content types FuzzForms posts to.
var fuzzTargets = []struct{ path, contentType string }{
	{"/forgot-password", "application/x-www-form-urlencoded"},
	{"/reset-password", "application/x-www-form-urlencoded"},
	{"/forgot-password", "multipart/form-data; boundary=xyz"},
	{"/reset-password", "multipart/form-data; boundary=xyz"},
	{"/forgot-password", "text/plain"},
	{"/reset-password", "application/x-www-form-urlencoded; charset=iso-8859-1"},
	{"/forgot-password", ""},
}

// FuzzForms posts arbitrary bodies to the forgot and reset pages, with
// several content types, and to the reset page with an arbitrary query: no
// panic, never a server error, always an HTML answer with the security
// headers, and no new password echoed back. "TOKEN" in a body or query
// stands for a token that is usable when the request is sent, so that the
// fuzzer reaches the password checks and the redemption.
func FuzzForms(f *testing.F) {
	fx := newFixture(f, func(c *pages.Config) { c.ClientLimit.Disabled = true })
	const tokenUser = "fuzz@example.com"
	_, err := fx.acct.CreateUser(f.Context(), account.CreateUserParams{Email: tokenUser, Password: oldPassword})
	require.NoError(f, err)
	var tok string
	// usableToken returns a token of tokenUser that can still be redeemed.
	usableToken := func(t testing.TB) string {
		if _, err := fx.svc.CheckToken(t.Context(), tok); err == nil {
			return tok
		}
		fx.clock.Add(16 * time.Minute) // past the per-address limit's window
		pr, err := fx.svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: tokenUser})
		require.NoError(t, err)
		tok = pr.Token
		return tok
	}

	seeds := []string{
		"", "=", "&&&", "%", "%zz", "email=", "email=" + url.QueryEscape(email), "email=nobody%40example.com",
		"email=a%40b&email=c%40d", "email=%00", "email=" + strings.Repeat("a", 400) + "%40example.com",
		"email=Ana+%3Cana%40example.com%3E", "email=ana%40example.com%0D%0ABcc%3A+x%40y",
		"token=TOKEN", "token=TOKEN&new_password=short&confirm_password=short",
		"token=TOKEN&new_password=a+good+passphrase&confirm_password=another+one",
		"token=%ff%fe&new_password=%ff&confirm_password=%ff", "token=TOKEN&new_password=%ff%fe%fd%fc%fb%fa%f9%f8&confirm_password=%ff%fe%fd%fc%fb%fa%f9%f8",
		"token=TOKEN&new_password=" + strings.Repeat("%C3%A9", 50) + "&confirm_password=" + strings.Repeat("%C3%A9", 50),
		"token=TOKEN&new_password=fuzz%40example.com&confirm_password=fuzz%40example.com",
		"token=TOKEN&new_password=a%00b%00c%00d%00&confirm_password=a%00b%00c%00d%00",
		"token=" + strings.Repeat("A", 43) + "&new_password=x&confirm_password=x",
		"--xyz\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nana@example.com\r\n--xyz--\r\n",
		"--xyz\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nTOKEN\r\n--xyz--",
		"--xyz\r\n\r\n", "\xff\xfe\x00", strings.Repeat("a=b&", 3000),
		"token=TOKEN&new_password=a+brand+new+passphrase&confirm_password=a+brand+new+passphrase",
	}
	for _, s := range seeds {
		for i := range fuzzTargets {
			f.Add(uint8(i), []byte(s), "token=TOKEN")
		}
	}

	f.Fuzz(func(t *testing.T, sel uint8, body []byte, query string) {
		target := fuzzTargets[int(sel)%len(fuzzTargets)]
		tok := usableToken(t)
		body = bytes.ReplaceAll(body, []byte("TOKEN"), []byte(tok))
		path := target.path
		if path == "/reset-password" && query != "" {
			path += "?" + strings.ReplaceAll(query, "TOKEN", tok)
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if u, err := url.Parse(origin + path); err == nil {
			req.URL, req.Host = u, u.Host
		} else {
			req.URL.Path = target.path
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if target.contentType != "" {
			req.Header.Set("Content-Type", target.contentType)
		}
		rec := httptest.NewRecorder()
		fx.mux.ServeHTTP(rec, req)
		fx.h.Wait() // the background request of a forgot post, so that they do not pile up

		res := rec.Result()
		require.Less(t, res.StatusCode, 500, "%s %q: %d %s", path, body, res.StatusCode, rec.Body)
		requireHeaders(t, res)
		if res.StatusCode == http.StatusSeeOther { // the password was set
			require.Equal(t, "/sign-in?notice=password_reset", res.Header.Get("Location"))
			return
		}
		require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"), "%s %q: %d", path, body, res.StatusCode)
		if form, err := url.ParseQuery(string(body)); err == nil {
			if pw := form.Get("new_password"); pw != "" && pw != form.Get("token") && pw != tokenUser {
				require.NotContains(t, rec.Body.String(), `value="`+template.HTMLEscapeString(pw)+`"`, "a new password is never sent back")
			}
		}
	})
}
