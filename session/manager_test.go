package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/token"
)

// *Manager is the SessionRevoker that package reset consumes.
var _ reset.SessionRevoker = (*session.Manager)(nil)

func TestNew(t *testing.T) {
	t.Run("missing store", func(t *testing.T) {
		_, err := session.New(session.Config{})
		require.ErrorContains(t, err, "Store")
	})
	t.Run("defaults", func(t *testing.T) {
		_, err := session.New(session.Config{Store: newStore()})
		require.NoError(t, err)
	})
	bad := map[string]session.Config{
		"negative absolute timeout": {AbsoluteTimeout: -time.Hour},
		"touch not below idle":      {IdleTimeout: time.Minute, TouchInterval: time.Minute},
		"touch above default idle":  {TouchInterval: 25 * time.Hour},
		"cookie name":               {CookieName: "bad name;"},
		"cookie domain":             {CookieDomain: "exa mple.com"},
	}
	for name, cfg := range bad {
		t.Run(name, func(t *testing.T) {
			cfg.Store = newStore()
			_, err := session.New(cfg)
			require.Error(t, err)
		})
	}
	t.Run("idle disabled allows any touch interval", func(t *testing.T) {
		_, err := session.New(session.Config{Store: newStore(), IdleTimeout: -1, TouchInterval: 48 * time.Hour})
		require.NoError(t, err)
	})
}

func TestCreateValidate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)

	s, tok, err := f.m.Create(ctx, "user_1", session.Metadata{UserAgent: "Firefox", IPAddress: "192.0.2.7"})
	require.NoError(t, err)

	require.Len(t, tok, 43)
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	require.NoError(t, err)
	require.Len(t, raw, 32)

	require.True(t, strings.HasPrefix(s.ID, "session_"), s.ID)
	id, err := ulid.ParseStrict(strings.TrimPrefix(s.ID, "session_"))
	require.NoError(t, err)
	require.Equal(t, t0, id.Timestamp().UTC())

	require.Equal(t, session.Session{
		ID: s.ID, UserID: "user_1", CreatedAt: t0, LastSeenAt: t0,
		ExpiresAt: t0.Add(30 * 24 * time.Hour), UserAgent: "Firefox", IPAddress: "192.0.2.7",
	}, s)

	got, err := f.m.Validate(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, s, got)

	stored, err := f.m.Get(ctx, s.ID)
	require.NoError(t, err)
	require.Equal(t, s, stored)

	s2, tok2 := f.create(t, "user_1")
	require.NotEqual(t, tok, tok2)
	require.Less(t, s.ID, s2.ID, "ids of one millisecond still sort by creation")

	_, _, err = f.m.Create(ctx, "", session.Metadata{})
	require.Error(t, err)
}

func TestCreateCleansMetadata(t *testing.T) {
	f := newFixture(t, nil)
	s, _, err := f.m.Create(context.Background(), "user_1", session.Metadata{
		UserAgent: strings.Repeat("é", 300), // 600 bytes
		IPAddress: "bad\xff\x00ip",
	})
	require.NoError(t, err)
	require.Len(t, s.UserAgent, 512)
	require.Equal(t, strings.Repeat("é", 256), s.UserAgent)
	require.Equal(t, "bad\uFFFDip", s.IPAddress)
}

func TestTokenNotStored(t *testing.T) {
	f := newFixture(t, nil)
	s, tok := f.create(t, "user_1")

	require.Len(t, f.store.hashes, 1)
	h := f.store.hashes[0]
	require.Equal(t, token.Hash(sha256.Sum256([]byte(tok))), h)
	require.Equal(t, h, token.Sum(tok))
	require.NotEqual(t, tok, string(h[:]))
	require.NotContains(t, string(h[:]), tok)

	stored, err := f.m.Get(context.Background(), s.ID)
	require.NoError(t, err)
	for _, v := range []string{stored.ID, stored.UserID, stored.UserAgent, stored.IPAddress} {
		require.NotContains(t, v, tok)
	}
}

