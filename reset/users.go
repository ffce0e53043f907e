package reset

import (
	"context"
	"errors"
	"fmt"
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
// the module keep their users. It needs a Store that implements
// UserCreator (ErrNoUserCreator otherwise).
//
// Errors: ErrInvalidEmail, a *PolicyError for a weak password,
// ErrEmailTaken when the address is in use without regard to case.
func (s *Service) CreateUser(ctx context.Context, p CreateUserParams) (User, error) {
	creator, ok := s.store.(UserCreator)
	if !ok {
		return User{}, ErrNoUserCreator
	}
	email, err := NormalizeEmail(p.Email)
	if err != nil {
		return User{}, err
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
		password := NormalizePassword(p.Password)
		if err := s.checkPolicy(ctx, password, PolicyUser{Email: email}); err != nil {
			return User{}, err
		}
		if hash, err = s.hasher.Hash(password); err != nil {
			return User{}, fmt.Errorf("reset: hash password: %w", err)
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

// GetUser returns the user with this id, or ErrUserNotFound.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("reset: get user: %w", err)
	}
	return u, nil
}

// Authenticate checks an email and password for sign-in and returns the
// user. A wrong password, an unknown email and a user without a password
// are all ErrInvalidCredentials, and cost the same: one hash comparison.
// The password is NFKC-normalised first, as it was when it was set. When
// the Store implements SignInRecorder, the user's LastSignInAt is updated.
//
// Attempts per address are capped by Config.SignInLimit, known addresses
// and unknown alike: past it, Authenticate returns a *RateLimitError
// (matching ErrRateLimited) without checking the password.
func (s *Service) Authenticate(ctx context.Context, email, password string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		s.compareDummy(password)
		return User{}, ErrInvalidCredentials
	}
	if err := s.allow(ctx, s.signIn, "sign-in:"+email, s.clock()); err != nil {
		return User{}, err
	}
	password = NormalizePassword(password)
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrUserNotFound) {
		s.compareDummy(password)
		return User{}, ErrInvalidCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("reset: authenticate: %w", err)
	}
	hash, err := s.store.PasswordHash(ctx, u.ID)
	if err != nil {
		return User{}, fmt.Errorf("reset: authenticate: %w", err)
	}
	if hash == "" {
		s.compareDummy(password)
		return User{}, ErrInvalidCredentials
	}
	if err := s.hasher.Compare(hash, password); err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			return User{}, ErrInvalidCredentials
		}
		return User{}, fmt.Errorf("reset: authenticate: %w", err)
	}
	if rec, ok := s.store.(SignInRecorder); ok {
		now := s.clock()
		if err := rec.RecordSignIn(ctx, u.ID, now); err != nil {
			return User{}, fmt.Errorf("reset: authenticate: %w", err)
		}
		u.LastSignInAt = now
	}
	return u, nil
}

// compareDummy spends the time of one hash comparison, so that an unknown
// email answers as slowly as a wrong password.
func (s *Service) compareDummy(password string) {
	s.dummyOnce.Do(func() {
		s.dummyHash, _ = s.hasher.Hash("passreset dummy password for timing")
	})
	if s.dummyHash != "" {
		_ = s.hasher.Compare(s.dummyHash, password)
	}
}
