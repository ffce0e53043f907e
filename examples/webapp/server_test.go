package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/examples/internal/appkey"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/store/sqlitestore"
)

// client is a cookie-keeping HTTP client that does not follow redirects,
// as one device.
func client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// post sends a form as a same-origin browser would.
func post(t *testing.T, c *http.Client, base, path string, form url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	res, err := c.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func get(t *testing.T, c *http.Client, target string) *http.Response {
	t.Helper()
	res, err := c.Get(target)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

func signIn(t *testing.T, c *http.Client, base, email, password string) {
	t.Helper()
	res := post(t, c, base, "/sign-in", url.Values{"email": {email}, "password": {password}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/", res.Header.Get("Location"))
	require.Equal(t, http.StatusOK, get(t, c, base+"/").StatusCode)
}

var linkRETest = regexp.MustCompile(`http://[^"\s<]+/reset-password\?token=[A-Za-z0-9_-]+`)

// resetLink asks for a reset and returns the link in the newest email.
func resetLink(t *testing.T, a *testApp, email string) string {
	t.Helper()
	before := len(a.mailbox.Messages())
	res := post(t, client(t), a.URL, "/forgot-password", url.Values{"email": {email}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	a.waitForMail(t, before+1)
	msgs := a.mailbox.Messages()
	link := linkRETest.FindString(msgs[0].Text)
	require.NotEmpty(t, link)
	return link
}

var nonceRETest = regexp.MustCompile(`nonce="[^"]*"`)

func TestForgotAnswersAlikeOverHTTP(t *testing.T) {
	a := startApp(t)
	a.createUser(t, "ana@example.com", "the old passphrase")
	answer := func(email string) (int, string) {
		res := post(t, client(t), a.URL, "/forgot-password", url.Values{"email": {email}})
		b := strings.ReplaceAll(readBody(t, res), email, "EMAIL")
		return res.StatusCode, nonceRETest.ReplaceAllString(b, "")
	}
	s1, known := answer("ana@example.com")
	s2, unknown := answer("nobody@example.com")
	require.Equal(t, http.StatusOK, s1)
	require.Equal(t, s1, s2)
	require.Equal(t, known, unknown)
	a.finishBackground(t)
	require.Len(t, a.mailbox.Messages(), 1)
}

// TestResetOverHTTP plays the flow with plain HTTP clients: the link
// survives two fetches, the page has its headers, the reset signs out both
// devices, only the new password works, and no secret reaches the log or
// the database.
func TestResetOverHTTP(t *testing.T) {
	a := startApp(t)
	const email, oldPassword, newPassword = "ana@example.com", "the old passphrase", "a brand new passphrase"
	user := a.createUser(t, email, oldPassword)
	oldHash, err := a.store.PasswordHash(t.Context(), user.ID)
	require.NoError(t, err)
	laptop, phone := client(t), client(t)
	signIn(t, laptop, a.URL, email, oldPassword)
	signIn(t, phone, a.URL, email, oldPassword)
	home := readBody(t, get(t, laptop, a.URL+"/"))
	require.Contains(t, home, email)
	require.Equal(t, 2, strings.Count(home, `<span class="device">Go</span>`), home)

	link := resetLink(t, a, email)
	token := link[strings.Index(link, "token=")+len("token="):]
	for range 2 {
		res := get(t, client(t), link)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "no-referrer", res.Header.Get("Referrer-Policy"))
		require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
		require.Equal(t, "DENY", res.Header.Get("X-Frame-Options"))
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		require.Contains(t, readBody(t, res), `name="new_password"`)
	}

	res := post(t, client(t), a.URL, "/reset-password", url.Values{"token": {token}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/sign-in?notice=password_reset", res.Header.Get("Location"))
	require.Empty(t, res.Cookies(), "no automatic sign-in")

	for _, c := range []*http.Client{laptop, phone} {
		res := get(t, c, a.URL+"/")
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, "/sign-in", res.Header.Get("Location"))
	}
	res = post(t, client(t), a.URL, "/sign-in", url.Values{"email": {email}, "password": {oldPassword}})
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Contains(t, readBody(t, res), "Wrong email or password.")
	signIn(t, client(t), a.URL, email, newPassword)
	require.Equal(t, http.StatusGone, get(t, client(t), link).StatusCode)

	// The request log has the path of the reset page, never its query.
	logs := a.logs.String()
	require.Contains(t, logs, "path=/reset-password status=200")
	require.Contains(t, logs, "event=password_reset.succeeded")
	a.requireNoSecrets(t, token, oldPassword, newPassword)
	// Nor the password hashes, which the database does hold.
	newHash, err := a.store.PasswordHash(t.Context(), user.ID)
	require.NoError(t, err)
	require.NotEqual(t, oldHash, newHash)
	for _, h := range []string{oldHash, newHash, url.QueryEscape(token)} {
		require.NotContains(t, a.logs.String(), h)
	}
}

// TestTenResetRequestsForOneAddress asks the running app for a reset of
// one address ten times, as a client would: at most three emails go out
// (the per-address limit), and all ten answers look alike once the CSP
// nonce is taken out.
func TestTenResetRequestsForOneAddress(t *testing.T) {
	a := startApp(t)
	const email = "ana@example.com"
	a.createUser(t, email, "the old passphrase")
	var first answer
	for i := range 10 {
		got := forgot(t, a, client(t), email)
		if i == 0 {
			first = got
			require.Equal(t, http.StatusOK, got.status)
			require.Contains(t, got.body, "Check your email")
			continue
		}
		require.Equal(t, first, got, "answer %d differs from the first", i+1)
	}
	a.finishBackground(t)
	msgs := a.mailbox.Messages()
	require.NotEmpty(t, msgs)
	require.LessOrEqual(t, len(msgs), 3)
	require.Contains(t, a.logs.String(), "password reset request rate limited")
}

// TestClientLimitOverHTTP checks the per-client limit of the running app:
// past ten reset requests in a minute from one client, an address still
// gets its own small quota (the victim behind a NAT whose bucket junk
// posts spent gets its email), then the same answer and no email; behind
// a trusted proxy, the clients it forwards are told apart.
func TestClientLimitOverHTTP(t *testing.T) {
	a := startApp(t)
	for i := range 11 {
		a.createUser(t, fmt.Sprintf("user%d@example.com", i), "the old passphrase")
	}
	var first answer
	for i := range 10 {
		got := forgot(t, a, client(t), fmt.Sprintf("junk%d@example.net", i))
		got.body = strings.ReplaceAll(got.body, fmt.Sprintf("junk%d@example.net", i), "EMAIL")
		if i == 0 {
			first = got
		}
		require.Equal(t, first, got, "answer %d", i+1)
	}
	for i := range 4 {
		got := forgot(t, a, client(t), "user10@example.com")
		got.body = strings.ReplaceAll(got.body, "user10@example.com", "EMAIL")
		require.Equal(t, first, got, "over the limit, answer %d", i+1)
	}
	a.finishBackground(t)
	require.Len(t, a.mailbox.Messages(), 3, "the junk spent the client's bucket; the victim's address has 3 an hour of its own, then nothing")
	for _, m := range a.mailbox.Messages() {
		require.Equal(t, "user10@example.com", m.To)
	}
	require.Contains(t, a.logs.String(), `reason="client rate limited"`)

	// Behind a proxy on this machine, trusted: every forwarded client has
	// its own allowance.
	b := startApp(t, func(c *config) {
		c.ClientLimit = clientlimit.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, ClientHeader: "X-Forwarded-For"}
	})
	for i := range 11 {
		b.createUser(t, fmt.Sprintf("user%d@example.com", i), "the old passphrase")
	}
	for i := range 11 {
		forgot(t, b, client(t), fmt.Sprintf("user%d@example.com", i), "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
	}
	b.finishBackground(t)
	require.Len(t, b.mailbox.Messages(), 11)
}

// answer is what a client sees of an answer, the nonce taken out.
type answer struct {
	status       int
	contentType  string
	csp, referer string
	body         string
}

// forgot posts the forgot-password form for email, with extra headers as
// name, value pairs.
func forgot(t *testing.T, a *testApp, c *http.Client, email string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.URL+"/forgot-password", strings.NewReader(url.Values{"email": {email}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", a.URL)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	return answer{
		status:      res.StatusCode,
		contentType: res.Header.Get("Content-Type"),
		csp:         cspNonceRETest.ReplaceAllString(res.Header.Get("Content-Security-Policy"), ""),
		referer:     res.Header.Get("Referrer-Policy"),
		body:        nonceRETest.ReplaceAllString(readBody(t, res), ""),
	}
}

var cspNonceRETest = regexp.MustCompile(`'nonce-[^']*'`)

func TestSignOutEverywhere(t *testing.T) {
	a := startApp(t)
	a.createUser(t, "ana@example.com", "the old passphrase")
	laptop, phone := client(t), client(t)
	signIn(t, laptop, a.URL, "ana@example.com", "the old passphrase")
	signIn(t, phone, a.URL, "ana@example.com", "the old passphrase")

	// Sign out here: the other device stays signed in.
	res := post(t, laptop, a.URL, "/sign-out", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, http.StatusSeeOther, get(t, laptop, a.URL+"/").StatusCode)
	require.Equal(t, http.StatusOK, get(t, phone, a.URL+"/").StatusCode)

	// Sign out everywhere.
	signIn(t, laptop, a.URL, "ana@example.com", "the old passphrase")
	res = post(t, phone, a.URL, "/sign-out", url.Values{"everywhere": {"1"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	for _, c := range []*http.Client{laptop, phone} {
		require.Equal(t, http.StatusSeeOther, get(t, c, a.URL+"/").StatusCode)
	}
}

func TestSignInErrorsAndCrossSite(t *testing.T) {
	a := startApp(t)
	a.createUser(t, "ana@example.com", "the old passphrase")
	c := client(t)
	res := post(t, c, a.URL, "/sign-in", url.Values{"email": {"ana@example.com"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, readBody(t, res), "Enter your email address and your password.")

	req, err := http.NewRequest(http.MethodPost, a.URL+"/sign-in", strings.NewReader("email=ana%40example.com&password=the+old+passphrase"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err = c.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Empty(t, res.Cookies())
}

func TestPagesHaveSecurityHeaders(t *testing.T) {
	a := startApp(t)
	for _, path := range []string{"/sign-in", "/forgot-password", "/reset-password?token=x", "/dev/mail", "/"} {
		res := get(t, client(t), a.URL+path)
		require.Equal(t, "no-referrer", res.Header.Get("Referrer-Policy"), path)
		require.Equal(t, "no-store", res.Header.Get("Cache-Control"), path)
		require.Equal(t, "DENY", res.Header.Get("X-Frame-Options"), path)
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'none'", path)
	}
}

// TestDevMailboxOnlyForALocalBrowser: the mailbox holds live reset links,
// so it answers a browser on this machine talking to the app directly, and
// 404 to a request through a proxy (a forwarding header), under a foreign
// Host (DNS rebinding: the attacker's name resolving to 127.0.0.1), or from
// another machine.
func TestDevMailboxOnlyForALocalBrowser(t *testing.T) {
	a := startApp(t)
	a.createUser(t, "ana@example.com", "correct horse battery staple")
	require.Equal(t, http.StatusOK, forgot(t, a, client(t), "ana@example.com").status)
	a.waitForMail(t, 1)

	mailbox := func(host string, header ...string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, a.URL+"/dev/mail", nil)
		require.NoError(t, err)
		req.Host = host
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := client(t).Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		return res.StatusCode, readBody(t, res)
	}
	port := a.URL[strings.LastIndex(a.URL, ":"):]
	for _, host := range []string{"", "localhost" + port, "127.0.0.1" + port, "localhost"} {
		status, body := mailbox(host)
		require.Equal(t, http.StatusOK, status, "Host %q", host)
		require.Contains(t, body, "/reset-password?token=", "Host %q", host)
	}
	for _, h := range [][]string{
		{"X-Forwarded-For", "198.51.100.7"}, {"X-Forwarded-For", "127.0.0.1"},
		{"Forwarded", "for=198.51.100.7"}, {"X-Real-IP", "198.51.100.7"},
	} {
		status, body := mailbox("", h...)
		require.Equal(t, http.StatusNotFound, status, "through a proxy: %v", h)
		require.NotContains(t, body, "token=", "%v", h)
	}
	for _, host := range []string{"evil.example", "evil.example" + port, "rebind.evil.example" + port, "192.0.2.1" + port, "localhost.evil.example"} {
		status, body := mailbox(host)
		require.Equal(t, http.StatusNotFound, status, "Host %q", host)
		require.NotContains(t, body, "token=", "Host %q", host)
	}

	req := httptest.NewRequest(http.MethodGet, "/dev/mail", nil)
	req.RemoteAddr = "192.0.2.7:41234"
	req.Host = "127.0.0.1" + port
	rec := httptest.NewRecorder()
	a.srv.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNotFound, rec.Code, "from another machine")
}

// TestMailboxOff: the mailbox is on only where no one but this machine's
// browser can reach the app.
func TestMailboxOff(t *testing.T) {
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	local := options{addr: "127.0.0.1:8080", baseURL: "http://127.0.0.1:8080", devMail: true}
	for _, tc := range []struct {
		name string
		mod  func(*options)
		ln   net.Addr
		off  string // part of the reason; "" when the mailbox is on
	}{
		{"loopback", nil, loopback, ""},
		{"localhost", func(o *options) { o.addr, o.baseURL = "localhost:8080", "http://localhost:8080" }, loopback, ""},
		{"IPv6 loopback", func(o *options) { o.addr, o.baseURL = "[::1]:8080", "http://[::1]:8080" }, &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, ""},
		{"every address", func(o *options) { o.addr = ":8080" }, &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "-addr :8080"},
		{"0.0.0.0", func(o *options) { o.addr = "0.0.0.0:8080" }, &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "-addr 0.0.0.0:8080"},
		{"a public address", func(o *options) { o.addr = "192.0.2.1:8080" }, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 8080}, "-addr"},
		{"trusted proxies", func(o *options) { o.trustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} }, loopback, "-trusted-proxies"},
		{"https base URL", func(o *options) { o.baseURL = "https://app.example" }, loopback, "-base-url"},
		{"turned off", func(o *options) { o.devMail = false }, loopback, "-dev-mail=false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := local
			if tc.mod != nil {
				tc.mod(&o)
			}
			got := mailboxOff(o, tc.ln)
			if tc.off == "" {
				require.Empty(t, got)
			} else {
				require.Contains(t, got, tc.off)
			}
		})
	}
}

// TestRunMailboxOffWhereOthersReachIt starts the command where others may
// reach it: the mailbox is off, /dev/mail is 404 even from this machine,
// and the banner says that emails are not delivered.
func TestRunMailboxOffWhereOthersReachIt(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		reason string
	}{
		{[]string{"-addr", ":0"}, "-addr :0"},
		{[]string{"-addr", "127.0.0.1:0", "-trusted-proxies", "127.0.0.1/32", "-client-header", "X-Forwarded-For"}, "-trusted-proxies"},
	} {
		logs := new(testfix.Buffer)
		base, banner := started(t, logs, append(tc.args, "-bcrypt-cost", "4", "-db", filepath.Join(t.TempDir(), "app.db"))...)
		require.Contains(t, banner, "NOT DELIVERED", tc.args)
		require.Contains(t, banner, tc.reason)
		require.NotContains(t, banner, "/dev/mail", tc.args)
		require.Equal(t, http.StatusNotFound, get(t, client(t), base+"/dev/mail").StatusCode, tc.args)
		res := post(t, client(t), base, "/forgot-password", url.Values{"email": {"demo@example.com"}})
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, logs.String(), "emails are not delivered")
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, options{addr: "127.0.0.1:8080", db: "webapp.db", demoEmail: "demo@example.com", devMail: true, bcryptCost: 12, hasher: "bcrypt", smtpTLS: "starttls"}, o)

	o, err = parseFlags([]string{"-hasher", "argon2id"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "argon2id", o.hasher)
	_, err = parseFlags([]string{"-hasher", "md5"}, io.Discard)
	require.ErrorContains(t, err, "-hasher")

	o, err = parseFlags([]string{"-demo-user", "ana@example.com:pass:with:colons", "-smtp", "127.0.0.1:1025", "-smtp-tls", "none"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "ana@example.com", o.demoEmail)
	require.Equal(t, "pass:with:colons", o.demoPass)
	require.False(t, o.devMail, "-smtp turns the dev mailbox off")

	o, err = parseFlags([]string{"-demo-user="}, io.Discard)
	require.NoError(t, err)
	require.Empty(t, o.demoEmail)

	o, err = parseFlags([]string{"-trusted-proxies", "127.0.0.1, 10.0.0.0/8", "-client-header", "x-real-ip"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}, o.trustedProxies)
	require.Equal(t, "x-real-ip", o.clientHeader)

	_, err = parseFlags([]string{"-trusted-proxies", "127.0.0.1"}, io.Discard)
	require.ErrorContains(t, err, "-trusted-proxies needs -client-header", "which header names the client is never guessed")
	_, err = parseFlags([]string{"-client-header", "X-Forwarded-For"}, io.Discard)
	require.ErrorContains(t, err, "-client-header needs -trusted-proxies")
	_, err = parseFlags([]string{"-trusted-proxies", "127.0.0.1", "-client-header", "X-Client-IP"}, io.Discard)
	require.ErrorContains(t, err, "-client-header")

	_, err = parseFlags([]string{"-demo-user", "secret-passphrase:ana@example.com"}, io.Discard)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret-passphrase")

	for _, bad := range [][]string{{"-demo-user", "not an email"}, {"-smtp", "nohost"}, {"-smtp-tls", "maybe"}, {"extra"}, {"-nope"}, {"-trusted-proxies", "proxy.internal"}} {
		_, err := parseFlags(bad, io.Discard)
		require.Error(t, err, bad)
	}
}

// started runs the command in the background until the test ends, and
// returns the address it printed and its stdout so far.
func started(t *testing.T, logs io.Writer, args ...string) (base, banner string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, w, logs)
		w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Error("the server did not stop")
		}
	})
	lines := bufio.NewScanner(out)
	var b strings.Builder
	for lines.Scan() {
		b.WriteString(lines.Text() + "\n")
		if strings.HasPrefix(lines.Text(), "Press Ctrl+C") {
			break
		}
	}
	go io.Copy(io.Discard, out)
	banner = b.String()
	m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(banner)
	require.NotNil(t, m, "no address in %q", banner)
	return m[1], banner
}

// TestRun starts the command as a user would, with its flags, and stops it.
func TestRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "app.db")
	logs := new(testfix.Buffer)

	// A generated password is printed once, and works.
	base, banner := started(t, logs, "-addr", "127.0.0.1:0", "-bcrypt-cost", "4", "-db", db)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, base)
	require.Contains(t, banner, base+"/dev/mail")
	m := regexp.MustCompile(`demo user +demo@example\.com, password (\S+)`).FindStringSubmatch(banner)
	require.NotNil(t, m, banner)
	signIn(t, client(t), base, "demo@example.com", m[1])
	require.NotContains(t, logs.String(), m[1])

	// Given on the command line, a password is never printed; an existing
	// user is left as it is.
	logs2 := new(testfix.Buffer)
	const given = "a given passphrase"
	base2, banner2 := started(t, logs2, "-addr", "127.0.0.1:0", "-bcrypt-cost", "4", "-db", db, "-demo-user", "ana@example.com:"+given, "-dev-mail=false")
	require.NotContains(t, banner2, given)
	require.NotContains(t, banner2, "/dev/mail")
	signIn(t, client(t), base2, "ana@example.com", given)
	require.Equal(t, http.StatusNotFound, get(t, client(t), base2+"/dev/mail").StatusCode)
	res := post(t, client(t), base2, "/forgot-password", url.Values{"email": {"ana@example.com"}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotContains(t, logs2.String(), given)

	_, banner3 := started(t, new(testfix.Buffer), "-addr", "127.0.0.1:0", "-bcrypt-cost", "4", "-db", db, "-demo-user", "ana@example.com:another passphrase")
	require.Contains(t, banner3, "already exists")
	require.NotContains(t, banner3, "another passphrase")
}

func TestRunRefusesBadFlags(t *testing.T) {
	err := run(t.Context(), []string{"-smtp-tls", "maybe"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "-smtp-tls")
	err = run(t.Context(), []string{"-h"}, io.Discard, io.Discard)
	require.True(t, errors.Is(err, flag.ErrHelp))
}

// TestRunTakesTheSecretKey: PASSRESET_SECRET_KEY is the Service's key; a bad
// one stops the app without being quoted, and a Postgres database without
// one is refused before anything is opened.
func TestRunTakesTheSecretKey(t *testing.T) {
	t.Setenv(appkey.Env, "")
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-db", "postgres://app@127.0.0.1:1/app"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, appkey.Env+" is not set")

	t.Setenv(appkey.Env, "not a key, and secret")
	err = run(t.Context(), []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "k.db")}, io.Discard, io.Discard)
	require.ErrorContains(t, err, appkey.Env)
	require.NotContains(t, err.Error(), "not a key, and secret")

	// With a good key, two runs on one file share the per-address limit
	// (3 reset emails per address): the third, fourth and fifth requests
	// go to the second run, which sends only one more.
	t.Setenv(appkey.Env, strings.Repeat("7e", 32))
	db := filepath.Join(t.TempDir(), "shared.db")
	logs := new(testfix.Buffer)
	base1, _ := started(t, logs, "-addr", "127.0.0.1:0", "-bcrypt-cost", "4", "-db", db, "-demo-user", "ana@example.com:a given passphrase")
	base2, _ := started(t, logs, "-addr", "127.0.0.1:0", "-bcrypt-cost", "4", "-db", db, "-demo-user", "")
	for i, base := range []string{base1, base1, base2, base2, base2} {
		res := post(t, client(t), base, "/forgot-password", url.Values{"email": {"ana@example.com"}})
		require.Equal(t, http.StatusOK, res.StatusCode, "request %d", i)
	}
	require.Eventually(t, func() bool { return strings.Count(logs.String(), "password reset request rate limited") == 2 }, 10*time.Second, 10*time.Millisecond,
		"the second run's limit is its own: %s", logs)
}

func TestNewServerRefusesBadBaseURL(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://app.example", "https://app.example/auth", "https://app.example/?x=1",
		"https://good.example@evil.example", "http://app.example", "http://192.0.2.10:8080"} {
		_, err := newServer(config{BaseURL: bad})
		require.ErrorContains(t, err, "base URL", bad)
	}
}

func TestSignInAttemptsAreThrottled(t *testing.T) {
	a := startApp(t)
	a.createUser(t, "ana@example.com", "the old passphrase")
	c := client(t)
	for i := range 10 {
		res := post(t, c, a.URL, "/sign-in", url.Values{"email": {"ana@example.com"}, "password": {"a wrong guess"}})
		res.Body.Close()
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "attempt %d", i+1)
	}
	// The eleventh is refused before the password is looked at, even the right one.
	res := post(t, c, a.URL, "/sign-in", url.Values{"email": {"ana@example.com"}, "password": {"the old passphrase"}})
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	require.Contains(t, readBody(t, res), "Too many sign-in attempts")
	require.Empty(t, res.Cookies())
}

// TestRunRehashesOnSignIn: restarted with a higher -bcrypt-cost, then with
// -hasher argon2id, the app upgrades the user's stored hash at the next
// sign-in, and the session begun before each upgrade stays signed in.
func TestRunRehashesOnSignIn(t *testing.T) {
	db := filepath.Join(t.TempDir(), "app.db")
	const email, pass = "ana@example.com", "a given passphrase"
	base4, _ := started(t, new(testfix.Buffer), "-addr", "127.0.0.1:0", "-bcrypt-cost", "4", "-db", db, "-demo-user", email+":"+pass)
	early := client(t)
	signIn(t, early, base4, email, pass)

	st, err := sqlitestore.Open(t.Context(), db)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	hash := func() string {
		u, err := st.UserByEmail(t.Context(), email)
		require.NoError(t, err)
		h, err := st.PasswordHash(t.Context(), u.ID)
		require.NoError(t, err)
		return h
	}
	require.True(t, strings.HasPrefix(hash(), "$2a$04$"), hash())

	base5, _ := started(t, new(testfix.Buffer), "-addr", "127.0.0.1:0", "-bcrypt-cost", "5", "-db", db, "-demo-user", "")
	signIn(t, client(t), base5, email, pass)
	require.True(t, strings.HasPrefix(hash(), "$2a$05$"), "the hash was not upgraded: %s", hash())

	baseA, _ := started(t, new(testfix.Buffer), "-addr", "127.0.0.1:0", "-hasher", "argon2id", "-db", db, "-demo-user", "")
	signIn(t, client(t), baseA, email, pass)
	require.True(t, strings.HasPrefix(hash(), "$argon2id$v=19$"), "the hash was not moved to argon2id: %s", hash())

	res := get(t, early, base4+"/")
	require.Equal(t, http.StatusOK, res.StatusCode, "the session of before the upgrades was signed out")
	require.Contains(t, readBody(t, res), email)
}

// TestChangePasswordOverHTTP: POST /account/password keeps this device and
// signs the other out, refuses a wrong current password and a common new
// one, and needs a session and a same-origin post.
func TestChangePasswordOverHTTP(t *testing.T) {
	a := startApp(t)
	const email, oldPassword, newPassword = "ana@example.com", "the old passphrase", "a brand new passphrase"
	a.createUser(t, email, oldPassword)
	laptop, phone := client(t), client(t)
	signIn(t, laptop, a.URL, email, oldPassword)
	signIn(t, phone, a.URL, email, oldPassword)
	change := func(current, pw string) *http.Response {
		return post(t, laptop, a.URL, "/account/password", url.Values{"current_password": {current}, "new_password": {pw}, "confirm_password": {pw}})
	}

	res := change("wrong", newPassword)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, readBody(t, res), "current password is not right")
	res = change(oldPassword, "qwertyuiop")
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, readBody(t, res), "too common")
	require.Equal(t, http.StatusOK, get(t, phone, a.URL+"/").StatusCode, "a refused change signed a device out")

	res = change(oldPassword, newPassword)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/?password_changed=1", res.Header.Get("Location"))
	res = get(t, laptop, a.URL+"/?password_changed=1")
	require.Equal(t, http.StatusOK, res.StatusCode, "the device that changed it stays signed in")
	require.Contains(t, readBody(t, res), "1 signed out just now")
	require.Equal(t, http.StatusSeeOther, get(t, phone, a.URL+"/").StatusCode, "the other device is signed out")
	a.finishBackground(t)
	msgs := a.mailbox.Messages()
	require.Contains(t, msgs[0].Subject, "password was changed")

	res = post(t, client(t), a.URL, "/account/password", url.Values{"current_password": {newPassword}, "new_password": {"x"}, "confirm_password": {"x"}})
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "without a session")
	signIn(t, phone, a.URL, email, newPassword)
}
