package pages_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/reset/pages"
)

// postFrom sends a same-origin form post from the client at remote, with
// extra headers as name, value pairs.
func (f *fixture) postFrom(t *testing.T, remote, target string, form url.Values, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, origin+target, strings.NewReader(form.Encode()))
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec.Result()
}

var cspNonceRE = regexp.MustCompile(`'nonce-[^']*'`)

// comparable returns what a client sees of an answer, with the per-answer
// nonce taken out of the body and the CSP.
func comparable(t *testing.T, res *http.Response) (int, http.Header, string) {
	t.Helper()
	h := res.Header.Clone()
	h.Set("Content-Security-Policy", cspNonceRE.ReplaceAllString(h.Get("Content-Security-Policy"), ""))
	return res.StatusCode, h, nonceRE.ReplaceAllString(body(t, res), "")
}

// TestForgotOverClientLimitAnswersAlike checks that a post over the
// per-client limit gets the same status, headers and page as one within
// it, and (without the per-address quota) sends nothing; that malformed
// posts are not counted; and that other clients are not affected.
func TestForgotOverClientLimitAnswersAlike(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) {
		c.ClientLimit = clientlimit.Config{Requests: 2, Per: time.Hour}
		c.AddressQuota.Disabled = true
	})
	const me, other = "192.0.2.10:5555", "198.51.100.20:5555"

	for range 3 {
		res := f.postFrom(t, me, "/forgot-password", url.Values{"email": {"not an address"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "a malformed post is answered, and not counted")
	}
	status, hdr, within := comparable(t, f.postFrom(t, me, "/forgot-password", url.Values{"email": {email}}))
	require.Equal(t, http.StatusOK, status)
	_, _, _ = comparable(t, f.postFrom(t, me, "/forgot-password", url.Values{"email": {email}}))
	f.h.Wait()
	require.Equal(t, 2, f.mail.Len(), "two posts within the client's limit: two emails")

	for range 3 {
		s, h, over := comparable(t, f.postFrom(t, me, "/forgot-password", url.Values{"email": {email}}))
		require.Equal(t, status, s)
		require.Equal(t, hdr, h)
		require.Equal(t, within, over)
	}
	f.h.Wait()
	require.Equal(t, 2, f.mail.Len(), "no email past the client's limit")
	require.Contains(t, f.logs.String(), `reason="client rate limited"`)
	require.NotContains(t, f.logs.String(), "192.0.2.10")

	// Another client is not limited; the forwarding headers of an
	// untrusted peer change nothing.
	f.postFrom(t, other, "/forgot-password", url.Values{"email": {email}})
	f.postFrom(t, me, "/forgot-password", url.Values{"email": {email}}, "X-Forwarded-For", "203.0.113.5")
	f.h.Wait()
	require.Equal(t, 3, f.mail.Len())
}

// TestResetOverClientLimit checks that a reset post over the limit is
// answered 429 with Retry-After before the token is looked at, and that
// the token stays usable.
func TestResetOverClientLimit(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) {
		c.ClientLimit = clientlimit.Config{Requests: 1, Per: time.Hour}
		c.AddressQuota.Disabled = true
	})
	tok := f.token(t)
	const me = "192.0.2.10:5555"
	res := f.postFrom(t, me, "/reset-password", url.Values{"token": {tok}, "new_password": {newPassword}, "confirm_password": {"typo"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)

	res = f.postFrom(t, me, "/reset-password", url.Values{"token": {tok}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.Equal(t, "3600", res.Header.Get("Retry-After"))
	requireHeaders(t, res)
	b := body(t, res)
	require.Contains(t, b, "Too many attempts")
	require.Contains(t, b, "your link has not been used")
	require.NotContains(t, b, tok)
	_, err := f.svc.CheckToken(t.Context(), tok)
	require.NoError(t, err, "the refused post did not spend the token")
	_, err = f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: email, Password: oldPassword})
	require.NoError(t, err)

	// Another client goes through.
	res = f.postFrom(t, "198.51.100.20:1", "/reset-password", url.Values{"token": {tok}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)

	// The two pages are counted apart: the forgot page still works for
	// the throttled client, and its next post there is over that page's
	// own limit.
	sent := f.mail.Len()
	f.postFrom(t, me, "/forgot-password", url.Values{"email": {email}})
	f.h.Wait()
	require.Equal(t, sent+1, f.mail.Len(), "the forgot post went through")
	f.postFrom(t, me, "/forgot-password", url.Values{"email": {email}})
	f.h.Wait()
	require.Equal(t, sent+1, f.mail.Len(), "the second forgot post is over the limit")
}

// TestClientLimitBehindProxy checks that, with the proxy trusted, the
// clients behind it are told apart by X-Forwarded-For.
func TestClientLimitBehindProxy(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) {
		c.ClientLimit = clientlimit.Config{Requests: 1, Per: time.Hour, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, ClientHeader: "X-Forwarded-For"}
	})
	const proxy = "10.0.0.2:40000"
	tok := f.token(t)
	form := url.Values{"token": {tok}, "new_password": {newPassword}, "confirm_password": {"typo"}}
	require.Equal(t, http.StatusUnprocessableEntity, f.postFrom(t, proxy, "/reset-password", form, "X-Forwarded-For", "198.51.100.1").StatusCode)
	require.Equal(t, http.StatusUnprocessableEntity, f.postFrom(t, proxy, "/reset-password", form, "X-Forwarded-For", "198.51.100.2").StatusCode)
	require.Equal(t, http.StatusTooManyRequests,
		f.postFrom(t, proxy, "/reset-password", form, "X-Forwarded-For", "203.0.113.9, 198.51.100.1").StatusCode,
		"the first client again: what it wrote on the left does not make it another")
}

