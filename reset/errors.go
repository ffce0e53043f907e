package reset

import (
	"errors"
	"fmt"
	"time"

	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/store"
)

// Sentinel errors, matched with errors.Is. The Service wraps them with
// context; their text never holds a token, a password or a hash. Those a
// Store returns are package store's, under the same names.
var (
	// ErrUserNotFound: no user has this email or id.
	ErrUserNotFound = store.ErrUserNotFound
	// ErrResetNotFound: no reset has this id.
	ErrResetNotFound = store.ErrResetNotFound
	// ErrInvalidToken: the token is malformed, unknown, already spent, or
	// ended by a newer reset.
	ErrInvalidToken = store.ErrInvalidToken
	// ErrTokenExpired: the token was valid but its TTL has run out.
	ErrTokenExpired = store.ErrTokenExpired
	// ErrWeakPassword: the new password fails the policy; the error is a
	// *password.PolicyError that lists the reasons.
	ErrWeakPassword = password.ErrWeak
	// ErrRateLimited: too many requests for this address; the error is a
	// *RateLimitError that says when to retry.
	ErrRateLimited = errors.New("reset: rate limited")
	// ErrSessionsNotRevoked: the password was changed but the host's
	// SessionRevoker failed; the revocation is queued and retried by the
	// dispatcher. The reset itself succeeded, and the sessions' credential
	// stamps (see Stamp) no longer match.
	ErrSessionsNotRevoked = errors.New("reset: sessions not revoked yet")
	// ErrInvalidEmail: the address is empty or not an email address.
	ErrInvalidEmail = errors.New("reset: invalid email address")
	// ErrInvalidCredentials: the email or the password is wrong.
	ErrInvalidCredentials = errors.New("reset: invalid credentials")
	// ErrInvalidCode: the address and code match no usable reset: a wrong
	// code, or one expired, spent, ended or out of tries, or an address
	// without an account; one answer for all of them.
	ErrInvalidCode = errors.New("reset: invalid or expired code")
	// ErrReplayInFlight: a request with the same idempotency key is
	// running, on this instance or another (Service.ClaimReplay).
	ErrReplayInFlight = errors.New("reset: a request with this idempotency key is in flight")
	// ErrReplayMismatch: the idempotency key was used before with another
	// request (Service.ClaimReplay).
	ErrReplayMismatch = errors.New("reset: idempotency key used with another request")
	// ErrReplayNotClaimed: ReplayClaim.Save found its claim gone: it ran
	// out, and another request took the key over.
	ErrReplayNotClaimed = store.ErrReplayNotClaimed
)

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
