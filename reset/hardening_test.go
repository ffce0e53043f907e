package reset_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/token"
)

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ana@example.com", " Ana@Example.COM ", "", "a@b", "Ana <ana@example.com>", "ana@example.com\r\nBcc: x@y", "\"a b\"@example.com", "ünï@exämple.com", strings.Repeat("a", 400) + "@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := reset.NormalizeEmail(in)
		if err != nil {
			require.ErrorIs(t, err, reset.ErrInvalidEmail)
			require.Empty(t, out)
			return
		}
		require.Equal(t, strings.ToLower(out), out)
		require.NotContains(t, out, "\n")
		require.NotContains(t, out, "\r")
		again, err := reset.NormalizeEmail(out)
		require.NoError(t, err, "normalising is idempotent")
		require.Equal(t, out, again)
	})
}

func FuzzCheckToken(f *testing.F) {
	fx := newFixture(f)
	u, err := fx.acct.CreateUser(context.Background(), account.CreateUserParams{Email: "ana@example.com"})
	require.NoError(f, err)
	pr, err := fx.svc.CreatePasswordReset(context.Background(), reset.CreatePasswordResetParams{Email: u.Email})
	require.NoError(f, err)
	for _, s := range []string{"", pr.Token, pr.Token[:42], pr.Token + "=", strings.Repeat("A", 43), "%00", "\x00\xff", strings.Repeat("-", 43), strings.Repeat("x", 10000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := fx.svc.CheckToken(context.Background(), tok)
		if tok == pr.Token {
			require.NoError(t, err)
			require.Equal(t, pr.ID, got.ID)
			return
		}
		require.ErrorIs(t, err, reset.ErrInvalidToken)
	})
}

// faultyStore is memstore with one method made to fail on demand: the
// fault a real database cannot produce at a chosen step.
type faultyStore struct {
	*memstore.Store
	failOn string
}

var errInjected = errors.New("injected store failure")

func (s *faultyStore) fail(method string) error {
	if s.failOn == method {
		return errInjected
	}
	return nil
}

func (s *faultyStore) AllowRequest(ctx context.Context, key string, now time.Time, w time.Duration, n int) (bool, time.Time, error) {
	if err := s.fail("AllowRequest"); err != nil {
		return false, time.Time{}, err
	}
	return s.Store.AllowRequest(ctx, key, now, w, n)
}

func (s *faultyStore) UserByEmail(ctx context.Context, email string) (reset.User, error) {
	if err := s.fail("UserByEmail"); err != nil {
		return reset.User{}, err
	}
	return s.Store.UserByEmail(ctx, email)
}

func (s *faultyStore) CreateReset(ctx context.Context, r store.Reset, jobs []store.Job) error {
	if err := s.fail("CreateReset"); err != nil {
		return err
	}
	return s.Store.CreateReset(ctx, r, jobs)
}

func (s *faultyStore) ResetByTokenHash(ctx context.Context, h token.Hash) (store.Reset, error) {
	if err := s.fail("ResetByTokenHash"); err != nil {
		return store.Reset{}, err
	}
	return s.Store.ResetByTokenHash(ctx, h)
}

func (s *faultyStore) RedeemReset(ctx context.Context, r store.Redemption) (store.Redeemed, error) {
	if err := s.fail("RedeemReset"); err != nil {
		return store.Redeemed{}, err
	}
	return s.Store.RedeemReset(ctx, r)
}

func (s *faultyStore) FinishJob(ctx context.Context, id string, now time.Time) error {
	if err := s.fail("FinishJob"); err != nil {
		return err
	}
	return s.Store.FinishJob(ctx, id, now)
}

