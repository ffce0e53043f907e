package reset_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
)

// codeIn returns the code of the last email, as the email shows it.
func (f *fixture) codeIn(t *testing.T) string {
	t.Helper()
	m, _ := f.mail.Last()
	code := regexp.MustCompile(`(?m)^    (\d{4} \d{4})$`).FindStringSubmatch(m.Text)
	require.NotNil(t, code, "the email shows no code:\n%s", m.Text)
	require.Contains(t, m.HTML, code[1])
	return code[1]
}

// wrongCode is a code that is not code.
func wrongCode(code string) string {
	d := []byte(strings.ReplaceAll(code, " ", ""))
	d[0] = '0' + (d[0]-'0'+1)%10
	return string(d)
}

// TestResetByCode: the email carries the link and an 8-digit code; the
// code, typed with the address (in another case, with its space or
// without), sets the password, and spends the link with it.
func TestResetByCode(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	ctx := t.Context()
	pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "Ana@Example.com"})
	require.NoError(t, err)
	require.Regexp(t, `^\d{8}$`, pr.Code)
	f.evMu.Lock()
	for _, e := range f.events {
		require.Empty(t, e.Data.Code, "an event carried the code")
		require.Empty(t, e.Data.Token)
	}
	require.NotEmpty(t, f.events)
	f.evMu.Unlock()
	code := f.codeIn(t)
	require.Equal(t, reset.FormatCode(pr.Code), code)
	last, _ := f.mail.Last()
	require.Contains(t, last.Text, pr.URL)

	got, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: " ANA@example.com", Code: "  " + strings.ReplaceAll(code, " ", "-"), NewPassword: "a brand new passphrase"})
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	in, err := f.svc.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: "a brand new passphrase"})
	require.NoError(t, err)
	require.Equal(t, u.ID, in.User.ID)

	// Either spends both.
	_, err = f.svc.CheckToken(ctx, pr.Token)
	require.ErrorIs(t, err, reset.ErrInvalidToken)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: code, NewPassword: "another passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidCode)

	pr2, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr2.Token, NewPassword: "a third passphrase"})
	require.NoError(t, err)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: pr2.Code, NewPassword: "a fourth passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidCode, "the link spent the code")
}

// TestCodeDiesAfterFiveWrongGuesses: four wrong guesses leave the code and
// the link usable; the fifth kills both, the right code included.
func TestCodeDiesAfterFiveWrongGuesses(t *testing.T) {
	ctx := t.Context()
	for _, wrong := range []int{reset.CodeTries - 1, reset.CodeTries} {
		f := newFixture(t)
		f.user(t, "ana@example.com")
		pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
		require.NoError(t, err)
		for range wrong {
			_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: wrongCode(pr.Code), NewPassword: "a brand new passphrase"})
			require.ErrorIs(t, err, reset.ErrInvalidCode)
		}
		_, linkErr := f.svc.CheckToken(ctx, pr.Token)
		_, codeErr := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: pr.Code, NewPassword: "a brand new passphrase"})
		if wrong < reset.CodeTries {
			require.NoError(t, linkErr, "after %d wrong guesses", wrong)
			require.NoError(t, codeErr, "after %d wrong guesses the right code works", wrong)
			continue
		}
		require.ErrorIs(t, linkErr, reset.ErrInvalidToken, "the link dies with the code")
		require.ErrorIs(t, codeErr, reset.ErrInvalidCode)
		_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new passphrase"})
		require.ErrorIs(t, err, reset.ErrInvalidToken)
		_, err = f.svc.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
		require.NoError(t, err, "the password is unchanged")
	}
}

// TestCodeExpiresBeforeTheLink: the code lives 10 minutes; the link, 15,
// outlives it.
func TestCodeExpiresBeforeTheLink(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	ctx := t.Context()
	pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	last, _ := f.mail.Last()
	require.Contains(t, last.Text, "enter this code within 10 minutes")
	f.clock.Add(reset.MaxCodeTTL)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: pr.Code, NewPassword: "a brand new passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidCode)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new passphrase"})
	require.NoError(t, err)

	_, err = reset.NewService(reset.Config{Store: f.store, Mailer: f.mail, ResetURL: "https://app.example/r", CodeTTL: 11 * time.Minute})
	require.ErrorContains(t, err, "CodeTTL")
}

