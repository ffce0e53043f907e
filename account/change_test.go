package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// TestChangePassword: the current password is checked, the policy applied,
// the other sessions revoked in the Store's transaction while the one that
// asked is kept with the new stamp, and the notice sent.
func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	ctx := t.Context()
	sm, err := session.New(session.Config{Store: f.store, Stamps: f.svc, Now: f.clock.Now})
	require.NoError(t, err)
	in, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	here, hereTok, err := sm.Create(ctx, u.ID, session.Metadata{Stamp: in.Stamp})
	require.NoError(t, err)
	_, thereTok, err := sm.Create(ctx, u.ID, session.Metadata{Stamp: in.Stamp})
	require.NoError(t, err)
	mails := len(f.mail.Messages())

	_, err = f.acct.ChangePassword(ctx, account.ChangePasswordParams{UserID: u.ID, CurrentPassword: "wrong", NewPassword: "a brand new passphrase", SessionID: here.ID})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	_, err = f.acct.ChangePassword(ctx, account.ChangePasswordParams{UserID: u.ID, CurrentPassword: oldPassword, NewPassword: "qwertyuiop", SessionID: here.ID})
	require.ErrorIs(t, err, reset.ErrWeakPassword)
	pe, _ := errors.AsType[*password.PolicyError](err)
	require.Equal(t, password.ReasonCommon, pe.Reasons[0].Code)
	require.Len(t, f.mail.Messages(), mails, "a refused change sent mail")

	ch, err := f.acct.ChangePassword(ctx, account.ChangePasswordParams{UserID: u.ID, CurrentPassword: oldPassword, NewPassword: "a brand new passphrase", SessionID: here.ID})
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
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: "a brand new passphrase"})
	require.NoError(t, err)
}

// otherRevoker is a host's session library: it records the calls.
type otherRevoker struct{ calls []string }

// The revokers ChangePassword calls through: this test's, and
// session.Manager's, for sessions kept in another store than the Service's.
var (
	_ account.OtherSessionsRevoker = (*otherRevoker)(nil)
	_ account.OtherSessionsRevoker = (*session.Manager)(nil)
)

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
	in, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	ch, err := f.acct.ChangePassword(ctx, account.ChangePasswordParams{UserID: u.ID, CurrentPassword: oldPassword, NewPassword: "a brand new passphrase", SessionID: "scs-token-1"})
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
	h4 := f.hashOf(t, u.ID)
	in4, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	require.Equal(t, h4, f.hashOf(t, u.ID), "a hash at the configured cost is not rehashed")

	// Restart with a higher cost, over the same store.
	upSvc, up := f.restart(t, password.Bcrypt{Cost: 5})
	in5, err := up.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	h5 := f.hashOf(t, u.ID)
	cost, err := bcrypt.Cost([]byte(h5))
	require.NoError(t, err)
	require.Equal(t, 5, cost, "the hash was upgraded")
	require.Equal(t, in4.Stamp, in5.Stamp, "the stamp survives the upgrade")
	ok, err := upSvc.StampMatches(ctx, u.ID, in4.Stamp)
	require.NoError(t, err)
	require.True(t, ok, "a session of before the upgrade stays valid")

	// And on to Argon2id, by configuration alone.
	_, argon := f.restart(t, password.Argon2id{Memory: 64, Time: 1})
	inA, err := argon.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	hA := f.hashOf(t, u.ID)
	require.True(t, strings.HasPrefix(hA, "$argon2id$"), hA)
	require.Equal(t, in4.Stamp, inA.Stamp)
	_, err = argon.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: "wrong password"})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
	// Back to bcrypt: the argon2id hash still signs in, and is moved back.
	inB, err := f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
	require.NoError(t, err)
	require.Equal(t, in4.Stamp, inB.Stamp)
	hB := f.hashOf(t, u.ID)
	require.True(t, strings.HasPrefix(hB, "$2a$04$"), hB)
}

// TestRehashIsConditional: a rehash based on a hash that changed meanwhile
// stores nothing (the store's conditional step), and the sign-in goes on.
func TestRehashIsConditional(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	h4 := f.hashOf(t, u.ID)
	newer, err := password.Bcrypt{Cost: 4}.Hash("a password set meanwhile")
	require.NoError(t, err)
	_, err = f.store.ChangePassword(ctx, store.PasswordChange{UserID: u.ID, OldHash: h4, NewHash: newer, Now: f.clock.Now()})
	require.NoError(t, err)
	up5, err := password.Bcrypt{Cost: 5}.Rehash(h4, oldPassword)
	require.NoError(t, err)
	_, err = f.store.ChangePassword(ctx, store.PasswordChange{UserID: u.ID, OldHash: h4, NewHash: up5, Now: f.clock.Now(), Rehash: true})
	require.ErrorIs(t, err, store.ErrPasswordChanged)
	require.Equal(t, newer, f.hashOf(t, u.ID), "a stale rehash overwrote a new password")
}

// TestChangePasswordEndsResets: a link sent before a password change
// cannot undo it.
func TestChangePasswordEndsResets(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	ctx := t.Context()
	pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	_, err = f.acct.ChangePassword(ctx, account.ChangePasswordParams{UserID: u.ID, CurrentPassword: oldPassword, NewPassword: "a brand new passphrase"})
	require.NoError(t, err)
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "the attacker's passphrase"})
	require.ErrorIs(t, err, reset.ErrInvalidToken)
}