func TestMalformedTokenSkipsStore(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	_, good := f.create(t, "user_1")
	before := f.store.Total()

	malformed := map[string]string{
		"empty":             "",
		"short":             good[:42],
		"long":              good + "A",
		"padded":            good + "=",
		"standard alphabet": "+" + good[1:],
		"slash":             "/" + good[1:],
		"space":             " " + good[1:],
		"non-ascii":         "é" + good[2:],
		"non-canonical end": good[:42] + "B", // low bits of the last character set
		"uuid":              "3fa85f64-5717-4562-b3fc-2c963f66afa6",
	}
	for name, tok := range malformed {
		t.Run(name, func(t *testing.T) {
			_, err := f.m.Validate(ctx, tok)
			require.ErrorIs(t, err, session.ErrNotFound)
			_, _, err = f.m.Refresh(ctx, tok)
			require.ErrorIs(t, err, session.ErrNotFound)
		})
	}
	require.Equal(t, before, f.store.Total(), "no Store call for a malformed token")

	// A well-formed unknown token costs exactly one lookup.
	unknown := strings.Repeat("A", 43)
	_, err := f.m.Validate(ctx, unknown)
	require.ErrorIs(t, err, session.ErrNotFound)
	require.Equal(t, before+1, f.store.Total())
	require.Equal(t, 1, f.store.Calls("SessionByTokenHash"))
}

func TestIdleTimeout(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.IdleTimeout = time.Hour })
	_, tok := f.create(t, "user_1")

	f.clock.Add(time.Hour - time.Millisecond)
	s := f.validate(t, tok, "one millisecond before the idle deadline")
	require.Equal(t, t0.Add(time.Hour-time.Millisecond), s.LastSeenAt, "use restarts the idle clock")

	f.clock.Add(time.Hour - time.Millisecond)
	f.validate(t, tok, "one millisecond before the moved deadline")

	f.clock.Add(time.Hour)
	f.requireExpired(t, tok, "at the idle deadline exactly")
}

func TestIdleTimeoutDisabled(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.IdleTimeout = -1 })
	_, tok := f.create(t, "user_1")
	f.clock.Add(29 * 24 * time.Hour)
	f.validate(t, tok, "29 days idle")
}

func TestAbsoluteTimeout(t *testing.T) {
	f := newFixture(t, func(c *session.Config) {
		c.AbsoluteTimeout = 2 * time.Hour
		c.IdleTimeout = time.Hour
	})
	s, tok := f.create(t, "user_1")
	require.Equal(t, t0.Add(2*time.Hour), s.ExpiresAt)

	for range 3 { // keep it busy, so only the absolute timeout can end it
		f.clock.Add(30 * time.Minute)
		f.validate(t, tok, "busy, within the timeouts")
	}
	f.clock.Set(s.ExpiresAt.Add(-time.Millisecond))
	f.validate(t, tok, "one millisecond before ExpiresAt")

	f.clock.Add(time.Millisecond)
	f.requireExpired(t, tok, "at ExpiresAt exactly")
}

func TestTouchInterval(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil) // TouchInterval defaults to a minute
	s, tok := f.create(t, "user_1")

	for _, at := range []time.Duration{0, 30 * time.Second, time.Minute - time.Millisecond} {
		f.clock.Set(t0.Add(at))
		got, err := f.m.Validate(ctx, tok)
		require.NoError(t, err)
		require.Equal(t, t0, got.LastSeenAt)
	}
	require.Equal(t, 0, f.store.Calls("TouchSession"), "no write within the interval")

	f.clock.Set(t0.Add(time.Minute))
	got, err := f.m.Validate(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Minute), got.LastSeenAt)
	require.Equal(t, 1, f.store.Calls("TouchSession"))

	stored, err := f.m.Get(ctx, s.ID)
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Minute), stored.LastSeenAt)

	f.clock.Set(t0.Add(time.Minute + 59*time.Second))
	_, err = f.m.Validate(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, 1, f.store.Calls("TouchSession"))
	require.Equal(t, 5, f.store.Calls("SessionByTokenHash"), "one lookup per Validate")

	t.Run("negative: every validation writes", func(t *testing.T) {
		f := newFixture(t, func(c *session.Config) { c.TouchInterval = -1 })
		_, tok := f.create(t, "user_1")
		for range 3 {
			_, err := f.m.Validate(ctx, tok)
			require.NoError(t, err)
		}
		require.Equal(t, 3, f.store.Calls("TouchSession"))
	})
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	s, tok := f.create(t, "user_1")
	_, other := f.create(t, "user_1")

	f.clock.Add(time.Second)
	require.NoError(t, f.m.Revoke(ctx, s.ID))
	_, err := f.m.Validate(ctx, tok)
	require.ErrorIs(t, err, session.ErrRevoked)
	_, err = f.m.Validate(ctx, other)
	require.NoError(t, err, "only that session")

	got, err := f.m.Get(ctx, s.ID)
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Second), got.RevokedAt)
	require.False(t, got.Active(f.clock.Now()))

	require.NoError(t, f.m.Revoke(ctx, s.ID), "revoking twice is not an error")
	require.ErrorIs(t, f.m.Revoke(ctx, "session_unknown"), session.ErrNotFound)
	_, err = f.m.Get(ctx, "session_unknown")
	require.ErrorIs(t, err, session.ErrNotFound)

	_, _, err = f.m.Refresh(ctx, tok)
	require.ErrorIs(t, err, session.ErrRevoked)
}

