package session_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/memstore"
)

// TestStampEndsSessionsAfterAPasswordChange: with Config.Stamps, a session
// made with the stamp of the password a sign-in checked stops validating
// once the password changes, even one created after the change committed
// (a sign-in that had passed its comparison first), and is then revoked in
// the Store. A session made without a stamp is not checked.
func TestStampEndsSessionsAfterAPasswordChange(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	svc, err := reset.NewService(reset.Config{Store: st, Mailer: new(mailtest.Recorder), ResetURL: "https://app.example/reset-password",
		Hasher: password.Bcrypt{Cost: 4}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	accounts, err := account.New(svc, account.Config{})
	require.NoError(t, err)
	m, err := session.New(session.Config{Store: st, Stamps: svc})
	require.NoError(t, err)
	u, err := accounts.CreateUser(ctx, account.CreateUserParams{Email: "ada@example.com", Password: "an old password"})
	require.NoError(t, err)

	in, err := accounts.Authenticate(ctx, account.AuthenticateParams{Email: "ada@example.com", Password: "an old password"})
	require.NoError(t, err)
	before, beforeTok, err := m.Create(ctx, u.ID, session.Metadata{Stamp: in.Stamp})
	require.NoError(t, err)
	require.Equal(t, in.Stamp, before.Stamp)
	_, unstampedTok, err := m.Create(ctx, u.ID, session.Metadata{})
	require.NoError(t, err)
	_, err = m.Validate(ctx, beforeTok)
	require.NoError(t, err)

	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: u.Email})
	require.NoError(t, err)
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a new password"})
	require.NoError(t, err)

	// The sign-in that checked the old password before the reset
	// committed creates its session only now.
	late, lateTok, err := m.Create(ctx, u.ID, session.Metadata{Stamp: in.Stamp})
	require.NoError(t, err)
	for _, tok := range []string{beforeTok, lateTok} {
		_, err = m.Validate(ctx, tok)
		require.ErrorIs(t, err, session.ErrRevoked)
		_, _, err = m.Refresh(ctx, tok)
		require.ErrorIs(t, err, session.ErrRevoked)
	}
	got, err := m.Get(ctx, late.ID)
	require.NoError(t, err)
	require.False(t, got.RevokedAt.IsZero(), "a stale session was not revoked in the Store")

	// memstore revoked the unstamped session in the reset's transaction;
	// the stamp check did not see it.
	_, err = m.Validate(ctx, unstampedTok)
	require.ErrorIs(t, err, session.ErrRevoked)

	in, err = accounts.Authenticate(ctx, account.AuthenticateParams{Email: "ada@example.com", Password: "a new password"})
	require.NoError(t, err)
	_, tok, err := m.Create(ctx, u.ID, session.Metadata{Stamp: in.Stamp})
	require.NoError(t, err)
	_, err = m.Validate(ctx, tok)
	require.NoError(t, err, "a session of the new password")
}

// stampFunc is a StampChecker that can fail on demand: a Store outage the
// real Service would report.
type stampFunc func(ctx context.Context, userID, stamp string) (bool, error)

func (f stampFunc) StampMatches(ctx context.Context, userID, stamp string) (bool, error) {
	return f(ctx, userID, stamp)
}

// TestStampCheckFailsClosed: when the stamp cannot be checked, Validate
// fails and Middleware answers 500, neither signed in nor out.
func TestStampCheckFailsClosed(t *testing.T) {
	outage := errors.New("database is down")
	f := newFixture(t, func(c *session.Config) {
		c.Stamps = stampFunc(func(context.Context, string, string) (bool, error) { return false, outage })
	})
	_, tok, err := f.m.Create(t.Context(), "user_1", session.Metadata{Stamp: "stamp"})
	require.NoError(t, err)
	_, err = f.m.Validate(t.Context(), tok)
	require.ErrorIs(t, err, outage)

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: tok})
	rec := httptest.NewRecorder()
	served := false
	f.m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true })).ServeHTTP(rec, req)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.False(t, served)
}
