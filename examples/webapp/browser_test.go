package main

// The browser tests drive Debian's chromium, headless, through
// github.com/chromedp/chromedp against the webapp served in-process.
//
// They look for the browser at /usr/bin/chromium, or at the path in
// PASSRESET_CHROMIUM. Without one they skip, unless
// PASSRESET_BROWSER_TESTS=required (as in .ci/run), which makes a missing
// browser a failure. On a failure each browser's page is saved as a PNG
// whose path the test logs; PASSRESET_SCREENSHOT_DIR, when set, keeps a
// screenshot of every step there.
//
// PASSRESET_SCREENSHOTS, when set, names the folder where the tests save the
// pictures of the reset pages that the documentation shows, under fixed
// names (see docShot); a relative folder is taken from the module's root.
// From the root, this regenerates docs/img:
//
//	PASSRESET_SCREENSHOTS=docs/img PASSRESET_BROWSER_TESTS=required go test ./examples/webapp -run Browser -count=1

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath returns the browser to run, or skips or fails the test
// when there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("PASSRESET_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("PASSRESET_BROWSER_TESTS") == "required" {
			t.Fatalf("browser tests are required (PASSRESET_BROWSER_TESTS=required) but there is no Chromium at %s: install it with `apt-get install chromium`, or set PASSRESET_CHROMIUM", path)
		}
		t.Skipf("browser tests skipped: no Chromium at %s. To run them, install Debian's chromium (`apt-get install chromium`) or set PASSRESET_CHROMIUM to a Chromium binary; PASSRESET_BROWSER_TESTS=required turns this skip into a failure", path)
	}
	return path
}

// browser is one Chromium with its own profile: its own cookies, as a
// separate device would have.
type browser struct {
	t    *testing.T
	name string
	ctx  context.Context
	step atomic.Int32
}

// newBrowser starts a headless Chromium with a fresh profile. It is closed
// when the test ends, after a screenshot if the test failed.
func newBrowser(t *testing.T, name string) *browser {
	t.Helper()
	path := chromiumPath(t)
	profile := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(900, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser with a context that has no timeout: the first Do
	// binds the browser's life to its context.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	b := &browser{t: t, name: name, ctx: ctx}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot("failure")
		}
	})
	return b
}

// do runs steps, failing the test if they fail or take over 20 seconds.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", b.name, err)
	}
	b.shot()
}

// value runs one action that returns a value.
func value[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", b.name, err)
	}
	return v
}

// submit clicks a form's submit button and waits for the next page to
// load: the answer to the post, or the page it redirects to.
func submit(form string) chromedp.Action[chromedp.Void] {
	click := chromedp.Click(chromedp.CSS(form + ` button[type="submit"]`))
	wait := chromedp.WaitEvent(page.LoadEventFired, nil, click)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := wait(ctx, t)
		return chromedp.Void{}, err
	}
}

// submitPasswords runs first (steps that open or fill in the rest of the
// form), types pw and confirm in the new_password and confirm_password
// fields, submits form, and waits for the element whose id is then:
// "errors" where the password is refused, "notice" where it is set.
func (b *browser) submitPasswords(form, pw, confirm, then string, first ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.do(append(first,
		chromedp.SendKeys(chromedp.ID("new_password"), pw),
		chromedp.SendKeys(chromedp.ID("confirm_password"), confirm),
		submit(form),
		chromedp.WaitVisible(chromedp.ID(then)),
	)...)
}

// text returns the visible text of the element sel selects.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return value(b, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
}

// location returns the page's URL.
func (b *browser) location() string {
	b.t.Helper()
	return value(b, chromedp.Location())
}

