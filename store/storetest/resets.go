package storetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

func testResetRoundTrip(t *testing.T, st *subject) {
	u := seedUser(t, st)
	r := seedReset(t, st, u, base.Add(3*ms))

	byID := resetByID(t, st, r.ID)
	requireSame(t, r, byID)
	require.NoError(t, byID.Status(base.Add(time.Minute)))

	requireSame(t, r, resetByHash(t, st, r.TokenHash))
}

func testResetNotFound(t *testing.T, st *subject) {
	ctx := t.Context()
	seedReset(t, st, seedUser(t, st), base)

	_, err := st.ResetByID(ctx, newID("password_reset_"))
	require.ErrorIs(t, err, store.ErrResetNotFound)
	_, err = st.ResetByTokenHash(ctx, token.Sum("never issued"))
	require.ErrorIs(t, err, store.ErrResetNotFound)
}

// testOnlyTokenHashStored checks what the interface can show: a Store is
// handed a reset's token hash, never its token (StoredReset has no token
// field), keeps those 32 bytes exactly, whatever they are, and finds a reset
// only by its exact hash. That the database holds nothing else is each
// adapter's own test.
func testOnlyTokenHashStored(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	r := newReset(u, base)
	// Bytes that trip text encodings: NUL, 0xff, an invalid UTF-8 sequence.
	r.TokenHash[0], r.TokenHash[1], r.TokenHash[2], r.TokenHash[31] = 0x00, 0xff, 0xc3, 0x00
	require.NoError(t, st.CreateReset(ctx, r, nil))

	got := resetByHash(t, st, r.TokenHash)
	require.Equal(t, r.ID, got.ID)
	require.Equal(t, r.TokenHash, got.TokenHash)

	require.Equal(t, r.TokenHash, resetByID(t, st, r.ID).TokenHash)

	near := r.TokenHash
	near[31] ^= 0x01
	_, err := st.ResetByTokenHash(ctx, near)
	require.ErrorIs(t, err, store.ErrResetNotFound, "a hash one bit away found the reset")
	var prefix token.Hash
	copy(prefix[:16], r.TokenHash[:16])
	_, err = st.ResetByTokenHash(ctx, prefix)
	require.ErrorIs(t, err, store.ErrResetNotFound, "a hash sharing only a prefix found the reset")
}

func testOlderResetsEnded(t *testing.T, st *subject) {
	u, other := seedUser(t, st), seedUser(t, st)
	others := seedReset(t, st, other, base)
	first := seedReset(t, st, u, base)
	second := seedReset(t, st, u, base.Add(10*time.Minute))
	now := base.Add(11 * time.Minute)

	got := resetByID(t, st, first.ID)
	require.ErrorIs(t, got.Status(now), store.ErrInvalidToken)
	requireSameTime(t, second.CreatedAt, got.EndedAt, "EndedAt of the older reset")
	require.True(t, got.UsedAt.IsZero(), "an ended reset is not used")

	got = resetByHash(t, st, first.TokenHash, "an ended reset is still found by its hash")
	require.ErrorIs(t, got.Status(now), store.ErrInvalidToken)

	got = resetByID(t, st, second.ID)
	requireSame(t, second, got)
	require.NoError(t, got.Status(now))

	requireSame(t, others, resetByID(t, st, others.ID))
}

func testSpentResetNotEnded(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	spent := seedReset(t, st, u, base)
	usedAt := base.Add(time.Minute)
	_, err := st.RedeemReset(ctx, redemption(spent, usedAt))
	require.NoError(t, err)
	seedReset(t, st, u, base.Add(2*time.Minute))

	got := resetByID(t, st, spent.ID)
	requireSameTime(t, usedAt, got.UsedAt, "UsedAt")
	require.True(t, got.EndedAt.IsZero(), "a spent reset was ended: EndedAt = %s", got.EndedAt)
}

