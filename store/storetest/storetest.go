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
	"errors"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/stretchr/testify/require"
)

// Harness is what an adapter gives the suite: how to make a store, and how
// to add a user to the host's data it reads.
type Harness struct {
	// NewStore returns a fresh, empty, migrated store for one subtest
	// (register cleanup with t.Cleanup). Required.
	NewStore func(t *testing.T) store.Store

	// AddUser adds an unverified user to the host's data behind st, with
	// this email exactly as given (the suite passes mixed case to check
	// case-insensitive lookups) and this password hash ("" for none), and
	// returns the user's id as st shows it. Default: st's CreateUser, for a
	// store that implements store.UserCreator.
	AddUser func(t *testing.T, st store.Store, email, passwordHash string) (id string)

	// NoVerifiedFlag says the host keeps no email-verified flag, so
	// RedeemReset has none to set; the suite then does not check it.
	NoVerifiedFlag bool

	// SetEmail, when set, changes the email of the user with this id in
	// the host's data behind st, as the host would when the user moves
	// the account to another address, leaving the verified flag as it is.
	// The clauses on a reset whose address left its user need it, and are
	// skipped without it.
	SetEmail func(t *testing.T, st store.Store, userID, email string)

	// DeleteUser, when set, deletes the user with this id from the host's
	// data behind st, as the host would when the user closes the account,
	// leaving passreset's records of the user as they are. The clause on a
	// reset whose user is gone needs it, and is skipped without it.
	DeleteUser func(t *testing.T, st store.Store, userID string)

	// Another, when set, returns a second handle on the database st uses,
	// with connections of its own, as another process of the app would
	// open it. The clauses of the SharedDatabase group then race the two
	// handles; without it they are skipped.
	Another func(t *testing.T, st store.Store) store.Store
}

// subject is the store under test with the harness that made it.
type subject struct {
	store.Store
	h *Harness
}

// sessionSubject is a subject that also keeps sessions, so that RedeemReset
// revokes them in its own transaction.
type sessionSubject struct {
	*subject
	session.Store
}

// withSessions runs fn when st keeps sessions, and skips otherwise.
func withSessions(fn func(*testing.T, sessionSubject)) func(*testing.T, *subject) {
	return func(t *testing.T, st *subject) {
		ss, ok := st.Store.(session.Store)
		if !ok {
			t.Skip("the store keeps no sessions: it does not implement session.Store")
		}
		fn(t, sessionSubject{st, ss})
	}
}

// withAnother runs fn with a second handle on st's database when the
// harness can open one, and skips otherwise.
func withAnother(fn func(t *testing.T, a, b *subject)) func(*testing.T, *subject) {
	return func(t *testing.T, st *subject) {
		if st.h.Another == nil {
			t.Skip("the harness opens no second handle (Harness.Another)")
		}
		fn(t, st, &subject{Store: st.h.Another(t, st.Store), h: st.h})
	}
}

// withCreator runs fn when st creates users (keeping WorkOS's profile
// fields), and skips otherwise: when it does not implement
// store.UserCreator, or its CreateUser says store.ErrNoUserCreator (a store
// over a host's users table).
func withCreator(fn func(*testing.T, *subject, store.UserCreator)) func(*testing.T, *subject) {
	return func(t *testing.T, st *subject) {
		c, ok := st.Store.(store.UserCreator)
		if !ok {
			t.Skip("the store does not create users: it does not implement store.UserCreator")
		}
		probe := store.User{ID: newID("user_"), Email: "probe." + strings.ToLower(ulid.Make().String()) + "@example.com", CreatedAt: base, UpdatedAt: base}
		if err := c.CreateUser(t.Context(), probe, ""); errors.Is(err, store.ErrNoUserCreator) {
			t.Skip("the store does not create users: its users are the host's")
		} else {
			require.NoError(t, err)
		}
		fn(t, st, c)
	}
}