func TestFaultsInCreateLeaveNothingBehind(t *testing.T) {
	for _, step := range []string{"AllowRequest", "UserByEmail", "CreateReset"} {
		t.Run(step, func(t *testing.T) {
			fs := &faultyStore{Store: memstore.New()}
			f := newFixture(t, func(c *reset.Config) { c.Store = fs })
			f.user(t, "ana@example.com")
			earlier := f.createReset(t, "ana@example.com")
			f.mail.Reset()

			fs.failOn = step
			_, err := f.svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: "ana@example.com"})
			require.ErrorIs(t, err, errInjected)
			require.Zero(t, f.mail.Len(), "no email for a reset that was not stored")
			fs.failOn = ""
			_, err = f.svc.CheckToken(t.Context(), earlier.Token)
			require.NoError(t, err, "the earlier link still works: nothing was ended")
		})
	}
}

func TestCancelledContextInCreate(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, f.mail.Len())
}

func TestFaultsInRedeemLeaveTokenUsable(t *testing.T) {
	for _, step := range []string{"ResetByTokenHash", "RedeemReset"} {
		t.Run(step, func(t *testing.T) {
			fs := &faultyStore{Store: memstore.New()}
			f := newFixture(t, func(c *reset.Config) { c.Store = fs })
			u := f.user(t, "ana@example.com")
			_, sessTok, err := f.sess.Create(t.Context(), u.ID, session.Metadata{})
			require.NoError(t, err)
			pr := f.createReset(t, "ana@example.com")

			fs.failOn = step
			_, err = f.svc.ResetPassword(t.Context(), byLink(pr))
			require.ErrorIs(t, err, errInjected)
			require.NotContains(t, err.Error(), pr.Token)
			fs.failOn = ""

			_, err = f.sess.Validate(t.Context(), sessTok)
			require.NoError(t, err, "sessions untouched")
			_, err = f.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
			require.NoError(t, err, "password unchanged")
			_, err = f.svc.ResetPassword(t.Context(), byLink(pr))
			require.NoError(t, err, "the token is still usable")
		})
	}
}

func TestFinishJobFailureDoesNotResend(t *testing.T) {
	fs := &faultyStore{Store: memstore.New()}
	f := newFixture(t, func(c *reset.Config) { c.Store = fs })
	f.user(t, "ana@example.com")
	fs.failOn = "FinishJob"
	f.createReset(t, "ana@example.com")
	require.Equal(t, 1, f.mail.Len())
	fs.failOn = ""
	// Within the lease no dispatcher takes the job over.
	f.clock.Add(reset.DefaultLease - time.Millisecond)
	n, err := f.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, 1, f.mail.Len())
}

func TestSealedOutboxNeedsTheSameKey(t *testing.T) {
	st := memstore.New()
	key := []byte(strings.Repeat("k", 32))
	a := newFixture(t, func(c *reset.Config) { c.Store = st; c.SecretKey = key })
	a.user(t, "ana@example.com")
	a.mail.FailWith = func(mail.Message) error { return errors.New("421 later") }
	pr := a.createReset(t, "ana@example.com")

	// Another instance with the same key delivers it, with the same link.
	b := newFixture(t, func(c *reset.Config) { c.Store = st; c.SecretKey = key; c.Now = a.clock.Now })
	a.clock.Add(time.Hour)
	n, err := b.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	m, ok := b.mail.Last()
	require.True(t, ok)
	require.Contains(t, m.Text, pr.URL)

	// An instance with another key cannot open what a queued job holds.
	c := newFixture(t, func(c *reset.Config) {
		c.Store = st
		c.SecretKey = []byte(strings.Repeat("z", 32))
		c.Now = a.clock.Now
	})
	a.createReset(t, "ana@example.com")
	a.clock.Add(time.Hour)
	n, err = c.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, c.mail.Len())
}

