package passreset_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/emersion/go-smtp"

	"github.com/passreset/passreset"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/internal/testfix/testsmtp"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/sqlitestore"
)

const (
	oldPassword = "an old passphrase, long enough"
	newPassword = "a new passphrase, long enough"
)

// accountsDB opens a SQLite file holding a host's own users table, with
// one account, and returns it with the store over that table.
func accountsDB(t *testing.T) (*sql.DB, store.Store) {
	t.Helper()
	db, err := sql.Open("sqlite3", sqlitestore.DSN(filepath.Join(t.TempDir(), "app.db")))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE accounts (account_id INTEGER PRIMARY KEY, email_address TEXT NOT NULL UNIQUE, pw_digest TEXT NOT NULL)`)
	require.NoError(t, err)
	digest, err := bcrypt.GenerateFromPassword([]byte(oldPassword), bcrypt.MinCost)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO accounts (account_id, email_address, pw_digest) VALUES (42, 'ada@example.com', ?)`, string(digest))
	require.NoError(t, err)
	st, err := sqlitestore.New(db, sqlitestore.WithUsers(store.UsersTable{Table: "accounts", ID: "account_id", Email: "email_address", PasswordHash: "pw_digest"}))
	require.NoError(t, err)
	return db, st
}

func digestOf(t *testing.T, db *sql.DB) string {
	t.Helper()
	var digest string
	require.NoError(t, db.QueryRow(`SELECT pw_digest FROM accounts WHERE account_id = 42`).Scan(&digest))
	return digest
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/reset-password\?token=[^\s"<>&]+`)

// New migrates the host's store, and the Kit serves the pages and the dev
// mailbox: a reset asked for on the forgot page arrives in the mailbox,
// its link sets the password in the host's own table, and the stamp of
// the old hash stops matching.
func TestNewServesTheWholeFlow(t *testing.T) {
	db, st := accountsDB(t)
	oldStamp := reset.Stamp(digestOf(t, db))
	var logs testfix.Buffer

	srv := httptest.NewUnstartedServer(nil)
	kit, err := passreset.New(t.Context(), passreset.Config{
		Store: st, BaseURL: "http://" + srv.Listener.Addr().String(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, err)
	require.Equal(t, "/forgot-password", kit.Pages().ForgotPath())
	mux := http.NewServeMux()
	kit.Register(mux)
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()

	ctx, stop := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- kit.Run(ctx) }()

	res, err := http.PostForm(srv.URL+"/forgot-password", url.Values{"email": {"ada@example.com"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	var link string
	require.Eventually(t, func() bool {
		res, err := http.Get(srv.URL + passreset.DevMailboxPath)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		link = linkRE.FindString(string(body))
		return res.StatusCode == http.StatusOK && link != ""
	}, 10*time.Second, 20*time.Millisecond, "the reset email in the dev mailbox")
	require.NotContains(t, logs.String(), link, "the link is not logged")

	u, err := url.Parse(strings.ReplaceAll(link, "&amp;", "&"))
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = client.PostForm(srv.URL+"/reset-password", url.Values{
		"token": {u.Query().Get("token")}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.True(t, strings.HasPrefix(res.Header.Get("Location"), passreset.DefaultSignInURL), res.Header.Get("Location"))

	digest := digestOf(t, db)
	_, err = kit.CheckPassword(digest, oldPassword)
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	stamp, err := kit.CheckPassword(digest, newPassword)
	require.NoError(t, err)
	for s, want := range map[string]bool{oldStamp: false, stamp: true} {
		ok, err := kit.StampMatches(t.Context(), "user_42", s)
		require.NoError(t, err)
		require.Equal(t, want, ok)
	}

	stop()
	select {
	case err := <-ran:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
	require.NoError(t, kit.Shutdown(t.Context()))
}

// inbox is an SMTP backend that keeps what it receives.
type inbox struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &inboxSession{b: b}, nil }

type inboxSession struct{ b *inbox }

func (s *inboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *inboxSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *inboxSession) Reset()                               {}
func (s *inboxSession) Logout() error                        { return nil }
func (s *inboxSession) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.msgs = append(s.b.msgs, buf.Bytes())
	return nil
}

// Config.SMTP sends through the server its URL names, and no dev mailbox
// is served then.
func TestNewSendsThroughTheSMTPURL(t *testing.T) {
	_, st := accountsDB(t)
	box := &inbox{}
	addr := testsmtp.Serve(t, box, 10*time.Second)
	kit, err := passreset.New(t.Context(), passreset.Config{
		Store: st, BaseURL: "https://app.example", SMTP: "smtp+insecure://" + addr,
		SecretKey: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	_, err = kit.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: "ada@example.com"})
	require.NoError(t, err)
	box.mu.Lock()
	require.Len(t, box.msgs, 1)
	text, hdr, err := testsmtp.PlainText(box.msgs[0])
	box.mu.Unlock()
	require.NoError(t, err)
	require.Equal(t, "<ada@example.com>", hdr.Get("To"))
	require.Regexp(t, `https://app\.example/reset-password\?token=`, text)

	mux := http.NewServeMux()
	kit.Register(mux)
	_, pattern := mux.Handler(httptest.NewRequest(http.MethodGet, passreset.DevMailboxPath, nil))
	require.Empty(t, pattern, "no dev mailbox when mail goes out")
}

// New refuses a configuration it cannot run safely, saying what to set,
// and never repeats a secret it was given.
func TestNewRefusesBadConfig(t *testing.T) {
	_, st := accountsDB(t)
	const secret = "hunter2-s3cret"
	for name, tc := range map[string]struct {
		cfg  passreset.Config
		want string
	}{
		"no store":             {passreset.Config{BaseURL: "http://127.0.0.1:8080"}, "Store is required"},
		"relative base":        {passreset.Config{Store: st, BaseURL: "/app"}, "BaseURL"},
		"base with a path":     {passreset.Config{Store: st, BaseURL: "https://app.example/app"}, "BaseURL"},
		"dev mailbox in prod":  {passreset.Config{Store: st, BaseURL: "https://app.example"}, "set Config.SMTP or Config.Mailer"},
		"two mailers":          {passreset.Config{Store: st, BaseURL: "https://app.example", SMTP: "smtp://h", Mailer: mail.NewDev(nil, 1)}, "not both"},
		"bad smtp url":         {passreset.Config{Store: st, BaseURL: "https://app.example", SMTP: "smtp://u:" + secret + "@h/x"}, "SMTP"},
		"smtp url bad scheme":  {passreset.Config{Store: st, BaseURL: "https://app.example", SMTP: "http://u:" + secret + "@h"}, "scheme"},
		"short key":            {passreset.Config{Store: st, BaseURL: "http://localhost:8080", SecretKey: secret}, "SecretKey"},
		"plain http elsewhere": {passreset.Config{Store: st, BaseURL: "http://app.example", SMTP: "smtp://h"}, "https"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := passreset.New(t.Context(), tc.cfg)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), secret)
		})
	}
}