// Run runs the conformance suite; h.NewStore returns a fresh, empty,
// migrated store for each subtest. Subtests run one after another, never in
// parallel, so NewStore may reuse one server as long as each store it
// returns starts empty. The suite never sleeps: every time
// it passes is explicit, around 2026-01-15T12:00:00Z, at millisecond
// precision.
//
// An adapter wires it in from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			NewStore: func(t *testing.T) store.Store {
//				st := mystore.New(openTestDB(t))
//				if err := st.Migrate(t.Context()); err != nil {
//					t.Fatal(err)
//				}
//				return st
//			},
//			AddUser: func(t *testing.T, st store.Store, email, hash string) string {
//				id := insertAccount(t, st.(*mystore.Store).DB(), email, hash)
//				return mystore.PublicID(id)
//			},
//		})
//	}
//
// Beyond the letter of the contracts, the suite assumes what follows; an
// adapter must do the same.
//   - Job ids are unique: inserting a job whose id is already taken, even
//     by another job of the same batch, fails, and with it the whole
//     CreateReset or RedeemReset (the suite injects mid-transaction
//     failures this way).
//   - Emails are matched without regard to case, in full Unicode (a user
//     added as "Ünal@Example.com" is found as "ünal@example.com"); whether a
//     Store keeps the case it was given or folds it is not checked.
//   - A user's id is whatever the Store shows; the suite passes back the
//     ids AddUser returned.
//   - CreateReset ends an older reset at the new reset's CreatedAt (the only
//     time it receives); spent resets are not ended.
//   - RedeemReset judges a reset as StoredReset.Status does: a spent or ended
//     reset is ErrInvalidToken even when it has also expired; a reset is
//     expired from ExpiresAt on (Now == ExpiresAt is ErrTokenExpired).
//   - A reset's Code round-trips exactly (its Hash as 32 raw bytes); a
//     reset without a code has the zero Code and is never claimed.
//     ClaimResetCode judges the code's ExpiresAt as the reset's: from
//     that instant on it is refused. A refused claim changes nothing, and
//     claims never spend or end a reset.
//   - ChangePassword compares OldHash with the stored hash exactly ("" for
//     no password); a Rehash ignores KeepSessionID, KeepStamp and Jobs.
//   - "Active session" means session.Session.Active at the time given:
//     neither revoked nor expired. RedeemReset and RevokeUserSessions revoke
//     and count those only, setting RevokedAt to that time.
//   - A job is due when RunAt <= now and its lease is not running:
//     ClaimedUntil <= now (a lease ending exactly at now has ended).
//     RetryJob releases the lease, so the job is due again at runAt even
//     when that is before the old lease ends.
//   - A claim is named by the job's ID and its Attempts after the claim:
//     RenewJobs renews a claim only while no later claim has taken the
//     job, and never one whose lease ended at or before now, even when
//     nobody took the job since.
//   - ListParams filters and orders independently: Before and After are
//     bounds on the id (id < Before, id > After, both when both are set),
//     whatever Desc says; Desc only orders the result, newest first, and
//     the page is the Limit highest matching ids when Desc is set and the
//     Limit lowest matching ids when it is not.
//   - Purge's and PurgeSessions' "before before" is strict: a row whose time
//     equals before is kept, as is a replay record expiring at PurgeReplays'
//     bound. Purge's count is the number of resets and jobs it deleted,
//     plus however many rows its rate-limit records took (the suite checks
//     the former exactly and only that the latter is positive).
//   - Replay records keep what ClaimReplay was given byte for byte (Key,
//     Fingerprint, Owner) and its times to the millisecond; an empty and a
//     nil Answer are alike.
func Run(t *testing.T, h Harness) {
	if h.NewStore == nil {
		t.Fatal("storetest: Harness.NewStore is required")
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, &subject{Store: h.NewStore(t), h: &h}) })
			}
		})
	}
}

type testCase struct {
	name string
	fn   func(t *testing.T, st *subject)
}

