package reset_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/token"
)

// fixture is a Service over a real memstore, with a clock, a recording
// mailer, a session manager over the same store, captured logs, and the
// account.Service on it that creates users and signs them in.
type fixture struct {
	svc    *reset.Service
	acct   *account.Service
	store  *memstore.Store
	mail   *mailtest.Recorder
	clock  *testfix.Clock
	hasher *testsvc.CountingHasher
	logs   *bytes.Buffer
	events []reset.Event
	evMu   sync.Mutex
	sess   *session.Manager
}

// newFixture builds the fixture; mod may change the Config first.
func newFixture(t testing.TB, mod ...func(*reset.Config)) *fixture {
	t.Helper()
	f := &fixture{logs: new(bytes.Buffer)}
	observed := reset.Config{
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnEvent: func(_ context.Context, e reset.Event) {
			f.evMu.Lock()
			defer f.evMu.Unlock()
			f.events = append(f.events, e)
		},
	}
	var d testsvc.Doubles
	f.svc, f.acct, d = testsvc.OnMemory(t, observed, mod...)
	f.store, f.mail, f.clock, f.hasher = d.Store, d.Mail, d.Clock, d.Hasher
	var err error
	f.sess, err = session.New(session.Config{Store: f.store, Now: f.clock.Now})
	require.NoError(t, err)
	return f
}

const oldPassword = "correct horse battery"

// user creates a user with oldPassword.
func (f *fixture) user(t testing.TB, email string) reset.User {
	t.Helper()
	return testsvc.CreateUser(t, f.acct, email, oldPassword)
}

// createReset creates a reset for email, and stops t if that fails.
func (f *fixture) createReset(t testing.TB, email string) reset.PasswordReset {
	t.Helper()
	pr, err := f.svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: email})
	require.NoError(t, err)
	return pr
}

// newPassphrase is the password a test sets where which one does not
// matter.
const newPassphrase = "a good long passphrase"

// byLink redeems pr by its link, setting newPassphrase.
func byLink(pr reset.PasswordReset) reset.ResetPasswordParams {
	return reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassphrase}
}

// byCode redeems pr by its address and code, setting newPassphrase.
func byCode(pr reset.PasswordReset) reset.ResetPasswordParams {
	return reset.ResetPasswordParams{Email: pr.Email, Code: pr.Code, NewPassword: newPassphrase}
}

func TestNewServiceNamesMissingParts(t *testing.T) {
	st, rec := memstore.New(), new(mailtest.Recorder)
	for field, cfg := range map[string]reset.Config{
		"Store":    {Mailer: rec, ResetURL: "https://a.example/r"},
		"Mailer":   {Store: st, ResetURL: "https://a.example/r"},
		"ResetURL": {Store: st, Mailer: rec},
	} {
		_, err := reset.NewService(cfg)
		require.ErrorContains(t, err, "Config."+field, field)
	}
	_, err := reset.NewService(reset.Config{Store: st, Mailer: rec, ResetURL: "/relative"})
	require.ErrorContains(t, err, "absolute")
	_, err = reset.NewService(reset.Config{Store: st, Mailer: rec, ResetURL: "https://a.example/r", SecretKey: []byte("short")})
	require.ErrorContains(t, err, "SecretKey")
}

