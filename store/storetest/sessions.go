package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/token"
)

func testSessionRoundTrip(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	u := seedUser(t, st.subject)
	s := session.Session{
		ID:         newID("session_"),
		UserID:     u.ID,
		CreatedAt:  base.Add(1 * ms),
		LastSeenAt: base.Add(2 * ms),
		ExpiresAt:  base.Add(24*time.Hour + 3*ms),
		UserAgent:  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) «ünïcode»",
		IPAddress:  "2001:db8::1",
		Stamp:      "l6tS0mCkPvX8xw2iN_4p-Q", // a credential stamp: 22 base64url characters
	}
	h := newSessionHash()
	h[0], h[1], h[31] = 0x00, 0xff, 0x00 // bytes that trip text encodings
	require.NoError(t, st.CreateSession(ctx, s, h))

	byHash, err := st.SessionByTokenHash(ctx, h)
	require.NoError(t, err)
	requireSame(t, s, byHash)
	byID, err := st.SessionByID(ctx, s.ID)
	require.NoError(t, err)
	requireSame(t, s, byID)
}

func testSessionNotFound(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	_, h := seedSession(t, st, seedUser(t, st.subject).ID, base)

	_, err := st.SessionByID(ctx, newID("session_"))
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = st.SessionByTokenHash(ctx, newSessionHash())
	require.ErrorIs(t, err, session.ErrNotFound)
	near := h
	near[31] ^= 0x01
	_, err = st.SessionByTokenHash(ctx, near)
	require.ErrorIs(t, err, session.ErrNotFound, "a hash one bit away found the session")
}

func testTouchSession(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	s, h := seedSession(t, st, seedUser(t, st.subject).ID, base)
	at := base.Add(time.Hour + 5*ms)
	require.NoError(t, st.TouchSession(ctx, s.ID, at))

	got, err := st.SessionByTokenHash(ctx, h)
	require.NoError(t, err)
	want := s
	want.LastSeenAt = at
	requireSame(t, want, got)

	require.ErrorIs(t, st.TouchSession(ctx, newID("session_"), at), session.ErrNotFound)
}

func testRotateSessionToken(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	s, old := seedSession(t, st, seedUser(t, st.subject).ID, base)
	rotated, at := newSessionHash(), base.Add(time.Hour)
	require.NoError(t, st.RotateSessionToken(ctx, s.ID, old, rotated, at))

	_, err := st.SessionByTokenHash(ctx, old)
	require.ErrorIs(t, err, session.ErrNotFound, "the old hash still finds the session")
	got, err := st.SessionByTokenHash(ctx, rotated)
	require.NoError(t, err)
	want := s
	want.LastSeenAt = at
	requireSame(t, want, got)
}

func testRotateStaleToken(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	s, old := seedSession(t, st, seedUser(t, st.subject).ID, base)
	current, stale := newSessionHash(), newSessionHash()
	require.NoError(t, st.RotateSessionToken(ctx, s.ID, old, current, base.Add(time.Minute)))

	err := st.RotateSessionToken(ctx, s.ID, old, stale, base.Add(2*time.Minute))
	require.ErrorIs(t, err, session.ErrNotFound, "rotated from a hash that is no longer current")
	_, err = st.SessionByTokenHash(ctx, stale)
	require.ErrorIs(t, err, session.ErrNotFound)
	got, err := st.SessionByTokenHash(ctx, current)
	require.NoError(t, err)
	requireSameTime(t, base.Add(time.Minute), got.LastSeenAt, "LastSeenAt")

	err = st.RotateSessionToken(ctx, newID("session_"), current, stale, base.Add(2*time.Minute))
	require.ErrorIs(t, err, session.ErrNotFound, "unknown id")
}

func testRotateRevoked(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	s, h := seedSession(t, st, seedUser(t, st.subject).ID, base)
	require.NoError(t, st.RevokeSession(ctx, s.ID, base.Add(time.Minute)))
	rotated := newSessionHash()

	err := st.RotateSessionToken(ctx, s.ID, h, rotated, base.Add(2*time.Minute))
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = st.SessionByTokenHash(ctx, rotated)
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = st.SessionByTokenHash(ctx, h)
	require.NoError(t, err, "a revoked session is still found by its hash")
}

