package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

// base is the suite's clock: every time it hands a store is base plus an
// explicit offset, at millisecond precision.
var base = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

const (
	ms      = time.Millisecond
	oldHash = "$2a$10$old.hash.of.a.seeded.user" // the password hash seedUser stores
	ttl     = time.Hour                          // the lifetime of a reset newReset builds
)

func newID(prefix string) string { return prefix + ulid.Make().String() }

// sortedIDs returns n new ids that sort in the order they are returned.
func sortedIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newID(prefix)
	}
	slices.Sort(ids) // ulid.Make is monotonic within a process; this makes sure
	return ids
}

// addUser adds a user to the host's data through the harness, or through
// CreateUser by default, and returns its id.
func (st *subject) addUser(t *testing.T, email, passwordHash string) string {
	t.Helper()
	if st.h.AddUser != nil {
		return st.h.AddUser(t, st.Store, email, passwordHash)
	}
	c, ok := st.Store.(store.UserCreator)
	if !ok {
		t.Fatal("storetest: Harness.AddUser is required for a store that does not implement store.UserCreator")
	}
	u := store.User{ID: newID("user_"), Email: email, CreatedAt: base.Add(-48 * time.Hour), UpdatedAt: base.Add(-24 * time.Hour)}
	require.NoError(t, c.CreateUser(t.Context(), u, passwordHash))
	return u.ID
}

// seedUser adds an unverified user whose password hash is oldHash.
func seedUser(t *testing.T, st *subject) store.User {
	t.Helper()
	email := "marcelina." + strings.ToLower(ulid.Make().String()) + "@example.com"
	return store.User{ID: st.addUser(t, email, oldHash), Email: email}
}

// newReset returns an unused reset of u created at created, expiring ttl
// later, for a random token.
func newReset(u store.User, created time.Time) store.Reset {
	return store.Reset{
		ID:        newID("password_reset_"),
		UserID:    u.ID,
		Email:     u.Email,
		TokenHash: token.Sum(rand.Text()),
		CreatedAt: created,
		ExpiresAt: created.Add(ttl),
	}
}

func seedReset(t *testing.T, st *subject, u store.User, created time.Time) store.Reset {
	t.Helper()
	r := newReset(u, created)
	require.NoError(t, st.CreateReset(t.Context(), r, nil))
	return r
}

// newJob returns an email job for userID due at runAt, with a random payload.
func newJob(userID string, runAt time.Time) store.Job {
	return store.Job{
		ID:        newID("job_"),
		Kind:      store.JobEmail,
		UserID:    userID,
		Payload:   []byte(rand.Text()),
		RunAt:     runAt,
		CreatedAt: runAt.Add(-time.Minute),
	}
}

// seedJobs stores jobs of u the only way a Store takes them: with a reset
// (which ends u's older resets).
func seedJobs(t *testing.T, st *subject, u store.User, jobs ...store.Job) {
	t.Helper()
	require.NoError(t, st.CreateReset(t.Context(), newReset(u, base), jobs))
}

func newSessionHash() token.Hash {
	return token.Hash(sha256.Sum256([]byte(rand.Text())))
}

// newSession returns a session of userID created at created, expiring a day
// later.
func newSession(id, userID string, created time.Time) session.Session {
	return session.Session{
		ID:         id,
		UserID:     userID,
		CreatedAt:  created,
		LastSeenAt: created,
		ExpiresAt:  created.Add(24 * time.Hour),
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64)",
		IPAddress:  "203.0.113.7",
	}
}

func seedSession(t *testing.T, st session.Store, userID string, created time.Time) (session.Session, token.Hash) {
	t.Helper()
	s, h := newSession(newID("session_"), userID, created), newSessionHash()
	require.NoError(t, st.CreateSession(t.Context(), s, h))
	return s, h
}

// sessionsOf seeds one session of userID when st keeps sessions, and
// none otherwise: the reset clauses that check sessions are left alone by
// a failed redemption, and revoked by a successful one, run on both kinds.
func sessionsOf(t *testing.T, st *subject, userID string, created time.Time) []session.Session {
	t.Helper()
	ss, ok := st.Store.(session.Store)
	if !ok {
		return nil
	}
	s, _ := seedSession(t, ss, userID, created)
	return []session.Session{s}
}