// cookie returns the browser's cookie of this name for url.
func (b *browser) cookie(url, name string) *network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	require.NoError(b.t, err)
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// signIn signs in on the sign-in page and waits for the account page.
func (b *browser) signIn(base, email, password string) {
	b.t.Helper()
	b.do(
		chromedp.Navigate(base+"/sign-in"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		submit("#sign-in"),
		chromedp.WaitVisible(chromedp.ID("user-email")),
	)
	require.Equal(b.t, email, b.text("#user-email"), b.name)
}

// requestReset asks for a reset on the forgot page, then opens the dev
// mailbox and returns the link of the newest email.
func (b *browser) requestReset(app *testApp, email string) string {
	b.t.Helper()
	before := len(app.mailbox.Messages())
	b.do(
		chromedp.Navigate(app.URL+"/forgot-password"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
	)
	b.docShot("forgot-password")
	b.do(
		submit("#forgot-password"),
		chromedp.WaitVisible(chromedp.ID("sent")),
	)
	require.Contains(b.t, b.text("#sent"), email)
	b.docShot("forgot-password-sent")
	app.waitForMail(b.t, before+1) // the email goes out in the background
	const link = `.message a[href*="/reset-password?token="]`
	b.do(chromedp.Navigate(app.URL+"/dev/mail"), chromedp.WaitVisible(chromedp.CSS(link)))
	href := value(b, chromedp.AttributeValue(chromedp.CSS(link), "href"))
	require.True(b.t, href.Exists)
	require.Regexp(b.t, `^`+regexp.QuoteMeta(app.URL)+`/reset-password\?token=[A-Za-z0-9_-]{43}$`, href.Value)
	require.Equal(b.t, href.Value, b.text(link), "the link is shown as it is in the email")
	return href.Value
}

// shot saves a screenshot of the step just done when
// PASSRESET_SCREENSHOT_DIR is set.
func (b *browser) shot() {
	dir := os.Getenv("PASSRESET_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	b.save(dir, fmt.Sprintf("%s-%s-%02d.png", strings.ReplaceAll(b.t.Name(), "/", "_"), b.name, b.step.Add(1)))
}

// screenshot saves the page after a failure and logs where.
func (b *browser) screenshot(label string) {
	dir := os.Getenv("PASSRESET_SCREENSHOT_DIR")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "passreset-browser-test-"); err != nil {
			b.t.Logf("%s: no screenshot: %v", b.name, err)
			return
		}
	}
	if path := b.save(dir, fmt.Sprintf("%s-%s-%s.png", strings.ReplaceAll(b.t.Name(), "/", "_"), b.name, label)); path != "" {
		b.t.Logf("%s: screenshot of the page at the failure: %s", b.name, path)
	}
}

// docShots holds the names of the documentation's pictures taken so far in
// this run.
var docShots sync.Map

// docShot saves the page's card (its main element) as name.png in the
// folder PASSRESET_SCREENSHOTS names, when it is set, for the
// documentation: the forgot page with an address typed, the answer to it,
// the reset form, the form refusing a weak password, the expired link. The
// first test to reach a page takes its picture; the others leave it be.
func (b *browser) docShot(name string) {
	b.t.Helper()
	dir := os.Getenv("PASSRESET_SCREENSHOTS")
	if dir == "" {
		return
	}
	if _, taken := docShots.LoadOrStore(name, true); taken {
		return
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(moduleRoot(b.t), dir)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("main"), chromedp.NodeVisible))
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Fatalf("%s: picture %s for the documentation: %v", b.name, name, err)
	}
}

// moduleRoot returns the folder of the go.mod above the test's working
// folder.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working folder")
		}
		dir = parent
	}
}

func (b *browser) save(dir, name string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	path := filepath.Join(dir, name)
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		b.t.Logf("%s: no screenshot: %v", b.name, err)
		return ""
	}
	return path
}

// userOnTwoDevices creates a user and signs them in on two browsers of
// their own: the phone, then the laptop, whose page therefore lists both
// sessions.
func (a *testApp) userOnTwoDevices(t *testing.T, email, password string) (laptop, phone *browser) {
	t.Helper()
	a.createUser(t, email, password)
	laptop, phone = newBrowser(t, "laptop"), newBrowser(t, "phone")
	phone.signIn(a.URL, email, password)
	laptop.signIn(a.URL, email, password)
	return laptop, phone
}

