package reset

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors, matched with errors.Is. The Service wraps them with
// context; their text never holds a token, a password or a hash.
var (
	// ErrUserNotFound: no user has this email or id.
	ErrUserNotFound = errors.New("reset: user not found")
	// ErrResetNotFound: no reset has this id.
	ErrResetNotFound = errors.New("reset: password reset not found")
	// ErrInvalidToken: the token is malformed, unknown, already spent, or
	// ended by a newer reset.
	ErrInvalidToken = errors.New("reset: invalid token")
	// ErrTokenExpired: the token was valid but its TTL has run out.
	ErrTokenExpired = errors.New("reset: token expired")
	// ErrRateLimited: too many reset requests for this address; the error
	// is a *RateLimitError that says when to retry.
	ErrRateLimited = errors.New("reset: rate limited")
	// ErrWeakPassword: the new password fails the policy; the error is a
	// *PolicyError that lists the reasons.
	ErrWeakPassword = errors.New("reset: password rejected by policy")
	// ErrSessionsNotRevoked: the password was changed but the host's
	// SessionRevoker failed; the revocation is queued and retried by the
	// dispatcher. The reset itself succeeded.
	ErrSessionsNotRevoked = errors.New("reset: sessions not revoked yet")
	// ErrInvalidEmail: the address is empty or not an email address.
	ErrInvalidEmail = errors.New("reset: invalid email address")
	// ErrEmailTaken: another user already has this email.
	ErrEmailTaken = errors.New("reset: email already taken")
	// ErrInvalidCredentials: the email or the password is wrong.
	ErrInvalidCredentials = errors.New("reset: invalid credentials")
	// ErrNoUserCreator: the Store cannot create users (it does not
	// implement UserCreator).
	ErrNoUserCreator = errors.New("reset: store cannot create users")
)

// PolicyError lists why a new password was rejected. It matches
// ErrWeakPassword with errors.Is.
type PolicyError struct {
	Reasons []PolicyReason
}

// PolicyReason is one rule a password broke.
type PolicyReason struct {
	Code    string // machine-readable: "password_too_short", "password_too_long", ...
	Message string // for the user; never contains the password
}

// Policy reason codes of the default policy.
const (
	ReasonTooShort    = "password_too_short"
	ReasonTooLong     = "password_too_long"
	ReasonSameAsEmail = "password_same_as_email"
	ReasonInvalidUTF8 = "password_invalid_utf8"
	ReasonReused      = "password_reused"
	ReasonRejected    = "password_rejected"
)

func (e *PolicyError) Error() string {
	msgs := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		msgs[i] = r.Message
	}
	return "reset: password rejected: " + strings.Join(msgs, "; ")
}

// Is reports whether target is ErrWeakPassword.
func (e *PolicyError) Is(target error) bool { return target == ErrWeakPassword }

// RateLimitError says when a rate-limited caller may retry. It matches
// ErrRateLimited with errors.Is.
type RateLimitError struct {
	RetryAt time.Time
	now     time.Time
}

// RetryAfter is how long to wait before retrying, rounded up to whole
// seconds, at least one.
func (e *RateLimitError) RetryAfter() time.Duration {
	d := e.RetryAt.Sub(e.now)
	secs := (d + time.Second - 1) / time.Second
	return max(secs, 1) * time.Second
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("reset: rate limited: retry in %s", e.RetryAfter())
}

// Is reports whether target is ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }
