package pages_test

import (
	"context"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/reset/pages"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/memstore"
)

const (
	email       = "ana@example.com"
	oldPassword = "the old passphrase"
	newPassword = "a brand new passphrase"
	origin      = "https://app.example"
)

type fixture struct {
	svc   *reset.Service
	acct  *account.Service
	sess  *session.Manager
	h     *pages.Handler
	mux   *http.ServeMux
	mail  *mailtest.Recorder
	clock *testfix.Clock
	logs  *testfix.Buffer
	user  reset.User
}

// newFixture builds a Service over a memstore, a session Manager over the
// same store, and the Handler mounted on a mux. edit, when set, changes the
// Handler's Config.
func newFixture(t testing.TB, edit func(*pages.Config)) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, edit)
}

// newFixtureWith is newFixture whose editSvc, when set, changes the
// Service's Config too.
func newFixtureWith(t testing.TB, editSvc func(*reset.Config), edit func(*pages.Config)) *fixture {
	t.Helper()
	f := &fixture{
		mail:  new(mailtest.Recorder),
		clock: testfix.NewClock(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)),
		logs:  new(testfix.Buffer),
	}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st := memstore.New()
	var err error
	f.sess, err = session.New(session.Config{Store: st, Now: f.clock.Now, Logger: log})
	require.NoError(t, err)
	rc := reset.Config{
		Store:    st,
		Mailer:   f.mail,
		ResetURL: origin + "/reset-password",
		Hasher:   password.Bcrypt{Cost: 4},
		Now:      f.clock.Now,
		Logger:   log,
	}
	if editSvc != nil {
		editSvc(&rc)
	}
	f.svc, err = reset.NewService(rc)
	require.NoError(t, err)
	f.acct, err = account.New(f.svc, account.Config{})
	require.NoError(t, err)
	f.user, err = f.acct.CreateUser(t.Context(), account.CreateUserParams{Email: email, Password: oldPassword})
	require.NoError(t, err)

	cfg := pages.Config{Service: f.svc, SignInURL: "/sign-in", Logger: log, AppName: "Example"}
	if edit != nil {
		edit(&cfg)
	}
	f.h, err = pages.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.h.Shutdown(context.Background())) })
	f.mux = http.NewServeMux()
	f.h.Register(f.mux)
	return f
}

// do sends a request to the mux as a same-origin browser would.
func (f *fixture) do(t *testing.T, method, target string, form url.Values) *http.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, origin+target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec.Result()
}

func (f *fixture) post(t *testing.T, target string, form url.Values) *http.Response {
	t.Helper()
	return f.do(t, http.MethodPost, target, form)
}

func (f *fixture) get(t *testing.T, target string) *http.Response {
	t.Helper()
	return f.do(t, http.MethodGet, target, nil)
}

// token creates a reset for the user and returns its token.
func (f *fixture) token(t testing.TB) string {
	t.Helper()
	pr, err := f.svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: email})
	require.NoError(t, err)
	return pr.Token
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

var nonceRE = regexp.MustCompile(`nonce="[^"]*"`)

// requireHeaders checks the security headers every answer carries.
func requireHeaders(t *testing.T, res *http.Response) {
	t.Helper()
	h := res.Header
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	require.Equal(t, "no-store", h.Get("Cache-Control"))
	require.Equal(t, "DENY", h.Get("X-Frame-Options"))
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'", "style-src 'nonce-"} {
		require.Contains(t, csp, want)
	}
	require.NotContains(t, csp, "unsafe")
	require.NotContains(t, csp, "script-src")
}

func TestForgotForm(t *testing.T) {
	f := newFixture(t, nil)
	res := f.get(t, "/forgot-password")
	require.Equal(t, http.StatusOK, res.StatusCode)
	requireHeaders(t, res)
	require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	b := body(t, res)
	require.Contains(t, b, `<form method="post" action="/forgot-password"`)
	require.Contains(t, b, `<label for="email">`)
	require.Contains(t, b, `name="email" type="email" autocomplete="email"`)
	require.Contains(t, b, `href="/sign-in"`)
	require.NotContains(t, b, "<script")

	// The style element carries the nonce of the CSP of the same answer.
	m := regexp.MustCompile(`<style nonce="([^"]+)">`).FindStringSubmatch(b)
	require.NotNil(t, m)
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "'nonce-"+m[1]+"'")
	require.NotContains(t, body(t, f.get(t, "/forgot-password")), m[1], "a nonce is never reused")
}

// TestForgotAnswersAlike checks that a known address, an unknown one, a
// rate-limited one and one whose email fails to send get the same page
// and status, and that the email goes out in the background.
func TestForgotAnswersAlike(t *testing.T) {
	f := newFixture(t, nil)
	failing := errors.New("smtp down")
	f.mail.FailWith = func(m mail.Message) error {
		if m.To == "bob@example.com" {
			return failing
		}
		return nil
	}
	_, err := f.acct.CreateUser(t.Context(), account.CreateUserParams{Email: "bob@example.com", Password: oldPassword})
	require.NoError(t, err)

	answer := func(addr string) (int, string) {
		res := f.post(t, "/forgot-password", url.Values{"email": {addr}})
		requireHeaders(t, res)
		b := body(t, res)
		require.Contains(t, b, addr)
		b = strings.ReplaceAll(b, addr, "ADDRESS")
		return res.StatusCode, nonceRE.ReplaceAllString(b, "")
	}
	status, known := answer(email)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, known, "Check your email")

	msgs, err := f.mail.WaitFor(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, email, msgs[0].To)
	require.Contains(t, msgs[0].Text, origin+"/reset-password?token=")

	for _, addr := range []string{"nobody@example.com", "bob@example.com"} {
		status, b := answer(addr)
		require.Equal(t, http.StatusOK, status, addr)
		require.Equal(t, known, b, addr)
	}
	// Exhaust the rate limit (3 per window), then one more.
	for range 3 {
		answer("carol@example.com")
	}
	status, b := answer("carol@example.com")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, known, b)

	f.h.Wait()
	require.Len(t, f.mail.Messages(), 1, "only the known, working address got an email")
	logs := f.logs.String()
	require.Contains(t, logs, "address without an account")
	require.Contains(t, logs, "rate limited")
	require.Contains(t, logs, "smtp down")
	for _, addr := range []string{"nobody@example.com", "carol@example.com"} {
		require.NotContains(t, logs, addr)
	}
}

// TestLoggerDefaultsToTheService checks that a Handler given no Logger
// logs through the Service's: the outcome of a background request lands
// where the host sends the Service's logs, not in slog.Default.
func TestLoggerDefaultsToTheService(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) { c.Logger = nil })
	res := f.post(t, "/forgot-password", url.Values{"email": {"nobody@example.com"}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	f.h.Wait()
	logs := f.logs.String()
	require.Contains(t, logs, "pages: password reset requested for an address without an account")
	require.NotContains(t, logs, "nobody@example.com")
}

// TestForgotDoesNotWaitForTheEmail checks that the answer comes before the
// email is sent.
func TestForgotDoesNotWaitForTheEmail(t *testing.T) {
	f := newFixture(t, nil)
	release := make(chan struct{})
	f.mail.FailWith = func(mail.Message) error { <-release; return nil }
	res := f.post(t, "/forgot-password", url.Values{"email": {email}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Zero(t, f.mail.Len())
	close(release)
	f.h.Wait()
	require.Equal(t, 1, f.mail.Len())
}

func TestForgotFieldErrors(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{}, "Enter the email address of your account."},
		{url.Values{"email": {"   "}}, "Enter the email address of your account."},
		{url.Values{"email": {"not an address"}}, "Enter an email address like name@example.com."},
		{url.Values{"email": {"Ana <ana@example.com>"}}, "Enter an email address like name@example.com."},
	} {
		res := f.post(t, "/forgot-password", tc.form)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, tc.form)
		requireHeaders(t, res)
		b := body(t, res)
		require.Contains(t, b, tc.want)
		require.Contains(t, b, `role="alert"`)
		require.Contains(t, b, `aria-invalid="true"`)
		require.Contains(t, b, `<form method="post" action="/forgot-password"`)
	}
	f.h.Wait()
	require.Zero(t, f.mail.Len())
}

