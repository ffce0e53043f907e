package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store"
)

// The Replays clauses: ClaimReplay, SaveReplay, ReleaseReplay and
// PurgeReplays.

const (
	replayLease = time.Minute
	replayLife  = 24 * time.Hour
)

// newReplay returns a claim, made at now, on a random key by a random
// owner, with a lease of replayLease and a life of replayLife.
func newReplay(now time.Time) store.Replay {
	key := sha256.Sum256([]byte(rand.Text()))
	fp := sha256.Sum256([]byte(rand.Text()))
	return store.Replay{
		Key:          hex.EncodeToString(key[:]),
		Fingerprint:  fp[:],
		Owner:        rand.Text(),
		CreatedAt:    now,
		ClaimedUntil: now.Add(replayLease),
		ExpiresAt:    now.Add(replayLife),
	}
}

// otherClaim is another request's claim on r's key at now.
func otherClaim(r store.Replay, now time.Time) store.Replay {
	o := newReplay(now)
	o.Key = r.Key
	return o
}

func claim(t *testing.T, st *subject, r store.Replay, now time.Time) (store.Replay, bool) {
	t.Helper()
	got, ok, err := st.ClaimReplay(t.Context(), r, now)
	require.NoError(t, err)
	return got, ok
}

// testReplayClaimOnce: the first claim of a key wins and is returned as
// given; a second, by another owner, changes nothing and gets the first.
func testReplayClaimOnce(t *testing.T, st *subject) {
	r := newReplay(base)
	got, ok := claim(t, st, r, base)
	require.True(t, ok, "the first claim of a key")
	requireSame(t, r, got)

	got, ok = claim(t, st, otherClaim(r, base.Add(time.Second)), base.Add(time.Second))
	require.False(t, ok, "a second claim while the first runs")
	requireSame(t, r, got)

	// Another key is another record.
	_, ok = claim(t, st, newReplay(base), base)
	require.True(t, ok, "a claim of another key")
}

// testReplaySaveAndReadBack: a saved answer comes back, with the claim
// ended, to every later claim of the key while it lives; the Answer given
// to ClaimReplay is never stored.
func testReplaySaveAndReadBack(t *testing.T, st *subject) {
	ctx := t.Context()
	r := newReplay(base)
	r.Answer = []byte("not to be stored")
	_, ok := claim(t, st, r, base)
	require.True(t, ok)
	got, ok := claim(t, st, otherClaim(r, base), base)
	require.False(t, ok)
	require.Empty(t, got.Answer, "ClaimReplay stored the Answer it was given")

	answer := []byte("sealed answer \x00\xff" + rand.Text())
	require.NoError(t, st.SaveReplay(ctx, r.Key, r.Owner, answer))
	want := r
	want.Answer, want.ClaimedUntil = answer, time.Time{}
	for _, at := range []time.Duration{0, 2 * replayLease, replayLife - time.Millisecond} {
		got, ok := claim(t, st, otherClaim(r, base.Add(at)), base.Add(at))
		require.False(t, ok, "a claim %v after an answer was saved", at)
		requireSame(t, want, got)
	}
}

// testReplaySaveNeedsTheClaim: only the owner of a running claim saves,
// once.
func testReplaySaveNeedsTheClaim(t *testing.T, st *subject) {
	ctx := t.Context()
	r := newReplay(base)
	_, ok := claim(t, st, r, base)
	require.True(t, ok)
	require.ErrorIs(t, st.SaveReplay(ctx, r.Key, "another owner", []byte("a")), store.ErrReplayNotClaimed)
	require.ErrorIs(t, st.SaveReplay(ctx, newReplay(base).Key, r.Owner, []byte("a")), store.ErrReplayNotClaimed, "a key never claimed")
	require.NoError(t, st.SaveReplay(ctx, r.Key, r.Owner, []byte("first")))
	require.ErrorIs(t, st.SaveReplay(ctx, r.Key, r.Owner, []byte("second")), store.ErrReplayNotClaimed, "an answer saved twice")
	got, _ := claim(t, st, otherClaim(r, base), base)
	require.Equal(t, []byte("first"), got.Answer)
}

// testReplayRelease: the owner's release frees the key for the next claim;
// a release by another owner, of an answered record, or of a missing key
// changes nothing and is no error.
func testReplayRelease(t *testing.T, st *subject) {
	ctx := t.Context()
	r := newReplay(base)
	_, ok := claim(t, st, r, base)
	require.True(t, ok)
	require.NoError(t, st.ReleaseReplay(ctx, r.Key, "another owner"))
	_, ok = claim(t, st, otherClaim(r, base), base)
	require.False(t, ok, "released by another owner")

	require.NoError(t, st.ReleaseReplay(ctx, r.Key, r.Owner))
	next := otherClaim(r, base.Add(time.Second))
	got, ok := claim(t, st, next, base.Add(time.Second))
	require.True(t, ok, "the key after its release")
	requireSame(t, next, got)
	require.ErrorIs(t, st.SaveReplay(ctx, r.Key, r.Owner, []byte("late")), store.ErrReplayNotClaimed, "the released owner saved")

	require.NoError(t, st.SaveReplay(ctx, next.Key, next.Owner, []byte("kept")))
	require.NoError(t, st.ReleaseReplay(ctx, next.Key, next.Owner))
	got, ok = claim(t, st, otherClaim(r, base.Add(2*time.Second)), base.Add(2*time.Second))
	require.False(t, ok, "an answered record was released")
	require.Equal(t, []byte("kept"), got.Answer)

	require.NoError(t, st.ReleaseReplay(ctx, newReplay(base).Key, "nobody"), "the release of a key never claimed")
}

