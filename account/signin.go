package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
)

// SignIn is a successful Authenticate: the user, and the credential stamp
// of the password that was checked, to keep in the session (see
// reset.Stamp).
type SignIn struct {
	User  reset.User
	Stamp string
}

// AuthenticateParams are the inputs of Authenticate.
type AuthenticateParams struct {
	Email    string
	Password string
	// Client names where the attempt comes from, for the failures counted
	// per address and client (Config.SignInLimit) and the hashing share
	// of one client (reset.Config.MaxHashing): the client's IP address
	// (for a web page, reset/pages' Handler.AllowSignIn gives it as its
	// client limit sees it), or the end user's address a backend passed
	// on. Any text; it is kept only as a keyed hash. Leave it empty and
	// every caller without one shares one count per address, which lets
	// anyone lock the others out for the Window: set it.
	Client string
}

// Authenticate checks an email and password for sign-in. A wrong password,
// an unknown email and a user without a password are all
// ErrInvalidCredentials, and cost the same: one hash comparison. The
// password is normalised first, as it was when it was set. When the Store
// implements store.SignInRecorder, the user's LastSignInAt is updated.
//
// The SignIn carries the credential stamp of the hash the password matched:
// keep it in the session and check it on every request
// (reset.Service.StampMatches), so that a sign-in that was past its
// comparison when a reset committed is refused on its first request.
//
// Failed attempts are counted in the Store, known addresses and unknown
// alike, per address and client (Config.SignInLimit, 10 per 15 minutes by
// default) and per address over all clients (Config.SignInAddressLimit,
// 100): past either, Authenticate returns a *reset.RateLimitError
// (matching reset.ErrRateLimited) without checking the password.
// Successful sign-ins are not counted, and the counts start afresh with
// every new password: a reset lifts them, and its new password signs in
// at once.
//
// The comparison takes one of the reset.Service's hashing slots
// (reset.Config.MaxHashing), which its redemptions take too; when none
// comes within reset.Config.HashingWait, Authenticate returns a
// *reset.BusyError (matching reset.ErrBusy) and counts nothing.
//
// When the stored hash was made with other parameters or by another
// algorithm than reset.Config.Hasher's (a raised bcrypt cost, a move
// between bcrypt and Argon2id), and the Hasher is a password.Rehasher, a
// matching password is hashed again and stored, in one conditional step
// that leaves a password changed meanwhile alone. The new hash keeps the
// old one's salt, from which the credential stamp is derived, so the
// user's other sessions stay signed in.
func (s *Service) Authenticate(ctx context.Context, p AuthenticateParams) (SignIn, error) {
	c := &s.core
	pw := password.Normalize(p.Password)
	email, err := reset.NormalizeEmail(p.Email)
	if err != nil {
		// Malformed: no account can match, and nothing is counted.
		if err := c.Compare(ctx, p.Client, "", pw); errors.Is(err, reset.ErrBusy) {
			return SignIn{}, err
		}
		return SignIn{}, ErrInvalidCredentials
	}
	var (
		u    reset.User
		hash string
	)
	u, err = c.Store.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, reset.ErrUserNotFound):
	case err != nil:
		return SignIn{}, fmt.Errorf("account: authenticate: %w", err)
	default:
		if hash, err = c.Store.PasswordHash(ctx, u.ID); err != nil {
			return SignIn{}, fmt.Errorf("account: authenticate: %w", err)
		}
	}
	now := c.Clock()
	keys := s.signInKeys(email, hash, p.Client)
	if err := s.checkFailures(ctx, keys, now); err != nil {
		return SignIn{}, err
	}

	release, err := c.Acquire(ctx, p.Client)
	if err != nil {
		return SignIn{}, err
	}
	if hash == "" {
		_ = c.Hasher.Compare(c.DummyHash, pw)
		err = password.ErrMismatch
	} else {
		err = c.Hasher.Compare(hash, pw)
	}
	if err == nil {
		hash = s.rehash(ctx, u.ID, hash, pw)
	}
	release()
	if err != nil {
		if !errors.Is(err, password.ErrMismatch) {
			return SignIn{}, fmt.Errorf("account: authenticate: %w", err)
		}
		if err := s.recordFailure(ctx, keys, now); err != nil {
			return SignIn{}, err
		}
		return SignIn{}, ErrInvalidCredentials
	}
	if rec, ok := c.Store.(store.SignInRecorder); ok {
		now := c.Clock()
		if err := rec.RecordSignIn(ctx, u.ID, now); err != nil {
			return SignIn{}, fmt.Errorf("account: authenticate: %w", err)
		}
		u.LastSignInAt = now
	}
	return SignIn{User: u, Stamp: reset.Stamp(hash)}, nil
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
		stamp = reset.Stamp(hash)
	}
	// A NUL can be in neither an address nor a stamp.
	address := "sign-in:" + email + "\x00" + stamp
	return signInKeys{
		client:  s.core.RateLimitKey(address + "\x00client:" + client),
		address: s.core.RateLimitKey(address),
	}
}

