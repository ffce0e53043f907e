package storebench

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/passreset/passreset/emailaddr"
)

// The raw sides' flows: the order in which each hot path issues its
// statements, as the Store's flows issue them, written once. Each raw side
// supplies the statements (RawSteps), in its own SQL, issued by hand on
// its own driver, in the transactions its Store makes; NewRaw runs them.

// RawSteps are one raw side's statements, one method a step of the flow.
type RawSteps interface {
	// Now is the raw side's clock (Clock).
	Now() time.Time
	// Allow is the rate limit: it records a request under rateKey at now,
	// or returns ErrRateLimited when RateLimit are recorded within Window.
	Allow(ctx context.Context, rateKey string, now time.Time) error
	// UserByEmail reads the user with this email.
	UserByEmail(ctx context.Context, email string) (RawUser, error)
	// UserByID reads the user whose row has this key (UserKey).
	UserByID(ctx context.Context, key any) (RawUser, error)
	// CreateReset is CreatePasswordReset's transaction: the other resets
	// of u, whose row has key, ended, then c (its code under rateKey) and
	// its email job, whose payload is payload, inserted at now.
	CreateReset(ctx context.Context, u RawUser, key any, c Created, rateKey string, payload []byte, now time.Time) error
	// ResetByID reads the reset with this id.
	ResetByID(ctx context.Context, id string) error
	// ResetByHash reads the reset whose token hash is h.
	ResetByHash(ctx context.Context, h []byte) (RawReset, error)
	// Redeem is ResetPassword's transaction: r spent at now, passwordHash
	// written to the row of its user, which has key, the user's sessions
	// revoked, the notice (job jobID, whose payload is payload) queued. It
	// returns how many sessions it revoked.
	Redeem(ctx context.Context, r RawReset, key any, passwordHash, jobID string, payload []byte, now time.Time) (revoked int64, err error)
	// FinishJob marks a job finished, its email sent.
	FinishJob(ctx context.Context, jobID string) error
	// SessionByHash reads the session whose token hash is h.
	SessionByHash(ctx context.Context, h []byte) (RawSession, error)
	// TouchSession writes the session's last-seen time, now.
	TouchSession(ctx context.Context, id string, now time.Time) error
	// PasswordHash reads the password hash of the user whose row has key.
	PasswordHash(ctx context.Context, key any) (string, error)
}

// RawUser is what the flows use of a users row, passreset's or the
// host's (whose id is HostID of its key); the steps read every column the
// Store reads.
type RawUser struct{ ID, Email string }

// RawReset is what the flows use of a reset row; the steps read every
// column the Store reads.
type RawReset struct {
	ID, UserID, Email  string
	Used, Ended, Coded bool // Coded: it has a code, with CodeTries left
	CodeTries          int
	Expires            time.Time
}

// RawSession is what the flows use of a session row; the steps read every
// column the Store reads.
type RawSession struct {
	ID            string
	Revoked       bool
	Seen, Expires time.Time
}

// NewRaw returns the raw side that issues steps in the order of the
// Store's flows; host says the users are the host's accounts, and noRows
// is the error of the steps' driver for a row that is not there.
func NewRaw(steps RawSteps, host bool, noRows error) Raw { return rawFlow{steps, host, noRows} }

type rawFlow struct {
	s      RawSteps
	host   bool
	noRows error
}

func (f rawFlow) Create(ctx context.Context, email, rateKey string, payload []byte) error {
	now := f.s.Now()
	if err := f.s.Allow(ctx, rateKey, now); err != nil {
		return err
	}
	u, err := f.s.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	key, err := UserKey(f.host, u.ID)
	if err != nil {
		return err
	}
	c := NewCreated(now)
	if err := f.s.CreateReset(ctx, u, key, c, rateKey, payload, now); err != nil {
		return err
	}
	// The email is sent here.
	return f.s.FinishJob(ctx, c.JobID)
}

func (f rawFlow) Get(ctx context.Context, resetID string) error { return f.s.ResetByID(ctx, resetID) }

// lookup reads the token's reset and judges it (Spendable).
func (f rawFlow) lookup(ctx context.Context, token string) (RawReset, error) {
	h := sha256.Sum256([]byte(token))
	r, err := f.s.ResetByHash(ctx, h[:])
	switch {
	case errors.Is(err, f.noRows):
		return RawReset{}, ErrInvalid
	case err != nil:
		return RawReset{}, err
	}
	return r, Spendable(r.Used, r.Ended, r.Coded, r.CodeTries, r.Expires, f.s.Now())
}

func (f rawFlow) Lookup(ctx context.Context, token string) error {
	_, err := f.lookup(ctx, token)
	return err
}

func (f rawFlow) Redeem(ctx context.Context, token, passwordHash string, payload []byte) (revoked int64, err error) {
	r, err := f.lookup(ctx, token)
	if err != nil {
		return 0, err
	}
	// The user's current address, which the notice goes to (and to the
	// reset's, were it another), read before the transaction as the flow
	// reads it.
	key, err := UserKey(f.host, r.UserID)
	if err != nil {
		return 0, err
	}
	current, err := f.s.UserByID(ctx, key)
	if err != nil {
		return 0, err
	}
	if !emailaddr.EqualFold(current.Email, r.Email) {
		return 0, errors.New("raw: the user's address changed")
	}
	now := f.s.Now()
	jobID := "job_" + NewID(now)
	if revoked, err = f.s.Redeem(ctx, r, key, passwordHash, jobID, payload, now); err != nil {
		return 0, err
	}
	// The notice is sent here.
	return revoked, f.s.FinishJob(ctx, jobID)
}

func (f rawFlow) Validate(ctx context.Context, token string) error {
	h := sha256.Sum256([]byte(token))
	s, err := f.s.SessionByHash(ctx, h[:])
	switch {
	case errors.Is(err, f.noRows):
		return ErrNotFound
	case err != nil:
		return err
	}
	now := f.s.Now()
	touch, err := Judge(s.Revoked, s.Seen, s.Expires, now)
	if touch {
		err = f.s.TouchSession(ctx, s.ID, now)
	}
	return err
}

func (f rawFlow) PasswordHash(ctx context.Context, userID string) (string, error) {
	key, err := UserKey(f.host, userID)
	if err != nil {
		return "", err
	}
	return f.s.PasswordHash(ctx, key)
}