// TestBrowserResetSignsOutEverywhere is the whole story: a user signed in
// on two devices resets their password from one; both are signed out, the
// old password fails and the new one works.
func TestBrowserResetSignsOutEverywhere(t *testing.T) {
	chromiumPath(t) // skip early without a browser
	app := startApp(t)
	const email, oldPassword, newPassword = "marcelina.davis@example.com", "the old passphrase", "a brand new passphrase"
	laptop, phone := app.userOnTwoDevices(t, email, oldPassword)

	// The session cookie is Secure, and Chromium kept it on plain
	// http://127.0.0.1.
	c := laptop.cookie(app.URL, "passreset_session")
	require.NotNil(t, c, "Chromium dropped the Secure session cookie on http://127.0.0.1")
	require.True(t, c.Secure)
	require.True(t, c.HTTPOnly)
	require.Equal(t, network.CookieSameSiteLax, c.SameSite)

	// Each browser sees both sessions, its own marked.
	laptop.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("sessions")))
	sessions := laptop.text("#sessions")
	require.Equal(t, 2, strings.Count(sessions, "Headless Chrome on Linux"), sessions)
	require.Contains(t, sessions, "this browser")

	link := laptop.requestReset(app, email)
	token := link[strings.Index(link, "token=")+len("token="):]

	// Opening the link shows the form and spends nothing.
	laptop.do(
		chromedp.Click(chromedp.CSS(`.message a[href*="/reset-password?token="]`)),
		chromedp.WaitVisible(chromedp.ID("new_password")),
	)
	require.Equal(t, link, laptop.location())
	require.Contains(t, laptop.text("main"), email)
	laptop.docShot("reset-password")
	laptop.submitPasswords("#reset-password", newPassword, newPassword, "notice")
	require.Equal(t, app.URL+"/sign-in?notice=password_reset", laptop.location())
	require.Contains(t, laptop.text("#notice"), "Your password was changed")

	// Both devices are signed out.
	for _, b := range []*browser{laptop, phone} {
		b.do(chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(chromedp.ID("sign-in")))
		require.Equal(t, app.URL+"/sign-in", b.location(), b.name)
	}

	// The old password fails; the new one works.
	phone.do(
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), oldPassword),
		submit("#sign-in"),
		chromedp.WaitVisible(chromedp.ID("errors")),
	)
	require.Contains(t, phone.text("#errors"), "Wrong email or password.")
	phone.signIn(app.URL, email, newPassword)

	// The link is spent.
	laptop.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("link-expired")))

	app.requireNoSecrets(t, token, oldPassword, newPassword)
}

// TestBrowserExpiredLink opens a link after its TTL and follows the
// expired page's offer of a new one.
func TestBrowserExpiredLink(t *testing.T) {
	chromiumPath(t) // skip early without a browser
	app := startApp(t)
	const email = "ana@example.com"
	app.createUser(t, email, "the old passphrase")
	b := newBrowser(t, "browser")
	link := b.requestReset(app, email)

	app.clock.Advance(16 * time.Minute) // the TTL is 15 minutes
	b.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("link-expired")))
	require.Equal(t, "This link has expired or was already used", b.text("#link-expired"))
	b.docShot("link-expired")
	b.do(
		chromedp.Click(chromedp.CSS(`a.button[href="/forgot-password"]`)),
		chromedp.WaitVisible(chromedp.ID("forgot-password")),
	)
	require.Equal(t, app.URL+"/forgot-password", b.location())

	// A new link works.
	link = b.requestReset(app, email)
	b.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("new_password")))
}

