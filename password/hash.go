package password

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// MaxBytes is bcrypt's input limit. Longer passwords are refused, never
// silently truncated.
const MaxBytes = 72

// ErrMismatch: the password does not match the hash. A Hasher's Compare
// returns it, matched with errors.Is.
var ErrMismatch = errors.New("password: does not match")

// Normalize returns the NFKC form of a password, as NIST SP 800-63B
// advises, so that the same password typed on two keyboards matches.
// passreset normalises every password before it checks, hashes or compares
// it; a host that compares passwords itself must do the same (or call
// Compare, which does).
func Normalize(p string) string { return norm.NFKC.String(p) }

// Hasher turns passwords into stored hashes and checks them. Passwords reach
// a Hasher already normalised. A host migrating from another hash wraps its
// own; a benchmark may use one that does no work.
type Hasher interface {
	// Hash returns the storable hash of password.
	Hash(password string) (string, error)
	// Compare returns nil when password matches hash, an error matching
	// ErrMismatch when it does not, and another error when hash is
	// unreadable.
	Compare(hash, password string) error
}

// Compare normalises password and compares it with hash through h: the one
// call a host's own login makes to accept a password set through passreset.
func Compare(h Hasher, hash, password string) error {
	return h.Compare(hash, Normalize(password))
}

// DefaultBcryptCost is the cost of a Bcrypt whose Cost is zero.
const DefaultBcryptCost = 12

// Bcrypt is the default Hasher.
type Bcrypt struct {
	// Cost is the bcrypt cost, 4 to 31; below 4 (zero included) means
	// DefaultBcryptCost.
	Cost int
}

// Hash returns the bcrypt hash of password. A password over MaxBytes is an
// error, not a silent truncation.
func (h Bcrypt) Hash(password string) (string, error) {
	if len(password) > MaxBytes {
		return "", fmt.Errorf("password: hash: longer than %d bytes", MaxBytes)
	}
	cost := h.Cost
	if cost < bcrypt.MinCost {
		cost = DefaultBcryptCost
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	return string(b), nil
}

// Compare checks password against a bcrypt hash. A password over MaxBytes
// never matches: bcrypt would compare only its first 72 bytes, so a long
// password would otherwise match its own prefix.
func (h Bcrypt) Compare(hash, password string) error {
	if len(password) > MaxBytes {
		return ErrMismatch
	}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return ErrMismatch
	}
	return fmt.Errorf("password: compare: unreadable hash: %w", err)
}

// CheckCost returns an error when cost is neither zero (the default) nor a
// cost bcrypt accepts.
func CheckCost(cost int) error {
	if cost != 0 && (cost < bcrypt.MinCost || cost > bcrypt.MaxCost) {
		return fmt.Errorf("password: bcrypt cost must be between %d and %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, cost)
	}
	return nil
}
