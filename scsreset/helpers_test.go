package scsreset_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/scsreset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// scsSchema is sqlite3store's table, as its README gives it.
const scsSchema = `CREATE TABLE sessions (
	token TEXT PRIMARY KEY,
	data BLOB NOT NULL,
	expiry REAL NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions(expiry);`

// app is a small web app on real parts: scs sessions in sqlite3store over
// a SQLite file, and a reset.Service over sqlitestore in the same file,
// with scsreset between them.
type app struct {
	t       testing.TB
	svc     *reset.Service
	acct    *account.Service
	st      *sqlitestore.Store
	db      *sql.DB // the scs sessions' handle
	scs     scs.Store
	sm      *scs.SessionManager
	sess    *scsreset.Sessions
	mailbox *mailtest.Recorder
	logs    *testfix.Buffer
	srv     *httptest.Server

	// afterPasswordCheck, when set, runs in POST /login after the
	// password matched and before SignIn.
	afterPasswordCheck func()
	// slowEntered receives once GET /slow has passed the Middleware;
	// slowRelease lets it finish.
	slowEntered chan struct{}
	slowRelease chan struct{}
	releaseOnce sync.Once
}

// releaseSlow lets GET /slow finish; it may be called more than once.
func (a *app) releaseSlow() { a.releaseOnce.Do(func() { close(a.slowRelease) }) }

type appOptions struct {
	hashTokenInStore bool
	// hideIteration wraps the scs store so that it cannot list sessions.
	hideIteration bool
	// stamps replaces the Service as the Middleware's StampChecker.
	stamps func(svc *reset.Service) scsreset.StampChecker
}

// plainStore is an scs store that cannot iterate: only Find, Commit and
// Delete of the store it wraps show.
type plainStore struct{ scs.Store }

func newApp(t testing.TB, o appOptions) *app {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "app.db")

	st, err := sqlitestore.Open(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.Migrate(ctx))

	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.ExecContext(ctx, scsSchema)
	require.NoError(t, err)

	a := &app{t: t, st: st, db: db, mailbox: &mailtest.Recorder{}, logs: &testfix.Buffer{},
		slowEntered: make(chan struct{}, 1), slowRelease: make(chan struct{})}
	a.scs = sqlite3store.NewWithCleanupInterval(db, 0)
	a.sm = scs.New()
	a.sm.Store = a.scs
	if o.hideIteration {
		a.sm.Store = plainStore{a.scs}
	}
	a.sm.HashTokenInStore = o.hashTokenInStore
	a.sm.IdleTimeout = time.Hour // every request writes its session back
	log := slog.New(slog.NewTextHandler(a.logs, nil))
	a.sess, err = scsreset.New(scsreset.Config{Manager: a.sm, Logger: log})
	require.NoError(t, err)

	a.svc, err = reset.NewService(reset.Config{
		Store:    st,
		Mailer:   a.mailbox,
		ResetURL: "https://app.example/reset-password",
		Hasher:   password.Bcrypt{Cost: 4},
		Sessions: a.sess,
		Logger:   log,
	})
	require.NoError(t, err)
	a.acct, err = account.New(a.svc, account.Config{})
	require.NoError(t, err)

	var stamps scsreset.StampChecker = a.svc
	if o.stamps != nil {
		stamps = o.stamps(a.svc)
	}
	a.srv = httptest.NewServer(a.sm.LoadAndSave(a.sess.Middleware(stamps, a.routes())))
	t.Cleanup(a.srv.Close)
	t.Cleanup(a.releaseSlow) // before Close, which waits for requests in flight, even when a test fails
	return a
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		in, err := a.acct.Authenticate(r.Context(), account.AuthenticateParams{Email: r.PostFormValue("email"), Password: r.PostFormValue("password")})
		if err != nil {
			http.Error(w, "wrong email or password", http.StatusUnauthorized)
			return
		}
		if a.afterPasswordCheck != nil {
			a.afterPasswordCheck()
		}
		if err := a.sess.SignIn(r.Context(), in.User.ID, in.Stamp); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, in.User.ID)
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		id := a.sess.UserID(r.Context())
		if id == "" {
			http.Error(w, "signed out", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, id)
	})
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		a.sm.Put(r.Context(), "cart", "2 apples")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		id := a.sess.UserID(r.Context())
		a.slowEntered <- struct{}{}
		<-a.slowRelease
		if id == "" {
			http.Error(w, "signed out", http.StatusUnauthorized)
			return
		}
		a.sm.Put(r.Context(), "last_seen", time.Now().UnixNano())
		io.WriteString(w, id)
	})
	return mux
}

