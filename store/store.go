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
	// UserByEmail returns the user whose email equals email as
	// emailaddr.Fold compares them: without regard to case in full Unicode
	// (not ASCII only), Unicode form (NFC or NFD) or the domain's spelling
	// (Unicode or punycode). email is already folded
	// (reset.NormalizeEmail); fold the stored address the same way. It
	// returns ErrUserNotFound when there is none.
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
// caller's clock (the Service's Config.Now); a Store never reads its own,
// nor the database server's, so the clock a Store trusts is the
// Service's. Rate-limit records ahead of that clock by more than
// MaxClockSkew are ignored (see AllowRequest). Times are kept to at least
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
	//   - spend the reset r.ResetID only if it is unused, not ended, r.Now
	//     is before its ExpiresAt, and its Email is still an address of
	//     its user: one at which UserByEmail would find that user now (for
	//     a Store with one address per user, the user's current email,
	//     compared as UserByEmail compares them, or more strictly: a
	//     comparison that refuses more, such as one that folds only ASCII
	//     letters, errs on the safe side). The address is checked
	//     in the same conditional step that spends the reset, under the
	//     same lock or transaction, so that an email change committed
	//     before the spend refuses it and one committed after it waits or
	//     comes later. Of N concurrent callers exactly one wins. Otherwise
	//     return ErrTokenExpired when it expired, ErrInvalidToken when it
	//     was spent or ended, belongs to a user other than r.UserID, or
	//     its address is no longer the user's (and then nothing changes:
	//     the reset stays unspent), ErrResetNotFound when there is no such
	//     reset, ErrUserNotFound when its user is gone (a host deleted the
	//     row; the reset stays unspent);
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

	// EndResets ends every reset of the user that is neither spent nor
	// ended (EndedAt = now, as a newer reset would), expired ones
	// included, and returns how many it ended. A host calls it (through
	// reset.Service.EndResets) when it changes a user's email or password
	// itself, so that no link sent before the change still works. A user
	// with no such reset, or an unknown user, is 0 and no error. Spent
	// resets stay as they are.
	EndResets(ctx context.Context, userID string, now time.Time) (int, error)

	// ClaimResetCode takes one try from the code of the reset whose
	// Code.Key is key and that can still take a guess at now: unspent,
	// not ended, now before its ExpiresAt, and Code.Usable(now). In one
	// atomic step it decrements Code.TriesLeft and returns the reset as
	// it now is; of concurrent claims no more succeed than there were
	// tries left. It returns ErrResetNotFound when no reset qualifies (no
	// such key, or spent, ended, expired, or out of tries), and changes
	// nothing then. CreateReset ends a user's older resets, so at most one
	// qualifies; were there more, the newest is taken.
	ClaimResetCode(ctx context.Context, key string, now time.Time) (Reset, error)

	// ChangePassword replaces a user's password hash, in one transaction,
	// only if the stored hash is still c.OldHash (a conditional update:
	// of concurrent changes based on one hash exactly one wins; the others
	// get ErrPasswordChanged and change nothing). Unless c.Rehash, the same
	// transaction sets the user's updated time to c.Now where the host
	// keeps one, revokes every active session of the user that this Store
	// holds except c.KeepSessionID (active as session.Session.Active(c.Now)
	// says), sets that session's Stamp to c.KeepStamp, and inserts c.Jobs.
	// It returns how many sessions it revoked, ErrUserNotFound for an
	// unknown user, and keeps nothing when any step fails.
	ChangePassword(ctx context.Context, c PasswordChange) (Changed, error)

	// AllowRequest is a sliding-window rate limit: it counts the requests
	// recorded under key after now-window and at or before
	// now+MaxClockSkew: those recorded a little after now included (a
	// concurrent caller may read its clock later yet get here first),
	// those further ahead not (a clock that ran fast, or this one stepped
	// back, wrote them; counted, they would hold the key limited for as
	// long as the clocks are apart). When there are fewer than limit it
	// records one at now and returns ok true; otherwise it records nothing
	// and returns ok false and the instant the oldest counted request
	// leaves the window, but never later than now+window. Check and
	// record are one atomic step, so concurrent callers never exceed limit
	// together, whatever the order of their clocks. key is a keyed hash,
	// never an address.
	AllowRequest(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (ok bool, retryAt time.Time, err error)

	// CountRequests reads, and records nothing, what AllowRequest counts:
	// the requests recorded under key after now-window and at or before
	// now+MaxClockSkew. It returns how many there are and the instant
	// the oldest of them was recorded (the zero time when there are none).
	// A caller that counts only some outcomes (failed sign-ins) checks
	// with it before the work, and records an outcome after it with
	// AllowRequest. It is a read: concurrent callers may all see a count
	// under a limit.
	CountRequests(ctx context.Context, key string, now time.Time, window time.Duration) (n int, oldest time.Time, err error)

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

	// EnqueueJob stores one job on its own, outside any reset: work that a
	// caller records before doing it, such as a request for a reset email
	// recorded before the page answers (JobResetRequest). It returns once
	// the job is committed as durably as the Store commits a reset (with
	// SQLite's default settings, synced to disk): a crash of the process
	// afterwards never loses it. A job id already taken is an error, and
	// nothing is stored.
	EnqueueJob(ctx context.Context, j Job) error

	// RenewJobs extends the claims of jobs that are still held: each job
	// given, identified by its ID and its Attempts as the claim returned
	// them, whose stored job is neither finished nor failed, still has
	// that Attempts (no later claim took it over) and a lease that ends
	// after now (it was not released and has not lapsed), gets
	// ClaimedUntil = until. It returns the ids of the jobs it renewed, in
	// any order; the others are left as they are. A dispatcher renews the
	// jobs it works on well before their leases end, so that a short lease
	// gives a dead process's jobs to a live one within seconds without
	// taking a job from a live process that is slow.
	RenewJobs(ctx context.Context, jobs []Job, now, until time.Time) (renewed []string, err error)

	// NextDue returns the earliest instant at which a job that is neither
	// finished nor failed becomes claimable: the later of its RunAt and
	// its ClaimedUntil. It returns the zero time when there is no such job.
	// A dispatcher sleeps until then, so that the job of a process that
	// died runs as soon as its lease ends.
	NextDue(ctx context.Context) (time.Time, error)

	// Purge deletes resets that expired or were spent or ended before
	// before, rate-limit records older than before, and jobs that finished
	// or failed before before. It returns how many rows it deleted.
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// MaxClockSkew is how far ahead of the caller's now a rate-limit record
// may lie and still count (AllowRequest, CountRequests): room for the
// clocks of several instances to disagree a little, and no more, so that a
// clock stepped back (or records written by one that ran fast) does not
// keep every recently active key limited until it catches up.
const MaxClockSkew = time.Minute

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

// Durable is the optional part of a Store whose state outlives the process,
// on disk or on a database server, and which several processes may share.
// reset.NewService reads it to warn, at start, when such a Store is given
// no Config.SecretKey: a key of the Service's own dies with the process, so
// that mail queued before a restart can no longer be opened, and the
// per-address limits start again at every restart and count apart in each
// instance. store/sqlitestore and store/pgstore implement it; an adapter
// over a database should too.
type Durable interface {
	// Durable reports whether what the Store keeps outlives the process.
	Durable() bool
}