func TestRevokeUserSessions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	var alice []string
	for range 3 {
		_, tok := f.create(t, "user_alice")
		alice = append(alice, tok)
	}
	_, bob := f.create(t, "user_bob")

	require.NoError(t, f.m.RevokeUserSessions(ctx, "user_alice"))
	for _, tok := range alice {
		_, err := f.m.Validate(ctx, tok)
		require.ErrorIs(t, err, session.ErrRevoked)
	}
	_, err := f.m.Validate(ctx, bob)
	require.NoError(t, err, "another user's session survives")

	require.NoError(t, f.m.RevokeUserSessions(ctx, "user_alice"), "idempotent")
	require.NoError(t, f.m.RevokeUserSessions(ctx, "user_nobody"), "no sessions is not an error")

	// As reset.SessionRevoker.
	var rv reset.SessionRevoker = f.m
	require.NoError(t, rv.RevokeUserSessions(ctx, "user_bob"))
	_, err = f.m.Validate(ctx, bob)
	require.ErrorIs(t, err, session.ErrRevoked)
}

func TestRevokeUserSessionsWrapsStoreErrors(t *testing.T) {
	boom := errors.New("disk on fire")
	m, err := session.New(session.Config{Store: failingRevoker{Store: newStore(), err: boom}})
	require.NoError(t, err)
	err = m.RevokeUserSessions(context.Background(), "user_1")
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "session: ")
}

type failingRevoker struct {
	session.Store
	err error
}

func (f failingRevoker) RevokeUserSessions(context.Context, string, time.Time) (int, error) {
	return 0, f.err
}

func TestList(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	var ids []string
	for range 3 {
		s, _ := f.create(t, "user_alice")
		ids = append(ids, s.ID)
		f.clock.Add(time.Millisecond)
	}
	f.create(t, "user_bob")
	require.NoError(t, f.m.Revoke(ctx, ids[1]))

	got, err := f.m.List(ctx, "user_alice", session.ListParams{})
	require.NoError(t, err)
	require.Len(t, got, 3, "revoked sessions included")
	for i, s := range got {
		require.Equal(t, ids[i], s.ID)
		require.Equal(t, "user_alice", s.UserID)
	}

	got, err = f.m.List(ctx, "user_alice", session.ListParams{Limit: 1, After: ids[0]})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, ids[1], got[0].ID)

	got, err = f.m.List(ctx, "user_nobody", session.ListParams{})
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestRefresh(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	s, old := f.create(t, "user_1")

	f.clock.Add(10 * time.Minute)
	rs, tok, err := f.m.Refresh(ctx, old)
	require.NoError(t, err)
	require.NotEqual(t, old, tok)
	require.Len(t, tok, 43)
	require.Equal(t, s.ID, rs.ID)
	require.Equal(t, s.ExpiresAt, rs.ExpiresAt, "the absolute timeout is not extended")
	require.Equal(t, t0.Add(10*time.Minute), rs.LastSeenAt)

	got, err := f.m.Validate(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, s.ID, got.ID)

	_, err = f.m.Validate(ctx, old)
	require.ErrorIs(t, err, session.ErrNotFound, "the old token stops working")
	_, _, err = f.m.Refresh(ctx, old)
	require.ErrorIs(t, err, session.ErrNotFound, "and cannot be refreshed twice")
	// Its reuse ended the session (TestRefreshReuseRevokes).
	_, err = f.m.Validate(ctx, tok)
	require.ErrorIs(t, err, session.ErrRevoked)
}

