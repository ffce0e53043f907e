package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store"
)

func testAllowLimit(t *testing.T, st *subject) {
	ctx := t.Context()
	key, window := "k_"+ulid.Make().String(), time.Hour
	for i := range 3 {
		ok, _, err := st.AllowRequest(ctx, key, base.Add(time.Duration(i)*time.Second), window, 3)
		require.NoError(t, err)
		require.True(t, ok, "request %d of 3", i+1)
	}
	for i := range 2 {
		ok, retryAt, err := st.AllowRequest(ctx, key, base.Add(time.Duration(3+i)*time.Second), window, 3)
		require.NoError(t, err)
		require.False(t, ok, "request %d over the limit", i+1)
		requireSameTime(t, base.Add(window), retryAt, "retryAt")
	}
}

func testAllowWindowSlides(t *testing.T, st *subject) {
	ctx := t.Context()
	key, window := "k_"+ulid.Make().String(), time.Hour
	allow := func(at time.Time) (bool, time.Time) {
		t.Helper()
		ok, retryAt, err := st.AllowRequest(ctx, key, at, window, 3)
		require.NoError(t, err)
		return ok, retryAt
	}
	for i := range 3 {
		ok, _ := allow(base.Add(time.Duration(i) * time.Second))
		require.True(t, ok)
	}
	ok, _ := allow(base.Add(3 * time.Second)) // refused: not recorded
	require.False(t, ok)

	ok, retryAt := allow(base.Add(window - ms))
	require.False(t, ok, "the first request is still in the window")
	requireSameTime(t, base.Add(window), retryAt, "retryAt")

	ok, _ = allow(base.Add(window)) // the window is (now-window, now]: base has left it
	require.True(t, ok, "at retryAt the oldest request has left the window (refused ones must not count)")

	ok, retryAt = allow(base.Add(window + ms))
	require.False(t, ok)
	requireSameTime(t, base.Add(time.Second+window), retryAt, "retryAt after the window slid")
}

func testAllowKeysIndependent(t *testing.T, st *subject) {
	ctx := t.Context()
	k1, k2 := "k_"+ulid.Make().String(), "k_"+ulid.Make().String()
	for range 3 {
		ok, _, err := st.AllowRequest(ctx, k1, base, time.Hour, 3)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, _, err := st.AllowRequest(ctx, k1, base, time.Hour, 3)
	require.NoError(t, err)
	require.False(t, ok)

	ok, _, err = st.AllowRequest(ctx, k2, base, time.Hour, 3)
	require.NoError(t, err)
	require.True(t, ok, "a full key limited another")
}

func testAllowConcurrent(t *testing.T, st *subject) {
	ctx := t.Context()
	key := "k_" + ulid.Make().String()
	require.Equal(t, 3, countAllowed(t, 20, func(int) (bool, time.Time, error) {
		return st.AllowRequest(ctx, key, base, time.Hour, 3)
	}))
}

// countAllowed makes n requests at once, the i-th by allow(i) (an
// AllowRequest), and returns how many were allowed; none may fail.
func countAllowed(t *testing.T, n int, allow func(i int) (bool, time.Time, error)) int {
	t.Helper()
	oks := make([]bool, n)
	errs := make([]error, n)
	concurrently(n, func(i int) { oks[i], _, errs[i] = allow(i) })
	allowed := 0
	for i := range n {
		require.NoError(t, errs[i])
		if oks[i] {
			allowed++
		}
	}
	return allowed
}

// testAllowOutOfOrder: concurrent callers read their clocks before the
// Store serialises them, so a request recorded at a later instant may be
// checked first. It still counts: otherwise ten requests at once, each a
// millisecond apart, would let more than limit through.
func testAllowOutOfOrder(t *testing.T, st *subject) {
	ctx := t.Context()
	key, window := "k_"+ulid.Make().String(), time.Hour
	for i := range 3 {
		ok, _, err := st.AllowRequest(ctx, key, base.Add(time.Duration(3-i)*time.Millisecond), window, 3)
		require.NoError(t, err)
		require.True(t, ok, "request %d of 3", i+1)
	}
	ok, retryAt, err := st.AllowRequest(ctx, key, base, window, 3)
	require.NoError(t, err)
	require.False(t, ok, "the requests recorded a few milliseconds after now count too")
	// The oldest leaves the window at base+1ms+window, but a retry time is
	// never more than one window away.
	requireSameTime(t, base.Add(window), retryAt, "retryAt: capped at one window")

	// And concurrently, each caller a millisecond apart.
	key = "k_" + ulid.Make().String()
	require.Equal(t, 3, countAllowed(t, 20, func(i int) (bool, time.Time, error) {
		return st.AllowRequest(ctx, key, base.Add(time.Duration(i)*time.Millisecond), window, 3)
	}))
}

func testClaimDueOnly(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	past, now, future := newJob(u.ID, base.Add(-time.Minute)), newJob(u.ID, base), newJob(u.ID, base.Add(time.Minute))
	seedJobs(t, st, u, past, now, future)
	lease := 5 * time.Minute

	claimed, err := st.ClaimJobs(ctx, base, lease, 10)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{past.ID, now.ID}, jobIDs(claimed))
	for _, j := range claimed {
		want := past
		if j.ID == now.ID {
			want = now
		}
		requireSameJob(t, want, j, base.Add(lease), 1)
	}

	claimed, err = st.ClaimJobs(ctx, future.RunAt, lease, 10)
	require.NoError(t, err)
	require.Equal(t, []string{future.ID}, jobIDs(claimed), "only the job that became due; the others are leased")
}