// createUser creates a user with a password and returns its id.
func (a *app) createUser(email, pw string) string {
	a.t.Helper()
	u, err := a.acct.CreateUser(a.t.Context(), account.CreateUserParams{Email: email, Password: pw})
	require.NoError(a.t, err)
	return u.ID
}

// resetPassword runs the whole reset for email and returns ResetPassword's
// error.
func (a *app) resetPassword(email, newPassword string) error {
	a.t.Helper()
	pr, err := a.svc.CreatePasswordReset(a.t.Context(), reset.CreatePasswordResetParams{Email: email})
	require.NoError(a.t, err)
	_, err = a.svc.ResetPassword(a.t.Context(), reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword})
	return err
}

// sessionsOf counts the live sessions of userID in the scs store, by
// decoding every one; "" counts those without a user id.
func (a *app) sessionsOf(userID string) int {
	a.t.Helper()
	all, err := a.scs.(scs.IterableStore).All()
	require.NoError(a.t, err)
	n := 0
	for _, b := range all {
		_, values, err := a.sm.Codec.Decode(b)
		if err != nil {
			continue
		}
		if id, _ := values[scsreset.DefaultUserIDKey].(string); id == userID {
			n++
		}
	}
	return n
}

// client is a browser: a cookie jar on the app.
type client struct {
	t   testing.TB
	a   *app
	hc  *http.Client
	url *url.URL
}

func (a *app) client() *client {
	jar, err := cookiejar.New(nil)
	require.NoError(a.t, err)
	u, err := url.Parse(a.srv.URL)
	require.NoError(a.t, err)
	return &client{t: a.t, a: a, hc: &http.Client{Jar: jar}, url: u}
}

// do sends a request and returns the status and body.
func (c *client) do(method, path string, form url.Values) (int, string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.WithoutCancel(c.t.Context()), method, c.a.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res.StatusCode, strings.TrimSpace(string(body))
}

func (c *client) login(email, pw string) (int, string) {
	c.t.Helper()
	return c.do(http.MethodPost, "/login", url.Values{"email": {email}, "password": {pw}})
}

// mustLogin signs in and checks that the session works.
func (c *client) mustLogin(email, pw, wantID string) {
	c.t.Helper()
	status, body := c.login(email, pw)
	require.Equal(c.t, http.StatusOK, status, body)
	status, body = c.do(http.MethodGet, "/me", nil)
	require.Equal(c.t, http.StatusOK, status)
	require.Equal(c.t, wantID, body)
}

// signedIn returns a new client signed in as the user id at email, whose
// password is oldPassword.
func (a *app) signedIn(email, id string) *client {
	a.t.Helper()
	c := a.client()
	c.mustLogin(email, oldPassword, id)
	return c
}

// requireSignedOut checks that the client's next request is served as
// signed out.
func (c *client) requireSignedOut(msgAndArgs ...any) {
	c.t.Helper()
	status, _ := c.do(http.MethodGet, "/me", nil)
	require.Equal(c.t, http.StatusUnauthorized, status, msgAndArgs...)
}

// token returns the scs cookie the client holds, or "".
func (c *client) token() string {
	for _, ck := range c.hc.Jar.Cookies(c.url) {
		if ck.Name == c.a.sm.Cookie.Name {
			return ck.Value
		}
	}
	return ""
}
