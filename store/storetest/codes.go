package storetest

import (
	"crypto/rand"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
)

// codeTries is the number of guesses the suite's codes allow.
const codeTries = 5

// newCodedReset returns newReset's reset with a code under a fresh key,
// usable for ten minutes.
func newCodedReset(u store.User, created time.Time) store.Reset {
	r := newReset(u, created)
	r.Code = store.Code{Key: "code-key-" + rand.Text(), ExpiresAt: created.Add(10 * time.Minute), TriesLeft: codeTries}
	_, _ = rand.Read(r.Code.Hash[:])
	r.Code.Hash[0], r.Code.Hash[31] = 0x00, 0xff // bytes that trip text encodings
	return r
}

func seedCodedReset(t *testing.T, st *subject, u store.User, created time.Time) store.Reset {
	t.Helper()
	r := newCodedReset(u, created)
	require.NoError(t, st.CreateReset(t.Context(), r, nil))
	return r
}

// testCodeRoundTrip: a reset's code comes back from both lookups as it was
// stored, and a reset without one comes back with the zero Code.
func testCodeRoundTrip(t *testing.T, st *subject) {
	u := seedUser(t, st)
	plain := seedReset(t, st, u, base)
	got := resetByID(t, st, plain.ID)
	require.Equal(t, store.Code{}, got.Code, "a reset without a code")

	r := seedCodedReset(t, st, u, base.Add(ms))
	requireSame(t, r, resetByID(t, st, r.ID))
	requireSame(t, r, resetByHash(t, st, r.TokenHash))
}

// testClaimTakesTries: each claim takes one try and returns the reset as
// it then is; once none is left, claims find nothing and change nothing.
func testClaimTakesTries(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	r := seedCodedReset(t, st, u, base)
	now := base.Add(time.Minute)
	for i := range codeTries {
		got, err := st.ClaimResetCode(ctx, r.Code.Key, now)
		require.NoError(t, err, "claim %d", i+1)
		require.Equal(t, r.ID, got.ID)
		require.Equal(t, r.Code.Hash, got.Code.Hash)
		require.Equal(t, codeTries-1-i, got.Code.TriesLeft)
	}
	_, err := st.ClaimResetCode(ctx, r.Code.Key, now)
	require.ErrorIs(t, err, store.ErrResetNotFound, "no try left")
	got := resetByID(t, st, r.ID)
	require.Zero(t, got.Code.TriesLeft, "a refused claim went below zero")
	require.NoError(t, got.Status(now), "claims never spend or end the reset")

	// A code redemption that took the last try still spends the reset.
	_, err = st.RedeemReset(ctx, redemption(r, now))
	require.NoError(t, err)
}

// testClaimRefusesUnusable: no claim for an unknown or empty key, nor for
// a reset that is spent, ended, expired, or whose code expired (though its
// link has not); a refused claim changes nothing.
func testClaimRefusesUnusable(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	plain := seedReset(t, st, u, base)
	_, err := st.ClaimResetCode(ctx, "", base.Add(time.Minute))
	require.ErrorIs(t, err, store.ErrResetNotFound, "the empty key of a reset without a code")
	_, err = st.ClaimResetCode(ctx, "never-issued", base.Add(time.Minute))
	require.ErrorIs(t, err, store.ErrResetNotFound)

	r := seedCodedReset(t, st, u, base.Add(ms)) // ends plain
	_, err = st.ClaimResetCode(ctx, r.Code.Key, r.Code.ExpiresAt)
	require.ErrorIs(t, err, store.ErrResetNotFound, "the code expires at its ExpiresAt, exclusive")
	_, err = st.ClaimResetCode(ctx, r.Code.Key, r.Code.ExpiresAt.Add(-ms))
	require.NoError(t, err, "a millisecond before")
	_, err = st.ClaimResetCode(ctx, r.Code.Key, r.ExpiresAt)
	require.ErrorIs(t, err, store.ErrResetNotFound, "the reset expired")

	// Ended by a newer reset with a code under the same key: only the
	// newest is claimed.
	newer := newCodedReset(u, base.Add(2*ms))
	newer.Code.Key = r.Code.Key
	require.NoError(t, st.CreateReset(ctx, newer, nil))
	got, err := st.ClaimResetCode(ctx, r.Code.Key, base.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, newer.ID, got.ID, "the ended reset was claimed")
	old := resetByID(t, st, r.ID)
	require.Equal(t, codeTries-1, old.Code.TriesLeft, "the ended reset lost a try")

	// Spent.
	_, err = st.RedeemReset(ctx, redemption(newer, base.Add(2*time.Minute)))
	require.NoError(t, err)
	_, err = st.ClaimResetCode(ctx, r.Code.Key, base.Add(3*time.Minute))
	require.ErrorIs(t, err, store.ErrResetNotFound, "a spent reset")
	got = resetByID(t, st, plain.ID)
	require.Equal(t, store.Code{}, got.Code, "claims touched a reset without a code")
}