func TestCrossSitePostRefused(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.token(t)
	for _, target := range []string{"/forgot-password", "/reset-password"} {
		for name, hdr := range map[string]map[string]string{
			"Sec-Fetch-Site": {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
			"Origin only":    {"Origin": "https://evil.example"},
		} {
			form := url.Values{"email": {email}, "token": {tok}, "new_password": {newPassword}, "confirm_password": {newPassword}}
			req := httptest.NewRequest(http.MethodPost, origin+target, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			f.mux.ServeHTTP(rec, req)
			res := rec.Result()
			require.Equal(t, http.StatusForbidden, res.StatusCode, "%s %s", target, name)
			requireHeaders(t, res)
			require.Contains(t, body(t, res), "sent from another site")
		}
	}
	f.h.Wait()
	require.Equal(t, 1, f.mail.Len(), "no email for the refused forgot post")
	_, err := f.svc.CheckToken(t.Context(), tok)
	require.NoError(t, err, "the refused reset post did not spend the token")
}

func TestOversizedBodyRefused(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) { c.MaxBodyBytes = 1024 })
	tok := f.token(t)
	big := strings.Repeat("x", 2048)
	for _, target := range []string{"/forgot-password", "/reset-password"} {
		form := url.Values{"email": {email}, "token": {tok}, "new_password": {newPassword}, "confirm_password": {newPassword}, "padding": {big}}
		res := f.post(t, target, form)
		require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode, target)
		requireHeaders(t, res)
		require.Contains(t, body(t, res), "too large")
	}
	_, err := f.svc.CheckToken(t.Context(), tok)
	require.NoError(t, err)
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, nil)
	res := f.do(t, http.MethodPut, "/reset-password", nil)
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)

	// Served directly, without Register's patterns.
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/forgot-password", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD, POST", rec.Header().Get("Allow"))
	requireHeaders(t, rec.Result())
	rec = httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/elsewhere", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
}

// TestRegisterBesideCatchAll mounts the pages on a mux that already has a
// catch-all GET route.
func TestRegisterBesideCatchAll(t *testing.T) {
	f := newFixture(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{path...}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	f.h.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/forgot-password", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/other", nil))
	require.Equal(t, http.StatusTeapot, rec.Code)
}

// TestResetLinkSurvivesGets checks that fetching the link, as mail scanners
// do, does not spend the token.
func TestResetLinkSurvivesGets(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.token(t)
	for range 3 {
		res := f.get(t, "/reset-password?token="+tok)
		require.Equal(t, http.StatusOK, res.StatusCode)
		requireHeaders(t, res)
		b := body(t, res)
		require.Contains(t, b, `<input type="hidden" name="token" value="`+tok+`">`)
		require.Contains(t, b, `<form method="post" action="/reset-password"`)
		require.Contains(t, b, `<label for="new_password">`)
		require.Contains(t, b, `<label for="confirm_password">`)
		require.Equal(t, 2, strings.Count(b, `autocomplete="new-password"`))
		require.Contains(t, b, `autocomplete="username"`)
		require.Contains(t, b, email)
	}
	res := f.do(t, http.MethodHead, "/reset-password?token="+tok, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	_, err := f.svc.CheckToken(t.Context(), tok)
	require.NoError(t, err)
}

func TestResetSucceeds(t *testing.T) {
	f := newFixture(t, nil)
	_, laptop, err := f.sess.Create(t.Context(), f.user.ID, session.Metadata{UserAgent: "laptop"})
	require.NoError(t, err)
	_, phone, err := f.sess.Create(t.Context(), f.user.ID, session.Metadata{UserAgent: "phone"})
	require.NoError(t, err)
	tok := f.token(t)

	res := f.post(t, "/reset-password", url.Values{"token": {tok}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	requireHeaders(t, res)
	loc := res.Header.Get("Location")
	require.Equal(t, "/sign-in?notice=password_reset", loc)
	require.Empty(t, res.Cookies(), "no automatic sign-in")
	signIn := httptest.NewRequest(http.MethodGet, loc, nil)
	require.Contains(t, pages.Notice(signIn), "Your password was changed")
	require.Empty(t, pages.Notice(httptest.NewRequest(http.MethodGet, "/sign-in", nil)))

	for _, tok := range []string{laptop, phone} {
		_, err := f.sess.Validate(t.Context(), tok)
		require.ErrorIs(t, err, session.ErrRevoked)
	}
	_, err = f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: email, Password: oldPassword})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	_, err = f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: email, Password: newPassword})
	require.NoError(t, err)

	// The spent link, fetched or posted again, gets the expired page.
	res = f.get(t, "/reset-password?token="+tok)
	require.Equal(t, http.StatusGone, res.StatusCode)
	requireExpiredPage(t, res)
	res = f.post(t, "/reset-password", url.Values{"token": {tok}, "new_password": {"yet another passphrase"}, "confirm_password": {"yet another passphrase"}})
	require.Equal(t, http.StatusGone, res.StatusCode)
	requireExpiredPage(t, res)
	_, err = f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: email, Password: newPassword})
	require.NoError(t, err)

	require.NotContains(t, f.logs.String(), tok)
	require.NotContains(t, f.logs.String(), newPassword)
}

