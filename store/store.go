package store

import (
	"context"
	"time"

	"github.com/passreset/passreset/token"
)

// Users is the part of a Store that reads the host's users: what passreset
// needs to know of an account to reset its password and to sign it in. The
// SQL adapters answer it from the host's own table; the write it needs, the
// new password hash, is part of RedeemReset's transaction.
type Users interface {
	// UserByEmail returns the user whose email equals email without regard
	// to case, in full Unicode (not ASCII only). email is already
	// normalised (trimmed, lower-cased). It returns ErrUserNotFound when
	// there is none.
	UserByEmail(ctx context.Context, email string) (User, error)

	// UserByID returns the user with this id, or ErrUserNotFound.
	UserByID(ctx context.Context, id string) (User, error)

	// PasswordHash returns the user's stored password hash ("" when the
	// user has no password), or ErrUserNotFound.
	PasswordHash(ctx context.Context, userID string) (string, error)
}

// Store is the storage a reset.Service needs: the host's users (Users) and
// passreset's own state. store/storetest.Run checks that an adapter honours
// every clause below.
//
// All methods are safe for concurrent use, by goroutines and by several
// processes sharing one database. Every time a method receives is the
// caller's clock; a Store never reads its own. Times are kept to at least
// millisecond precision. Lookups of a missing row return the sentinel the
// method names; other failures are the backend's errors wrapped with %w.
type Store interface {
	Users
	Replays

	// CreateReset stores a new reset and the jobs that go with it (the reset
	// email) in one transaction, in which it also ends every other unused
	// reset of the same user (EndedAt = r.CreatedAt; spent resets stay as
	// they are), so that only the newest link works. Nothing is stored when
	// any part fails; an unknown user is ErrUserNotFound.
	CreateReset(ctx context.Context, r Reset, jobs []Job) error

	// ResetByID returns the reset with this id, spent, ended or expired
	// alike, or ErrResetNotFound.
	ResetByID(ctx context.Context, id string) (Reset, error)

	// ResetByTokenHash returns the reset whose token hashes to h, whatever
	// its state, or ErrResetNotFound. It is the hot path of every reset page
	// view and every rejected token: one indexed lookup.
	ResetByTokenHash(ctx context.Context, h token.Hash) (Reset, error)

	// RedeemReset is the atomic heart of a reset, one transaction:
	//   - spend the reset r.ResetID only if it is unused, not ended, and
	//     r.Now is before its ExpiresAt (a conditional update, so that of N
	//     concurrent callers exactly one wins); otherwise return
	//     ErrTokenExpired when it expired, ErrInvalidToken when it was spent
	//     or ended (or belongs to a user other than r.UserID),
	//     ErrResetNotFound when there is no such reset;
	//   - set the user's password hash to r.PasswordHash, mark their email
	//     verified where the host keeps such a flag, and set their updated
	//     time to r.Now where the host keeps one;
	//   - revoke every active session of the user that this Store holds,
	//     active meaning session.Session.Active(r.Now): neither revoked nor
	//     expired (a Store that keeps no sessions revokes none);
	//   - insert r.Jobs.
	// It returns the updated user and how many sessions it revoked. When
	// any step fails, nothing of it is kept.
	RedeemReset(ctx context.Context, r Redemption) (Redeemed, error)

	// AllowRequest is a sliding-window rate limit: it counts the requests
	// recorded under key after now-window, those recorded after now
	// included (a concurrent caller may read its clock later yet get here
	// first). When there are fewer than limit it records one at now and
	// returns ok true; otherwise it records nothing and returns ok false and
	// the instant the oldest counted request leaves the window. Check and
	// record are one atomic step, so concurrent callers never exceed limit
	// together, whatever the order of their clocks. key is a keyed hash,
	// never an address.
	AllowRequest(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (ok bool, retryAt time.Time, err error)

	// ClaimJobs atomically claims up to max jobs that are due (RunAt <= now,
	// not finished, not failed, and not claimed by anyone until after now):
	// each gets ClaimedUntil = now+lease and Attempts+1, and is returned. Two
	// dispatchers never claim the same job while its lease runs.
	ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Job, error)

	// FinishJob marks a job done and drops its payload. Finishing a job that
	// is already finished, or missing, returns nil.
	FinishJob(ctx context.Context, id string, now time.Time) error

	// RetryJob releases a claimed job to run again at runAt, recording the
	// error text (never a secret) of the failed attempt.
	RetryJob(ctx context.Context, id string, runAt time.Time, lastError string) error

	// FailJob marks a job failed for good, dropping its payload and keeping
	// the error text.
	FailJob(ctx context.Context, id string, now time.Time, lastError string) error

	// Purge deletes resets that expired or were spent or ended before
	// before, rate-limit records older than before, and jobs that finished
	// or failed before before. It returns how many rows it deleted.
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// UserCreator is the optional part of a Store that creates users, for apps
// that let passreset keep their users (with WorkOS's profile fields).
// reset.Service.CreateUser needs it.
type UserCreator interface {
	// CreateUser inserts u with the given password hash. It returns
	// ErrEmailTaken when another user has the same email without regard to
	// case.
	CreateUser(ctx context.Context, u User, passwordHash string) error
}

// SignInRecorder is the optional part of a Store that records sign-ins.
// reset.Service.Authenticate uses it when present to set LastSignInAt.
type SignInRecorder interface {
	// RecordSignIn sets the user's LastSignInAt to at. It returns
	// ErrUserNotFound for an unknown user.
	RecordSignIn(ctx context.Context, userID string, at time.Time) error
}
