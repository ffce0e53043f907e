package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
)

// withSetEmail runs fn when the harness can change a user's email, and
// skips otherwise.
func withSetEmail(fn func(*testing.T, *subject)) func(*testing.T, *subject) {
	return func(t *testing.T, st *subject) {
		if st.h.SetEmail == nil {
			t.Skip("the harness cannot change a user's email (Harness.SetEmail)")
		}
		fn(t, st)
	}
}

// testRedeemAfterEmailChange: a reset sent to an address the user no
// longer has is refused, and changes nothing; once the address is the
// user's again, the same reset works.
func testRedeemAfterEmailChange(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	r := seedReset(t, st, u, base)
	sessions := sessionsOf(t, st, u.ID, base)
	moved := u
	moved.Email = "moved." + u.Email
	st.h.SetEmail(t, st.Store, u.ID, moved.Email)
	now := base.Add(time.Minute)

	_, err := st.RedeemReset(ctx, redemption(r, now))
	require.ErrorIs(t, err, store.ErrInvalidToken, "a reset spent after its address left the user")
	requireNotRedeemed(t, st, moved, r, now, sessions...)

	st.h.SetEmail(t, st.Store, u.ID, u.Email)
	out, err := st.RedeemReset(ctx, redemption(r, now))
	require.NoError(t, err, "the address is the user's again")
	require.Equal(t, u.ID, out.User.ID)
}

// testRedeemUserDeleted: a reset whose user the host deleted is refused
// as a user not found, and is not spent.
func testRedeemUserDeleted(t *testing.T, st *subject) {
	if st.h.DeleteUser == nil {
		t.Skip("the harness cannot delete a user (Harness.DeleteUser)")
	}
	ctx := t.Context()
	u := seedUser(t, st)
	r := seedReset(t, st, u, base)
	st.h.DeleteUser(t, st.Store, u.ID)
	now := base.Add(time.Minute)

	_, err := st.RedeemReset(ctx, redemption(r, now))
	require.ErrorIs(t, err, store.ErrUserNotFound)
	got := resetByID(t, st, r.ID)
	require.True(t, got.UsedAt.IsZero(), "a redemption of a deleted user spent the reset")
	require.NoError(t, got.Status(now))
}

// testEndResets: EndResets ends the user's unspent resets at now (expired
// ones too), leaves spent ones and other users' alone, and says how many.
func testEndResets(t *testing.T, st *subject) {
	ctx := t.Context()
	u, other := seedUser(t, st), seedUser(t, st)
	spent := seedReset(t, st, u, base)
	_, err := st.RedeemReset(ctx, redemption(spent, base.Add(time.Minute)))
	require.NoError(t, err)
	live := seedReset(t, st, u, base.Add(2*time.Minute))
	others := seedReset(t, st, other, base.Add(2*time.Minute))
	now := base.Add(3 * time.Minute)

	n, err := st.EndResets(ctx, u.ID, now)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got := resetByID(t, st, live.ID)
	requireSameTime(t, now, got.EndedAt, "EndedAt")
	require.True(t, got.UsedAt.IsZero())
	_, err = st.RedeemReset(ctx, redemption(live, now))
	require.ErrorIs(t, err, store.ErrInvalidToken, "an ended reset was spent")

	got = resetByID(t, st, spent.ID)
	require.True(t, got.EndedAt.IsZero(), "a spent reset was ended")
	got = resetByID(t, st, others.ID)
	require.NoError(t, got.Status(now), "another user's reset was ended")

	n, err = st.EndResets(ctx, u.ID, now.Add(time.Minute))
	require.NoError(t, err)
	require.Zero(t, n, "ended twice")
	n, err = st.EndResets(ctx, newID("user_"), now)
	require.NoError(t, err, "an unknown user")
	require.Zero(t, n)

	// An expired reset is ended too: it is outstanding until then.
	expired := seedReset(t, st, other, base.Add(-2*ttl))
	n, err = st.EndResets(ctx, other.ID, now)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the expired reset (the older one was ended by CreateReset)")
	got = resetByID(t, st, expired.ID)
	requireSameTime(t, now, got.EndedAt, "EndedAt of the expired reset")
}

// testRetiredTokenRevokes: a hash that RotateSessionToken replaced finds
// and revokes its session; the current hash, an unknown one, or a hash
// whose rotation failed, does not.
func testRetiredTokenRevokes(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	uid := seedUser(t, st.subject).ID
	s, first := seedSession(t, st, uid, base)
	other, _ := seedSession(t, st, uid, base)
	second, third := newSessionHash(), newSessionHash()
	require.NoError(t, st.RotateSessionToken(ctx, s.ID, first, second, base.Add(time.Minute)))
	require.NoError(t, st.RotateSessionToken(ctx, s.ID, second, third, base.Add(2*time.Minute)))
	// A rotation that fails retires nothing.
	never := newSessionHash()
	require.ErrorIs(t, st.RotateSessionToken(ctx, s.ID, never, newSessionHash(), base.Add(2*time.Minute)), session.ErrNotFound)

	for name, h := range map[string][32]byte{"the current hash": third, "an unknown hash": newSessionHash(), "a hash never rotated in": never} {
		_, err := st.RevokeRetiredToken(ctx, h, base.Add(3*time.Minute))
		require.ErrorIs(t, err, session.ErrNotFound, name)
	}
	got, err := st.SessionByTokenHash(ctx, third)
	require.NoError(t, err)
	require.True(t, got.RevokedAt.IsZero(), "a lookup that found nothing revoked the session")

	at := base.Add(4 * time.Minute)
	got, err = st.RevokeRetiredToken(ctx, first, at) // the oldest retired hash still counts
	require.NoError(t, err)
	require.Equal(t, s.ID, got.ID)
	requireSameTime(t, at, got.RevokedAt, "RevokedAt")
	got, err = st.SessionByTokenHash(ctx, third)
	require.NoError(t, err)
	requireSameTime(t, at, got.RevokedAt, "RevokedAt of the session found by its current hash")
	err = st.RotateSessionToken(ctx, s.ID, third, newSessionHash(), at.Add(time.Minute))
	require.ErrorIs(t, err, session.ErrNotFound, "the current token of a revoked session still rotates")

	got, err = st.RevokeRetiredToken(ctx, second, at.Add(time.Minute))
	require.NoError(t, err)
	requireSameTime(t, at, got.RevokedAt, "a second reuse moved RevokedAt")

	o, err := st.SessionByID(ctx, other.ID)
	require.NoError(t, err)
	require.True(t, o.RevokedAt.IsZero(), "another session of the user was revoked")
}