func testClaimMax(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	seedJobs(t, st, u, newJob(u.ID, base), newJob(u.ID, base), newJob(u.ID, base))

	first, err := st.ClaimJobs(ctx, base, time.Minute, 2)
	require.NoError(t, err)
	require.Len(t, first, 2)
	second, err := st.ClaimJobs(ctx, base, time.Minute, 2)
	require.NoError(t, err)
	require.Len(t, second, 1)
	require.NotContains(t, jobIDs(first), second[0].ID)
	third, err := st.ClaimJobs(ctx, base, time.Minute, 2)
	require.NoError(t, err)
	require.Empty(t, third)
}

func testClaimLease(t *testing.T, st *subject) {
	u := seedUser(t, st)
	j := newJob(u.ID, base)
	seedJobs(t, st, u, j)
	lease := 5 * time.Minute

	claimJobs(t, st, base, lease, 1)
	claimJobs(t, st, base.Add(lease-ms), lease, 0, "claimed again while the lease runs")
	claimed := claimJobs(t, st, base.Add(lease), lease, 1, "not claimable once the lease ended")
	requireSameJob(t, j, claimed[0], base.Add(2*lease), 2)
}

func testFinishJob(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	j := newJob(u.ID, base)
	seedJobs(t, st, u, j)
	claimJobs(t, st, base, time.Minute, 1)

	require.NoError(t, st.FinishJob(ctx, j.ID, base.Add(time.Second)))
	claimJobs(t, st, base.Add(24*time.Hour), time.Minute, 0, "a finished job was claimed")

	require.NoError(t, st.FinishJob(ctx, j.ID, base.Add(2*time.Second)), "finishing twice")
	require.NoError(t, st.FinishJob(ctx, newID("job_"), base), "finishing a missing job")
}

func testRetryJob(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	j := newJob(u.ID, base)
	seedJobs(t, st, u, j)
	claimJobs(t, st, base, time.Hour, 1)

	runAt := base.Add(time.Minute) // well before the hour's lease ends
	require.NoError(t, st.RetryJob(ctx, j.ID, runAt, "smtp: 451 try again later"))

	claimJobs(t, st, runAt.Add(-ms), time.Minute, 0, "claimed before runAt")
	claimed := claimJobs(t, st, runAt, time.Minute, 1, "not claimable at runAt (RetryJob must release the lease)")
	want := j
	want.RunAt = runAt
	requireSameJob(t, want, claimed[0], runAt.Add(time.Minute), 2)
}

func testFailJob(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	failed, kept := newJob(u.ID, base), newJob(u.ID, base)
	seedJobs(t, st, u, failed, kept)
	claimJobs(t, st, base, time.Minute, 2)

	require.NoError(t, st.FailJob(ctx, failed.ID, base.Add(time.Second), "smtp: 550 mailbox unavailable"))
	claimed, err := st.ClaimJobs(ctx, base.Add(24*time.Hour), time.Minute, 10)
	require.NoError(t, err)
	require.Equal(t, []string{kept.ID}, jobIDs(claimed), "a failed job was claimed, or the other job was lost")
}