// testConcurrentClaims: of concurrent claims on one code, exactly as many
// succeed as it had tries.
func testConcurrentClaims(t *testing.T, st *subject) {
	u := seedUser(t, st)
	r := seedCodedReset(t, st, u, base)
	var won, lost atomic.Int32
	concurrently(4*codeTries, func(int) {
		_, err := st.ClaimResetCode(t.Context(), r.Code.Key, base.Add(time.Minute))
		switch {
		case err == nil:
			won.Add(1)
		case errors.Is(err, store.ErrResetNotFound):
			lost.Add(1)
		default:
			t.Errorf("claim: %v", err)
		}
	})
	require.Equal(t, int32(codeTries), won.Load())
	require.Equal(t, int32(3*codeTries), lost.Load())
}

// change returns a PasswordChange of u from oldHash to a fresh hash at now.
func change(u store.User, now time.Time) store.PasswordChange {
	return store.PasswordChange{UserID: u.ID, OldHash: oldHash, NewHash: "$2a$10$changed." + rand.Text(), Now: now}
}

// testChangePassword: the hash is replaced and the jobs inserted; the
// user's updated time moves for a new password, where it is kept.
func testChangePassword(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	c := change(u, base.Add(time.Hour))
	job := newJob(u.ID, c.Now)
	c.Jobs = []store.Job{job}
	_, err := st.ChangePassword(ctx, c)
	require.NoError(t, err)
	requireHash(t, st, u.ID, c.NewHash)
	claimed, err := st.ClaimJobs(ctx, c.Now, time.Minute, 10)
	require.NoError(t, err)
	require.Equal(t, []string{job.ID}, jobIDs(claimed))
}

// testChangePasswordConditional: a change based on a hash that is no
// longer the stored one is ErrPasswordChanged and changes nothing; an
// unknown user is ErrUserNotFound.
func testChangePasswordConditional(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	sessions := sessionsOf(t, st, u.ID, base)
	c := change(u, base.Add(time.Hour))
	c.OldHash = "$2a$10$not.the.stored.hash"
	job := newJob(u.ID, c.Now)
	c.Jobs = []store.Job{job}
	_, err := st.ChangePassword(ctx, c)
	require.ErrorIs(t, err, store.ErrPasswordChanged)
	requireHash(t, st, u.ID, oldHash)
	claimJobs(t, st, c.Now, time.Minute, 0, "a refused change queued its jobs")
	for _, s := range sessions {
		got, err := st.Store.(session.Store).SessionByID(ctx, s.ID)
		require.NoError(t, err)
		require.True(t, got.RevokedAt.IsZero(), "a refused change revoked a session")
	}
	c.Rehash = true
	_, err = st.ChangePassword(ctx, c)
	require.ErrorIs(t, err, store.ErrPasswordChanged, "a rehash is conditional too")

	_, err = st.ChangePassword(ctx, store.PasswordChange{UserID: newID("user_"), OldHash: "", NewHash: "x", Now: base})
	require.ErrorIs(t, err, store.ErrUserNotFound)
}

// testConcurrentChanges: of concurrent changes based on one hash exactly
// one wins; the others get ErrPasswordChanged.
func testConcurrentChanges(t *testing.T, st *subject) {
	u := seedUser(t, st)
	var won, lost atomic.Int32
	hashes := make([]string, 8)
	concurrently(len(hashes), func(i int) {
		c := change(u, base.Add(time.Hour))
		c.Rehash = i%2 == 0
		hashes[i] = c.NewHash
		_, err := st.ChangePassword(t.Context(), c)
		switch {
		case err == nil:
			won.Add(1)
		case errors.Is(err, store.ErrPasswordChanged):
			lost.Add(1)
		default:
			t.Errorf("change: %v", err)
		}
	})
	require.Equal(t, int32(1), won.Load())
	require.Equal(t, int32(len(hashes)-1), lost.Load())
	h, err := st.PasswordHash(t.Context(), u.ID)
	require.NoError(t, err)
	require.Contains(t, hashes, h)
}