func TestRefreshConcurrent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	_, old := f.create(t, "user_1")

	const n = 20
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]error, n)
		tokens  = make([]string, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			_, tokens[i], results[i] = f.m.Refresh(ctx, old)
		})
	}
	close(start)
	wg.Wait()

	wins := 0
	for i, err := range results {
		if err == nil {
			wins++
			// A loser that looked the token up after the winner rotated
			// it presented a rotated-away token: the session is revoked.
			// One that lost inside the rotation did not.
			_, verr := f.m.Validate(ctx, tokens[i])
			if verr != nil {
				require.ErrorIs(t, verr, session.ErrRevoked)
			}
			continue
		}
		require.ErrorIs(t, err, session.ErrNotFound)
	}
	require.Equal(t, 1, wins)
}

// TestRefreshReuseRevokes: a refresh token presented again after it was
// rotated away is refused as unknown, and revokes its session, so that the
// token the first refresh handed out (to the owner or to a thief) stops
// working too; other sessions of the user are left alone.
func TestRefreshReuseRevokes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	s, first := f.create(t, "user_1")
	other, otherTok := f.create(t, "user_1")
	f.clock.Add(time.Minute)
	_, second, err := f.m.Refresh(ctx, first)
	require.NoError(t, err)
	f.clock.Add(time.Minute)
	_, third, err := f.m.Refresh(ctx, second)
	require.NoError(t, err)

	f.clock.Add(time.Minute)
	_, _, err = f.m.Refresh(ctx, first) // the oldest token, two rotations back
	require.ErrorIs(t, err, session.ErrNotFound, "a reused token is answered as an unknown one")
	_, err = f.m.Validate(ctx, third)
	require.ErrorIs(t, err, session.ErrRevoked, "the current token outlived the reuse of an old one")
	_, _, err = f.m.Refresh(ctx, third)
	require.ErrorIs(t, err, session.ErrRevoked)
	got, err := f.m.Get(ctx, s.ID)
	require.NoError(t, err)
	require.Equal(t, f.clock.Now(), got.RevokedAt)

	_, err = f.m.Validate(ctx, otherTok)
	require.NoError(t, err, "another session of the user was revoked")
	o, err := f.m.Get(ctx, other.ID)
	require.NoError(t, err)
	require.True(t, o.RevokedAt.IsZero())
}

// TestUnknownTokenRevokesNothing: a well-formed token that was never a
// session's is not taken for a reused one.
func TestUnknownTokenRevokesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	s, tok := f.create(t, "user_1")
	_, err := f.m.Validate(ctx, strings.Repeat("A", 43))
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = f.m.Validate(ctx, tok)
	require.NoError(t, err)
	got, err := f.m.Get(ctx, s.ID)
	require.NoError(t, err)
	require.True(t, got.RevokedAt.IsZero())
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *session.Config) { c.AbsoluteTimeout = time.Hour })
	gone, _ := f.create(t, "user_1")
	f.clock.Add(2 * time.Hour)
	kept, _ := f.create(t, "user_1")

	n, err := f.m.Purge(ctx, f.clock.Now())
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	_, err = f.m.Get(ctx, gone.ID)
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = f.m.Get(ctx, kept.ID)
	require.NoError(t, err)
}

// TestPurgeRefusesTheFuture: a cut-off after the clock would delete live
// sessions; it is refused and deletes nothing.
func TestPurgeRefusesTheFuture(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *session.Config) { c.AbsoluteTimeout = time.Hour })
	live, _ := f.create(t, "user_1")
	n, err := f.m.Purge(ctx, f.clock.Now().Add(2*time.Hour))
	require.Error(t, err)
	require.Zero(t, n)
	_, err = f.m.Get(ctx, live.ID)
	require.NoError(t, err, "a live session was purged")
}

// TestRevokeOtherSessions: every active session of the user ends but the
// one kept, over more than one page of the list; other users' sessions
// stay, and doing it again changes nothing.
func TestRevokeOtherSessions(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	keep, keepTok := f.create(t, "user_1")
	var others []string
	for range 120 { // more than one page of 100
		_, tok := f.create(t, "user_1")
		others = append(others, tok)
	}
	_, theirs := f.create(t, "user_2")
	require.NoError(t, f.m.RevokeOtherSessions(ctx, "user_1", keep.ID))
	require.NoError(t, f.m.RevokeOtherSessions(ctx, "user_1", keep.ID), "idempotent")
	_, err := f.m.Validate(ctx, keepTok)
	require.NoError(t, err, "the session kept")
	for _, tok := range others {
		_, err := f.m.Validate(ctx, tok)
		require.ErrorIs(t, err, session.ErrRevoked)
	}
	_, err = f.m.Validate(ctx, theirs)
	require.NoError(t, err, "another user's session")
}