func TestCreatePasswordReset(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "Marcelina.Davis@Example.com")

	pr := f.createReset(t, "  MARCELINA.davis@example.com ")
	require.True(t, strings.HasPrefix(pr.ID, "password_reset_"), pr.ID)
	require.Len(t, pr.ID, len("password_reset_")+26)
	require.Equal(t, u.ID, pr.UserID)
	require.Equal(t, "marcelina.davis@example.com", pr.Email)
	require.Equal(t, f.clock.Now(), pr.CreatedAt)
	require.Equal(t, f.clock.Now().Add(15*time.Minute), pr.ExpiresAt)
	require.Len(t, pr.Token, 43)

	link, err := url.Parse(pr.URL)
	require.NoError(t, err)
	require.Equal(t, "app.example", link.Host)
	require.Equal(t, "/reset-password", link.Path)
	require.Equal(t, pr.Token, link.Query().Get("token"))

	// The email carries the link in both bodies, and says when it expires.
	m, ok := f.mail.Last()
	require.True(t, ok)
	require.Equal(t, "marcelina.davis@example.com", m.To)
	require.Equal(t, "no-reply@app.example", m.From)
	require.Contains(t, m.Text, pr.URL)
	require.Contains(t, m.HTML, strings.ReplaceAll(pr.URL, "&", "&amp;"))
	require.Contains(t, m.Text, "15 minutes")
	require.Contains(t, m.Text, "Marcelina Davis")
	require.NoError(t, m.Validate())

	// Only the hash is stored, and the read-back has no token.
	stored, err := f.store.ResetByTokenHash(t.Context(), token.Sum(pr.Token))
	require.NoError(t, err)
	require.Equal(t, pr.ID, stored.ID)
	got, err := f.svc.GetPasswordReset(t.Context(), pr.ID)
	require.NoError(t, err)
	require.Empty(t, got.Token)
	require.Empty(t, got.URL)
	require.Equal(t, pr.ExpiresAt, got.ExpiresAt)

	// One event, without the token.
	require.Len(t, f.events, 1)
	require.Equal(t, reset.EventPasswordResetCreated, f.events[0].Event)
	require.Equal(t, pr.ID, f.events[0].Data.ID)
	require.Empty(t, f.events[0].Data.Token)
	require.Equal(t, pr.CreatedAt, f.events[0].CreatedAt)
}

func TestCreatePasswordResetErrors(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	ctx := t.Context()

	_, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "nobody@example.com"})
	require.ErrorIs(t, err, reset.ErrUserNotFound)
	for _, bad := range []string{"", "   ", "not-an-email", "Ana <ana@example.com>", "ana@example.com\r\nBcc: x@example.com"} {
		_, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: bad})
		require.ErrorIs(t, err, reset.ErrInvalidEmail, "%q", bad)
	}
	require.Zero(t, f.mail.Len())
}

func TestRateLimitPerAddress(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	ctx := t.Context()
	for i := range 3 {
		_, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
		require.NoError(t, err, i)
		f.clock.Add(time.Minute)
	}
	_, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ANA@example.com"})
	require.ErrorIs(t, err, reset.ErrRateLimited)
	var rl *reset.RateLimitError
	require.ErrorAs(t, err, &rl)
	require.Equal(t, 12*time.Minute, rl.RetryAfter()) // the first request leaves the window 15 min after it
	require.Equal(t, 3, f.mail.Len())

	// Unknown addresses are limited alike, so a 429 reveals nothing.
	for range 3 {
		_, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ghost@example.com"})
		require.ErrorIs(t, err, reset.ErrUserNotFound)
	}
	_, err = f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ghost@example.com"})
	require.ErrorIs(t, err, reset.ErrRateLimited)

	f.clock.Add(12 * time.Minute)
	f.createReset(t, "ana@example.com")
}

func TestResetPassword(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	ctx := t.Context()
	_, tokA, err := f.sess.Create(ctx, u.ID, session.Metadata{UserAgent: "laptop"})
	require.NoError(t, err)
	_, tokB, err := f.sess.Create(ctx, u.ID, session.Metadata{UserAgent: "phone"})
	require.NoError(t, err)

	pr := f.createReset(t, "ana@example.com")
	f.clock.Add(time.Minute)

	const newPassword = "a brand new passphrase"
	got, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword})
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	require.True(t, got.EmailVerified)

	// Both sessions are gone, in the same transaction.
	_, err = f.sess.Validate(ctx, tokA)
	require.ErrorIs(t, err, session.ErrRevoked)
	_, err = f.sess.Validate(ctx, tokB)
	require.ErrorIs(t, err, session.ErrRevoked)

	// Only the new password works.
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: newPassword})
	require.NoError(t, err)

	// The token is spent.
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "yet another passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidToken)

	// A notice went out after the reset email, and an event.
	msgs := f.mail.Messages()
	require.Len(t, msgs, 2)
	require.Contains(t, msgs[1].Subject, "password was changed")
	require.NotContains(t, msgs[1].Text, pr.Token)
	require.Equal(t, reset.EventPasswordResetSucceeded, f.events[len(f.events)-1].Event)
}