func TestClientLimitDefaultAndDisabled(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.token(t)
	form := url.Values{"token": {tok}, "new_password": {newPassword}, "confirm_password": {"typo"}}
	for i := range 10 {
		require.Equal(t, http.StatusUnprocessableEntity, f.post(t, "/reset-password", form).StatusCode, i)
	}
	require.Equal(t, http.StatusTooManyRequests, f.post(t, "/reset-password", form).StatusCode, "on by default: 10 in a burst")

	g := newFixture(t, func(c *pages.Config) { c.ClientLimit.Disabled = true })
	tok = g.token(t)
	form.Set("token", tok)
	for i := range 30 {
		require.Equal(t, http.StatusUnprocessableEntity, g.post(t, "/reset-password", form).StatusCode, i)
	}

	_, err := pages.New(pages.Config{Service: f.svc, SignInURL: "/sign-in", ClientLimit: clientlimit.Config{Requests: -1}})
	require.ErrorContains(t, err, "ClientLimit")
}

// TestForgotPerAddressAndPerClient checks that the Service's per-address
// limit still holds for a client well within its own limit.
func TestForgotPerAddressAndPerClient(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) { c.ClientLimit = clientlimit.Config{Requests: 100, Per: time.Minute} })
	for i := range 5 {
		res := f.postFrom(t, "192.0.2.10:1", "/forgot-password", url.Values{"email": {email}})
		require.Equal(t, http.StatusOK, res.StatusCode, i)
	}
	f.h.Wait()
	require.Equal(t, 3, f.mail.Len(), "the per-address limit of the Service: 3 per 15 minutes")
	_, err := f.svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: email})
	require.ErrorIs(t, err, reset.ErrRateLimited)
}

// TestForgotVictimBehindSharedClient is the shared NAT: junk posts from
// one client spend the bucket every client behind that address shares;
// the victim's own request, from the same address, still sends its email,
// through the quota of the address it names. Over the limit, the answer is
// the same whether or not the address has an account.
func TestForgotVictimBehindSharedClient(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) { c.ClientLimit = clientlimit.Config{Requests: 10, Per: time.Minute} })
	const nat = "192.0.2.10:5555"
	for i := range 10 {
		f.postFrom(t, nat, "/forgot-password", url.Values{"email": {fmt.Sprintf("junk%d@example.net", i)}})
	}
	_, _, noAccount := comparable(t, f.postFrom(t, nat, "/forgot-password", url.Values{"email": {"nobody@example.net"}}))
	f.h.Wait()
	require.Zero(t, f.mail.Len(), "no account behind the junk addresses")

	status, _, victim := comparable(t, f.postFrom(t, nat, "/forgot-password", url.Values{"email": {email}}))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, noAccount, strings.ReplaceAll(victim, email, "nobody@example.net"), "the same page for an address with an account and one without")
	f.h.Wait()
	require.Equal(t, 1, f.mail.Len(), "the victim's email is sent, though its client is over the limit")
	require.Equal(t, email, f.mail.Messages()[0].To)
	require.Contains(t, f.logs.String(), "the address's own quota lets the request through")
	require.NotContains(t, f.logs.String(), email)
}

// TestForgotAddressQuota: over the client's limit, each address gets its
// own small quota (3 an hour by default), and no more.
func TestForgotAddressQuota(t *testing.T) {
	f := newFixture(t, func(c *pages.Config) { c.ClientLimit = clientlimit.Config{Requests: 1, Per: time.Hour} })
	const me = "192.0.2.10:5555"
	for _, addr := range []string{"nobody@example.net", "Nobody@Example.net", "nobody@example.net", "nobody@example.net", "nobody@example.net", "other@example.net"} {
		f.postFrom(t, me, "/forgot-password", url.Values{"email": {addr}})
	}
	f.h.Wait()
	logs := f.logs.String()
	require.Equal(t, 1+3, strings.Count(logs, "lets the request through"), "one over the client's limit for other@, three for nobody@ (its address, however spelt)")
	require.Equal(t, 1, strings.Count(logs, "password reset request dropped"), "nobody@'s fourth over the limit")
	require.NotContains(t, strings.ToLower(logs), "nobody@example.net")
}
