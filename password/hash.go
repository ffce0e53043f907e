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

// Compare checks password against a bcrypt hash, or an argon2id hash in
// the PHC string format (so that an app that moved to Argon2id can move
// back by configuration alone). A password over MaxBytes never matches a
// bcrypt hash: bcrypt would compare only its first 72 bytes, so a long
// password would otherwise match its own prefix.
func (h Bcrypt) Compare(hash, password string) error {
	return compareAny(hash, password)
}

// compareAny checks password against a hash of either kind this package
// makes, told apart by its prefix.
func compareAny(hash, password string) error {
	if isArgon2id(hash) {
		return compareArgon2id(hash, password)
	}
	return compareBcrypt(hash, password)
}

func compareBcrypt(hash, password string) error {
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

// cost is h.Cost with the default applied.
func (h Bcrypt) cost() int {
	if h.Cost < bcrypt.MinCost {
		return DefaultBcryptCost
	}
	return h.Cost
}

// NeedsRehash reports whether hash is not a bcrypt hash at h's cost: an
// argon2id hash, or a bcrypt hash of another cost.
func (h Bcrypt) NeedsRehash(hash string) bool {
	cost, err := bcrypt.Cost([]byte(hash))
	return err != nil || cost != h.cost()
}

// Rehash returns a bcrypt hash of password at h's cost with the salt of
// hash, a bcrypt hash or an argon2id hash with a 16-byte salt, so that
// the credential stamp of hash is kept (see Salt). A hash with another
// salt, or none, gets a fresh one. password must match hash: the caller
// has just compared them.
func (h Bcrypt) Rehash(hash, password string) (string, error) {
	salt, ok := Salt(hash)
	if !ok || len(salt) != bcryptSaltLen {
		return h.Hash(password)
	}
	if len(password) > MaxBytes {
		return "", fmt.Errorf("password: rehash: longer than %d bytes", MaxBytes)
	}
	return bcryptWithSalt(password, h.cost(), salt)
}

// CheckCost returns an error when cost is neither zero (the default) nor a
// cost bcrypt accepts.
func CheckCost(cost int) error {
	if cost != 0 && (cost < bcrypt.MinCost || cost > bcrypt.MaxCost) {
		return fmt.Errorf("password: bcrypt cost must be between %d and %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, cost)
	}
	return nil
}

// Rehasher is the optional part of a Hasher that upgrades stored hashes:
// account.Service.Authenticate, after a password matched, stores a new hash
// when NeedsRehash says the stored one was made by another algorithm or
// with other parameters. Bcrypt and Argon2id implement it.
type Rehasher interface {
	// NeedsRehash reports whether hash was made by another algorithm, or
	// with other parameters, than this Hasher's.
	NeedsRehash(hash string) bool
	// Rehash returns a hash of password, which matches hash, under this
	// Hasher's algorithm and parameters and with hash's salt (see Salt),
	// so that the credential stamp derived from the salt survives the
	// upgrade. A Rehasher that cannot keep the salt uses a fresh one: the
	// user's sessions are then ended as by a password change.
	Rehash(hash, password string) (string, error)
}

var (
	_ Rehasher = Bcrypt{}
	_ Rehasher = Argon2id{}
)