// testRetiredTokensPurged: the retired hashes go with their session.
func testRetiredTokensPurged(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	uid := seedUser(t, st.subject).ID
	s, first := seedSession(t, st, uid, base)
	require.NoError(t, st.RotateSessionToken(ctx, s.ID, first, newSessionHash(), base.Add(time.Minute)))
	kept, keptFirst := seedSession(t, st, uid, base)
	require.NoError(t, st.RotateSessionToken(ctx, kept.ID, keptFirst, newSessionHash(), base.Add(time.Minute)))
	require.NoError(t, st.RevokeSession(ctx, s.ID, base.Add(2*time.Minute)))

	n, err := st.PurgeSessions(ctx, base.Add(3*time.Minute))
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	_, err = st.RevokeRetiredToken(ctx, first, base.Add(4*time.Minute))
	require.ErrorIs(t, err, session.ErrNotFound, "a purged session's retired hash is still kept")
	got, err := st.RevokeRetiredToken(ctx, keptFirst, base.Add(4*time.Minute))
	require.NoError(t, err, "a live session's retired hash went with another's purge")
	require.Equal(t, kept.ID, got.ID)
}

// testAllowIgnoresFutureRecords: requests recorded by a clock six hours
// ahead (one that ran fast, or this one before it was stepped back) do not
// limit a caller whose clock says now; within store.MaxClockSkew they
// still count, and the retry time they give is at most one window away.
func testAllowIgnoresFutureRecords(t *testing.T, st *subject) {
	ctx := t.Context()
	key, window, limit := "k_"+newID(""), 15*time.Minute, 3
	ahead := base.Add(6 * time.Hour)
	for i := range limit {
		ok, _, err := st.AllowRequest(ctx, key, ahead.Add(time.Duration(i)*ms), window, limit)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, _, err := st.AllowRequest(ctx, key, ahead, window, limit)
	require.NoError(t, err)
	require.False(t, ok, "the fast clock's own requests are limited")

	n, _, err := st.CountRequests(ctx, key, base, window)
	require.NoError(t, err)
	require.Zero(t, n, "records six hours ahead counted")
	for i := range limit {
		ok, retryAt, err := st.AllowRequest(ctx, key, base.Add(time.Duration(i)*ms), window, limit)
		require.NoError(t, err)
		require.True(t, ok, "request %d of %d, six hours before the records (retryAt %s)", i+1, limit, retryAt)
	}

	// Within the skew: counted, and the retry time capped.
	key = "k_" + newID("")
	soon := base.Add(store.MaxClockSkew - time.Second)
	for range limit {
		ok, _, err := st.AllowRequest(ctx, key, soon, window, limit)
		require.NoError(t, err)
		require.True(t, ok)
	}
	n, _, err = st.CountRequests(ctx, key, base, window)
	require.NoError(t, err)
	require.Equal(t, limit, n, "records within the skew")
	ok, retryAt, err := st.AllowRequest(ctx, key, base, window, limit)
	require.NoError(t, err)
	require.False(t, ok, "records within the skew did not count")
	requireSameTime(t, base.Add(window), retryAt, "retryAt: capped at one window")
}

// testRedeemAddressComparedAsFolded: the reset's address is compared with
// the user's as UserByEmail compares addresses (emailaddr.Fold): in
// another case it is the same mailbox, but a KELVIN SIGN (U+212A), which
// simple case folding turns into "k", is another address.
func testRedeemAddressComparedAsFolded(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	u.Email = "k" + u.Email
	st.h.SetEmail(t, st.Store, u.ID, u.Email)
	r := seedReset(t, st, u, base)
	sessions := sessionsOf(t, st, u.ID, base)
	now := base.Add(time.Minute)

	kelvin := u
	kelvin.Email = "\u212A" + u.Email[1:]
	st.h.SetEmail(t, st.Store, u.ID, kelvin.Email)
	_, err := st.RedeemReset(ctx, redemption(r, now))
	require.ErrorIs(t, err, store.ErrInvalidToken, "a reset spent for an address with a KELVIN SIGN where its own has k")
	requireNotRedeemed(t, st, kelvin, r, now, sessions...)

	st.h.SetEmail(t, st.Store, u.ID, "K"+u.Email[1:])
	_, err = st.RedeemReset(ctx, redemption(r, now))
	require.NoError(t, err, "the same address in another case")
}
