package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store"
)

// The clauses of a database shared by several processes: each races two
// handles (Harness.Another) as two instances of an app would.

// pick returns a for even i and b for odd.
func pick(a, b *subject, i int) *subject {
	if i%2 == 1 {
		return b
	}
	return a
}

func testSharedConcurrentRedemption(t *testing.T, a, b *subject) {
	ctx := t.Context()
	u := seedUser(t, a)
	r := seedReset(t, a, u, base)
	const n = 60
	errs := make([]error, n)
	hashes := make([]string, n)
	concurrently(n, func(i int) {
		red := redemption(r, base.Add(time.Minute))
		hashes[i] = red.PasswordHash
		_, errs[i] = pick(a, b, i).RedeemReset(ctx, red)
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two redemptions won: %d and %d", winner, i)
			winner = i
			continue
		}
		require.ErrorIs(t, err, store.ErrInvalidToken, "redemption %d", i)
	}
	require.NotEqual(t, -1, winner, "no redemption won")
	h, err := b.PasswordHash(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, hashes[winner], h)
}

// testSharedRedemptionsOfManyUsers: redemptions of different users' resets
// on two handles at once all succeed, none waiting the others out.
func testSharedRedemptionsOfManyUsers(t *testing.T, a, b *subject) {
	ctx := t.Context()
	const n = 30
	resets := make([]store.Reset, n)
	for i := range resets {
		resets[i] = seedReset(t, a, seedUser(t, a), base)
	}
	errs := make([]error, n)
	concurrently(n, func(i int) {
		red := redemption(resets[i], base.Add(time.Minute))
		red.Jobs = []store.Job{newJob(resets[i].UserID, base)}
		_, errs[i] = pick(a, b, i).RedeemReset(ctx, red)
	})
	for i, err := range errs {
		require.NoError(t, err, "redemption %d", i)
	}
}

func testSharedAllowRequest(t *testing.T, a, b *subject) {
	ctx := t.Context()
	const limit = 7
	require.Equal(t, limit, countAllowed(t, 40, func(i int) (bool, time.Time, error) {
		return pick(a, b, i).AllowRequest(ctx, "shared-key", base, time.Hour, limit)
	}), "requests allowed across two handles")
}

func testSharedClaimJobs(t *testing.T, a, b *subject) {
	ctx := t.Context()
	u := seedUser(t, a)
	const jobs, claimers = 40, 8
	var js []store.Job
	for i := range jobs {
		j := newJob(u.ID, base.Add(-time.Duration(i)*time.Second))
		j.Payload = []byte(fmt.Sprint(i))
		js = append(js, j)
	}
	seedJobs(t, a, u, js...)
	got := make([][]store.Job, claimers)
	errs := make([]error, claimers)
	concurrently(claimers, func(i int) {
		got[i], errs[i] = pick(a, b, i).ClaimJobs(ctx, base, time.Minute, 10)
	})
	seen := map[string]bool{}
	for i := range claimers {
		require.NoError(t, errs[i])
		for _, j := range got[i] {
			require.False(t, seen[j.ID], "job %s claimed twice", j.ID)
			seen[j.ID] = true
		}
	}
	require.Len(t, seen, jobs, "every due job claimed once")
}
