package reset_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/reset"
)

// TestHostLoginAfterANonASCIIReset: a password set through a reset, typed
// at the host's own login in another Unicode form, is accepted by
// CheckPassword, the one call a host's login makes; a raw bcrypt
// comparison, the trap CheckPassword exists for, refuses it.
func TestHostLoginAfterANonASCIIReset(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	u := f.user(t, "zoe@example.com")
	pr := f.createReset(t, u.Email)
	const atReset = "Zoë's ﬁrst café" // precomposed ë and é, the "ﬁ" ligature
	_, err := f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: atReset})
	require.NoError(t, err)
	hash, err := f.store.PasswordHash(ctx, u.ID)
	require.NoError(t, err)

	const atLogin = "Zoe\u0308's first cafe\u0301" // decomposed, no ligature
	stamp, err := f.svc.CheckPassword(hash, atLogin)
	require.NoError(t, err)
	require.Equal(t, reset.Stamp(hash), stamp)
	require.Error(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte(atLogin)), "raw bytes should not match")

	_, err = f.svc.CheckPassword(hash, "Zoe's first cafe")
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	_, err = f.svc.CheckPassword("", atLogin)
	require.ErrorIs(t, err, reset.ErrInvalidCredentials, "a user without a password")
	_, err = f.svc.CheckPassword("not a hash", atLogin)
	require.Error(t, err)
	require.NotErrorIs(t, err, reset.ErrInvalidCredentials)
}

// TestStamps: a stamp changes with the password and only then; a session's
// stamp stops matching at the reset's commit.
func TestStamps(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	u := f.user(t, "ada@example.com")
	in, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: u.Email, Password: oldPassword})
	require.NoError(t, err)
	require.Len(t, in.Stamp, 22)
	cur, err := f.svc.CurrentStamp(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, in.Stamp, cur)
	again, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: u.Email, Password: oldPassword})
	require.NoError(t, err)
	require.Equal(t, in.Stamp, again.Stamp, "a stamp is stable while the password is")

	ok, err := f.svc.StampMatches(ctx, u.ID, in.Stamp)
	require.NoError(t, err)
	require.True(t, ok)
	for name, c := range map[string]struct{ id, stamp string }{
		"empty stamp":  {u.ID, ""},
		"other stamp":  {u.ID, reset.Stamp("$2a$04$another")},
		"unknown user": {"user_nobody", in.Stamp},
		"no user":      {"", in.Stamp},
	} {
		ok, err := f.svc.StampMatches(ctx, c.id, c.stamp)
		require.NoError(t, err, name)
		require.False(t, ok, name)
	}

	pr := f.createReset(t, u.Email)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a brand new password"})
	require.NoError(t, err)
	ok, err = f.svc.StampMatches(ctx, u.ID, in.Stamp)
	require.NoError(t, err)
	require.False(t, ok, "a stamp from before the reset still matches")
	after, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: u.Email, Password: "a brand new password"})
	require.NoError(t, err)
	require.NotEqual(t, in.Stamp, after.Stamp)
	_, err = f.svc.CurrentStamp(ctx, "user_nobody")
	require.ErrorIs(t, err, reset.ErrUserNotFound)
}
