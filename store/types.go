package store

import (
	"time"

	"github.com/passreset/passreset/token"
)

// User is an account as passreset sees it, shaped like WorkOS's user
// object. A Store over a host's table fills what the table keeps: the id,
// the email and, where there is such a column, whether it is verified; the
// profile fields are kept only by a Store that creates users.
type User struct {
	ID                string // "user_" + ULID for users passreset creates; see each Store for a host's
	Email             string
	EmailVerified     bool
	FirstName         string
	LastName          string
	ProfilePictureURL string
	ExternalID        string
	Locale            string
	Metadata          map[string]string
	LastSignInAt      time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Name is the user's full name: first and last name joined by a space, or
// "" when both are empty.
func (u User) Name() string {
	switch {
	case u.FirstName == "":
		return u.LastName
	case u.LastName == "":
		return u.FirstName
	}
	return u.FirstName + " " + u.LastName
}

// Reset is a password reset as a Store keeps it: the token's hash, never
// the token.
type Reset struct {
	ID        string // "password_reset_" + ULID
	UserID    string
	Email     string // the address the reset was sent to
	TokenHash token.Hash
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // when the token was redeemed; zero while unused
	EndedAt   time.Time // when a newer reset ended this one; zero otherwise
}

// Status tells what a stored reset can still do at now: nil while it can
// be redeemed, ErrInvalidToken once spent or ended (even when it has also
// expired), ErrTokenExpired from ExpiresAt on.
func (r Reset) Status(now time.Time) error {
	switch {
	case !r.UsedAt.IsZero() || !r.EndedAt.IsZero():
		return ErrInvalidToken
	case !now.Before(r.ExpiresAt):
		return ErrTokenExpired
	}
	return nil
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
	// JobRevokeSessions calls the host's SessionRevoker for UserID.
	JobRevokeSessions JobKind = "revoke_sessions"
	// JobResetRequest creates a reset and sends its email for the address
	// sealed in Payload: a request from a "forgot password" page, recorded
	// before the page answers and carried out after it. UserID is empty:
	// whether the address has an account is found out by the work.
	JobResetRequest JobKind = "reset_request"
)

// Job is a unit of durable work in the Store's outbox: an email to send, a
// session revocation to retry, a reset request to carry out. A Service
// writes it in the same transaction as the reset it belongs to (or on its
// own, with EnqueueJob) and a dispatcher runs it.
type Job struct {
	ID           string // "job_" + ULID; unique: inserting a taken id fails the whole call
	Kind         JobKind
	UserID       string
	Payload      []byte    // for JobEmail and JobResetRequest: sealed with AES-GCM; never plaintext
	Attempts     int       // attempts started so far; each claim adds one, so with ID it names a claim
	RunAt        time.Time // not to run before
	ClaimedUntil time.Time // a claim's lease; zero when unclaimed
	CreatedAt    time.Time
}
