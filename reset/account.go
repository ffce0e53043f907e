package reset

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/store"
)

// CreateUserParams are the inputs of CreateUser.
type CreateUserParams struct {
	Email         string
	Password      string // optional; when set it must pass the Policy
	FirstName     string
	LastName      string
	EmailVerified bool
	ExternalID    string
	Metadata      map[string]string
}

// CreateUser creates a user with an optional password, for apps that let
// passreset keep their users. It needs a Store that implements
// store.UserCreator (ErrNoUserCreator otherwise).
//
// Errors: ErrInvalidEmail; ErrInvalidName for a name with a control,
// line-breaking or bidirectional character or over MaxNameLength
// characters; a *password.PolicyError for a weak password; ErrEmailTaken
// when the address is in use without regard to case.
func (s *Service) CreateUser(ctx context.Context, p CreateUserParams) (User, error) {
	creator, ok := s.store.(store.UserCreator)
	if !ok {
		return User{}, ErrNoUserCreator
	}
	email, err := NormalizeEmail(p.Email)
	if err != nil {
		return User{}, err
	}
	for field, name := range map[string]string{"first name": p.FirstName, "last name": p.LastName} {
		if err := checkName(name); err != nil {
			return User{}, fmt.Errorf("%w: the %s %s", ErrInvalidName, field, err)
		}
	}
	// A taken address is refused before any bcrypt work; the Store still
	// has the last word when two callers race.
	if _, err := s.store.UserByEmail(ctx, email); err == nil {
		return User{}, ErrEmailTaken
	} else if !errors.Is(err, ErrUserNotFound) {
		return User{}, fmt.Errorf("reset: create user: %w", err)
	}
	var hash string
	if p.Password != "" {
		pw := password.Normalize(p.Password)
		if err := s.checkPolicy(ctx, pw, password.PolicyUser{Email: email}); err != nil {
			return User{}, err
		}
		if hash, err = s.hash(ctx, pw); err != nil {
			return User{}, err
		}
	}
	now := s.clock()
	id, err := s.newID("user_", now)
	if err != nil {
		return User{}, err
	}
	u := User{
		ID: id, Email: email, EmailVerified: p.EmailVerified,
		FirstName: p.FirstName, LastName: p.LastName,
		ExternalID: p.ExternalID, Metadata: p.Metadata,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := creator.CreateUser(ctx, u, hash); err != nil {
		return User{}, fmt.Errorf("reset: create user: %w", err)
	}
	return u, nil
}

// MaxNameLength is the most characters a first or last name may have.
const MaxNameLength = 100

// checkName refuses a name that could break the text of an email or a log
// line, or reorder what is shown around it: control characters (CR and LF
// among them), the Unicode line and paragraph separators, and the
// bidirectional formatting characters; and a name over MaxNameLength
// characters.
func checkName(name string) error {
	if !utf8.ValidString(name) {
		return errors.New("is not valid UTF-8")
	}
	if utf8.RuneCountInString(name) > MaxNameLength {
		return fmt.Errorf("is longer than %d characters", MaxNameLength)
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r), r == '\u2028', r == '\u2029',
			r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
			return fmt.Errorf("holds the character %U", r)
		}
	}
	return nil
}

// GetUser returns the user with this id, or ErrUserNotFound.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("reset: get user: %w", err)
	}
	return u, nil
}

// SignIn is a successful Authenticate: the user, and the credential stamp
// of the password that was checked, to keep in the session (see Stamp).
type SignIn struct {
	User  User
	Stamp string
}

// AuthenticateParams are the inputs of Authenticate.
type AuthenticateParams struct {
	Email    string
	Password string
	// Client names where the attempt comes from, for the failures counted
	// per address and client (Config.SignInLimit) and the hashing share
	// of one client (Config.MaxHashing): the client's IP address (for a
	// web page, reset/pages' Handler.AllowSignIn gives it as its client
	// limit sees it), or the end user's address a backend passed on. Any
	// text; it is kept only as a keyed hash. Leave it empty and every
	// caller without one shares one count per address, which lets anyone
	// lock the others out for the Window: set it.
	Client string
}

