package main

import (
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/reset/pages"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

const (
	oldPassword = "correct horse battery"
	newPassword = "Pässwort — a new one ✓"
)

// TestResetSignsOutEverywhere is the whole story on real parts: the app's
// accounts table and scs sessions in SQLite (and Postgres when
// PASSRESET_POSTGRES_URL is set), real HTTP clients with cookie jars.
//
// Ada is signed in on a phone and a laptop. From the phone she asks for a
// reset and follows the link from the dev mailbox. While the reset commits,
// the laptop has a request in flight (held inside the account page's
// handler), and a tablet is signing in with the old password (held just
// after the password check). After the reset, every one of them is signed
// out on its next request, the laptop's included after it wrote its
// session back; Bob, another user, is not. The old password is refused and
// the new one accepted by the app's own /login, and the link is spent.
func TestResetSignsOutEverywhere(t *testing.T) {
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, db(t))
			ctx := t.Context()
			ada, err := h.app.createAccount(ctx, "ada@example.com", oldPassword)
			require.NoError(t, err)
			bob, err := h.app.createAccount(ctx, "bob@example.com", oldPassword)
			require.NoError(t, err)
			adaBefore, bobBefore := h.account(ada), h.account(bob)

			phone, laptop, tablet, bobs := h.client(), h.client(), h.client(), h.client()
			phone.mustLogin("ada@example.com", oldPassword)
			laptop.mustLogin("ada@example.com", oldPassword)
			bobs.mustLogin("bob@example.com", oldPassword)
			require.Equal(t, 2, h.sessionsOf(ada))

			// The laptop's request: past the stamp check, held in the handler.
			inFlight := h.arm("account")
			laptopDone := make(chan int, 1)
			go func() {
				status, _, _ := laptop.get("/account", http.Header{"X-Test-Pause": {"account"}})
				laptopDone <- status
			}()
			<-inFlight.entered

			// The tablet's sign-in: the old password matched, the session
			// is not made yet.
			signingIn := h.arm("after-password-check")
			tabletDone := make(chan [2]string, 1)
			go func() {
				status, loc := tablet.login("ada@example.com", oldPassword, http.Header{"X-Test-Pause": {"after-password-check"}})
				tabletDone <- [2]string{http.StatusText(status), loc}
			}()
			<-signingIn.entered

			// The reset, from the phone, through the pages and the mailbox.
			status, _, body := phone.get("/forgot-password", nil)
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, body, `name="email"`)
			status, _, _ = phone.do(http.MethodPost, "/forgot-password", url.Values{"email": {"ada@example.com"}}, nil)
			require.Equal(t, http.StatusOK, status)
			link := h.mailLink(phone, "ada@example.com")
			status, _, body = phone.get(link, nil)
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, body, `name="new_password"`)
			tok, err := url.Parse(link)
			require.NoError(t, err)
			resetForm := url.Values{"token": {tok.Query().Get("token")}, "new_password": {newPassword}, "confirm_password": {newPassword}}
			status, loc, _ := phone.do(http.MethodPost, "/reset-password", resetForm, nil)
			require.Equal(t, http.StatusSeeOther, status)
			require.Equal(t, "/login?notice=password_reset", loc)
			// The reset has committed and ResetPassword has returned. The
			// revoker deleted Ada's two sessions, and the phone's own
			// request, which carried its session while it reset the
			// password, wrote that session back as it ended: scs does so at
			// the end of every request.
			require.Equal(t, 1, h.sessionsOf(ada))

			// The two requests in flight finish.
			inFlight.let()
			require.Equal(t, http.StatusOK, <-laptopDone, "the laptop's request began before the reset: it is served")
			signingIn.let()
			require.Equal(t, [2]string{"See Other", "/account"}, <-tabletDone, "the tablet's sign-in completed")
			require.Equal(t, 3, h.sessionsOf(ada), "the laptop wrote its session back and the tablet made one: both races happened")

			// Every device of Ada's is signed out on its next request.
			for name, c := range map[string]*client{"phone": phone, "laptop (in flight)": laptop, "tablet (racing sign-in)": tablet} {
				require.False(t, c.signedIn(), name)
				require.False(t, c.signedIn(), name+", again")
			}
			require.Equal(t, 0, h.sessionsOf(ada))
			require.True(t, bobs.signedIn(), "Bob stays signed in")
			require.Contains(t, h.logs.String(), "scsreset: session ended")

			// The sign-in page says why; the old password is refused and
			// the new one accepted by the app's own /login.
			status, _, body = phone.get(loc, nil)
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, body, "Your password was changed")
			status, _ = phone.login("ada@example.com", oldPassword, nil)
			require.Equal(t, http.StatusUnauthorized, status)
			require.False(t, phone.signedIn())
			phone.mustLogin("ada@example.com", newPassword)

			// The link is spent.
			status, _, body = h.client().do(http.MethodPost, "/reset-password", resetForm, nil)
			require.Equal(t, http.StatusGone, status)
			require.Contains(t, body, "expired or already used")
			status, _ = h.client().login("ada@example.com", oldPassword, nil)
			require.Equal(t, http.StatusUnauthorized, status)

			// The accounts table: Ada's row has a new bcrypt digest, is
			// verified and modified; Bob's is as it was.
			adaAfter := h.account(ada)
			require.NotEqual(t, adaBefore.Digest, adaAfter.Digest)
			_, err = bcrypt.Cost([]byte(adaAfter.Digest))
			require.NoError(t, err, "a bcrypt digest, as the app's own are")
			require.True(t, adaAfter.Verified)
			require.NotEqual(t, adaBefore.ModifiedAt, adaAfter.ModifiedAt)
			require.Equal(t, bobBefore, h.account(bob))
		})
	}
}