// TestWrongCodeAnswersAlike: a wrong code gets one answer whether the
// address has an account with a live code, an account without one, no
// account, or is malformed; the per-address limit counts them all alike;
// a weak password is refused before the code is looked at, so it costs
// no try.
func TestWrongCodeAnswersAlike(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	f.user(t, "bo@example.com")
	ctx := t.Context()
	pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	for _, email := range []string{"ana@example.com", "bo@example.com", "nobody@example.com"} {
		_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: email, Code: wrongCode(pr.Code), NewPassword: "a brand new passphrase"})
		require.Equal(t, reset.ErrInvalidCode, err, email)
	}
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "not an address", Code: "12345678", NewPassword: "a brand new passphrase"})
	require.Equal(t, reset.ErrInvalidCode, err)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: "1234", NewPassword: "a brand new passphrase"})
	require.Equal(t, reset.ErrInvalidCode, err)

	// A refused password uses no try: CodeTries of them, then the code works.
	for range reset.CodeTries {
		_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: wrongCode(pr.Code), NewPassword: "password123"})
		require.ErrorIs(t, err, reset.ErrWeakPassword)
	}
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: pr.Code, NewPassword: "a brand new passphrase"})
	require.NoError(t, err)

	// The store holds neither the code nor the address as the key.
	r, err := f.store.ResetByID(ctx, pr.ID)
	require.NoError(t, err)
	require.NotContains(t, r.Code.Key, "ana")
	require.NotContains(t, string(r.Code.Hash[:]), pr.Code)
	require.NotContains(t, f.logs.String(), pr.Code)
}

// TestCodeGuessesLimitedPerAddress: past Config.CodeLimit, guesses at an
// address are refused without being checked, known or unknown alike.
func TestCodeGuessesLimitedPerAddress(t *testing.T) {
	f := newFixture(t, func(c *reset.Config) { c.CodeLimit = reset.RateLimit{Limit: 3, Window: time.Hour} })
	f.user(t, "ana@example.com")
	ctx := t.Context()
	pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	for _, email := range []string{"ana@example.com", "nobody@example.com"} {
		for range 3 {
			_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: email, Code: "00000000", NewPassword: "a brand new passphrase"})
			require.ErrorIs(t, err, reset.ErrInvalidCode)
		}
		_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: email, Code: pr.Code, NewPassword: "a brand new passphrase"})
		require.ErrorIs(t, err, reset.ErrRateLimited, email)
	}
	f.clock.Add(time.Hour)
	_, err = f.svc.CheckToken(ctx, pr.Token)
	require.ErrorIs(t, err, reset.ErrTokenExpired)
}

// TestChangePassword: the current password is checked, the policy applied,
// the other sessions revoked in the Store's transaction while the one that
// asked is kept with the new stamp, and the notice sent.
func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	ctx := t.Context()
	sm, err := session.New(session.Config{Store: f.store, Stamps: f.svc, Now: f.clock.Now})
	require.NoError(t, err)
	in, err := f.svc.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	here, hereTok, err := sm.Create(ctx, u.ID, session.Metadata{Stamp: in.Stamp})
	require.NoError(t, err)
	_, thereTok, err := sm.Create(ctx, u.ID, session.Metadata{Stamp: in.Stamp})
	require.NoError(t, err)
	mails := len(f.mail.Messages())

	_, err = f.svc.ChangePassword(ctx, reset.ChangePasswordParams{UserID: u.ID, CurrentPassword: "wrong", NewPassword: "a brand new passphrase", SessionID: here.ID})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	_, err = f.svc.ChangePassword(ctx, reset.ChangePasswordParams{UserID: u.ID, CurrentPassword: oldPassword, NewPassword: "qwertyuiop", SessionID: here.ID})
	require.ErrorIs(t, err, reset.ErrWeakPassword)
	pe, _ := errors.AsType[*password.PolicyError](err)
	require.Equal(t, password.ReasonCommon, pe.Reasons[0].Code)
	require.Len(t, f.mail.Messages(), mails, "a refused change sent mail")

	ch, err := f.svc.ChangePassword(ctx, reset.ChangePasswordParams{UserID: u.ID, CurrentPassword: oldPassword, NewPassword: "a brand new passphrase", SessionID: here.ID})
	require.NoError(t, err)
	require.Equal(t, 1, ch.SessionsRevoked)
	require.NotEqual(t, in.Stamp, ch.Stamp)
	_, err = sm.Validate(ctx, hereTok)
	require.NoError(t, err, "the session that asked stays signed in")
	_, err = sm.Validate(ctx, thereTok)
	require.ErrorIs(t, err, session.ErrRevoked)
	kept, err := sm.Get(ctx, here.ID)
	require.NoError(t, err)
	require.Equal(t, ch.Stamp, kept.Stamp, "the session that asked carries the new stamp")

	notice, _ := f.mail.Last()
	require.Contains(t, notice.Subject, "password was changed")
	require.Contains(t, notice.Text, "but the one\nthat changed it")
	_, err = f.svc.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	_, err = f.svc.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: "a brand new passphrase"})
	require.NoError(t, err)
}

// otherRevoker is a host's session library: it records the calls.
type otherRevoker struct{ calls []string }

func (r *otherRevoker) RevokeUserSessions(_ context.Context, userID string) error {
	r.calls = append(r.calls, "all "+userID)
	return nil
}