func testFailedCreateChangesNothing(t *testing.T, st *subject) {
	u := seedUser(t, st)
	older := seedReset(t, st, u, base)
	job := newJob(u.ID, base)
	dup := newJob(u.ID, base)
	dup.ID = job.ID

	requireNotCreated := func(t *testing.T, r store.Reset) {
		t.Helper()
		ctx := t.Context()
		_, err := st.ResetByID(ctx, r.ID)
		require.ErrorIs(t, err, store.ErrResetNotFound, "the reset of a failed CreateReset was stored")
		_, err = st.ResetByTokenHash(ctx, r.TokenHash)
		require.ErrorIs(t, err, store.ErrResetNotFound, "the reset of a failed CreateReset was stored")
		requireSame(t, older, resetByID(t, st, older.ID)) // not ended
		claimed, err := st.ClaimJobs(ctx, base.Add(24*time.Hour), time.Minute, 100)
		require.NoError(t, err)
		require.NotContains(t, jobIDs(claimed), job.ID, "a job of a failed CreateReset was stored")
	}

	r := newReset(u, base.Add(time.Minute))
	require.Error(t, st.CreateReset(t.Context(), r, []store.Job{job, dup}), "two jobs with one id")
	requireNotCreated(t, r)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r = newReset(u, base.Add(time.Minute))
	require.Error(t, st.CreateReset(ctx, r, []store.Job{job}), "a cancelled context")
	requireNotCreated(t, r)
}

// redemption spends r at now with a fresh password hash.
func redemption(r store.Reset, now time.Time) store.Redemption {
	return store.Redemption{ResetID: r.ID, UserID: r.UserID, PasswordHash: "$2a$10$new." + rand.Text(), Now: now}
}

// requireNotRedeemed checks that r is still unused and that u (seeded by
// seedUser) and its sessions are as they were before a failed RedeemReset.
func requireNotRedeemed(t *testing.T, st *subject, u store.User, r store.Reset, now time.Time, sessions ...session.Session) {
	t.Helper()
	ctx := t.Context()
	got := resetByID(t, st, r.ID)
	require.True(t, got.UsedAt.IsZero(), "a failed redemption spent the reset")
	require.NoError(t, got.Status(now))

	requireHash(t, st, u.ID, oldHash, "a failed redemption changed the password hash")
	user, err := st.UserByID(ctx, u.ID)
	require.NoError(t, err)
	requireUser(t, st, u, user) // email still unverified

	for _, s := range sessions {
		got, err := st.Store.(session.Store).SessionByID(ctx, s.ID)
		require.NoError(t, err)
		require.True(t, got.RevokedAt.IsZero(), "a failed redemption revoked session %s", s.ID)
	}
}

func testRedeemSuccess(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	r := seedReset(t, st, u, base)
	red := redemption(r, base.Add(5*time.Minute+7*ms))

	out, err := st.RedeemReset(ctx, red)
	require.NoError(t, err)
	want := u
	want.EmailVerified = true
	requireUser(t, st, want, out.User)
	require.Zero(t, out.SessionsRevoked)

	got, err := st.UserByID(ctx, u.ID)
	require.NoError(t, err)
	requireUser(t, st, want, got)
	requireHash(t, st, u.ID, red.PasswordHash)

	spent := resetByID(t, st, r.ID)
	requireSameTime(t, red.Now, spent.UsedAt, "UsedAt")
	require.True(t, spent.EndedAt.IsZero())
	require.ErrorIs(t, spent.Status(red.Now), store.ErrInvalidToken)
	spent = resetByHash(t, st, r.TokenHash, "a spent reset is still found by its hash")
	requireSameTime(t, red.Now, spent.UsedAt, "UsedAt")
}

func testRedeemInsertsJobs(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	r := seedReset(t, st, u, base)
	red := redemption(r, base.Add(time.Minute))
	job := newJob(u.ID, red.Now)
	red.Jobs = []store.Job{job}
	_, err := st.RedeemReset(ctx, red)
	require.NoError(t, err)

	claimed := claimJobs(t, st, red.Now, time.Minute, 1)
	requireSameJob(t, job, claimed[0], red.Now.Add(time.Minute), 1)
}

func testRedeemTwice(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	r := seedReset(t, st, u, base)
	first := redemption(r, base.Add(time.Minute))
	_, err := st.RedeemReset(ctx, first)
	require.NoError(t, err)

	_, err = st.RedeemReset(ctx, redemption(r, base.Add(2*time.Minute)))
	require.ErrorIs(t, err, store.ErrInvalidToken)

	requireHash(t, st, u.ID, first.PasswordHash)
	got := resetByID(t, st, r.ID)
	requireSameTime(t, first.Now, got.UsedAt, "UsedAt")
}