// count is a key failed sign-ins are counted under, with its limit.
type count struct {
	key   string
	limit reset.RateLimit
}

// counts are the counts of k that are on: the client's and the address's.
func (s *Service) counts(k signInKeys) []count {
	var on []count
	for _, c := range []count{{k.client, s.signIn}, {k.address, s.signInAt}} {
		if !c.limit.Disabled {
			on = append(on, c)
		}
	}
	return on
}

// checkFailures refuses a sign-in when its client, or all clients, used
// up the address's failures.
func (s *Service) checkFailures(ctx context.Context, k signInKeys, now time.Time) error {
	for _, c := range s.counts(k) {
		n, oldest, err := s.core.Store.CountRequests(ctx, c.key, now, c.limit.Window)
		if err != nil {
			return fmt.Errorf("account: rate limit: %w", err)
		}
		if n >= c.limit.Limit {
			return s.core.RateLimited(oldest.Add(c.limit.Window), now, c.limit.Window)
		}
	}
	return nil
}

// recordFailure counts a failed sign-in under both keys. AllowRequest
// records nothing past the limit, so a key never holds more than its
// limit of records in a window.
func (s *Service) recordFailure(ctx context.Context, k signInKeys, now time.Time) error {
	for _, c := range s.counts(k) {
		if _, _, err := s.core.Store.AllowRequest(ctx, c.key, now, c.limit.Window, c.limit.Limit); err != nil {
			return fmt.Errorf("account: rate limit: %w", err)
		}
	}
	return nil
}

// rehash stores a new hash of pw, which matches hash, when the Hasher says
// hash was made with other parameters or another algorithm: one
// conditional step, so that a password changed meanwhile is not
// overwritten. The new hash keeps hash's salt, and so the credential stamp
// (see reset.Stamp): the user's sessions are not ended. A failure is
// logged, and never fails the sign-in. It returns the hash now stored.
func (s *Service) rehash(ctx context.Context, userID, hash, pw string) string {
	c := &s.core
	rh, ok := c.Hasher.(password.Rehasher)
	if !ok || !rh.NeedsRehash(hash) {
		return hash
	}
	upgraded, err := rh.Rehash(hash, pw)
	if err != nil {
		c.Log.WarnContext(ctx, "rehash on sign-in", "user_id", userID, "err", err)
		return hash
	}
	_, err = c.Store.ChangePassword(ctx, store.PasswordChange{UserID: userID, OldHash: hash, NewHash: upgraded, Now: c.Clock(), Rehash: true})
	switch {
	case errors.Is(err, ErrPasswordChanged):
		// The password changed since it was read: the new one stays, and
		// the stamp of the old one makes this sign-in's session fail.
		return hash
	case err != nil:
		c.Log.WarnContext(ctx, "rehash on sign-in", "user_id", userID, "err", err)
		return hash
	}
	c.Log.InfoContext(ctx, "password hash upgraded on sign-in", "user_id", userID)
	return upgraded
}
