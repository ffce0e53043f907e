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
	Metadata          map[string]string // an empty map reads back as nil, in every Store
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
	Code      Code      // the reset's short code; zero when it has none
}

// Code is the short code of a reset, entered with the address instead of
// opening the link, as a Store keeps it: keyed hashes, never the code or
// the address. Its zero value is "no code".
//
// Reset.Status does not look at TriesLeft: a code redemption that took the
// last try must still spend the reset. The Service refuses the link of a
// reset whose code has no try left (a code guessed wrong as many times as
// it allows kills its link too).
type Code struct {
	// Key is the keyed hash (under a key the Store never sees) of the
	// address the code is entered with: ClaimResetCode finds the reset by
	// it. "" when the reset has no code.
	Key string
	// Hash is the keyed hash of the code and the reset id.
	Hash [32]byte
	// ExpiresAt: the code is refused from this instant on, at or before
	// the reset's ExpiresAt.
	ExpiresAt time.Time
	// TriesLeft is how many guesses the code still allows; ClaimResetCode
	// takes one per guess, before the guess is compared.
	TriesLeft int
}

// Usable reports whether the code can still take a guess at now: it
// exists, has a try left and has not expired.
func (c Code) Usable(now time.Time) bool {
	return c.Key != "" && c.TriesLeft > 0 && now.Before(c.ExpiresAt)
}

// PasswordChange is what ChangePassword needs to replace a user's hash.
type PasswordChange struct {
	UserID string
	// OldHash is the hash the caller compared the password with: the
	// change happens only while it is still the stored one.
	OldHash string
	NewHash string
	Now     time.Time
	// Rehash says NewHash is the same password under new parameters (an
	// upgrade at sign-in): nothing but the hash changes. Otherwise it is a
	// new password: the Store also sets the user's updated time where the
	// host keeps one, revokes every active session of the user it holds
	// except KeepSessionID, gives that one the credential stamp KeepStamp,
	// and inserts Jobs.
	Rehash        bool
	KeepSessionID string // "" to revoke them all
	KeepStamp     string
	Jobs          []Job
}

// Changed is what ChangePassword did.
type Changed struct {
	SessionsRevoked int // sessions the Store revoked in the transaction
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
	// JobRevokeOtherSessions calls the host's SessionRevoker's
	// RevokeOtherSessions for UserID, keeping the session whose id is
	// Payload (not a secret: an id, never a token).
	JobRevokeOtherSessions JobKind = "revoke_other_sessions"
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