func testRedeemExpiryBoundary(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	sessions := sessionsOf(t, st, u.ID, base)
	r := seedReset(t, st, u, base)

	_, err := st.RedeemReset(ctx, redemption(r, r.ExpiresAt))
	require.ErrorIs(t, err, store.ErrTokenExpired, "Now == ExpiresAt")
	requireNotRedeemed(t, st, u, r, r.ExpiresAt.Add(-ms), sessions...)

	out, err := st.RedeemReset(ctx, redemption(r, r.ExpiresAt.Add(-ms)))
	require.NoError(t, err, "Now == ExpiresAt - 1ms")
	require.Equal(t, len(sessions), out.SessionsRevoked)
}

func testRedeemEnded(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	ended := seedReset(t, st, u, base)
	newer := seedReset(t, st, u, base.Add(time.Minute))
	now := base.Add(2 * time.Minute)

	_, err := st.RedeemReset(ctx, redemption(ended, now))
	require.ErrorIs(t, err, store.ErrInvalidToken)
	requireHash(t, st, u.ID, oldHash)

	_, err = st.RedeemReset(ctx, redemption(newer, now))
	require.NoError(t, err)
}

// testRedeemSpentAndExpired checks the order of judgement StoredReset.Status
// sets: spent or ended wins over expired.
func testRedeemSpentAndExpired(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	ended := seedReset(t, st, u, base)
	spent := seedReset(t, st, u, base.Add(time.Minute))
	_, err := st.RedeemReset(ctx, redemption(spent, base.Add(2*time.Minute)))
	require.NoError(t, err)
	late := base.Add(ttl + time.Hour)

	_, err = st.RedeemReset(ctx, redemption(spent, late))
	require.ErrorIs(t, err, store.ErrInvalidToken, "spent and expired")
	_, err = st.RedeemReset(ctx, redemption(ended, late))
	require.ErrorIs(t, err, store.ErrInvalidToken, "ended and expired")
}

func testRedeemNotFound(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	r := seedReset(t, st, u, base)
	red := redemption(r, base.Add(time.Minute))
	red.ResetID = newID("password_reset_")

	_, err := st.RedeemReset(ctx, red)
	require.ErrorIs(t, err, store.ErrResetNotFound)
	requireNotRedeemed(t, st, u, r, red.Now)
}

func testConcurrentRedemption(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	r := seedReset(t, st, u, base)
	now := base.Add(time.Minute)

	const n = 100
	errs := make([]error, n)
	hashes := make([]string, n)
	for i := range hashes {
		hashes[i] = fmt.Sprintf("$2a$10$concurrent.%03d", i)
	}
	concurrently(n, func(i int) {
		red := redemption(r, now)
		red.PasswordHash = hashes[i]
		_, errs[i] = st.RedeemReset(ctx, red)
	})

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two redemptions succeeded: %d and %d", winner, i)
			winner = i
			continue
		}
		require.ErrorIs(t, err, store.ErrInvalidToken, "redemption %d", i)
	}
	require.NotEqual(t, -1, winner, "no redemption succeeded")

	requireHash(t, st, u.ID, hashes[winner], "the stored hash is not the winner's")
	got := resetByID(t, st, r.ID)
	requireSameTime(t, now, got.UsedAt, "UsedAt")
}

func testRedeemRevokesSessions(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	u, other := seedUser(t, st.subject), seedUser(t, st.subject)
	s1, _ := seedSession(t, st, u.ID, base.Add(-time.Hour))
	s2, _ := seedSession(t, st, u.ID, base.Add(-time.Hour))
	revoked, _ := seedSession(t, st, u.ID, base.Add(-time.Hour))
	revokedAt := base.Add(-30 * time.Minute)
	require.NoError(t, st.RevokeSession(ctx, revoked.ID, revokedAt))
	expired, _ := seedSession(t, st, u.ID, base.Add(-48*time.Hour)) // expired at base-24h
	others, _ := seedSession(t, st, other.ID, base.Add(-time.Hour))
	r := seedReset(t, st.subject, u, base)
	now := base.Add(time.Minute)

	out, err := st.RedeemReset(ctx, redemption(r, now))
	require.NoError(t, err)
	require.Equal(t, 2, out.SessionsRevoked)

	for _, c := range []struct {
		s         session.Session
		revokedAt time.Time
	}{
		{s1, now}, {s2, now}, {revoked, revokedAt}, {expired, time.Time{}}, {others, time.Time{}},
	} {
		got, err := st.SessionByID(ctx, c.s.ID)
		require.NoError(t, err)
		requireSameTime(t, c.revokedAt, got.RevokedAt, "RevokedAt of "+c.s.ID)
	}
}