func testJobPayloadRoundTrip(t *testing.T, st *subject) {
	u := seedUser(t, st)
	all := make([]byte, 256) // every byte value, NUL and invalid UTF-8 included
	for i := range all {
		all[i] = byte(i)
	}
	withBytes := newJob(u.ID, base)
	withBytes.Payload = append([]byte(nil), all...)
	empty := newJob(u.ID, base)
	empty.Kind, empty.Payload = store.JobRevokeSessions, nil
	seedJobs(t, st, u, withBytes, empty)
	withBytes.Payload[0] = 0xAA // the store must have kept its own copy

	claimed := claimJobs(t, st, base, time.Minute, 2)
	for _, j := range claimed {
		switch j.ID {
		case withBytes.ID:
			require.Equal(t, all, j.Payload)
			require.Equal(t, store.JobEmail, j.Kind)
		case empty.ID:
			require.Empty(t, j.Payload)
			require.Equal(t, store.JobRevokeSessions, j.Kind)
		default:
			t.Fatalf("claimed an unknown job %s", j.ID)
		}
	}
}

func testConcurrentClaim(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	jobs := make([]store.Job, 40)
	for i := range jobs {
		jobs[i] = newJob(u.ID, base)
	}
	seedJobs(t, st, u, jobs...)

	const workers = 8
	var (
		mu      sync.Mutex
		claimed []string
		errs    []error
	)
	concurrently(workers, func(int) {
		for {
			got, err := st.ClaimJobs(ctx, base, time.Minute, 3)
			mu.Lock()
			claimed = append(claimed, jobIDs(got)...)
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
			if err != nil || len(got) == 0 {
				return
			}
		}
	})
	require.Empty(t, errs)
	seen := make(map[string]bool)
	for _, id := range claimed {
		require.False(t, seen[id], "job %s claimed twice", id)
		seen[id] = true
	}
	require.ElementsMatch(t, jobIDs(jobs), claimed)
}

func testPurgeResetsAndJobs(t *testing.T, st *subject) {
	ctx := t.Context()
	before := base

	expired := seedReset(t, st, seedUser(t, st), before.Add(-2*time.Hour)) // expired at before-1h

	// Spent and ended before `before`, but not expired by then.
	unexpired := func(u store.User, created time.Time) store.Reset {
		r := newReset(u, created)
		r.ExpiresAt = before.Add(time.Hour)
		require.NoError(t, st.CreateReset(ctx, r, nil))
		return r
	}
	spent := unexpired(seedUser(t, st), before.Add(-2*time.Hour))
	_, err := st.RedeemReset(ctx, redemption(spent, before.Add(-time.Hour)))
	require.NoError(t, err)

	uc := seedUser(t, st)
	ended := unexpired(uc, before.Add(-2*time.Hour))
	newer := seedReset(t, st, uc, before.Add(-30*time.Minute)) // ends the other at before-30m

	spentAtBefore := seedReset(t, st, seedUser(t, st), before.Add(-30*time.Minute))
	_, err = st.RedeemReset(ctx, redemption(spentAtBefore, before))
	require.NoError(t, err)
	expiresAtBefore := seedReset(t, st, seedUser(t, st), before.Add(-ttl))
	fresh := seedReset(t, st, seedUser(t, st), before.Add(-10*time.Minute))

	uj := seedUser(t, st)
	finished, failed := newJob(uj.ID, before.Add(-2*time.Hour)), newJob(uj.ID, before.Add(-2*time.Hour))
	finishedAtBefore, pending := newJob(uj.ID, before.Add(-2*time.Hour)), newJob(uj.ID, before.Add(time.Hour))
	seedJobs(t, st, uj, finished, failed, finishedAtBefore, pending)
	require.NoError(t, st.FinishJob(ctx, finished.ID, before.Add(-time.Hour)))
	require.NoError(t, st.FailJob(ctx, failed.ID, before.Add(-time.Hour), "smtp: 550"))
	require.NoError(t, st.FinishJob(ctx, finishedAtBefore.ID, before))

	n, err := st.Purge(ctx, before)
	require.NoError(t, err)
	require.Equal(t, int64(5), n, "3 resets and 2 jobs")

	for _, r := range []store.Reset{expired, spent, ended} {
		_, err := st.ResetByID(ctx, r.ID)
		require.ErrorIs(t, err, store.ErrResetNotFound, "reset %s was not purged", r.ID)
		_, err = st.ResetByTokenHash(ctx, r.TokenHash)
		require.ErrorIs(t, err, store.ErrResetNotFound, "reset %s was not purged", r.ID)
	}
	for _, r := range []store.Reset{newer, spentAtBefore, expiresAtBefore, fresh} {
		resetByID(t, st, r.ID, "reset %s was purged", r.ID)
	}
	claimed, err := st.ClaimJobs(ctx, pending.RunAt, time.Minute, 10)
	require.NoError(t, err)
	require.Equal(t, []string{pending.ID}, jobIDs(claimed), "a pending job was purged")

	n, err = st.Purge(ctx, before)
	require.NoError(t, err)
	require.Zero(t, n, "a second Purge found more to delete")
}