func TestJanitorPurges(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	ctx := t.Context()
	spent := f.createReset(t, "ana@example.com")
	_, err := f.svc.ResetPassword(ctx, byLink(spent))
	require.NoError(t, err)
	sess, _, err := f.sess.Create(ctx, u.ID, session.Metadata{})
	require.NoError(t, err)
	require.NoError(t, f.sess.Revoke(ctx, sess.ID))

	f.clock.Add(time.Hour)
	fresh := f.createReset(t, "ana@example.com")

	n, err := f.svc.Purge(ctx, 30*time.Minute)
	require.NoError(t, err)
	require.Positive(t, n)
	_, err = f.svc.GetPasswordReset(ctx, spent.ID)
	require.ErrorIs(t, err, reset.ErrResetNotFound, "spent an hour ago: gone")
	_, err = f.svc.GetPasswordReset(ctx, fresh.ID)
	require.NoError(t, err, "still usable: kept")
	_, err = f.sess.Get(ctx, sess.ID)
	require.ErrorIs(t, err, session.ErrNotFound, "revoked session purged")

	// The janitor purges on its own: a reset spent now is gone once the
	// clock has moved past the retention and a tick has come.
	late := f.createReset(t, "ana@example.com")
	_, err = f.svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: late.Token, NewPassword: "yet another password"})
	require.NoError(t, err)
	f.clock.Add(2 * time.Minute)
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.svc.RunJanitor(jctx, time.Millisecond, time.Minute) }()
	require.Eventually(t, func() bool {
		_, err := f.svc.GetPasswordReset(ctx, late.ID)
		return errors.Is(err, reset.ErrResetNotFound)
	}, 10*time.Second, time.Millisecond, "the janitor never purged the spent reset")
	// The janitor loop stops with its context.
	cancel()
	require.NoError(t, <-done)
}

// TestPurgeRefusesNegativeRetention: a negative retention would put the
// cut-off in the future and delete live resets and sessions; it is refused
// and deletes nothing. A janitor that could not tick is refused too.
func TestPurgeRefusesNegativeRetention(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	u := f.user(t, "ana@example.com")
	pr := f.createReset(t, u.Email)
	sess, _, err := f.sess.Create(ctx, u.ID, session.Metadata{})
	require.NoError(t, err)

	n, err := f.svc.Purge(ctx, -time.Hour)
	require.Error(t, err)
	require.Zero(t, n)
	require.Error(t, f.svc.RunJanitor(ctx, time.Minute, -time.Hour))
	require.Error(t, f.svc.RunJanitor(ctx, 0, time.Hour))
	_, err = f.svc.CheckToken(ctx, pr.Token)
	require.NoError(t, err, "a live reset was purged")
	_, err = f.sess.Get(ctx, sess.ID)
	require.NoError(t, err, "a live session was purged")
}

// TestResetIssuedAheadOfTheClockEnds: a reset issued while the clock ran
// six hours fast is refused, by its link or by its code, once the clock is
// right, and stays refused, by both, when the real time reaches its issue
// time; a new reset, issued by the right clock, works.
func TestResetIssuedAheadOfTheClockEnds(t *testing.T) {
	for _, tc := range []struct {
		by      string
		redeem  func(reset.PasswordReset) reset.ResetPasswordParams
		refused error
	}{
		{"link", byLink, reset.ErrTokenExpired},
		{"code", byCode, reset.ErrInvalidCode},
	} {
		t.Run(tc.by, func(t *testing.T) {
			f := newFixture(t)
			u := f.user(t, "ana@example.com")
			ctx := t.Context()
			right := f.clock.Now()

			f.clock.Set(right.Add(6 * time.Hour))
			fast := f.createReset(t, u.Email)
			f.clock.Set(right)
			_, err := f.svc.ResetPassword(ctx, tc.redeem(fast))
			require.ErrorIs(t, err, tc.refused)
			require.Contains(t, f.logs.String(), "ran ahead")

			f.clock.Set(right.Add(6*time.Hour + time.Minute)) // the issue time has come: still dead
			_, err = f.svc.ResetPassword(ctx, byLink(fast))
			require.ErrorIs(t, err, reset.ErrInvalidToken)
			_, err = f.svc.ResetPassword(ctx, byCode(fast))
			require.ErrorIs(t, err, reset.ErrInvalidCode)

			again := f.createReset(t, u.Email)
			_, err = f.svc.ResetPassword(ctx, byLink(again))
			require.NoError(t, err)
		})
	}
}
