// Package storetest is the conformance suite every storage adapter runs:
// store/memstore, store/sqlitestore, store/pgstore, and a host's own. Each
// subtest checks one clause of the contracts documented on store.Store,
// store.UserCreator, store.SignInRecorder and session.Store, so an adapter
// that passes Run can be handed to reset.NewService and the session Manager.
//
// The suite sees a store only through those interfaces. What they cannot
// show (that the database file holds token hashes and never tokens, that a
// schema has the indexes its hot paths need) belongs in each adapter's own
// tests.
package storetest

import (
	"testing"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
)

// Store is what the suite checks: store.Store and user creation (for
// seeding). An adapter that also implements session.Store (a SessionStore)
// or store.SignInRecorder is checked for those too; otherwise their
// subtests are skipped, so an adapter whose sessions live elsewhere, with
// a reset.SessionRevoker of the host's, runs the suite as well.
type Store interface {
	store.Store
	store.UserCreator
}

// SessionStore is a Store that also keeps sessions, so that RedeemReset
// revokes them in its own transaction.
type SessionStore interface {
	Store
	session.Store
}

// withSessions runs fn when st keeps sessions, and skips otherwise.
func withSessions(fn func(*testing.T, SessionStore)) func(*testing.T, Store) {
	return func(t *testing.T, st Store) {
		ss, ok := st.(SessionStore)
		if !ok {
			t.Skip("the store keeps no sessions: it does not implement session.Store")
		}
		fn(t, ss)
	}
}

// Run runs the conformance suite; newStore returns a fresh, empty, migrated
// store for each subtest (register cleanup with t.Cleanup). Subtests run one
// after another, never in parallel, so newStore may reuse one server as long
// as each store it returns starts empty. The suite never sleeps: every time
// it passes is explicit, around 2026-01-15T12:00:00Z, at millisecond
// precision.
//
// An adapter wires it in from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store {
//			db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "test.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			st := mystore.New(db)
//			if err := st.Migrate(t.Context()); err != nil {
//				t.Fatal(err)
//			}
//			return st
//		})
//	}
//
// Beyond the letter of the contracts, the suite assumes what follows; an
// adapter must do the same.
//   - Job ids are unique: inserting a job whose id is already taken, even
//     by another job of the same batch, fails, and with it the whole
//     CreateReset or RedeemReset (the suite injects mid-transaction
//     failures this way).
//   - Emails are matched without regard to case (CreateUser of
//     "Ana@Example.com" is found as "ana@example.com" and makes
//     "ana@example.com" taken); whether a Store keeps the case it was given
//     or folds it is not checked, as round trips use lower-case emails.
//   - CreateReset ends an older reset at the new reset's CreatedAt (the only
//     time it receives); spent resets are not ended.
//   - RedeemReset judges a reset as StoredReset.Status does: a spent or ended
//     reset is ErrInvalidToken even when it has also expired; a reset is
//     expired from ExpiresAt on (Now == ExpiresAt is ErrTokenExpired).
//   - "Active session" means session.Session.Active at the time given:
//     neither revoked nor expired. RedeemReset and RevokeUserSessions revoke
//     and count those only, setting RevokedAt to that time.
//   - A job is due when RunAt <= now and its lease is not running:
//     ClaimedUntil <= now (a lease ending exactly at now has ended).
//     RetryJob releases the lease, so the job is due again at runAt even
//     when that is before the old lease ends.
//   - ListParams filters and orders independently: Before and After are
//     bounds on the id (id < Before, id > After, both when both are set),
//     whatever Desc says; Desc only orders the result, newest first, and
//     the page is the Limit highest matching ids when Desc is set and the
//     Limit lowest matching ids when it is not.
//   - Purge's and PurgeSessions' "before before" is strict: a row whose time
//     equals before is kept. Purge's count is the number of resets and jobs
//     it deleted, plus however many rows its rate-limit records took (the
//     suite checks the former exactly and only that the latter is positive).
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, newStore(t)) })
			}
		})
	}
}

type testCase struct {
	name string
	fn   func(t *testing.T, st Store)
}

var groups = []struct {
	name  string
	cases []testCase
}{
	{"Users", []testCase{
		{"RoundTrip", testUserRoundTrip},
		{"NotFound", testUserNotFound},
		{"EmailIgnoresCase", testUserEmailIgnoresCase},
		{"EmailTaken", testUserEmailTaken},
		{"PasswordHash", testUserPasswordHash},
		{"ReturnsCopies", testUserReturnsCopies},
		{"RecordSignIn", testRecordSignIn},
	}},
	{"Resets", []testCase{
		{"RoundTrip", testResetRoundTrip},
		{"NotFound", testResetNotFound},
		{"OnlyTokenHashStored", testOnlyTokenHashStored},
		{"OlderResetsEnded", testOlderResetsEnded},
		{"SpentResetNotEnded", testSpentResetNotEnded},
		{"FailedCreateChangesNothing", testFailedCreateChangesNothing},
	}},
	{"RedeemReset", []testCase{
		{"Success", testRedeemSuccess},
		{"InsertsJobs", testRedeemInsertsJobs},
		{"SecondRedemption", testRedeemTwice},
		{"ExpiryBoundary", testRedeemExpiryBoundary},
		{"Ended", testRedeemEnded},
		{"SpentAndExpired", testRedeemSpentAndExpired},
		{"NotFound", testRedeemNotFound},
		{"ConcurrentRedemption", testConcurrentRedemption},
		{"RevokesSessionsInSameTransaction", withSessions(testRedeemRevokesSessions)},
		{"FailedRedemptionChangesNothing", testFailedRedemptionChangesNothing},
		{"CancelledContextChangesNothing", testRedeemCancelledContext},
	}},
	{"AllowRequest", []testCase{
		{"Limit", testAllowLimit},
		{"WindowSlides", testAllowWindowSlides},
		{"KeysIndependent", testAllowKeysIndependent},
		{"Concurrent", testAllowConcurrent},
		{"ConcurrentOutOfOrder", testAllowOutOfOrder},
	}},
	{"Jobs", []testCase{
		{"ClaimDueOnly", testClaimDueOnly},
		{"ClaimMax", testClaimMax},
		{"Lease", testClaimLease},
		{"FinishJob", testFinishJob},
		{"RetryJob", testRetryJob},
		{"FailJob", testFailJob},
		{"PayloadRoundTrip", testJobPayloadRoundTrip},
		{"ConcurrentClaim", testConcurrentClaim},
	}},
	{"Purge", []testCase{
		{"ResetsAndJobs", testPurgeResetsAndJobs},
		{"RateLimitRecords", testPurgeRateLimits},
	}},
	{"Sessions", []testCase{
		{"RoundTrip", withSessions(testSessionRoundTrip)},
		{"NotFound", withSessions(testSessionNotFound)},
		{"TouchSession", withSessions(testTouchSession)},
		{"RotateSessionToken", withSessions(testRotateSessionToken)},
		{"RotateStaleToken", withSessions(testRotateStaleToken)},
		{"RotateRevoked", withSessions(testRotateRevoked)},
		{"ConcurrentRotation", withSessions(testConcurrentRotation)},
		{"ListOrder", withSessions(testListOrder)},
		{"ListLimit", withSessions(testListLimit)},
		{"ListCursors", withSessions(testListCursors)},
		{"RevokeSession", withSessions(testRevokeSession)},
		{"RevokeUserSessions", withSessions(testRevokeUserSessions)},
		{"PurgeSessions", withSessions(testPurgeSessions)},
	}},
}
