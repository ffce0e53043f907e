package reset

import (
	"context"
	"time"
)

// Store is the storage a Service needs. Adapters live in their own packages
// (store/memstore, store/sqlitestore, store/pgstore, or a host's own), and
// store/storetest.Run checks that one honours every clause below.
//
// All methods are safe for concurrent use, by goroutines and by several
// processes sharing one database. Every time a method receives is the
// caller's clock; a Store never reads its own. Times are kept to at least
// millisecond precision. Lookups of a missing row return the sentinel the
// method names (adapters translate sql.ErrNoRows and the like into it);
// other failures are the backend's errors wrapped with %w.
type Store interface {
	// UserByEmail returns the user whose email equals email without regard
	// to case. email is already normalised (trimmed, lower-cased). It
	// returns ErrUserNotFound when there is none.
	UserByEmail(ctx context.Context, email string) (User, error)

	// UserByID returns the user with this id, or ErrUserNotFound.
	UserByID(ctx context.Context, id string) (User, error)

	// PasswordHash returns the user's stored password hash ("" when the
	// user has no password), or ErrUserNotFound.
	PasswordHash(ctx context.Context, userID string) (string, error)

	// CreateReset stores a new reset and the jobs that go with it (the reset
	// email) in one transaction, in which it also ends every other unused
	// reset of the same user (EndedAt = r.CreatedAt; spent resets stay as
	// they are), so that only the newest link works. Nothing is stored when
	// any part fails; an unknown user is ErrUserNotFound.
	CreateReset(ctx context.Context, r StoredReset, jobs []Job) error

	// ResetByID returns the reset with this id, spent, ended or expired
	// alike, or ErrResetNotFound.
	ResetByID(ctx context.Context, id string) (StoredReset, error)

	// ResetByTokenHash returns the reset whose token hashes to h, whatever
	// its state, or ErrResetNotFound. It is the hot path of every reset page
	// view and every rejected token: one indexed lookup.
	ResetByTokenHash(ctx context.Context, h TokenHash) (StoredReset, error)

	// RedeemReset is the atomic heart of a reset, one transaction:
	//   - spend the reset r.ResetID only if it is unused, not ended, and
	//     r.Now is before its ExpiresAt (a conditional update, so that of N
	//     concurrent callers exactly one wins); otherwise return
	//     ErrTokenExpired when it expired, ErrInvalidToken when it was spent
	//     or ended, ErrResetNotFound when there is no such reset;
	//   - set the user's password hash to r.PasswordHash, mark their email
	//     verified, set UpdatedAt to r.Now;
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
// that let the module keep their users. Service.CreateUser needs it.
type UserCreator interface {
	// CreateUser inserts u with the given password hash. It returns
	// ErrEmailTaken when another user has the same email without regard to
	// case.
	CreateUser(ctx context.Context, u User, passwordHash string) error
}

// SignInRecorder is the optional part of a Store that records sign-ins.
// Service.Authenticate uses it when present to set LastSignInAt.
type SignInRecorder interface {
	// RecordSignIn sets the user's LastSignInAt to at. It returns
	// ErrUserNotFound for an unknown user.
	RecordSignIn(ctx context.Context, userID string, at time.Time) error
}

// StoredReset is a reset as a Store keeps it: the token's hash, never the
// token.
type StoredReset struct {
	ID        string
	UserID    string
	Email     string
	TokenHash TokenHash
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // when the token was redeemed; zero while unused
	EndedAt   time.Time // when a newer reset ended this one; zero otherwise
}

// Status tells what a stored reset can still do at now.
func (r StoredReset) Status(now time.Time) error {
	switch {
	case !r.UsedAt.IsZero() || !r.EndedAt.IsZero():
		return ErrInvalidToken
	case !now.Before(r.ExpiresAt):
		return ErrTokenExpired
	}
	return nil
}

// PasswordReset returns the public view of the reset, without a token.
func (r StoredReset) PasswordReset() PasswordReset {
	return PasswordReset{ID: r.ID, UserID: r.UserID, Email: r.Email, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
}

// Redemption is what RedeemReset needs to spend a token.
type Redemption struct {
	ResetID      string
	UserID       string
	PasswordHash string
	Now          time.Time
	Jobs         []Job // follow-up work committed with the redemption
}

// Redeemed is what RedeemReset did.
type Redeemed struct {
	User            User
	SessionsRevoked int // sessions the Store revoked in the transaction
}

// JobKind names the work a Job does.
type JobKind string

// The kinds of job a Service queues.
const (
	// JobEmail sends Payload, a sealed mail.Message.
	JobEmail JobKind = "email"
	// JobRevokeSessions calls Config.Sessions.RevokeUserSessions for UserID.
	JobRevokeSessions JobKind = "revoke_sessions"
)

// Job is a unit of durable follow-up work in the Store's outbox: an email to
// send or a session revocation to retry. A Service writes it in the same
// transaction as the reset it belongs to and a dispatcher runs it.
type Job struct {
	ID           string // "job_" + ULID; unique: inserting a taken id fails the whole call
	Kind         JobKind
	UserID       string
	Payload      []byte    // for JobEmail: the message sealed with AES-GCM; never plaintext
	Attempts     int       // attempts started so far
	RunAt        time.Time // not to run before
	ClaimedUntil time.Time // a claim's lease; zero when unclaimed
	CreatedAt    time.Time
}
