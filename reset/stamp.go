package reset

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/passreset/passreset/internal/resetlink"
	"github.com/passreset/passreset/password"
)

// CheckPassword compares a password a user typed with the hash a host's own
// login read from its table, as passreset compares it: normalised, through
// the Service's Hasher. It returns the credential stamp of hash on a match,
// ErrInvalidCredentials on a mismatch (an empty hash never matches), and
// another error for an unreadable hash. A host that keeps its own login
// calls it instead of comparing the hash itself, so that a password set
// through a reset, whatever its characters, signs in.
//
// The comparison takes one of the Service's hashing slots
// (Config.MaxHashing), shared by every caller of CheckPassword; when none
// comes within Config.HashingWait it returns a *BusyError (matching
// ErrBusy).
func (s *Service) CheckPassword(hash, pw string) (stamp string, err error) {
	pw = password.Normalize(pw)
	switch err := s.compare(context.Background(), "", hash, pw); {
	case err == nil:
	case errors.Is(err, password.ErrMismatch), errors.Is(err, resetlink.ErrNoHash):
		return "", ErrInvalidCredentials
	case errors.Is(err, ErrBusy):
		return "", err
	default:
		return "", fmt.Errorf("reset: check password: %w", err)
	}
	return Stamp(hash), nil
}

// Stamp returns the credential stamp of a password hash: 22 characters that
// change whenever the password does, by a reset, a change, or the host's
// own write. A host keeps the stamp of the hash a sign-in checked in the
// session (scs, gorilla/sessions, a JWT claim, session.Manager's Metadata)
// and checks it on every request with StampMatches: a session begun before
// the password changed then stops being served at the commit, wherever it
// is kept, even one that a request in flight wrote back after it was
// deleted.
//
// It is derived from the hash's salt (password.Salt) for bcrypt and
// argon2id hashes, and from the whole hash otherwise, by a truncated
// SHA-256. Every new password gets a fresh random salt, so the stamp
// changes with it; an upgrade of the hash at sign-in (a password.Rehasher)
// keeps the salt, so the stamp survives it and no session ends for it. The
// stamp reveals nothing of the password (the salt is not secret, and the
// hash is not in it), and it needs no key, so every instance of an app,
// and every restart, agrees on it.
func Stamp(passwordHash string) string {
	if salt, ok := password.Salt(passwordHash); ok {
		sum := sha256.Sum256(append([]byte("passreset credential stamp v2\x00"), salt...))
		return base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	return stampV1(passwordHash)
}

// stampV1 is the stamp of a whole hash: Stamp's for hashes without a salt
// it can read, and what Stamp was for every hash before it was derived
// from the salt, which StampMatches still accepts, so that an upgrade of
// passreset signs no one out.
func stampV1(passwordHash string) string {
	sum := sha256.Sum256([]byte("passreset credential stamp v1\x00" + passwordHash))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// StampMatches reports whether a session's credential stamp still matches
// its user: true when it does; false when the password changed since, the
// user is gone, or stamp is empty; and an error only when the Store fails.
// It costs one lookup of the user's password hash by id. A host checks it
// on every request that a session authenticates, and ends the session on
// false.
func (s *Service) StampMatches(ctx context.Context, userID, stamp string) (bool, error) {
	if stamp == "" || userID == "" {
		return false, nil
	}
	hash, err := s.store.PasswordHash(ctx, userID)
	switch {
	case errors.Is(err, ErrUserNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reset: check stamp: %w", err)
	}
	v2 := subtle.ConstantTimeCompare([]byte(Stamp(hash)), []byte(stamp))
	v1 := subtle.ConstantTimeCompare([]byte(stampV1(hash)), []byte(stamp))
	return v1|v2 == 1, nil
}

// CurrentStamp returns the user's credential stamp now, for a host that
// signs a user in without a password (a link, SSO) and still wants its
// session ended by a later reset. It returns ErrUserNotFound for an
// unknown user.
func (s *Service) CurrentStamp(ctx context.Context, userID string) (string, error) {
	hash, err := s.store.PasswordHash(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("reset: stamp: %w", err)
	}
	return Stamp(hash), nil
}