func testConcurrentRotation(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	s, old := seedSession(t, st, seedUser(t, st.subject).ID, base)
	const n = 20
	hashes := make([]token.Hash, n)
	for i := range hashes {
		hashes[i] = newSessionHash()
	}
	errs := make([]error, n)
	concurrently(n, func(i int) {
		errs[i] = st.RotateSessionToken(ctx, s.ID, old, hashes[i], base.Add(time.Minute))
	})

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two rotations succeeded: %d and %d", winner, i)
			winner = i
			continue
		}
		require.ErrorIs(t, err, session.ErrNotFound, "rotation %d", i)
	}
	require.NotEqual(t, -1, winner, "no rotation succeeded")
	for i, h := range hashes {
		got, err := st.SessionByTokenHash(ctx, h)
		if i == winner {
			require.NoError(t, err)
			require.Equal(t, s.ID, got.ID)
			continue
		}
		require.ErrorIs(t, err, session.ErrNotFound, "a losing rotation's hash finds the session")
	}
	_, err := st.SessionByTokenHash(ctx, old)
	require.ErrorIs(t, err, session.ErrNotFound)
}

// seedSessions stores n sessions of userID with ids that sort in the order
// returned, inserting them newest first so that an order by insertion shows.
func seedSessions(t *testing.T, st sessionSubject, userID string, n int) []string {
	t.Helper()
	ids := sortedIDs("session_", n)
	for i := n - 1; i >= 0; i-- {
		s := newSession(ids[i], userID, base.Add(time.Duration(i)*time.Second))
		require.NoError(t, st.CreateSession(t.Context(), s, newSessionHash()))
	}
	return ids
}

