package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrWeak: a new password fails the policy; the error is a *PolicyError
// that lists the reasons.
var ErrWeak = errors.New("password: rejected by policy")

// Policy decides which new passwords are accepted. Its zero value is the
// default policy: at least 8 characters, at most MaxBytes bytes, not the
// account's email address, not one of the most common passwords
// (IsCommon).
type Policy struct {
	// MinLength is the least number of characters (Unicode code points,
	// after Normalize). Default 8. The most is always MaxBytes bytes.
	MinLength int

	// RejectCurrent refuses the user's current password as the new one.
	// Off by default: it costs a second hash computation per change.
	RejectCurrent bool

	// AllowCommon turns off the refusal of the most common passwords
	// and dictionary words (IsCommon, ReasonCommon). Off by default: they
	// are refused, as OWASP ASVS 6.2.4 asks.
	AllowCommon bool

	// Check, when set, runs after the built-in rules pass, for example
	// Pwned{}.Check against Have I Been Pwned, or a list the host keeps. A non-nil
	// error rejects the password; its text is shown to the user, so it
	// must not repeat the password. Returning a *PolicyError keeps its
	// reasons.
	Check func(ctx context.Context, password string, user PolicyUser) error
}

// PolicyUser is what a policy check knows of the account.
type PolicyUser struct {
	ID    string
	Email string
}

// Reason codes of the default policy and of the checks around it.
const (
	ReasonTooShort    = "password_too_short"
	ReasonTooLong     = "password_too_long"
	ReasonSameAsEmail = "password_same_as_email"
	ReasonInvalidUTF8 = "password_invalid_utf8"
	ReasonReused      = "password_reused"
	ReasonRejected    = "password_rejected"
)

// Reason is one rule a password broke.
type Reason struct {
	Code    string // machine-readable: ReasonTooShort, ReasonTooLong, ...
	Message string // for the user; never contains the password
}

// PolicyError lists why a new password was rejected. It matches ErrWeak
// with errors.Is.
type PolicyError struct {
	Reasons []Reason
}

func (e *PolicyError) Error() string {
	msgs := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		msgs[i] = r.Message
	}
	return "password: rejected: " + strings.Join(msgs, "; ")
}

// Is reports whether target is ErrWeak.
func (e *PolicyError) Is(target error) bool { return target == ErrWeak }

// Validate applies the policy's rules to a normalised password: the
// built-in ones, then Check. It returns nil, a *PolicyError, or the error
// of a Check that failed for another reason wrapped as a *PolicyError with
// ReasonRejected. RejectCurrent is the caller's to apply: it needs the
// stored hash.
func (p Policy) Validate(ctx context.Context, password string, u PolicyUser) error {
	if reasons := p.rules(password, u.Email); len(reasons) > 0 {
		return &PolicyError{Reasons: reasons}
	}
	if p.Check != nil {
		if err := p.Check(ctx, password, u); err != nil {
			if pe, ok := errors.AsType[*PolicyError](err); ok {
				return pe
			}
			return &PolicyError{Reasons: []Reason{{ReasonRejected, err.Error()}}}
		}
	}
	return nil
}

// Reused is the refusal of RejectCurrent.
func Reused() *PolicyError {
	return &PolicyError{Reasons: []Reason{{ReasonReused, "The new password must differ from the current one."}}}
}

// rules applies the built-in rules.
func (p Policy) rules(password, email string) []Reason {
	if !utf8.ValidString(password) {
		return []Reason{{ReasonInvalidUTF8, "The password is not valid text."}}
	}
	var reasons []Reason
	minLen := p.MinLength
	if minLen <= 0 {
		minLen = 8
	}
	if n := utf8.RuneCountInString(password); n < minLen {
		reasons = append(reasons, Reason{ReasonTooShort, fmt.Sprintf("The password must be at least %d characters long.", minLen)})
	}
	if len(password) > MaxBytes {
		reasons = append(reasons, Reason{ReasonTooLong, fmt.Sprintf("The password must be at most %d bytes long (fewer characters when they are not ASCII).", MaxBytes)})
	}
	if email != "" && strings.EqualFold(strings.TrimSpace(password), email) {
		reasons = append(reasons, Reason{ReasonSameAsEmail, "The password must not be your email address."})
	}
	// A password already refused for its length is not also called common.
	if len(reasons) == 0 && !p.AllowCommon && IsCommon(password) {
		reasons = append(reasons, Reason{ReasonCommon, "This password is too common. Choose one that is harder to guess."})
	}
	return reasons
}
