package pgstore_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/pgstore"
)

// The MultiInstance tests run the reset flow on two app instances, each
// with its own Service and its own pool on one database: what an app on
// more than one machine does.

// fastHasher stands in for bcrypt, so that hashing does not dominate.
type fastHasher struct{}

func (fastHasher) Hash(password string) (string, error) {
	sum := sha256.Sum256([]byte(password))
	return "sha256$" + hex.EncodeToString(sum[:]), nil
}

func (h fastHasher) Compare(hash, password string) error {
	if want, _ := h.Hash(password); want != hash {
		return reset.ErrInvalidCredentials
	}
	return nil
}

type instance struct {
	store    *pgstore.Store
	svc      *reset.Service
	acct     *account.Service
	sessions *session.Manager
	mail     *mailtest.Recorder
}

// newInstances returns n instances on one fresh schema, sharing a secret
// key as the instances of one app do.
func newInstances(t *testing.T, n int) []instance {
	t.Helper()
	schema := freshSchema(t)
	key := []byte(rand.Text() + rand.Text())
	insts := make([]instance, n)
	for i := range insts {
		st := newStoreIn(t, schema)
		sm, err := session.New(session.Config{Store: st})
		require.NoError(t, err)
		rec := new(mailtest.Recorder)
		svc, err := reset.NewService(reset.Config{
			Store:     st,
			Mailer:    rec,
			ResetURL:  "https://app.example/reset-password",
			Hasher:    fastHasher{},
			SecretKey: key,
			Logger:    slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		acct, err := account.New(svc, account.Config{})
		require.NoError(t, err)
		insts[i] = instance{store: st, svc: svc, acct: acct, sessions: sm, mail: rec}
	}
	return insts
}

func TestMultiInstanceRedeemOnOtherInstance(t *testing.T) {
	insts := newInstances(t, 2)
	a, b := insts[0], insts[1]
	ctx := t.Context()
	u, err := a.acct.CreateUser(ctx, account.CreateUserParams{Email: "marcelina.davis@example.com", Password: "old password 1"})
	require.NoError(t, err)

	pr, err := a.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "Marcelina.Davis@example.com"})
	require.NoError(t, err)
	require.Equal(t, 1, a.mail.Len())

	got, err := b.svc.GetPasswordReset(ctx, pr.ID)
	require.NoError(t, err)
	require.Equal(t, u.ID, got.UserID)

	user, err := b.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "new password 2"})
	require.NoError(t, err)
	require.Equal(t, u.ID, user.ID)
	require.True(t, user.EmailVerified)

	_, err = a.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "new password 3"})
	require.ErrorIs(t, err, reset.ErrInvalidToken, "the token was spent on the other instance")

	_, err = a.acct.Authenticate(ctx, account.AuthenticateParams{Email: "marcelina.davis@example.com", Password: "new password 2"})
	require.NoError(t, err)
	_, err = a.acct.Authenticate(ctx, account.AuthenticateParams{Email: "marcelina.davis@example.com", Password: "old password 1"})
	require.ErrorIs(t, err, reset.ErrInvalidCredentials)
}

// TestMultiInstanceConcurrentRedemption redeems one token 100 times at once,
// half through each instance: exactly one redemption wins.
func TestMultiInstanceConcurrentRedemption(t *testing.T) {
	insts := newInstances(t, 2)
	ctx := t.Context()
	u, err := insts[0].acct.CreateUser(ctx, account.CreateUserParams{Email: "ana@example.com"})
	require.NoError(t, err)
	pr, err := insts[1].svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)

	const n = 100
	errs := make([]error, n)
	users := make([]reset.User, n)
	passwords := make([]string, n)
	for i := range passwords {
		passwords[i] = "new password " + rand.Text()
	}
	testfix.Concurrently(n, func(i int) {
		users[i], errs[i] = insts[i%2].svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: passwords[i]})
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			require.Equal(t, -1, winner, "two redemptions won: %d and %d", winner, i)
			winner = i
		case !errors.Is(err, reset.ErrInvalidToken):
			t.Errorf("redemption %d: %v, want ErrInvalidToken", i, err)
		}
	}
	require.NotEqual(t, -1, winner, "no redemption won")
	require.Equal(t, u.ID, users[winner].ID)

	// The stored hash is the winner's.
	h, err := insts[0].store.PasswordHash(ctx, u.ID)
	require.NoError(t, err)
	require.NoError(t, fastHasher{}.Compare(h, password.Normalize(passwords[winner])))
	// The reset email and one password-changed notice, no more.
	require.Equal(t, 2, insts[0].mail.Len()+insts[1].mail.Len())
}

// TestMultiInstanceSessionsRevoked: sessions created through one instance's
// session.Manager are revoked by a reset redeemed through the other.
func TestMultiInstanceSessionsRevoked(t *testing.T) {
	insts := newInstances(t, 2)
	a, b := insts[0], insts[1]
	ctx := t.Context()
	u, err := a.acct.CreateUser(ctx, account.CreateUserParams{Email: "ana@example.com", Password: "old password 1"})
	require.NoError(t, err)
	other, err := a.acct.CreateUser(ctx, account.CreateUserParams{Email: "bob@example.com"})
	require.NoError(t, err)

	_, tokA, err := a.sessions.Create(ctx, u.ID, session.Metadata{UserAgent: "laptop"})
	require.NoError(t, err)
	_, tokB, err := b.sessions.Create(ctx, u.ID, session.Metadata{UserAgent: "phone"})
	require.NoError(t, err)
	_, tokOther, err := a.sessions.Create(ctx, other.ID, session.Metadata{})
	require.NoError(t, err)
	_, err = b.sessions.Validate(ctx, tokA)
	require.NoError(t, err, "a session is valid on every instance")

	pr, err := a.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	_, err = b.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "new password 2"})
	require.NoError(t, err)

	for _, m := range []*session.Manager{a.sessions, b.sessions} {
		for _, tok := range []string{tokA, tokB} {
			_, err := m.Validate(ctx, tok)
			require.ErrorIs(t, err, session.ErrRevoked)
		}
		_, err := m.Validate(ctx, tokOther)
		require.NoError(t, err, "another user's session was revoked")
	}
}