// norm makes a time comparable with require.Equal: millisecond precision,
// UTC, no monotonic reading.
func norm(t time.Time) time.Time { return t.Truncate(ms).UTC() }

func requireSameTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	require.Truef(t, norm(want).Equal(norm(got)), "%s: want %s, got %s", what, want, got)
}

// requireSame compares every field of two values as stores keep them:
// users with WorkOS's profile fields, resets, sessions, jobs, replays.
// Every time is compared as norm makes it, and an empty slice or map as
// nil, which a column gives back for nothing stored.
func requireSame[T any](t *testing.T, want, got T) {
	t.Helper()
	require.Equal(t, normalized(want), normalized(got))
}

// normalized returns v with each of its times, at any depth, as norm makes
// it, and each empty slice or map nil.
func normalized[T any](v T) T {
	var walk func(f reflect.Value)
	walk = func(f reflect.Value) {
		switch {
		case f.Type() == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(norm(f.Interface().(time.Time))))
		case f.Kind() == reflect.Struct:
			for i := range f.NumField() {
				if f.Field(i).CanSet() {
					walk(f.Field(i))
				}
			}
		case f.Kind() == reflect.Slice, f.Kind() == reflect.Map:
			if f.Len() == 0 {
				f.SetZero()
			}
		}
	}
	walk(reflect.ValueOf(&v).Elem())
	return v
}

// requireUser checks what every store keeps of a user: the id, the email
// without regard to case, and, where the host keeps the flag, whether the
// email is verified.
func requireUser(t *testing.T, st *subject, want, got store.User) {
	t.Helper()
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, strings.ToLower(want.Email), strings.ToLower(got.Email))
	if !st.h.NoVerifiedFlag {
		require.Equal(t, want.EmailVerified, got.EmailVerified, "EmailVerified")
	}
}

// requireSameJob compares a claimed job with the job that was stored, given
// the claim's expected lease end and attempt count.
func requireSameJob(t *testing.T, want, got store.Job, claimedUntil time.Time, attempts int) {
	t.Helper()
	want.ClaimedUntil, want.Attempts = claimedUntil, attempts
	requireSame(t, want, got)
}

// resetByID returns the reset st stores under id; msgAndArgs say why it
// must be there, where that is not plain.
func resetByID(t *testing.T, st store.Store, id string, msgAndArgs ...any) store.Reset {
	t.Helper()
	r, err := st.ResetByID(t.Context(), id)
	require.NoError(t, err, msgAndArgs...)
	return r
}

// resetByHash returns the reset st stores under the token hash h, as
// resetByID does.
func resetByHash(t *testing.T, st store.Store, h token.Hash, msgAndArgs ...any) store.Reset {
	t.Helper()
	r, err := st.ResetByTokenHash(t.Context(), h)
	require.NoError(t, err, msgAndArgs...)
	return r
}

// requireHash requires that st holds want as the password hash of the
// user with this id.
func requireHash(t *testing.T, st store.Store, userID, want string, msgAndArgs ...any) {
	t.Helper()
	h, err := st.PasswordHash(t.Context(), userID)
	require.NoError(t, err)
	require.Equal(t, want, h, msgAndArgs...)
}

// claimJobs claims the jobs due at now under lease, ten at the most, and
// requires that n were claimed; msgAndArgs say which claim, where a test
// makes several.
func claimJobs(t *testing.T, st store.Store, now time.Time, lease time.Duration, n int, msgAndArgs ...any) []store.Job {
	t.Helper()
	claimed, err := st.ClaimJobs(t.Context(), now, lease, 10)
	require.NoError(t, err)
	require.Len(t, claimed, n, msgAndArgs...)
	return claimed
}

func jobIDs(jobs []store.Job) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}

func sessionIDs(ss []session.Session) []string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}

// concurrently runs fn(i) for i in [0, n) in n goroutines released at once,
// and returns when all are done.
var concurrently = testfix.Concurrently