func TestRejectsBadTokensBeforeHashing(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")
	before := f.hasher.Hashes.Load()

	for _, tok := range []string{"", "short", pr.Token + "x", strings.Repeat("!", 43), strings.Repeat("A", 43)} {
		_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: tok, NewPassword: newPassphrase})
		require.ErrorIs(t, err, reset.ErrInvalidToken, "%q", tok)
	}
	f.clock.Add(15 * time.Minute) // exactly the TTL: expired
	_, err := f.svc.ResetPassword(ctx, byLink(pr))
	require.ErrorIs(t, err, reset.ErrTokenExpired)
	_, err = f.svc.CheckToken(ctx, pr.Token)
	require.ErrorIs(t, err, reset.ErrTokenExpired)
	require.Equal(t, before, f.hasher.Hashes.Load(), "no bcrypt work for a rejected token")
}

func TestExpiryBoundary(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	pr := f.createReset(t, "ana@example.com")
	f.clock.Add(15*time.Minute - time.Millisecond)
	_, err := f.svc.ResetPassword(t.Context(), reset.ResetPasswordParams{Token: pr.Token, NewPassword: "in the nick of time"})
	require.NoError(t, err)
}

func TestPolicyFailureKeepsToken(t *testing.T) {
	f := newFixture(t, func(c *reset.Config) {
		c.Policy.Check = func(_ context.Context, pw string, _ password.PolicyUser) error {
			if pw == "Tr0ub4dor&3-breached" {
				return errors.New("This password appears in a list of breached passwords.")
			}
			return nil
		}
	})
	f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")

	cases := map[string]string{
		"short":                 password.ReasonTooShort,
		"ana@example.com":       password.ReasonSameAsEmail,
		strings.Repeat("é", 37): password.ReasonTooLong, // 37 characters, 74 bytes
		"Tr0ub4dor&3-breached":  password.ReasonRejected,
		"password123":           password.ReasonCommon,
		"QwertyUiop":            password.ReasonCommon,
	}
	for pw, code := range cases {
		_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: pw})
		require.ErrorIs(t, err, reset.ErrWeakPassword, pw)
		var pe *password.PolicyError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, code, pe.Reasons[0].Code, pw)
		require.NotContains(t, err.Error(), pw)
	}
	// 72 bytes exactly is fine, and the token still works after the failures.
	_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: strings.Repeat("é", 36)})
	require.NoError(t, err)
}

func TestPasswordsAreNFKCNormalised(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")
	// Full-width letters and digits, as some keyboards type them.
	_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "Ｓｅｃｒｅｔ１２３４"})
	require.NoError(t, err)
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: "Secret1234"})
	require.NoError(t, err)
}

func TestNewResetEndsOlderOnes(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	ctx := t.Context()
	first := f.createReset(t, "ana@example.com")
	second := f.createReset(t, "ana@example.com")
	_, err := f.svc.ResetPassword(ctx, byLink(first))
	require.ErrorIs(t, err, reset.ErrInvalidToken)
	_, err = f.svc.ResetPassword(ctx, byLink(second))
	require.NoError(t, err)
}

func TestConcurrentResetsOneWins(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	pr := f.createReset(t, "ana@example.com")
	var wins, invalid atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := f.svc.ResetPassword(context.Background(), byLink(pr))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, reset.ErrInvalidToken):
				invalid.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, wins.Load())
	require.EqualValues(t, 19, invalid.Load())
}

// revoker is a host's own session store that can be made to fail.
type revoker struct {
	mu    sync.Mutex
	fail  error
	calls []string
}

func (r *revoker) RevokeUserSessions(_ context.Context, userID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, userID)
	return r.fail
}

func TestHostSessionRevokerFailureIsRetried(t *testing.T) {
	rv := &revoker{fail: errors.New("redis: connection refused")}
	f := newFixture(t, func(c *reset.Config) { c.Sessions = rv })
	u := f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")

	got, err := f.svc.ResetPassword(ctx, byLink(pr))
	require.ErrorIs(t, err, reset.ErrSessionsNotRevoked)
	require.Equal(t, u.ID, got.ID, "the password was changed all the same")
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: newPassphrase})
	require.NoError(t, err)

	// Not due yet: nothing runs.
	n, err := f.svc.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	rv.mu.Lock()
	rv.fail = nil
	rv.mu.Unlock()
	f.clock.Add(11 * time.Second)
	n, err = f.svc.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []string{u.ID, u.ID}, rv.calls)

	f.clock.Add(time.Hour)
	n, err = f.svc.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a finished job never runs again")
}