// Authenticate checks an email and password for sign-in. A wrong password,
// an unknown email and a user without a password are all
// ErrInvalidCredentials, and cost the same: one hash comparison. The
// password is normalised first, as it was when it was set. When the Store
// implements store.SignInRecorder, the user's LastSignInAt is updated.
//
// The SignIn carries the credential stamp of the hash the password matched:
// keep it in the session and check it on every request (StampMatches), so
// that a sign-in that was past its comparison when a reset committed is
// refused on its first request.
//
// Failed attempts are counted in the Store, known addresses and unknown
// alike, per address and client (Config.SignInLimit, 10 per 15 minutes by
// default) and per address over all clients (Config.SignInAddressLimit,
// 100): past either, Authenticate returns a *RateLimitError (matching
// ErrRateLimited) without checking the password. Successful sign-ins are
// not counted, and the counts start afresh with every new password: a
// reset lifts them, and its new password signs in at once.
//
// The comparison takes one of the Service's hashing slots
// (Config.MaxHashing); when none comes within Config.HashingWait,
// Authenticate returns a *BusyError (matching ErrBusy) and counts nothing.
//
// When the stored hash was made with other parameters or by another
// algorithm than Config.Hasher's (a raised bcrypt cost, a move between
// bcrypt and Argon2id), and the Hasher is a password.Rehasher, a matching
// password is hashed again and stored, in one conditional step that leaves
// a password changed meanwhile alone. The new hash keeps the old one's
// salt, from which the credential stamp is derived, so the user's other
// sessions stay signed in.
func (s *Service) Authenticate(ctx context.Context, p AuthenticateParams) (SignIn, error) {
	pw := password.Normalize(p.Password)
	email, err := NormalizeEmail(p.Email)
	if err != nil {
		// Malformed: no account can match, and nothing is counted.
		if err := s.compare(ctx, p.Client, "", pw); errors.Is(err, ErrBusy) {
			return SignIn{}, err
		}
		return SignIn{}, ErrInvalidCredentials
	}
	var (
		u    User
		hash string
	)
	u, err = s.store.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, ErrUserNotFound):
	case err != nil:
		return SignIn{}, fmt.Errorf("reset: authenticate: %w", err)
	default:
		if hash, err = s.store.PasswordHash(ctx, u.ID); err != nil {
			return SignIn{}, fmt.Errorf("reset: authenticate: %w", err)
		}
	}
	now := s.clock()
	keys := s.signInKeys(email, hash, p.Client)
	if err := s.checkFailures(ctx, keys, now); err != nil {
		return SignIn{}, err
	}

	release, err := s.gate.acquire(ctx, p.Client)
	if err != nil {
		return SignIn{}, err
	}
	if hash == "" {
		_ = s.hasher.Compare(s.dummyHash, pw)
		err = password.ErrMismatch
	} else {
		err = s.hasher.Compare(hash, pw)
	}
	if err == nil {
		hash = s.rehash(ctx, u.ID, hash, pw)
	}
	release()
	if err != nil {
		if !errors.Is(err, password.ErrMismatch) {
			return SignIn{}, fmt.Errorf("reset: authenticate: %w", err)
		}
		if err := s.recordFailure(ctx, keys, now); err != nil {
			return SignIn{}, err
		}
		return SignIn{}, ErrInvalidCredentials
	}
	if rec, ok := s.store.(store.SignInRecorder); ok {
		now := s.clock()
		if err := rec.RecordSignIn(ctx, u.ID, now); err != nil {
			return SignIn{}, fmt.Errorf("reset: authenticate: %w", err)
		}
		u.LastSignInAt = now
	}
	return SignIn{User: u, Stamp: Stamp(hash)}, nil
}

// signInKeys are the two keys failed sign-ins are counted under: the
// address with the client, and the address alone. Both name the
// credential stamp of the password the address has now (none for an
// address without one), so that a new password, whoever sets it, starts
// both counts afresh without a write to clear them.
type signInKeys struct{ client, address string }

func (s *Service) signInKeys(email, hash, client string) signInKeys {
	stamp := "none"
	if hash != "" {
		stamp = Stamp(hash)
	}
	// A NUL can be in neither an address nor a stamp.
	address := "sign-in:" + email + "\x00" + stamp
	return signInKeys{
		client:  s.secrets.rateLimitKey(address + "\x00client:" + client),
		address: s.secrets.rateLimitKey(address),
	}
}

// checkFailures refuses a sign-in when its client, or all clients, used
// up the address's failures.
func (s *Service) checkFailures(ctx context.Context, k signInKeys, now time.Time) error {
	for _, c := range []struct {
		key   string
		limit RateLimit
	}{{k.client, s.signIn}, {k.address, s.signInAt}} {
		if c.limit.Disabled {
			continue
		}
		n, oldest, err := s.store.CountRequests(ctx, c.key, now, c.limit.Window)
		if err != nil {
			return fmt.Errorf("reset: rate limit: %w", err)
		}
		if n >= c.limit.Limit {
			return &RateLimitError{RetryAt: retryWithin(oldest.Add(c.limit.Window), now, c.limit.Window), now: now}
		}
	}
	return nil
}

// recordFailure counts a failed sign-in under both keys. AllowRequest
// records nothing past the limit, so a key never holds more than its
// limit of records in a window.
func (s *Service) recordFailure(ctx context.Context, k signInKeys, now time.Time) error {
	for _, c := range []struct {
		key   string
		limit RateLimit
	}{{k.client, s.signIn}, {k.address, s.signInAt}} {
		if c.limit.Disabled {
			continue
		}
		if _, _, err := s.store.AllowRequest(ctx, c.key, now, c.limit.Window, c.limit.Limit); err != nil {
			return fmt.Errorf("reset: rate limit: %w", err)
		}
	}
	return nil
}

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
	case errors.Is(err, password.ErrMismatch), errors.Is(err, errNoHash):
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