func testListOrder(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	u, other := seedUser(t, st.subject), seedUser(t, st.subject)
	ids := seedSessions(t, st, u.ID, 5)
	seedSessions(t, st, other.ID, 2)
	require.NoError(t, st.RevokeSession(ctx, ids[1], base.Add(time.Minute)))
	expired, _ := seedSession(t, st, u.ID, base.Add(-48*time.Hour))
	ids = append(ids, expired.ID) // the newest id, however old its times

	asc, err := st.ListSessions(ctx, u.ID, session.ListParams{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, ids, sessionIDs(asc), "ascending by id, revoked and expired included, only this user's")
	require.Equal(t, u.ID, asc[0].UserID)

	desc, err := st.ListSessions(ctx, u.ID, session.ListParams{Limit: 10, Desc: true})
	require.NoError(t, err)
	require.Equal(t, reversed(ids), sessionIDs(desc))

	none, err := st.ListSessions(ctx, newID("user_"), session.ListParams{})
	require.NoError(t, err)
	require.Empty(t, none)
}

func testListLimit(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	u := seedUser(t, st.subject)
	ids := seedSessions(t, st, u.ID, 12)

	for _, c := range []struct {
		p    session.ListParams
		want []string
	}{
		{session.ListParams{}, ids[:10]},
		{session.ListParams{Limit: -1}, ids[:10]},
		{session.ListParams{Desc: true}, reversed(ids[2:])},
		{session.ListParams{Limit: 3}, ids[:3]},
		{session.ListParams{Limit: 3, Desc: true}, reversed(ids[9:])},
		{session.ListParams{Limit: 50}, ids},
	} {
		got, err := st.ListSessions(ctx, u.ID, c.p)
		require.NoError(t, err)
		require.Equal(t, c.want, sessionIDs(got), "%+v", c.p)
	}
}

// testListCursors checks that Before and After bound the id whatever the
// order, and that Desc picks the highest matching ids.
func testListCursors(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	u := seedUser(t, st.subject)
	ids := seedSessions(t, st, u.ID, 6)
	lowest := "session_" + strings.Repeat("0", 26) // a cursor no session has

	for _, c := range []struct {
		p    session.ListParams
		want []string
	}{
		{session.ListParams{Limit: 2, After: ids[1]}, ids[2:4]},
		{session.ListParams{Limit: 2, After: ids[1], Desc: true}, reversed(ids[4:6])},
		{session.ListParams{Limit: 2, Before: ids[4]}, ids[0:2]},
		{session.ListParams{Limit: 2, Before: ids[4], Desc: true}, reversed(ids[2:4])},
		{session.ListParams{Limit: 10, After: ids[0], Before: ids[4]}, ids[1:4]},
		{session.ListParams{Limit: 10, After: ids[0], Before: ids[4], Desc: true}, reversed(ids[1:4])},
		{session.ListParams{Limit: 10, After: ids[5]}, nil},
		{session.ListParams{Limit: 10, Before: ids[0], Desc: true}, nil},
		{session.ListParams{Limit: 10, After: lowest}, ids},
	} {
		got, err := st.ListSessions(ctx, u.ID, c.p)
		require.NoError(t, err)
		require.Equal(t, c.want, nilIfEmpty(sessionIDs(got)), "%+v", c.p)
	}
}

func reversed(ids []string) []string {
	r := slices.Clone(ids)
	slices.Reverse(r)
	return r
}

func nilIfEmpty(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	return ids
}

func testRevokeSession(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	u := seedUser(t, st.subject)
	s, h := seedSession(t, st, u.ID, base)
	other, _ := seedSession(t, st, u.ID, base)
	at := base.Add(time.Hour)
	require.NoError(t, st.RevokeSession(ctx, s.ID, at))

	got, err := st.SessionByTokenHash(ctx, h)
	require.NoError(t, err, "a revoked session is still found by its hash")
	want := s
	want.RevokedAt = at
	requireSame(t, want, got)

	require.NoError(t, st.RevokeSession(ctx, s.ID, at.Add(time.Hour)), "revoking twice")
	got, err = st.SessionByID(ctx, s.ID)
	require.NoError(t, err)
	requireSameTime(t, at, got.RevokedAt, "RevokedAt after revoking twice")

	got, err = st.SessionByID(ctx, other.ID)
	require.NoError(t, err)
	require.True(t, got.RevokedAt.IsZero(), "another session was revoked")

	require.ErrorIs(t, st.RevokeSession(ctx, newID("session_"), at), session.ErrNotFound)
}

func testRevokeUserSessions(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	u, other := seedUser(t, st.subject), seedUser(t, st.subject)
	s1, _ := seedSession(t, st, u.ID, base.Add(-time.Hour))
	s2, _ := seedSession(t, st, u.ID, base.Add(-time.Hour))
	revoked, _ := seedSession(t, st, u.ID, base.Add(-time.Hour))
	require.NoError(t, st.RevokeSession(ctx, revoked.ID, base.Add(-time.Minute)))
	expired, _ := seedSession(t, st, u.ID, base.Add(-48*time.Hour))
	others, _ := seedSession(t, st, other.ID, base.Add(-time.Hour))

	n, err := st.RevokeUserSessions(ctx, u.ID, base)
	require.NoError(t, err)
	require.Equal(t, 2, n, "only active sessions count")

	for _, c := range []struct {
		s         session.Session
		revokedAt time.Time
	}{
		{s1, base}, {s2, base}, {revoked, base.Add(-time.Minute)}, {expired, time.Time{}}, {others, time.Time{}},
	} {
		got, err := st.SessionByID(ctx, c.s.ID)
		require.NoError(t, err)
		requireSameTime(t, c.revokedAt, got.RevokedAt, "RevokedAt of "+c.s.ID)
	}

	n, err = st.RevokeUserSessions(ctx, u.ID, base.Add(time.Minute))
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to revoke")
}

func testPurgeSessions(t *testing.T, st sessionSubject) {
	ctx := t.Context()
	uid := seedUser(t, st.subject).ID
	before := base

	expired, expiredHash := seedSession(t, st, uid, before.Add(-25*time.Hour)) // expired at before-1h
	revoked, revokedHash := seedSession(t, st, uid, before.Add(-2*time.Hour))
	require.NoError(t, st.RevokeSession(ctx, revoked.ID, before.Add(-time.Hour)))

	expiresAtBefore, _ := seedSession(t, st, uid, before.Add(-24*time.Hour))
	revokedAtBefore, _ := seedSession(t, st, uid, before.Add(-time.Hour))
	require.NoError(t, st.RevokeSession(ctx, revokedAtBefore.ID, before))
	active, _ := seedSession(t, st, uid, before.Add(-time.Hour))

	n, err := st.PurgeSessions(ctx, before)
	require.NoError(t, err)
	require.Equal(t, int64(2), n)

	for _, gone := range []struct {
		id string
		h  token.Hash
	}{{expired.ID, expiredHash}, {revoked.ID, revokedHash}} {
		_, err := st.SessionByID(ctx, gone.id)
		require.ErrorIs(t, err, session.ErrNotFound, "session %s was not purged", gone.id)
		_, err = st.SessionByTokenHash(ctx, gone.h)
		require.ErrorIs(t, err, session.ErrNotFound, "session %s still found by its hash", gone.id)
	}
	for _, id := range []string{expiresAtBefore.ID, revokedAtBefore.ID, active.ID} {
		_, err := st.SessionByID(ctx, id)
		require.NoError(t, err, "session %s was purged", id)
	}
	listed, err := st.ListSessions(ctx, uid, session.ListParams{Limit: 10})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{expiresAtBefore.ID, revokedAtBefore.ID, active.ID}, sessionIDs(listed))
}
