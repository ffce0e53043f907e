package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/stretchr/testify/require"
)

// databases returns the databases to run a test on: a SQLite file always,
// and a fresh Postgres database when PASSRESET_POSTGRES_URL is set.
func databases(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "existingapp.db") },
		"postgres": func(t *testing.T) string {
			base := os.Getenv("PASSRESET_POSTGRES_URL")
			if base == "" {
				t.Skip("PASSRESET_POSTGRES_URL is not set: set it to a Postgres URL, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable, to run this test on Postgres too")
			}
			return freshDatabase(t, base)
		},
	}
}

// freshDatabase creates a database of its own for the test on the server
// of base, drops it when the test ends, and returns its URL.
func freshDatabase(t *testing.T, base string) string {
	t.Helper()
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	defer admin.Close(context.WithoutCancel(ctx))
	name := "existingapp_" + strings.ToLower(rand.Text()[:12])
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// harness runs the app on a real loopback server, with the dispatcher and
// the janitor, and lets a test hold a request at one of the app's pause
// points.
type harness struct {
	t    *testing.T
	app  *app
	url  string
	logs *testfix.Buffer

	mu    sync.Mutex
	holds map[string]*hold
}

// hold is a pause point armed by a test: a request that names it in the
// X-Test-Pause header stops there until released.
type hold struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *hold) let() { h.once.Do(func() { close(h.release) }) }

func newHarness(t *testing.T, db string) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := &harness{t: t, url: "http://" + ln.Addr().String(), logs: &testfix.Buffer{}, holds: map[string]*hold{}}
	h.app, err = newApp(t.Context(), config{
		DB: db, BaseURL: h.url, BcryptCost: 4,
		Logger: slog.New(slog.NewTextHandler(h.logs, nil)),
		Pause:  h.pause,
	})
	require.NoError(t, err)
	t.Cleanup(h.app.Close)

	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { h.app.kit.Run(bg) })
	t.Cleanup(func() { stop(); wg.Wait() })

	srv := httptest.NewUnstartedServer(h.app.handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, h.app.kit.Shutdown(context.Background()))
	})
	// Let every held request go before the server waits for them, even
	// when a test fails half-way.
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, hd := range h.holds {
			hd.let()
		}
	})
	return h
}

// arm makes the next request that names point wait there.
func (h *harness) arm(point string) *hold {
	h.mu.Lock()
	defer h.mu.Unlock()
	hd := &hold{entered: make(chan struct{}), release: make(chan struct{})}
	h.holds[point] = hd
	return hd
}

// pause is the app's Pause hook.
func (h *harness) pause(r *http.Request, point string) {
	if r.Header.Get("X-Test-Pause") != point {
		return
	}
	h.mu.Lock()
	hd := h.holds[point]
	h.mu.Unlock()
	if hd == nil {
		return
	}
	close(hd.entered)
	<-hd.release
}

// sessionsOf counts the scs sessions in the app's sessions table whose
// account_id is id.
func (h *harness) sessionsOf(id int64) int {
	h.t.Helper()
	rows, err := h.app.db.QueryContext(h.t.Context(), `SELECT data FROM sessions`)
	require.NoError(h.t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var data []byte
		require.NoError(h.t, rows.Scan(&data))
		_, values, err := h.app.sm.Codec.Decode(data)
		require.NoError(h.t, err)
		if values[accountKey] == id {
			n++
		}
	}
	require.NoError(h.t, rows.Err())
	return n
}

// mailLink waits for an email to `to` in the dev mailbox, read over HTTP
// as a developer would, and returns the reset link in it.
func (h *harness) mailLink(c *client, to string) string {
	h.t.Helper()
	linkRE := regexp.MustCompile(`href="(` + regexp.QuoteMeta(h.url) + `/reset-password\?token=[^"]+)"`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _, body := c.get("/dev/mail", nil)
		require.Equal(h.t, http.StatusOK, status)
		if strings.Contains(body, "To "+to) {
			m := linkRE.FindStringSubmatch(body)
			require.Len(h.t, m, 2, "a reset link in the mailbox")
			return html.UnescapeString(m[1])
		}
		require.True(h.t, time.Now().Before(deadline), "no email to %s in the dev mailbox", to)
		time.Sleep(20 * time.Millisecond)
	}
}

// client is a browser: a cookie jar, no automatic redirects.
type client struct {
	t  *testing.T
	h  *harness
	hc *http.Client
}

func (h *harness) client() *client {
	jar, err := cookiejar.New(nil)
	require.NoError(h.t, err)
	return &client{t: h.t, h: h, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request, as a browser on the app's own pages would (same
// origin), and returns the status, the Location header and the body.
func (c *client) do(method, path string, form url.Values, header http.Header) (int, string, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = c.h.url + path
	}
	req, err := http.NewRequestWithContext(context.WithoutCancel(c.t.Context()), method, target, body)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.h.url)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

func (c *client) get(path string, header http.Header) (int, string, string) {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil, header)
}

// login posts the app's own sign-in form and returns the status and the
// Location of the answer.
func (c *client) login(email, pw string, header http.Header) (int, string) {
	c.t.Helper()
	status, loc, _ := c.do(http.MethodPost, "/login", url.Values{"email": {email}, "password": {pw}}, header)
	return status, loc
}

// signedIn reports whether the account page serves the client.
func (c *client) signedIn() bool {
	c.t.Helper()
	status, loc, body := c.get("/account", nil)
	switch {
	case status == http.StatusOK:
		require.Contains(c.t, body, `id="email"`)
		return true
	case status == http.StatusSeeOther && loc == "/login":
		return false
	}
	c.t.Fatalf("GET /account: status %d, Location %q", status, loc)
	return false
}

func (c *client) mustLogin(email, pw string) {
	c.t.Helper()
	status, loc := c.login(email, pw, nil)
	require.Equal(c.t, http.StatusSeeOther, status)
	require.Equal(c.t, "/account", loc)
	require.True(c.t, c.signedIn())
}

// accountRow is the accounts row of id.
type accountRow struct {
	Email, Digest string
	Verified      bool
	ModifiedAt    string
}

func (h *harness) account(id int64) accountRow {
	h.t.Helper()
	var r accountRow
	var modified any
	require.NoError(h.t, h.app.db.QueryRowContext(h.t.Context(),
		`SELECT email_address, pw_digest, is_verified, modified_at FROM accounts WHERE account_id = $1`, id).
		Scan(&r.Email, &r.Digest, &r.Verified, &modified))
	r.ModifiedAt = fmt.Sprint(modified)
	return r
}