func testFailedRedemptionChangesNothing(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	sessions := sessionsOf(t, st, u.ID, base)
	r := seedReset(t, st, u, base)
	red := redemption(r, base.Add(time.Minute))
	job := newJob(u.ID, red.Now)
	dup := newJob(u.ID, red.Now)
	dup.ID = job.ID
	red.Jobs = []store.Job{job, dup}

	_, err := st.RedeemReset(ctx, red)
	require.Error(t, err, "two jobs with one id")
	requireNotRedeemed(t, st, u, r, red.Now, sessions...)
	claimed, err := st.ClaimJobs(ctx, base.Add(24*time.Hour), time.Minute, 100)
	require.NoError(t, err)
	require.NotContains(t, jobIDs(claimed), job.ID, "a job of a failed redemption was stored")

	// The failure was the duplicate: without it the same redemption works.
	red.Jobs = []store.Job{job}
	out, err := st.RedeemReset(ctx, red)
	require.NoError(t, err)
	require.Equal(t, len(sessions), out.SessionsRevoked)
}

func testRedeemCancelledContext(t *testing.T, st *subject) {
	u := seedUser(t, st)
	sessions := sessionsOf(t, st, u.ID, base)
	r := seedReset(t, st, u, base)
	red := redemption(r, base.Add(time.Minute))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := st.RedeemReset(ctx, red)
	require.Error(t, err, "a cancelled context")
	requireNotRedeemed(t, st, u, r, red.Now, sessions...)

	_, err = st.RedeemReset(t.Context(), red)
	require.NoError(t, err)
}

// testConcurrentCreates: "only the newest link works" holds under
// concurrency. Resets created for one user at once each end the others'
// links, whatever the isolation level, so that of all of them exactly one
// can be redeemed.
func testConcurrentCreates(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	const n = 20
	resets := make([]store.Reset, n)
	errs := make([]error, n)
	for i := range resets {
		resets[i] = newReset(u, base.Add(time.Duration(i)*ms))
	}
	concurrently(n, func(i int) { errs[i] = st.CreateReset(ctx, resets[i], nil) })
	for i, err := range errs {
		require.NoError(t, err, "create %d", i)
	}
	now := base.Add(time.Minute)
	usable := 0
	for _, r := range resets {
		got := resetByID(t, st, r.ID)
		if got.Status(now) == nil {
			usable++
		}
	}
	require.Equal(t, 1, usable, "resets usable after concurrent creation")
	won := 0
	for _, r := range resets {
		if _, err := st.RedeemReset(ctx, redemption(r, now)); err == nil {
			won++
		} else {
			require.ErrorIs(t, err, store.ErrInvalidToken)
		}
	}
	require.Equal(t, 1, won, "redemptions that succeeded")
}

// testCreateUnknownUser: a reset of a user the store does not hold is
// ErrUserNotFound, and nothing of it is stored.
func testCreateUnknownUser(t *testing.T, st *subject) {
	ctx := t.Context()
	seedUser(t, st)
	r := newReset(store.User{ID: newID("user_"), Email: "nobody@example.com"}, base)
	job := newJob(r.UserID, base)
	require.ErrorIs(t, st.CreateReset(ctx, r, []store.Job{job}), store.ErrUserNotFound)
	_, err := st.ResetByID(ctx, r.ID)
	require.ErrorIs(t, err, store.ErrResetNotFound)
	claimed, err := st.ClaimJobs(ctx, base.Add(time.Hour), time.Minute, 10)
	require.NoError(t, err)
	require.NotContains(t, jobIDs(claimed), job.ID)
}

// testRedeemOtherUsersReset: a redemption that names another user than the
// reset's spends nothing and writes no hash.
func testRedeemOtherUsersReset(t *testing.T, st *subject) {
	ctx := t.Context()
	u, other := seedUser(t, st), seedUser(t, st)
	r := seedReset(t, st, u, base)
	red := redemption(r, base.Add(time.Minute))
	red.UserID = other.ID
	_, err := st.RedeemReset(ctx, red)
	require.ErrorIs(t, err, store.ErrInvalidToken)
	requireNotRedeemed(t, st, u, r, red.Now)
	requireHash(t, st, other.ID, oldHash, "the other user's hash was written")
}