// passreset keeps its own tables beside the app's, named passreset_*, and
// leaves the app's tables as they were.
func TestPassresetTablesBesideTheApps(t *testing.T) {
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, db(t))
			q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
			if h.app.postgres {
				q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`
			}
			others := slices.DeleteFunc(testfix.Strings(t, h.app.db, q), func(name string) bool {
				return name == "accounts" || name == "sessions"
			})
			require.NotEmpty(t, others)
			for _, name := range others {
				require.True(t, strings.HasPrefix(name, "passreset_"), "table %s", name)
			}
		})
	}
}

// The app's sign-in is protected against cross-site posts, and answers an
// unknown address as it answers a wrong password.
func TestLoginRefusesCrossOriginAndUnknownAddresses(t *testing.T) {
	h := newHarness(t, databases(t)["sqlite"](t))
	_, err := h.app.createAccount(t.Context(), "ada@example.com", oldPassword)
	require.NoError(t, err)
	c := h.client()

	status, _ := c.login("ada@example.com", oldPassword, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	require.Equal(t, http.StatusForbidden, status)
	status, _ = c.login("ada@example.com", oldPassword, http.Header{"Sec-Fetch-Site": nil, "Origin": {"https://evil.example"}})
	require.Equal(t, http.StatusForbidden, status)
	require.False(t, c.signedIn())

	status, _ = c.login("nobody@example.com", oldPassword, nil)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = c.login("ada@example.com", "wrong password", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	c.mustLogin("ADA@example.com ", oldPassword)

	// The app's own sign-out still works.
	status, loc, _ := c.do(http.MethodPost, "/logout", url.Values{}, nil)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/login", loc)
	require.False(t, c.signedIn())
}

// Every sign-in post costs a bcrypt comparison, so the app's login counts
// them per client (pages.Handler.AllowSignIn, 20 a minute): past that,
// even the right password gets 429 until the minute is over, and another
// client is not held back.
func TestLoginLimitedPerClient(t *testing.T) {
	h := newHarness(t, databases(t)["sqlite"](t))
	_, err := h.app.createAccount(t.Context(), "ada@example.com", oldPassword)
	require.NoError(t, err)
	c := h.client()
	for i := range pages.DefaultSignInRequests {
		status, _ := c.login("ada@example.com", "wrong password", nil)
		require.Equal(t, http.StatusUnauthorized, status, "attempt %d", i+1)
	}
	status, _ := c.login("ada@example.com", oldPassword, nil)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.False(t, c.signedIn())

	// Another client (another loopback address) signs in.
	other := h.client()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	other.hc.Transport = &http.Transport{DialContext: dialer.DialContext}
	other.mustLogin("ada@example.com", oldPassword)
}

// PASSRESET_SECRET_KEY is read in hex or base64 (reset.ParseSecretKey);
// a bad or short key stops the app at start, without repeating it.
func TestSecretKeyFromEnvironment(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	for _, v := range []string{hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw)} {
		t.Setenv("PASSRESET_SECRET_KEY", v)
		a, err := newApp(t.Context(), config{DB: databases(t)["sqlite"](t), BaseURL: "http://127.0.0.1:8080", BcryptCost: 4})
		require.NoError(t, err, "%q", v)
		a.Close()
	}
	for _, v := range []string{"not a key!", hex.EncodeToString(raw[:31])} {
		t.Setenv("PASSRESET_SECRET_KEY", v)
		var logs testfix.Buffer
		_, err := newApp(t.Context(), config{DB: databases(t)["sqlite"](t), BaseURL: "http://127.0.0.1:8080", BcryptCost: 4,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		require.Error(t, err, "%q", v)
		require.NotContains(t, err.Error(), v, "the key is not repeated")
		require.NotContains(t, logs.String(), v)
	}
}
