package session_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/token"
)

// newStore returns the real Store the tests run against.
func newStore() session.Store { return memstore.New() }

// t0 is the tests' starting instant: UTC, whole milliseconds.
var t0 = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// recorder wraps a Store, counting the calls to each method and keeping
// the hashes given to CreateSession. err, when set, is returned by
// SessionByTokenHash instead of calling the Store.
type recorder struct {
	session.Store

	mu     sync.Mutex
	calls  map[string]int
	hashes []token.Hash
	err    error
}

func (r *recorder) count(method string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[method]++
}

// Calls returns how many times method was called.
func (r *recorder) Calls(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[method]
}

// Total returns how many calls the Store received.
func (r *recorder) Total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

func (r *recorder) Fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *recorder) CreateSession(ctx context.Context, s session.Session, h token.Hash) error {
	r.count("CreateSession")
	r.mu.Lock()
	r.hashes = append(r.hashes, h)
	r.mu.Unlock()
	return r.Store.CreateSession(ctx, s, h)
}

func (r *recorder) SessionByTokenHash(ctx context.Context, h token.Hash) (session.Session, error) {
	r.count("SessionByTokenHash")
	r.mu.Lock()
	err := r.err
	r.mu.Unlock()
	if err != nil {
		return session.Session{}, err
	}
	return r.Store.SessionByTokenHash(ctx, h)
}

func (r *recorder) SessionByID(ctx context.Context, id string) (session.Session, error) {
	r.count("SessionByID")
	return r.Store.SessionByID(ctx, id)
}

func (r *recorder) TouchSession(ctx context.Context, id string, at time.Time) error {
	r.count("TouchSession")
	return r.Store.TouchSession(ctx, id, at)
}

func (r *recorder) RotateSessionToken(ctx context.Context, id string, old, next token.Hash, at time.Time) error {
	r.count("RotateSessionToken")
	return r.Store.RotateSessionToken(ctx, id, old, next, at)
}

func (r *recorder) ListSessions(ctx context.Context, userID string, p session.ListParams) ([]session.Session, error) {
	r.count("ListSessions")
	return r.Store.ListSessions(ctx, userID, p)
}

func (r *recorder) RevokeSession(ctx context.Context, id string, at time.Time) error {
	r.count("RevokeSession")
	return r.Store.RevokeSession(ctx, id, at)
}

func (r *recorder) RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error) {
	r.count("RevokeUserSessions")
	return r.Store.RevokeUserSessions(ctx, userID, at)
}

func (r *recorder) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	r.count("PurgeSessions")
	return r.Store.PurgeSessions(ctx, before)
}

// fixture is a Manager over a recorded real Store with a settable clock.
type fixture struct {
	m     *session.Manager
	clock *testfix.Clock
	store *recorder
}

// newFixture returns a fixture; edit may adjust the Config before New.
func newFixture(t testing.TB, edit func(*session.Config)) *fixture {
	t.Helper()
	f := &fixture{
		clock: testfix.NewClock(t0),
		store: &recorder{Store: newStore(), calls: map[string]int{}},
	}
	cfg := session.Config{Store: f.store, Now: f.clock.Now}
	if edit != nil {
		edit(&cfg)
	}
	m, err := session.New(cfg)
	require.NoError(t, err)
	f.m = m
	return f
}

// create starts a session for userID and fails the test on error.
func (f *fixture) create(t testing.TB, userID string) (session.Session, string) {
	t.Helper()
	s, tok, err := f.m.Create(context.Background(), userID, session.Metadata{UserAgent: "test", IPAddress: "192.0.2.1"})
	require.NoError(t, err)
	return s, tok
}

// validate validates tok, and fails the test, saying msg, if it is refused.
func (f *fixture) validate(t testing.TB, tok, msg string) session.Session {
	t.Helper()
	s, err := f.m.Validate(context.Background(), tok)
	require.NoError(t, err, msg)
	return s
}

// requireExpired checks that tok's session is over by f's clock, saying
// msg if not: Validate refuses it with ErrExpired, and Refresh, which
// judges a session the same way, too.
func (f *fixture) requireExpired(t testing.TB, tok, msg string) {
	t.Helper()
	_, err := f.m.Validate(context.Background(), tok)
	require.ErrorIs(t, err, session.ErrExpired, msg)
	_, _, err = f.m.Refresh(context.Background(), tok)
	require.ErrorIs(t, err, session.ErrExpired, "Refresh: "+msg)
}
