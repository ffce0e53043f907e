package reset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// MaxPasswordBytes is bcrypt's input limit. Longer passwords are refused,
// never silently truncated.
const MaxPasswordBytes = 72

// NormalizePassword returns the NFKC form of a password, as NIST SP 800-63B
// advises, so that the same password typed on two keyboards matches. Every
// password is normalised before it is checked, hashed or compared.
func NormalizePassword(p string) string { return norm.NFKC.String(p) }

// BcryptHasher is the default Hasher.
type BcryptHasher struct {
	// Cost is the bcrypt cost; below bcrypt.MinCost means 12.
	Cost int
}

// Hash returns the bcrypt hash of password. A password over 72 bytes is an
// error, not a silent truncation.
func (h BcryptHasher) Hash(password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("reset: hash: password longer than %d bytes", MaxPasswordBytes)
	}
	cost := h.Cost
	if cost < bcrypt.MinCost {
		cost = 12
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("reset: hash: %w", err)
	}
	return string(b), nil
}

// Compare checks password against a bcrypt hash. A password over 72 bytes
// never matches: bcrypt would compare only its first 72 bytes, so a long
// password would otherwise match its own prefix.
func (h BcryptHasher) Compare(hash, password string) error {
	if len(password) > MaxPasswordBytes {
		return ErrInvalidCredentials
	}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return ErrInvalidCredentials
	}
	return fmt.Errorf("reset: compare: unreadable hash: %w", err)
}

// Policy decides which new passwords are accepted. Its zero value is the
// default policy.
type Policy struct {
	// MinLength is the least number of characters (Unicode code points,
	// after NFKC). Default 8. The most is always 72 bytes.
	MinLength int

	// RejectCurrent refuses the user's current password as the new one.
	// Off by default: it costs a second bcrypt computation per reset.
	RejectCurrent bool

	// Check, when set, runs after the built-in rules pass, for example
	// against a list of breached passwords the host supplies. A non-nil
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

// check applies the built-in rules to a normalised password.
func (p Policy) check(password, email string) []PolicyReason {
	var reasons []PolicyReason
	if !utf8.ValidString(password) {
		return []PolicyReason{{ReasonInvalidUTF8, "The password is not valid text."}}
	}
	minLen := p.MinLength
	if minLen <= 0 {
		minLen = 8
	}
	if n := utf8.RuneCountInString(password); n < minLen {
		reasons = append(reasons, PolicyReason{ReasonTooShort, fmt.Sprintf("The password must be at least %d characters long.", minLen)})
	}
	if len(password) > MaxPasswordBytes {
		reasons = append(reasons, PolicyReason{ReasonTooLong, fmt.Sprintf("The password must be at most %d bytes long (fewer characters when they are not ASCII).", MaxPasswordBytes)})
	}
	if email != "" && strings.EqualFold(strings.TrimSpace(password), email) {
		reasons = append(reasons, PolicyReason{ReasonSameAsEmail, "The password must not be your email address."})
	}
	return reasons
}