func testPurgeRateLimits(t *testing.T, st *subject) {
	ctx := t.Context()
	old, kept := "k_"+ulid.Make().String(), "k_"+ulid.Make().String()
	window := 24 * time.Hour
	for i := range 3 {
		ok, _, err := st.AllowRequest(ctx, old, base.Add(time.Duration(i-3)*time.Hour), window, 3)
		require.NoError(t, err)
		require.True(t, ok)
		ok, _, err = st.AllowRequest(ctx, kept, base.Add(time.Duration(i)*time.Minute), window, 3) // the first at before
		require.NoError(t, err)
		require.True(t, ok)
	}

	n, err := st.Purge(ctx, base)
	require.NoError(t, err)
	require.Positive(t, n)

	ok, _, err := st.AllowRequest(ctx, old, base.Add(time.Hour), window, 3)
	require.NoError(t, err)
	require.True(t, ok, "requests recorded before `before` still count")

	ok, retryAt, err := st.AllowRequest(ctx, kept, base.Add(time.Hour), window, 3)
	require.NoError(t, err)
	require.False(t, ok, "requests recorded at or after `before` were purged")
	requireSameTime(t, base.Add(window), retryAt, "retryAt")
}

// testEnqueueJob: a job stored on its own, without a user (a reset request
// for an address that may have no account), keeps every field, and a job
// enqueued with a lease (as a Service holds the request it records) is not
// claimable until the lease ends.
func testEnqueueJob(t *testing.T, st *subject) {
	ctx := t.Context()
	req := newJob("", base)
	req.Kind = store.JobResetRequest
	held := newJob("", base)
	held.Kind, held.ClaimedUntil, held.Attempts = store.JobResetRequest, base.Add(10*time.Second), 1
	require.NoError(t, st.EnqueueJob(ctx, req))
	require.NoError(t, st.EnqueueJob(ctx, held))

	claimed := claimJobs(t, st, base, time.Minute, 1, "the held job was claimed while its lease runs, or the other was not stored")
	requireSameJob(t, req, claimed[0], base.Add(time.Minute), 1)

	claimed = claimJobs(t, st, base.Add(10*time.Second), time.Minute, 1, "the held job is claimable once its lease ends")
	requireSameJob(t, held, claimed[0], base.Add(10*time.Second+time.Minute), 2)
}

// testEnqueueTakenID: enqueueing a job whose id is taken fails and changes
// nothing.
func testEnqueueTakenID(t *testing.T, st *subject) {
	ctx := t.Context()
	first := newJob("", base)
	first.Kind = store.JobResetRequest
	require.NoError(t, st.EnqueueJob(ctx, first))
	again := newJob("", base.Add(-time.Hour))
	again.ID, again.Kind = first.ID, store.JobResetRequest
	require.Error(t, st.EnqueueJob(ctx, again))

	claimed := claimJobs(t, st, base, time.Minute, 1)
	requireSameJob(t, first, claimed[0], base.Add(time.Minute), 1)
}

// testRenewHeldClaims: a renewed lease keeps the job from every other
// claimant until the new end, and several claims renew at once.
func testRenewHeldClaims(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	a, b := newJob(u.ID, base), newJob(u.ID, base)
	seedJobs(t, st, u, a, b)
	lease := 10 * time.Second
	claimed := claimJobs(t, st, base, lease, 2)

	now := base.Add(3 * time.Second)
	renewed, err := st.RenewJobs(ctx, claimed, now, now.Add(lease))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{a.ID, b.ID}, renewed)

	claimJobs(t, st, base.Add(lease), lease, 0, "claimed when the first lease would have ended: the renewal did not hold")
	claimJobs(t, st, now.Add(lease), lease, 2, "not claimable when the renewed lease ended")

	renewed, err = st.RenewJobs(ctx, nil, now, now.Add(lease))
	require.NoError(t, err)
	require.Empty(t, renewed)
	renewed, err = st.RenewJobs(ctx, []store.Job{{ID: newID("job_"), Attempts: 1}}, now, now.Add(lease))
	require.NoError(t, err)
	require.Empty(t, renewed, "a missing job was renewed")
}