func requireExpiredPage(t *testing.T, res *http.Response) {
	t.Helper()
	requireHeaders(t, res)
	b := body(t, res)
	require.Contains(t, b, "This link has expired or was already used")
	require.Contains(t, b, `href="/forgot-password"`)
	require.NotContains(t, b, "<form")
}

func TestExpiredAndUnknownTokens(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.token(t)
	newer := f.token(t) // ends tok
	expiring := f.token(t)
	_ = newer
	f.clock.Add(15 * time.Minute)

	for name, tok := range map[string]string{
		"ended by a newer reset": tok,
		"expired":                expiring,
		"unknown":                strings.Repeat("A", 43),
		"malformed":              "not-a-token",
		"empty":                  "",
	} {
		res := f.get(t, "/reset-password?token="+url.QueryEscape(tok))
		require.Equal(t, http.StatusGone, res.StatusCode, name)
		requireExpiredPage(t, res)
		res = f.post(t, "/reset-password", url.Values{"token": {tok}, "new_password": {newPassword}, "confirm_password": {newPassword}})
		require.Equal(t, http.StatusGone, res.StatusCode, name)
		requireExpiredPage(t, res)
	}
	_, err := f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: email, Password: oldPassword})
	require.NoError(t, err)
}

// TestResetFieldErrors checks that missing and mismatched passwords and a
// policy failure re-render the form with a message and leave the token
// usable.
func TestResetFieldErrors(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.token(t)
	for _, tc := range []struct {
		password, confirm string
		want              []string
	}{
		{"", "", []string{"Enter a new password."}},
		{newPassword, "", []string{"Enter the new password a second time"}},
		{newPassword, newPassword + "!", []string{"The two passwords do not match."}},
		{"short", "short", []string{"at least 8 characters"}},
		{email, email, []string{"must not be your email address"}},
		{strings.Repeat("é", 40), strings.Repeat("é", 40), []string{"at most 72 bytes"}},
	} {
		res := f.post(t, "/reset-password", url.Values{"token": {tok}, "new_password": {tc.password}, "confirm_password": {tc.confirm}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, tc.password)
		requireHeaders(t, res)
		b := body(t, res)
		for _, want := range tc.want {
			require.Contains(t, b, want)
		}
		require.Contains(t, b, `role="alert"`)
		require.Contains(t, b, `<input type="hidden" name="token" value="`+tok+`">`)
		if tc.password != "" && tc.password != email {
			require.NotContains(t, b, tc.password, "a password is never sent back")
		}
	}
	res := f.post(t, "/reset-password", url.Values{"token": {tok}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "the token survived the failures")
}

func TestTemplatesOverride(t *testing.T) {
	custom := pages.DefaultTemplates()
	template.Must(custom.Parse(`{{define "head"}}<!doctype html><title>{{.Title}}</title><style nonce="{{.Nonce}}">body{color:red}</style><p>Host layout</p>{{end}}`))
	f := newFixture(t, func(c *pages.Config) { c.Templates = custom })
	b := body(t, f.get(t, "/forgot-password"))
	require.Contains(t, b, "Host layout")
	require.Contains(t, b, "body{color:red}")
	require.Contains(t, b, `name="email"`)

	// The built-in set is unchanged.
	b = body(t, newFixture(t, nil).get(t, "/forgot-password"))
	require.NotContains(t, b, "Host layout")

	// A set missing a page is refused by New.
	partial := template.Must(template.New("forgot-password").Parse("x"))
	_, err := pages.New(pages.Config{Service: f.svc, SignInURL: "/sign-in", Templates: partial})
	require.ErrorContains(t, err, `"forgot-password-sent"`)
}

func TestConfigPaths(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) {
		c.ForgotPath = "/account/forgot"
		c.ResetPath = "/account/reset"
		c.SignInURL = "https://login.example/in?from=app"
	})
	require.Equal(t, "/account/forgot", f.h.ForgotPath())
	require.Equal(t, "/account/reset", f.h.ResetPath())
	res := f.get(t, "/account/forgot")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "form-action 'self' https://login.example;")
	b := body(t, res)
	require.Contains(t, b, `action="/account/forgot"`)
	require.Contains(t, b, `href="https://login.example/in?from=app"`)
	require.Equal(t, http.StatusNotFound, f.get(t, "/forgot-password").StatusCode)

	tok := f.token(t)
	res = f.post(t, "/account/reset", url.Values{"token": {tok}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "https://login.example/in?from=app&notice=password_reset", res.Header.Get("Location"))
}

