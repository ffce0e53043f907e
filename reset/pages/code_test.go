package pages_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/stretchr/testify/require"
)

func codeForm(addr, code, pw string) url.Values {
	return url.Values{"email": {addr}, "code": {code}, "new_password": {pw}, "confirm_password": {pw}}
}

// TestCodeInTheSameBrowser: the forgot page's answer offers the code form
// for the address typed, for every address alike; the code from the email,
// posted with it, sets the password and spends the link.
func TestCodeInTheSameBrowser(t *testing.T) {
	f := newFixture(t, nil)
	res := f.post(t, "/forgot-password", url.Values{"email": {"Ana@Example.com"}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	b := body(t, res)
	require.Contains(t, b, `<form method="post" action="/reset-password" id="reset-code">`)
	require.Contains(t, b, `<input type="hidden" name="email" value="ana@example.com">`)
	require.Contains(t, b, `name="code" type="text" inputmode="numeric" autocomplete="one-time-code"`)
	f.h.Wait()
	code := testsvc.Code(t, f.mail)
	m, _ := f.mail.Last()
	link := regexp.MustCompile(`https://app\.example/reset-password\?token=\S+`).FindString(m.Text)
	require.NotEmpty(t, link)

	res = f.post(t, "/reset-password", codeForm("ana@example.com", code, newPassword))
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/sign-in?notice=password_reset", res.Header.Get("Location"))
	_, err := f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: email, Password: newPassword})
	require.NoError(t, err)
	requireExpiredPage(t, f.get(t, strings.TrimPrefix(link, origin)))
	require.NotContains(t, f.logs.String(), strings.ReplaceAll(code, " ", ""))
}

// TestWrongCodePageAlike: a wrong code gets the same page and status for
// an address with an account and a reset, one with an account and none,
// and one without an account; after 5 wrong guesses the right code and the
// link are refused too. A weak password keeps the form, the code still
// usable.
func TestWrongCodePageAlike(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.acct.CreateUser(t.Context(), account.CreateUserParams{Email: "bob@example.com", Password: oldPassword})
	require.NoError(t, err)
	tok := f.token(t)
	code := testsvc.Code(t, f.mail)
	wrong := "0000 0000"
	if strings.ReplaceAll(code, " ", "") == "00000000" {
		wrong = "1111 1111"
	}
	answer := func(addr string) (int, string) {
		res := f.post(t, "/reset-password", codeForm(addr, wrong, newPassword))
		requireHeaders(t, res)
		b := body(t, res)
		require.Contains(t, b, "That code is wrong")
		return res.StatusCode, nonceRE.ReplaceAllString(strings.ReplaceAll(b, addr, "ADDRESS"), "")
	}
	status, known := answer(email)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	for _, addr := range []string{"bob@example.com", "nobody@example.com"} {
		s, b := answer(addr)
		require.Equal(t, status, s, addr)
		require.Equal(t, known, b, addr)
	}

	res := f.post(t, "/reset-password", codeForm(email, code, "password123"))
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	b := body(t, res)
	require.Contains(t, b, "too common")
	require.Contains(t, b, `value="`+code+`"`, "the code stays in its field")

	for range 4 {
		answer(email)
	}
	res = f.post(t, "/reset-password", codeForm(email, code, newPassword))
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "five wrong guesses killed the code")
	requireExpiredPage(t, f.get(t, "/reset-password?token="+url.QueryEscape(tok)))
}

// TestCodeFormFieldErrors: missing fields and mismatched passwords come
// back on the code form, and use no try.
func TestCodeFormFieldErrors(t *testing.T) {
	f := newFixture(t, nil)
	f.token(t)
	code := testsvc.Code(t, f.mail)
	for _, form := range []url.Values{
		{"email": {email}, "code": {""}, "new_password": {newPassword}, "confirm_password": {newPassword}},
		{"email": {"not an address"}, "code": {code}, "new_password": {newPassword}, "confirm_password": {newPassword}},
		{"email": {email}, "code": {code}, "new_password": {newPassword}, "confirm_password": {"other"}},
		{"email": {email}, "code": {code}, "new_password": {""}, "confirm_password": {""}},
	} {
		res := f.post(t, "/reset-password", form)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, body(t, res), `id="reset-code"`)
	}
	for range 2 { // with the 4 above, more than the code's tries: none was used
		f.post(t, "/reset-password", url.Values{"email": {email}, "code": {code}, "new_password": {"x"}, "confirm_password": {"y"}})
	}
	res := f.post(t, "/reset-password", codeForm(email, code, newPassword))
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
}