// TestBrowserWeakPassword shows the policy's reasons and a mismatch on the
// form, and the link still works afterwards.
func TestBrowserWeakPassword(t *testing.T) {
	chromiumPath(t) // skip early without a browser
	app := startApp(t)
	const email, newPassword = "ana@example.com", "a brand new passphrase"
	app.createUser(t, email, "the old passphrase")
	b := newBrowser(t, "browser")
	link := b.requestReset(app, email)

	b.submitPasswords("#reset-password", "short", "short", "errors",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("new_password")),
	)
	require.Contains(t, b.text("#errors"), "at least 8 characters")
	require.Empty(t, value(b, chromedp.Value(chromedp.ID("new_password"))), "the password is not sent back")
	b.docShot("reset-password-weak")

	b.submitPasswords("#reset-password", newPassword, newPassword+" typo", "errors")
	require.Contains(t, b.text("#errors"), "do not match")

	b.submitPasswords("#reset-password", newPassword, newPassword, "notice")
	b.signIn(app.URL, email, newPassword)
}

// TestBrowserCodeInTheSameBrowser: the forgot page's answer offers the
// code field; the code of the email, typed there, sets the password (a
// common one refused first, the code still good), and the link dies with
// it.
func TestBrowserCodeInTheSameBrowser(t *testing.T) {
	chromiumPath(t) // skip early without a browser
	app := startApp(t)
	const email, newPassword = "ana@example.com", "a brand new passphrase"
	app.createUser(t, email, "the old passphrase")
	b := newBrowser(t, "browser")
	b.do(
		chromedp.Navigate(app.URL+"/forgot-password"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		submit("#forgot-password"),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	app.waitForMail(t, 1)
	m := app.mailbox.Messages()[0]
	code := regexp.MustCompile(`(?m)^    (\d{4} \d{4})$`).FindStringSubmatch(m.Text)
	require.NotNil(t, code, m.Text)
	link := regexp.MustCompile(`http://\S+/reset-password\?token=\S+`).FindString(m.Text)
	require.NotEmpty(t, link)

	b.submitPasswords("#reset-code", "password123", "password123", "errors",
		chromedp.SendKeys(chromedp.ID("code"), code[1]),
	)
	require.Contains(t, b.text("#errors"), "too common")
	b.submitPasswords("#reset-code", newPassword, newPassword, "notice")
	require.Equal(t, app.URL+"/sign-in?notice=password_reset", b.location())
	b.signIn(app.URL, email, newPassword)
	b.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("link-expired")))
	app.requireNoSecrets(t, strings.ReplaceAll(code[1], " ", ""), newPassword)
}

// TestBrowserChangePasswordSignsOutOtherDevices: the account page changes
// the password; this browser stays signed in and sees the other device
// marked signed out, and the other device is on the sign-in page at its
// next request.
func TestBrowserChangePasswordSignsOutOtherDevices(t *testing.T) {
	chromiumPath(t) // skip early without a browser
	app := startApp(t)
	const email, oldPassword, newPassword = "ana@example.com", "the old passphrase", "a brand new passphrase"
	laptop, phone := app.userOnTwoDevices(t, email, oldPassword)

	laptop.submitPasswords("#change-password", newPassword, newPassword, "errors",
		chromedp.SendKeys(chromedp.ID("current_password"), "not the password"),
	)
	require.Contains(t, laptop.text("#errors"), "current password is not right")
	laptop.submitPasswords("#change-password", newPassword, newPassword, "notice",
		chromedp.SendKeys(chromedp.ID("current_password"), oldPassword),
	)
	require.Contains(t, laptop.text("#notice"), "every other device was signed out (1 signed out just now")
	sessions := laptop.text("#sessions")
	require.Contains(t, sessions, "this browser")
	require.Contains(t, sessions, "signed out")

	phone.do(chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(chromedp.ID("sign-in")))
	require.Equal(t, app.URL+"/sign-in", phone.location())
	laptop.do(chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(chromedp.ID("user-email")))
	phone.signIn(app.URL, email, newPassword)
	app.requireNoSecrets(t, oldPassword, newPassword)
}
