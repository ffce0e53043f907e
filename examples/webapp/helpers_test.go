package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// testClock is the real time plus an offset that a test can move forward,
// to make a reset link expire.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// testApp is the webapp served on 127.0.0.1 over a SQLite file in a
// temporary folder, with the dev mailbox, bcrypt cost 4 and a clock the
// test moves.
type testApp struct {
	*httptest.Server
	srv     *server
	mailbox *mail.Dev
	clock   *testClock
	logs    *testfix.Buffer
	dbDir   string
	store   *sqlitestore.Store
}

// startApp starts the app; mod, when given, changes its config first.
func startApp(t *testing.T, mod ...func(*config)) *testApp {
	t.Helper()
	a := &testApp{clock: new(testClock), logs: new(testfix.Buffer), dbDir: t.TempDir()}
	ctx := t.Context()
	st, err := sqlitestore.Open(ctx, filepath.Join(a.dbDir, "webapp.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.Migrate(ctx))

	log := slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a.mailbox = mail.NewDev(log, 50)
	a.store = st
	a.Server = httptest.NewUnstartedServer(nil)
	cfg := config{
		BaseURL:    "http://" + a.Listener.Addr().String(),
		Store:      st,
		Mailer:     a.mailbox,
		DevMail:    a.mailbox,
		Logger:     log,
		BcryptCost: 4,
		Now:        a.clock.Now,
	}
	for _, m := range mod {
		m(&cfg)
	}
	a.srv, err = newServer(cfg)
	require.NoError(t, err)
	a.Config.Handler = a.srv
	a.Start()
	t.Cleanup(func() {
		a.Close()
		require.NoError(t, a.srv.pages.Shutdown(context.Background()))
	})
	return a
}

// waitForMail waits until the dev mailbox holds n messages: the forgot
// page answers before its email goes out.
func (a *testApp) waitForMail(t testing.TB, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(a.mailbox.Messages()) >= n }, 10*time.Second, time.Millisecond,
		"the mailbox never held %d messages", n)
}

// finishBackground shuts the reset pages down, which waits for their
// background requests to finish: the test can then count every email sent
// and read every line logged. The app takes no more reset requests.
func (a *testApp) finishBackground(t testing.TB) {
	t.Helper()
	require.NoError(t, a.srv.pages.Shutdown(t.Context()))
}

// createUser adds a user with a password.
func (a *testApp) createUser(t *testing.T, email, password string) reset.User {
	t.Helper()
	u, err := a.srv.accounts.CreateUser(t.Context(), account.CreateUserParams{Email: email, Password: password})
	require.NoError(t, err)
	return u
}

// requireNoSecrets checks that none of secrets is in the server log or in
// the database files.
func (a *testApp) requireNoSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	logs := a.logs.String()
	require.NotEmpty(t, logs)
	files, err := filepath.Glob(filepath.Join(a.dbDir, "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, s := range secrets {
		require.NotEmpty(t, s)
		require.NotContains(t, logs, s, "the server log holds a secret")
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			require.False(t, bytes.Contains(b, []byte(s)), "%s holds a secret", filepath.Base(f))
		}
	}
}