// testChangeRevokesOtherSessions: a new password revokes every active
// session of the user but the one kept, which gets the new stamp, in the
// same transaction; other users' sessions, and ended ones, are left alone.
func testChangeRevokesOtherSessions(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	u := seedUser(t, st.subject)
	other := seedUser(t, st.subject)
	keep, _ := seedSession(t, st, u.ID, base)
	a, _ := seedSession(t, st, u.ID, base)
	b, _ := seedSession(t, st, u.ID, base)
	old, _ := seedSession(t, st, u.ID, base.Add(-48*time.Hour)) // expired
	theirs, _ := seedSession(t, st, other.ID, base)

	c := change(u, base.Add(time.Hour))
	c.KeepSessionID, c.KeepStamp = keep.ID, "new-stamp"
	out, err := st.subject.ChangePassword(ctx, c)
	require.NoError(t, err)
	require.Equal(t, 2, out.SessionsRevoked)
	for _, s := range []session.Session{a, b} {
		got, err := st.SessionByID(ctx, s.ID)
		require.NoError(t, err)
		requireSameTime(t, c.Now, got.RevokedAt, "RevokedAt of "+s.ID)
	}
	got, err := st.SessionByID(ctx, keep.ID)
	require.NoError(t, err)
	require.True(t, got.RevokedAt.IsZero(), "the session kept was revoked")
	require.Equal(t, "new-stamp", got.Stamp)
	for _, s := range []session.Session{old, theirs} {
		got, err := st.SessionByID(ctx, s.ID)
		require.NoError(t, err)
		require.True(t, got.RevokedAt.IsZero(), "session %s", s.ID)
		require.Empty(t, got.Stamp)
	}
}

// testRehashKeepsSessions: a rehash replaces the hash and nothing else: no
// session is revoked or restamped, no job is queued.
func testRehashKeepsSessions(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	u := seedUser(t, st.subject)
	a, _ := seedSession(t, st, u.ID, base)
	c := change(u, base.Add(time.Hour))
	c.Rehash, c.KeepSessionID, c.KeepStamp = true, a.ID, "ignored"
	c.Jobs = []store.Job{newJob(u.ID, c.Now)}
	out, err := st.subject.ChangePassword(ctx, c)
	require.NoError(t, err)
	require.Zero(t, out.SessionsRevoked)
	got, err := st.SessionByID(ctx, a.ID)
	require.NoError(t, err)
	requireSame(t, a, got)
	requireHash(t, st, u.ID, c.NewHash)
	claimJobs(t, st, c.Now, time.Minute, 0, "a rehash queued jobs")
}

// testFailedChangeChangesNothing: a change whose job cannot be inserted
// keeps nothing: not the hash, not a revocation.
func testFailedChangeChangesNothing(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	sessions := sessionsOf(t, st, u.ID, base)
	c := change(u, base.Add(time.Hour))
	job := newJob(u.ID, c.Now)
	dup := newJob(u.ID, c.Now)
	dup.ID = job.ID
	c.Jobs = []store.Job{job, dup}
	_, err := st.ChangePassword(ctx, c)
	require.Error(t, err, "two jobs with one id")
	requireHash(t, st, u.ID, oldHash, "a failed change kept the hash")
	for _, s := range sessions {
		got, err := st.Store.(session.Store).SessionByID(ctx, s.ID)
		require.NoError(t, err)
		require.True(t, got.RevokedAt.IsZero(), "a failed change revoked a session")
	}
}

// testChangeUpdatedAt: a new password sets UpdatedAt; a rehash leaves it.
func testChangeUpdatedAt(t *testing.T, st *subject, _ store.UserCreator) {
	ctx := t.Context()
	u := seedUser(t, st)
	before, err := st.UserByID(ctx, u.ID)
	require.NoError(t, err)
	c := change(u, base.Add(time.Hour))
	c.Rehash = true
	_, err = st.ChangePassword(ctx, c)
	require.NoError(t, err)
	got, err := st.UserByID(ctx, u.ID)
	require.NoError(t, err)
	requireSameTime(t, before.UpdatedAt, got.UpdatedAt, "UpdatedAt after a rehash")

	c2 := change(u, base.Add(2*time.Hour))
	c2.OldHash = c.NewHash
	_, err = st.ChangePassword(ctx, c2)
	require.NoError(t, err)
	got, err = st.UserByID(ctx, u.ID)
	require.NoError(t, err)
	requireSameTime(t, c2.Now, got.UpdatedAt, "UpdatedAt after a change")
}