func TestMailFailureIsRetriedNotReported(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	var failing atomic.Bool
	failing.Store(true)
	f.mail.FailWith = func(mail.Message) error {
		if failing.Load() {
			return errors.New("421 try later")
		}
		return nil
	}
	ctx := t.Context()
	pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err, "a mail failure does not change what the caller sees")
	require.Zero(t, f.mail.Len())

	failing.Store(false)
	f.clock.Add(10 * time.Second)
	n, err := f.svc.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	m, ok := f.mail.Last()
	require.True(t, ok)
	require.Contains(t, m.Text, pr.URL, "the queued message opens to the same link")
}

func TestMailGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFixture(t, func(c *reset.Config) { c.Dispatch.MaxAttempts = 3 })
	f.user(t, "ana@example.com")
	var attempts atomic.Int64
	f.mail.FailWith = func(mail.Message) error { attempts.Add(1); return errors.New("421 try later") }
	ctx := t.Context()
	f.createReset(t, "ana@example.com")
	for range 10 {
		f.clock.Add(time.Hour)
		_, err := f.svc.DispatchOnce(ctx)
		require.NoError(t, err)
	}
	require.EqualValues(t, 3, attempts.Load())
}

func TestNoSecretsInLogsOrErrors(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	ctx := t.Context()
	f.mail.FailWith = func(mail.Message) error { return errors.New("450 mailbox busy") }
	pr := f.createReset(t, "ana@example.com")
	const pw = "a secret new passphrase"
	_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "short"})
	require.Error(t, err)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: pw})
	require.NoError(t, err)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: pw})
	require.NotContains(t, err.Error(), pr.Token)
	hash, err := f.store.PasswordHash(ctx, pr.UserID)
	require.NoError(t, err)

	logs := f.logs.String()
	require.Contains(t, logs, pr.ID, "the logs do say what happened")
	for _, secret := range []string{pr.Token, pw, hash, oldPassword, url.QueryEscape(pr.Token)} {
		require.NotContains(t, logs, secret)
	}
}

// claimWatch is memstore telling when a dispatcher first polls it.
type claimWatch struct {
	*memstore.Store
	once   sync.Once
	polled chan struct{}
}

func (s *claimWatch) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Job, error) {
	s.once.Do(func() { close(s.polled) })
	return s.Store.ClaimJobs(ctx, now, lease, max)
}

func TestNoticeLeavesTheRequestPathWhenADispatcherRuns(t *testing.T) {
	st := &claimWatch{Store: memstore.New(), polled: make(chan struct{})}
	f := newFixture(t, func(c *reset.Config) { c.Store = st; c.Dispatch.Interval = time.Hour })
	f.user(t, "ana@example.com")
	release := make(chan struct{})
	f.mail.FailWith = func(m mail.Message) error {
		if strings.Contains(m.Subject, "changed") {
			<-release // a slow mail server
		}
		return nil
	}
	pr := f.createReset(t, "ana@example.com")

	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.svc.RunDispatcher(ctx) }()
	defer func() { close(release); stop(); require.NoError(t, <-done) }()
	<-st.polled // the dispatcher is running

	returned := make(chan error, 1)
	go func() {
		_, err := f.svc.ResetPassword(t.Context(), byLink(pr))
		returned <- err
	}()
	select {
	case err := <-returned:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("ResetPassword waited for the slow mail server")
	}
	require.Equal(t, 1, f.mail.Len(), "the notice is still being sent")

	release <- struct{}{} // the notice goes through
	waitCtx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	msgs, err := f.mail.WaitFor(waitCtx, 2)
	require.NoError(t, err, "the woken dispatcher sends the notice at once, not an hour later")
	require.Contains(t, msgs[1].Subject, "changed")
}

func TestRejectCurrentPassword(t *testing.T) {
	f := newFixture(t, func(c *reset.Config) { c.Policy.RejectCurrent = true })
	f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")
	_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: oldPassword})
	var pe *password.PolicyError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, password.ReasonReused, pe.Reasons[0].Code)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "something else entirely"})
	require.NoError(t, err, "the refusal did not spend the token")

	// Off by default: the same password is accepted.
	g := newFixture(t)
	g.user(t, "ana@example.com")
	pr = g.createReset(t, "ana@example.com")
	_, err = g.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: oldPassword})
	require.NoError(t, err)
}