func TestNewRefusesBadConfig(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		cfg  pages.Config
		want string
	}{
		{pages.Config{SignInURL: "/sign-in"}, "Service is required"},
		{pages.Config{Service: f.svc}, "SignInURL is required"},
		{pages.Config{Service: f.svc, SignInURL: "sign-in"}, "SignInURL"},
		{pages.Config{Service: f.svc, SignInURL: "javascript:alert(1)"}, "SignInURL"},
		{pages.Config{Service: f.svc, SignInURL: "//evil.example/x"}, "SignInURL"},
		{pages.Config{Service: f.svc, SignInURL: "/sign-in", ForgotPath: "forgot"}, "ForgotPath"},
		{pages.Config{Service: f.svc, SignInURL: "/sign-in", ResetPath: "/reset?x"}, "ResetPath"},
		{pages.Config{Service: f.svc, SignInURL: "/sign-in", ResetPath: "/forgot-password"}, "both"},
	} {
		_, err := pages.New(tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
}

// TestShutdownLeavesNewRequestsToTheDispatcher: after Shutdown the forgot
// page still answers, and the request it records is carried out by the
// dispatcher (of this process, or of the next to start), not dropped.
func TestShutdownLeavesNewRequestsToTheDispatcher(t *testing.T) {
	f := newFixture(t, nil)
	require.NoError(t, f.h.Shutdown(t.Context()))
	res := f.post(t, "/forgot-password", url.Values{"email": {email}})
	require.Equal(t, http.StatusOK, res.StatusCode, "the page answers as always")
	f.h.Wait()
	require.Zero(t, f.mail.Len())
	require.Contains(t, f.logs.String(), `left to the dispatcher" reason="shut down"`)

	n, err := f.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n, "the request was released, due at once")
	m, ok := f.mail.Last()
	require.True(t, ok, "the dispatcher carried the request out")
	require.Equal(t, email, m.To)
}

func TestShutdownHonoursContext(t *testing.T) {
	f := newFixture(t, nil)
	release := make(chan struct{})
	f.mail.FailWith = func(mail.Message) error { <-release; return nil }
	f.post(t, "/forgot-password", url.Values{"email": {email}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, f.h.Shutdown(ctx), context.DeadlineExceeded)
	close(release)
	require.NoError(t, f.h.Shutdown(t.Context()))
	require.Equal(t, 1, f.mail.Len())
}

func TestMaxPending(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) { c.MaxPending = 1 })
	release := make(chan struct{})
	f.mail.FailWith = func(mail.Message) error { <-release; return nil }
	f.post(t, "/forgot-password", url.Values{"email": {email}})
	_, err := f.acct.CreateUser(t.Context(), account.CreateUserParams{Email: "other@example.com", Password: oldPassword})
	require.NoError(t, err)
	res := f.post(t, "/forgot-password", url.Values{"email": {"other@example.com"}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, f.logs.String(), "too many requests in flight")
	close(release)
	f.h.Wait()
	require.Equal(t, 1, f.mail.Len(), "only the first request was run by the page")

	// The second was recorded all the same, and left to the dispatcher.
	n, err := f.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	m, ok := f.mail.Last()
	require.True(t, ok)
	require.Equal(t, "other@example.com", m.To)
}