// testRenewOnlyTheCurrentClaim: a claim that lapsed is not renewed, even
// when nobody took the job since; once another claim has taken the job,
// the old claim cannot renew it, and the new one can.
func testRenewOnlyTheCurrentClaim(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	j := newJob(u.ID, base)
	seedJobs(t, st, u, j)
	lease := 10 * time.Second
	first := claimJobs(t, st, base, lease, 1)

	renewed, err := st.RenewJobs(ctx, first, base.Add(lease), base.Add(2*lease))
	require.NoError(t, err)
	require.Empty(t, renewed, "a lease that ended at now was renewed")

	second := claimJobs(t, st, base.Add(lease), lease, 1, "the lapsed claim's job is claimable")
	now := base.Add(lease + time.Second)
	renewed, err = st.RenewJobs(ctx, first, now, now.Add(time.Hour))
	require.NoError(t, err)
	require.Empty(t, renewed, "the first claim renewed the job after a second claim took it")
	renewed, err = st.RenewJobs(ctx, second, now, now.Add(lease))
	require.NoError(t, err)
	require.Equal(t, []string{j.ID}, renewed)

	claimJobs(t, st, base.Add(2*lease), lease, 0, "the second claim's renewal did not hold")
	claimJobs(t, st, now.Add(lease), lease, 1, "the renewal went past what the second claim asked for")
}

// testRenewNothingSettled: a job finished, failed or released (RetryJob)
// is not renewed, and stays as it was.
func testRenewNothingSettled(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	finished, failed, retried := newJob(u.ID, base), newJob(u.ID, base), newJob(u.ID, base)
	seedJobs(t, st, u, finished, failed, retried)
	lease := 10 * time.Second
	claimed := claimJobs(t, st, base, lease, 3)
	require.NoError(t, st.FinishJob(ctx, finished.ID, base.Add(time.Second)))
	require.NoError(t, st.FailJob(ctx, failed.ID, base.Add(time.Second), "smtp: 550"))
	require.NoError(t, st.RetryJob(ctx, retried.ID, base.Add(time.Minute), "smtp: 451"))

	now := base.Add(2 * time.Second)
	renewed, err := st.RenewJobs(ctx, claimed, now, now.Add(time.Hour))
	require.NoError(t, err)
	require.Empty(t, renewed)

	got, err := st.ClaimJobs(ctx, base.Add(time.Minute), lease, 10)
	require.NoError(t, err)
	require.Equal(t, []string{retried.ID}, jobIDs(got), "the released job is due at its runAt, unrenewed; the others are settled")
}

// testNextDue: the earliest instant a pending job becomes claimable, its
// lease included; settled jobs do not count.
func testNextDue(t *testing.T, st *subject) {
	ctx := t.Context()
	next, err := st.NextDue(ctx)
	require.NoError(t, err)
	require.True(t, next.IsZero(), "no job, yet NextDue is %s", next)

	u := seedUser(t, st)
	early, late := newJob(u.ID, base), newJob(u.ID, base.Add(time.Hour))
	seedJobs(t, st, u, early, late)
	next, err = st.NextDue(ctx)
	require.NoError(t, err)
	requireSameTime(t, base, next, "NextDue with a job due at base")

	claimed, err := st.ClaimJobs(ctx, base, 10*time.Second, 10)
	require.NoError(t, err)
	require.Equal(t, []string{early.ID}, jobIDs(claimed))
	next, err = st.NextDue(ctx)
	require.NoError(t, err)
	requireSameTime(t, base.Add(10*time.Second), next, "NextDue while the due job is leased")

	held := newJob("", base.Add(-time.Minute))
	held.Kind, held.ClaimedUntil, held.Attempts = store.JobResetRequest, base.Add(5*time.Second), 1
	require.NoError(t, st.EnqueueJob(ctx, held))
	next, err = st.NextDue(ctx)
	require.NoError(t, err)
	requireSameTime(t, base.Add(5*time.Second), next, "NextDue: the later of RunAt and the lease, earliest over the jobs")

	require.NoError(t, st.FinishJob(ctx, early.ID, base.Add(time.Second)))
	require.NoError(t, st.FailJob(ctx, held.ID, base.Add(time.Second), "gave up"))
	next, err = st.NextDue(ctx)
	require.NoError(t, err)
	requireSameTime(t, late.RunAt, next, "NextDue after the others were settled")

	require.NoError(t, st.FinishJob(ctx, late.ID, base.Add(time.Second)))
	next, err = st.NextDue(ctx)
	require.NoError(t, err)
	require.True(t, next.IsZero(), "every job settled, yet NextDue is %s", next)
}
