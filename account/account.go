package account

import (
	"context"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/passreset/passreset/internal/resetlink"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
)

// Service creates users, looks them up, signs them in and changes their
// passwords, over the Store, Hasher, Policy and hashing cap of the
// reset.Service it was built from. It is safe for concurrent use.
type Service struct {
	core     resetlink.Core
	signIn   reset.RateLimit
	signInAt reset.RateLimit // failed sign-ins per address, all clients together
}

// Config configures a Service. Every zero field means the default its
// comment states.
type Config struct {
	// SignInLimit caps the failed sign-ins (Authenticate with a wrong
	// password, or an address without an account) per address and client
	// (AuthenticateParams.Client), counted in the Store. Past it,
	// Authenticate refuses that client for that address with a
	// *reset.RateLimitError, before any password check, until the oldest
	// failure leaves the Window; other clients are not refused for it.
	// Successful sign-ins are not counted, and a new password (a reset, a
	// change, or the host's own write) starts the count afresh. It also
	// caps a user's ChangePassword attempts. The zero value is the
	// default: 10 per 15 minutes.
	SignInLimit reset.RateLimit

	// SignInAddressLimit caps the failed sign-ins per address from all
	// clients together, so that guesses spread over many clients stay
	// bounded. Past it, every client is refused for the address until the
	// oldest failure leaves the Window, or a new password is set: a reset
	// is the owner's way in that no attacker can close. The zero value is
	// the default: 100 per 15 minutes.
	SignInAddressLimit reset.RateLimit
}

// New returns the Service of the accounts of svc's Store. It shares svc's
// Store, Hasher, Policy, SecretKey, outbox and hashing cap
// (reset.Config.MaxHashing): sign-ins and reset redemptions are bounded
// together, and a password changed here sends svc's password-changed
// email and revokes sessions through svc's Config.Sessions.
func New(svc *reset.Service, cfg Config) (*Service, error) {
	if svc == nil {
		return nil, errors.New("account: a reset.Service is required")
	}
	s := &Service{signIn: cfg.SignInLimit, signInAt: cfg.SignInAddressLimit}
	svc.Link(&s.core)
	if s.signIn.Limit <= 0 {
		s.signIn.Limit = 10
	}
	if s.signIn.Window <= 0 {
		s.signIn.Window = defaultWindow
	}
	if s.signInAt.Limit <= 0 {
		s.signInAt.Limit = 100
	}
	if s.signInAt.Window <= 0 {
		s.signInAt.Window = defaultWindow
	}
	return s, nil
}

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
// Errors: reset.ErrInvalidEmail; ErrInvalidName for a name with a
// control, line-breaking or bidirectional character or over MaxNameLength
// characters; a *password.PolicyError for a weak password; ErrEmailTaken
// when the address is in use without regard to case; a *reset.BusyError
// (reset.ErrBusy) when the hashing cap is full.
func (s *Service) CreateUser(ctx context.Context, p CreateUserParams) (reset.User, error) {
	c := &s.core
	creator, ok := c.Store.(store.UserCreator)
	if !ok {
		return reset.User{}, ErrNoUserCreator
	}
	email, err := reset.NormalizeEmail(p.Email)
	if err != nil {
		return reset.User{}, err
	}
	for field, name := range map[string]string{"first name": p.FirstName, "last name": p.LastName} {
		if err := checkName(name); err != nil {
			return reset.User{}, fmt.Errorf("%w: the %s %s", ErrInvalidName, field, err)
		}
	}
	// A taken address is refused before any bcrypt work; the Store still
	// has the last word when two callers race.
	if _, err := c.Store.UserByEmail(ctx, email); err == nil {
		return reset.User{}, ErrEmailTaken
	} else if !errors.Is(err, reset.ErrUserNotFound) {
		return reset.User{}, fmt.Errorf("account: create user: %w", err)
	}
	var hash string
	if p.Password != "" {
		pw := password.Normalize(p.Password)
		if err := c.CheckPolicy(ctx, pw, password.PolicyUser{Email: email}); err != nil {
			return reset.User{}, err
		}
		if hash, err = c.Hash(ctx, pw); err != nil {
			return reset.User{}, err
		}
	}
	now := c.Clock()
	id, err := c.NewID("user_", now)
	if err != nil {
		return reset.User{}, err
	}
	u := reset.User{
		ID: id, Email: email, EmailVerified: p.EmailVerified,
		FirstName: p.FirstName, LastName: p.LastName,
		ExternalID: p.ExternalID, Metadata: p.Metadata,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := creator.CreateUser(ctx, u, hash); err != nil {
		return reset.User{}, fmt.Errorf("account: create user: %w", err)
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

// GetUser returns the user with this id, or an error matching
// ErrUserNotFound.
func (s *Service) GetUser(ctx context.Context, id string) (reset.User, error) {
	u, err := s.core.Store.UserByID(ctx, id)
	if err != nil {
		return reset.User{}, fmt.Errorf("account: get user: %w", err)
	}
	return u, nil
}