func (r *otherRevoker) RevokeOtherSessions(_ context.Context, userID, keep string) error {
	r.calls = append(r.calls, "others "+userID+" keep "+keep)
	return nil
}

// TestChangePasswordThroughRevoker: with sessions elsewhere, the host's
// OtherSessionsRevoker is called with the session to keep, and the stamp
// of every old session stops matching while the new one does.
func TestChangePasswordThroughRevoker(t *testing.T) {
	rev := new(otherRevoker)
	f := newFixture(t, func(c *reset.Config) { c.Sessions = rev })
	u := f.user(t, "ana@example.com")
	ctx := t.Context()
	in, err := f.svc.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	ch, err := f.svc.ChangePassword(ctx, reset.ChangePasswordParams{UserID: u.ID, CurrentPassword: oldPassword, NewPassword: "a brand new passphrase", SessionID: "scs-token-1"})
	require.NoError(t, err)
	require.Equal(t, []string{"others " + u.ID + " keep scs-token-1"}, rev.calls)
	ok, err := f.svc.StampMatches(ctx, u.ID, in.Stamp)
	require.NoError(t, err)
	require.False(t, ok, "an old session's stamp")
	ok, err = f.svc.StampMatches(ctx, u.ID, ch.Stamp)
	require.NoError(t, err)
	require.True(t, ok, "the new stamp")
}

// TestRehashOnSignIn: raising the bcrypt cost, or moving to Argon2id,
// upgrades the stored hash at the next sign-in, without changing the
// credential stamp (so no session ends); an up-to-date hash is left alone;
// a password changed meanwhile is not overwritten.
func TestRehashOnSignIn(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	h4, err := f.store.PasswordHash(ctx, u.ID)
	require.NoError(t, err)
	in4, err := f.svc.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	again, err := f.store.PasswordHash(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, h4, again, "a hash at the configured cost is not rehashed")

	// Restart with a higher cost, over the same store.
	up, err := reset.NewService(reset.Config{Store: f.store, Mailer: f.mail, ResetURL: "https://app.example/r", Hasher: password.Bcrypt{Cost: 5}, Now: f.clock.Now})
	require.NoError(t, err)
	in5, err := up.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	h5, err := f.store.PasswordHash(ctx, u.ID)
	require.NoError(t, err)
	cost, err := bcrypt.Cost([]byte(h5))
	require.NoError(t, err)
	require.Equal(t, 5, cost, "the hash was upgraded")
	require.Equal(t, in4.Stamp, in5.Stamp, "the stamp survives the upgrade")
	ok, err := up.StampMatches(ctx, u.ID, in4.Stamp)
	require.NoError(t, err)
	require.True(t, ok, "a session of before the upgrade stays valid")

	// And on to Argon2id, by configuration alone.
	argon, err := reset.NewService(reset.Config{Store: f.store, Mailer: f.mail, ResetURL: "https://app.example/r",
		Hasher: password.Argon2id{Memory: 64, Time: 1}, Now: f.clock.Now})
	require.NoError(t, err)
	inA, err := argon.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	hA, err := f.store.PasswordHash(ctx, u.ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(hA, "$argon2id$"), hA)
	require.Equal(t, in4.Stamp, inA.Stamp)
	_, err = argon.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: "wrong password"})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	// Back to bcrypt: the argon2id hash still signs in, and is moved back.
	inB, err := f.svc.Authenticate(ctx, reset.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	require.Equal(t, in4.Stamp, inB.Stamp)
	hB, _ := f.store.PasswordHash(ctx, u.ID)
	require.True(t, strings.HasPrefix(hB, "$2a$04$"), hB)
}

// TestRehashIsConditional: a rehash based on a hash that changed meanwhile
// stores nothing (the store's conditional step), and the sign-in goes on.
func TestRehashIsConditional(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	h4, err := f.store.PasswordHash(ctx, u.ID)
	require.NoError(t, err)
	newer, err := password.Bcrypt{Cost: 4}.Hash("a password set meanwhile")
	require.NoError(t, err)
	_, err = f.store.ChangePassword(ctx, store.PasswordChange{UserID: u.ID, OldHash: h4, NewHash: newer, Now: f.clock.Now()})
	require.NoError(t, err)
	up5, err := password.Bcrypt{Cost: 5}.Rehash(h4, oldPassword)
	require.NoError(t, err)
	_, err = f.store.ChangePassword(ctx, store.PasswordChange{UserID: u.ID, OldHash: h4, NewHash: up5, Now: f.clock.Now(), Rehash: true})
	require.ErrorIs(t, err, store.ErrPasswordChanged)
	got, _ := f.store.PasswordHash(ctx, u.ID)
	require.Equal(t, newer, got, "a stale rehash overwrote a new password")
}