// testReplayLeaseRunsOut: a claim without an answer holds until its lease
// ends (a lease ending exactly at now has ended); then another request may
// claim the key, and the first can no longer save.
func testReplayLeaseRunsOut(t *testing.T, st *subject) {
	ctx := t.Context()
	r := newReplay(base)
	_, ok := claim(t, st, r, base)
	require.True(t, ok)
	end := r.ClaimedUntil
	_, ok = claim(t, st, otherClaim(r, end.Add(-time.Millisecond)), end.Add(-time.Millisecond))
	require.False(t, ok, "claimed while the lease runs")

	next := otherClaim(r, end)
	got, ok := claim(t, st, next, end)
	require.True(t, ok, "claimed when the lease has ended")
	requireSame(t, next, got)
	require.ErrorIs(t, st.SaveReplay(ctx, r.Key, r.Owner, []byte("late")), store.ErrReplayNotClaimed)
	require.NoError(t, st.SaveReplay(ctx, next.Key, next.Owner, []byte("the new owner's")))
}

// testReplayExpiry: an answered record counts until its ExpiresAt; from
// then on the key is claimed afresh, without the old answer.
func testReplayExpiry(t *testing.T, st *subject) {
	ctx := t.Context()
	r := newReplay(base)
	_, ok := claim(t, st, r, base)
	require.True(t, ok)
	require.NoError(t, st.SaveReplay(ctx, r.Key, r.Owner, []byte("answer")))

	_, ok = claim(t, st, otherClaim(r, r.ExpiresAt.Add(-time.Millisecond)), r.ExpiresAt.Add(-time.Millisecond))
	require.False(t, ok, "claimed before the record expired")
	next := otherClaim(r, r.ExpiresAt)
	got, ok := claim(t, st, next, r.ExpiresAt)
	require.True(t, ok, "an expired record still counted")
	requireSame(t, next, got)
	require.Empty(t, got.Answer)
}

// testReplayConcurrentClaims: of twenty concurrent claims of one key,
// exactly one wins, and every other gets the winner's record.
func testReplayConcurrentClaims(t *testing.T, st *subject) {
	const n = 20
	first := newReplay(base)
	claims := make([]store.Replay, n)
	for i := range claims {
		claims[i] = otherClaim(first, base)
	}
	got := make([]store.Replay, n)
	oks := make([]bool, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		got[i], oks[i], errs[i] = st.ClaimReplay(t.Context(), claims[i], base)
	})
	winner := -1
	for i := range n {
		require.NoError(t, errs[i])
		if oks[i] {
			require.Equal(t, -1, winner, "two claims won: %d and %d", winner, i)
			winner = i
		}
	}
	require.NotEqual(t, -1, winner, "no claim won")
	for i := range n {
		require.Equal(t, claims[winner].Owner, got[i].Owner, "claim %d saw another owner than the winner", i)
	}
}

// testPurgeReplays: PurgeReplays deletes the records that expired before its
// bound, answered or not, and counts them; a record expiring at the bound or
// later stays. Purge leaves replay records alone.
func testPurgeReplays(t *testing.T, st *subject) {
	ctx := t.Context()
	before := base.Add(replayLife + time.Hour)
	expiredAnswered, expiredClaimed := newReplay(base), newReplay(base)
	atBefore, live := newReplay(before.Add(-replayLife)), newReplay(before.Add(-time.Hour))
	for _, r := range []store.Replay{expiredAnswered, expiredClaimed, atBefore, live} {
		_, ok := claim(t, st, r, r.CreatedAt)
		require.True(t, ok)
	}
	for _, r := range []store.Replay{expiredAnswered, atBefore, live} {
		require.NoError(t, st.SaveReplay(ctx, r.Key, r.Owner, []byte("answer")))
	}

	n, err := st.Purge(ctx, before.Add(replayLife))
	require.NoError(t, err)
	require.Zero(t, n, "Purge deleted replay records")
	n, err = st.PurgeReplays(ctx, before)
	require.NoError(t, err)
	require.Equal(t, int64(2), n, "2 expired replay records")
	got, ok := claim(t, st, otherClaim(live, before), before)
	require.False(t, ok, "a live record was purged")
	require.Equal(t, []byte("answer"), got.Answer)

	n, err = st.PurgeReplays(ctx, before)
	require.NoError(t, err)
	require.Zero(t, n, "a second PurgeReplays found more to delete")
	n, err = st.PurgeReplays(ctx, before.Add(time.Millisecond))
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the record that expired at the first bound")
}
