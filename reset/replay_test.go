package reset_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/store/sqlitestore"
)

const replayTTL = 24 * time.Hour

func TestClaimReplay(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	scope, request := "api key 1\x00POST /user_management/password_reset\x00key-1", []byte(`{"email":"ana@example.com"}`)

	claim, answer, err := f.Svc.ClaimReplay(ctx, scope, request, replayTTL)
	require.NoError(t, err)
	require.NotNil(t, claim, "the first request claims the key")
	require.Nil(t, answer)

	_, _, err = f.Svc.ClaimReplay(ctx, scope, request, replayTTL)
	require.ErrorIs(t, err, reset.ErrReplayInFlight, "a retry while the first runs")
	_, _, err = f.Svc.ClaimReplay(ctx, scope, []byte(`{"email":"bob@example.com"}`), replayTTL)
	require.ErrorIs(t, err, reset.ErrReplayMismatch, "another request under the key")

	kept := []byte(`{"object":"password_reset","password_reset_token":"tok"}`)
	require.NoError(t, claim.Save(ctx, kept))
	for range 2 {
		again, answer, err := f.Svc.ClaimReplay(ctx, scope, request, replayTTL)
		require.NoError(t, err)
		require.Nil(t, again, "a retry claimed an answered key")
		require.Equal(t, kept, answer)
	}
	_, _, err = f.Svc.ClaimReplay(ctx, scope, []byte(`{}`), replayTTL)
	require.ErrorIs(t, err, reset.ErrReplayMismatch, "another request under an answered key")

	other, _, err := f.Svc.ClaimReplay(ctx, scope+"2", request, replayTTL)
	require.NoError(t, err)
	require.NotNil(t, other, "another scope is another key")

	_, _, err = f.Svc.ClaimReplay(ctx, "s", request, 0)
	require.Error(t, err, "a lifetime of zero")
}

// TestReplayReleaseAndLease: a released key runs again; a claim that is
// neither saved nor released holds the key for ReplayLease, then a retry
// takes it over and the first can no longer save.
func TestReplayReleaseAndLease(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	first, _, err := f.Svc.ClaimReplay(ctx, "s", nil, replayTTL)
	require.NoError(t, err)
	require.NoError(t, first.Release(ctx))
	second, _, err := f.Svc.ClaimReplay(ctx, "s", nil, replayTTL)
	require.NoError(t, err)
	require.NotNil(t, second, "the key after its release")

	f.Clock.Add(reset.ReplayLease - time.Millisecond)
	_, _, err = f.Svc.ClaimReplay(ctx, "s", nil, replayTTL)
	require.ErrorIs(t, err, reset.ErrReplayInFlight)
	f.Clock.Add(time.Millisecond)
	third, _, err := f.Svc.ClaimReplay(ctx, "s", nil, replayTTL)
	require.NoError(t, err)
	require.NotNil(t, third, "the key once the lease ran out")
	require.ErrorIs(t, second.Save(ctx, []byte("late")), reset.ErrReplayNotClaimed)
	require.NoError(t, third.Save(ctx, []byte("kept")))
	require.NoError(t, second.Release(ctx), "a release of a key taken over")
	_, answer, err := f.Svc.ClaimReplay(ctx, "s", nil, replayTTL)
	require.NoError(t, err)
	require.Equal(t, []byte("kept"), answer)
}

// TestReplaySharedByInstances: a Service with the same SecretKey, on the
// same Store, replays what another saved; one with another key sees nothing
// of it.
func TestReplaySharedByInstances(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	key := []byte(strings.Repeat("k", 32))
	a := newFixture(t, func(c *reset.Config) { c.Store = st; c.SecretKey = key })
	b := newFixture(t, func(c *reset.Config) { c.Store = st; c.SecretKey = key; c.Now = a.Clock.Now })
	c := newFixture(t, func(c *reset.Config) {
		c.Store = st
		c.SecretKey = []byte(strings.Repeat("z", 32))
		c.Now = a.Clock.Now
	})

	claim, _, err := a.Svc.ClaimReplay(ctx, "s", []byte("r"), replayTTL)
	require.NoError(t, err)
	_, _, err = b.Svc.ClaimReplay(ctx, "s", []byte("r"), replayTTL)
	require.ErrorIs(t, err, reset.ErrReplayInFlight, "another instance while the first runs")
	require.NoError(t, claim.Save(ctx, []byte("answer")))
	_, answer, err := b.Svc.ClaimReplay(ctx, "s", []byte("r"), replayTTL)
	require.NoError(t, err)
	require.Equal(t, []byte("answer"), answer, "another instance replays")

	mine, _, err := c.Svc.ClaimReplay(ctx, "s", []byte("r"), replayTTL)
	require.NoError(t, err)
	require.NotNil(t, mine, "an instance with another key shares no record")
}

// TestReplaySealedAtRest: what the Store keeps of a replay holds neither
// the answer nor the scope nor the request in plain text.
func TestReplaySealedAtRest(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "replays.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.Migrate(ctx))
	f := newFixture(t, func(c *reset.Config) { c.Store = st })

	const (
		scope   = "client-idempotency-key-7f3a9c"
		request = `{"email":"request-address@example.com"}`
		token   = "Z1uX3RbwcIl5fIGJJJCXXisdI-live-token"
	)
	claim, _, err := f.Svc.ClaimReplay(ctx, scope, []byte(request), replayTTL)
	require.NoError(t, err)
	require.NoError(t, claim.Save(ctx, []byte(`{"password_reset_token":"`+token+`"}`)))
	_, answer, err := f.Svc.ClaimReplay(ctx, scope, []byte(request), replayTTL)
	require.NoError(t, err)
	require.Contains(t, string(answer), token)

	files, err := filepath.Glob(filepath.Join(dir, "replays.db*"))
	require.NoError(t, err)
	var all []byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		all = append(all, b...)
	}
	for _, secret := range []string{token, scope, "request-address"} {
		require.False(t, bytes.Contains(all, []byte(secret)), "%q is in the database files", secret)
	}
}

// TestJanitorPurgesReplays: Purge deletes an expired replay whatever the
// retention, and keeps one that still lives.
func TestJanitorPurgesReplays(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	claim, _, err := f.Svc.ClaimReplay(ctx, "s", nil, time.Hour)
	require.NoError(t, err)
	require.NoError(t, claim.Save(ctx, []byte("answer")))

	f.Clock.Add(time.Hour - time.Millisecond)
	n, err := f.Svc.Purge(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, n, "a live replay was purged")
	_, answer, err := f.Svc.ClaimReplay(ctx, "s", nil, time.Hour)
	require.NoError(t, err)
	require.Equal(t, []byte("answer"), answer)

	f.Clock.Add(2 * time.Millisecond)
	n, err = f.Svc.Purge(context.Background(), 24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the expired replay, under a day's retention")
}
