package fleet_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/passreset/passreset/internal/testfix/testsmtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mailServer is a real SMTP server (github.com/emersion/go-smtp) on a
// loopback port, which keeps the text of every message it receives.
type mailServer struct {
	addr string
	mu   sync.Mutex
	msgs []sentMail
}

type sentMail struct{ to, text string }

func startMailServer(tb testing.TB) *mailServer {
	tb.Helper()
	ms := &mailServer{}
	ms.addr = testsmtp.Serve(tb, smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{ms: ms}, nil }), 10*time.Second)
	return ms
}

// resets returns the reset emails sent to addr so far (not the notices
// that a password changed).
func (ms *mailServer) resets(addr string) []sentMail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var out []sentMail
	for _, m := range ms.msgs {
		if m.to == addr && strings.Contains(m.text, "/reset-password?token=") {
			out = append(out, m)
		}
	}
	return out
}

type mailSession struct {
	ms *mailServer
	to string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *mailSession) Reset()        { s.to = "" }
func (s *mailSession) Logout() error { return nil }

func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	text, _, err := testsmtp.PlainText(raw)
	if err != nil {
		return err
	}
	s.ms.mu.Lock()
	defer s.ms.mu.Unlock()
	s.ms.msgs = append(s.ms.msgs, sentMail{to: s.to, text: text})
	return nil
}

// browser is an HTTP client with its own cookies that does not follow
// redirects, so that each request is one request through the proxy.
func browser(tb testing.TB) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(tb, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// page is an answer with its body read.
type page struct {
	status   int
	location string
	body     string
}

func visit(tb testing.TB, c *http.Client, method, target string, form url.Values) page {
	tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(tb.Context(), method, target, body)
	require.NoError(tb, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.Do(req)
	require.NoError(tb, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(tb, err)
	return page{status: res.StatusCode, location: res.Header.Get("Location"), body: string(b)}
}

var webReady = regexp.MustCompile(`msg=started addr=(\S+)`)

// TestWebappFleet runs the reset pages' flow through three webapp processes
// on one Postgres, behind a round-robin proxy, the email going through a
// real SMTP server: sign in on one instance, forgot on another, the link
// from the mail on a third, and so on, never twice in a row on one.
func TestWebappFleet(t *testing.T) {
	db := freshDatabase(t)
	bin := build(t, "webapp")
	mails := startMailServer(t)
	front := newProxy(t)
	base := "http://" + front.Listener.Addr().String()
	const email, oldPassword, newPassword = "ana@example.com", "the old passphrase", "a brand new passphrase"

	env := []string{"PASSRESET_SECRET_KEY=" + randomHex(32)}
	var procs []*process
	var addrs []string
	for i := range 3 {
		demo := ""
		if i == 0 {
			demo = email + ":" + oldPassword
		}
		p, addr := start(t, fmt.Sprintf("webapp %d", i+1), bin, env, webReady,
			"-addr", "127.0.0.1:0", "-db", db, "-base-url", base, "-bcrypt-cost", "4", "-trusted-proxies", "127.0.0.1/32", "-client-header", "X-Forwarded-For",
			"-smtp", mails.addr, "-smtp-tls", "none", "-demo-user", demo)
		procs = append(procs, p)
		addrs = append(addrs, addr)
	}
	front.setBackends(t, addrs)
	mark := front.mark()

	// Signed in on one instance, the session is served by the next.
	laptop := browser(t)
	p := visit(t, laptop, http.MethodPost, base+"/sign-in", url.Values{"email": {email}, "password": {oldPassword}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	p = visit(t, laptop, http.MethodGet, base+"/", nil)
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, email)

	// Forgot, then the link from the mail, then the new password: each on
	// another instance.
	phone := browser(t)
	require.Equal(t, http.StatusOK, visit(t, phone, http.MethodGet, base+"/forgot-password", nil).status)
	p = visit(t, phone, http.MethodPost, base+"/forgot-password", url.Values{"email": {email}})
	require.Equal(t, http.StatusOK, p.status)
	require.Eventually(t, func() bool { return len(mails.resets(email)) == 1 }, time.Minute, 20*time.Millisecond, "no reset email")
	link := regexp.MustCompile(`https?://\S+/reset-password\?token=\S+`).FindString(mails.resets(email)[0].text)
	require.True(t, strings.HasPrefix(link, base+"/reset-password?token="), "the link goes through the proxy: %q", link)
	token := strings.TrimPrefix(link, base+"/reset-password?token=")

	p = visit(t, phone, http.MethodGet, link, nil)
	require.Equal(t, http.StatusOK, p.status, "the link opens on another instance than the one that sent it")
	require.Contains(t, p.body, `name="new_password"`)
	p = visit(t, phone, http.MethodPost, base+"/reset-password", url.Values{"token": {token}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "/sign-in?notice=password_reset", p.location)

	// Signed out everywhere, whichever instance serves the old session.
	p = visit(t, laptop, http.MethodGet, base+"/", nil)
	require.Equal(t, http.StatusSeeOther, p.status)
	require.Equal(t, "/sign-in", p.location)
	p = visit(t, browser(t), http.MethodPost, base+"/sign-in", url.Values{"email": {email}, "password": {oldPassword}})
	require.Equal(t, http.StatusUnauthorized, p.status)
	p = visit(t, phone, http.MethodPost, base+"/sign-in", url.Values{"email": {email}, "password": {newPassword}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	p = visit(t, phone, http.MethodGet, base+"/", nil)
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, email)
	require.Equal(t, http.StatusGone, visit(t, phone, http.MethodGet, link, nil).status, "the link, once used, on any instance")

	served := front.since(mark)
	requireHopping(t, served, 3)
	require.NotEqual(t, served[3], served[5], "the mail's link opened on the instance that sent it")

	// The per-address limit holds across the instances: of five more
	// requests, spread over the three, two send an email (three in the
	// window), three are refused.
	for range 5 {
		require.Equal(t, http.StatusOK, visit(t, browser(t), http.MethodPost, base+"/forgot-password", url.Values{"email": {email}}).status)
	}
	limited := func() int {
		n := 0
		for _, p := range procs {
			n += len(lines(p.out.String(), "password reset request rate limited"))
		}
		return n
	}
	if !assert.Eventually(t, func() bool { return limited() == 3 && len(mails.resets(email)) == 3 }, time.Minute, 20*time.Millisecond) {
		for _, p := range procs {
			t.Log(p.name, p.out.String())
		}
		t.Fatalf("want 3 requests refused and 3 emails, got %d and %d", limited(), len(mails.resets(email)))
	}

	for _, p := range procs {
		for _, secret := range []string{oldPassword, newPassword, token} {
			require.NotContains(t, p.out.String(), secret, p.name)
		}
	}
}