var groups = []struct {
	name  string
	cases []testCase
}{
	{"Users", []testCase{
		{"NotFound", testUserNotFound},
		{"EmailIgnoresCase", testUserEmailIgnoresCase},
		{"EmailIgnoresUnicodeCase", testUserEmailIgnoresUnicodeCase},
		{"EmailUnicodeForms", testUserEmailUnicodeForms},
		{"PasswordHash", testUserPasswordHash},
	}},
	{"Profile", []testCase{
		{"RoundTrip", withCreator(testUserRoundTrip)},
		{"EmailTaken", withCreator(testUserEmailTaken)},
		{"EmailTakenInOtherForm", withCreator(testUserEmailTakenInOtherForm)},
		{"ReturnsCopies", withCreator(testUserReturnsCopies)},
		{"UpdatedAtOnRedemption", withCreator(testUpdatedAtOnRedemption)},
		{"RecordSignIn", withCreator(testRecordSignIn)},
	}},
	{"Resets", []testCase{
		{"RoundTrip", testResetRoundTrip},
		{"NotFound", testResetNotFound},
		{"OnlyTokenHashStored", testOnlyTokenHashStored},
		{"OlderResetsEnded", testOlderResetsEnded},
		{"SpentResetNotEnded", testSpentResetNotEnded},
		{"ConcurrentCreates", testConcurrentCreates},
		{"UnknownUser", testCreateUnknownUser},
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
		{"OtherUsersReset", testRedeemOtherUsersReset},
		{"ConcurrentRedemption", testConcurrentRedemption},
		{"RevokesSessionsInSameTransaction", withSessions(testRedeemRevokesSessions)},
		{"FailedRedemptionChangesNothing", testFailedRedemptionChangesNothing},
		{"CancelledContextChangesNothing", testRedeemCancelledContext},
		{"AfterEmailChange", withSetEmail(testRedeemAfterEmailChange)},
		{"AddressComparedAsFolded", withSetEmail(testRedeemAddressComparedAsFolded)},
		{"UserDeleted", testRedeemUserDeleted},
		{"EndResets", testEndResets},
	}},
	{"Codes", []testCase{
		{"RoundTrip", testCodeRoundTrip},
		{"ClaimTakesTries", testClaimTakesTries},
		{"ClaimRefusesUnusable", testClaimRefusesUnusable},
		{"ConcurrentClaims", testConcurrentClaims},
	}},
	{"ChangePassword", []testCase{
		{"Success", testChangePassword},
		{"Conditional", testChangePasswordConditional},
		{"Concurrent", testConcurrentChanges},
		{"RevokesOtherSessionsInSameTransaction", withSessions(testChangeRevokesOtherSessions)},
		{"RehashKeepsSessions", withSessions(testRehashKeepsSessions)},
		{"FailedChangeChangesNothing", testFailedChangeChangesNothing},
		{"UpdatedAt", withCreator(testChangeUpdatedAt)},
	}},
	{"AllowRequest", []testCase{
		{"Limit", testAllowLimit},
		{"WindowSlides", testAllowWindowSlides},
		{"KeysIndependent", testAllowKeysIndependent},
		{"Concurrent", testAllowConcurrent},
		{"ConcurrentOutOfOrder", testAllowOutOfOrder},
		{"IgnoresFutureRecords", testAllowIgnoresFutureRecords},
	}},
	{"CountRequests", []testCase{
		{"CountsWithoutRecording", testCountRequests},
	}},
	{"SharedDatabase", []testCase{
		{"ConcurrentRedemption", withAnother(testSharedConcurrentRedemption)},
		{"RedemptionsOfManyUsers", withAnother(testSharedRedemptionsOfManyUsers)},
		{"AllowRequest", withAnother(testSharedAllowRequest)},
		{"ClaimJobs", withAnother(testSharedClaimJobs)},
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
		{"EnqueueJob", testEnqueueJob},
		{"EnqueueTakenID", testEnqueueTakenID},
		{"RenewHeldClaims", testRenewHeldClaims},
		{"RenewOnlyTheCurrentClaim", testRenewOnlyTheCurrentClaim},
		{"RenewNothingSettled", testRenewNothingSettled},
		{"NextDue", testNextDue},
	}},
	{"Replays", []testCase{
		{"ClaimOnce", testReplayClaimOnce},
		{"SaveAndReadBack", testReplaySaveAndReadBack},
		{"SaveNeedsTheClaim", testReplaySaveNeedsTheClaim},
		{"Release", testReplayRelease},
		{"LeaseRunsOut", testReplayLeaseRunsOut},
		{"Expiry", testReplayExpiry},
		{"ConcurrentClaims", testReplayConcurrentClaims},
		{"Purge", testPurgeReplays},
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
		{"RetiredTokenRevokes", withSessions(testRetiredTokenRevokes)},
		{"RetiredTokensPurged", withSessions(testRetiredTokensPurged)},
	}},
}
