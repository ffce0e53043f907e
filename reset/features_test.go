package reset_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/reset"
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
	pr := f.createReset(t, "Ana@Example.com")
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
	in, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: "a brand new passphrase"})
	require.NoError(t, err)
	require.Equal(t, u.ID, in.User.ID)

	// Either spends both.
	_, err = f.svc.CheckToken(ctx, pr.Token)
	require.ErrorIs(t, err, reset.ErrInvalidToken)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: code, NewPassword: "another passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidCode)

	pr2 := f.createReset(t, "ana@example.com")
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
		pr := f.createReset(t, "ana@example.com")
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
		_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new passphrase"})
		require.ErrorIs(t, err, reset.ErrInvalidToken)
		_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
		require.NoError(t, err, "the password is unchanged")
	}
}

// TestCodeExpiresBeforeTheLink: the code lives 10 minutes; the link, 15,
// outlives it.
func TestCodeExpiresBeforeTheLink(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")
	last, _ := f.mail.Last()
	require.Contains(t, last.Text, "enter this code within 10 minutes")
	f.clock.Add(reset.MaxCodeTTL)
	_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "ana@example.com", Code: pr.Code, NewPassword: "a brand new passphrase"})
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
	pr := f.createReset(t, "ana@example.com")
	for _, email := range []string{"ana@example.com", "bo@example.com", "nobody@example.com"} {
		_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: email, Code: wrongCode(pr.Code), NewPassword: "a brand new passphrase"})
		require.Equal(t, reset.ErrInvalidCode, err, email)
	}
	_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "not an address", Code: "12345678", NewPassword: "a brand new passphrase"})
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
	pr := f.createReset(t, "ana@example.com")
	for _, email := range []string{"ana@example.com", "nobody@example.com"} {
		for range 3 {
			_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: email, Code: "00000000", NewPassword: "a brand new passphrase"})
			require.ErrorIs(t, err, reset.ErrInvalidCode)
		}
		_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: email, Code: pr.Code, NewPassword: "a brand new passphrase"})
		require.ErrorIs(t, err, reset.ErrRateLimited, email)
	}
	f.clock.Add(time.Hour)
	_, err := f.svc.CheckToken(ctx, pr.Token)
	require.ErrorIs(t, err, reset.ErrTokenExpired)
}
