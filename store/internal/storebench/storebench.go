// Package storebench is the benchmark harness of the SQL stores, written
// once for all of them: each hot path through the public API
// ("passreset") beside the same work written by hand in the store's own
// SQL ("raw"), in the same run, on databases seeded alike, so that a figure
// is a ratio. A store's test package supplies a Dialect (how to seed a
// database, open its Store on it, and do the raw work) and declares
//
//	func BenchmarkPairs(b *testing.B)  { storebench.Pairs(b, dialect(b)) }
//	func BenchmarkGrowth(b *testing.B) { storebench.Growth(b, dialect(b)) }
//	func TestBench(t *testing.T)       { storebench.Test(t, dialect(t)) }
//
// Both sides start from a database seeded alike (Spec): users, each with
// one unused reset and one active session, whose rows are derived from
// their index (UserID, Email, Token, ...), so that a benchmark names row i
// of a million-row database without reading it. The passreset side runs
// with the defaults but for a Mailer that discards (the raw side sends
// nothing either), a discarding Logger and, where the name says so, a
// Hasher that does no work. The rate limit stays on, with a limit no
// benchmark reaches (RateLimit), and requests spread over the seeded
// addresses; the raw side issues the same rate-limit statement.
package storebench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
)

// Store is what a SQL store is to the benchmarks: the reset flow's port
// and the session package's.
type Store interface {
	store.Store
	session.Store
}

// Raw is the raw side of the pairs: the statements the Store issues on
// each hot path (Statements), issued by hand, over a database seeded as
// the passreset side's.
type Raw interface {
	// Create is CreatePasswordReset for email: the rate limit under
	// rateKey, the user, one transaction (end the user's other resets,
	// insert the reset and its email job, whose payload is payload), then,
	// the email sent, the job finished. ErrRateLimited when over the limit.
	Create(ctx context.Context, email, rateKey string, payload []byte) error
	// Get is GetPasswordReset: the reset with this id.
	Get(ctx context.Context, resetID string) error
	// Lookup is the cheap rejection of ResetPassword: nil when the token's
	// reset can be spent, ErrInvalid or ErrExpired otherwise.
	Lookup(ctx context.Context, token string) error
	// Redeem is ResetPassword with the hash computed elsewhere: the lookup,
	// one transaction (spend the token, write the hash, revoke the user's
	// sessions, queue the notice, whose payload is payload), then, the
	// notice sent, its job finished. It returns how many sessions it
	// revoked.
	Redeem(ctx context.Context, token, passwordHash string, payload []byte) (revoked int64, err error)
	// Validate is session.Manager.Validate: the lookup, judged at the
	// clock (Judge), and the write of the last-seen time when it is
	// TouchEvery old.
	Validate(ctx context.Context, token string) error
	// PasswordHash is the indexed lookup of a user's password hash by the
	// id the Store shows (the work of Service.StampMatches, less the
	// stamp).
	PasswordHash(ctx context.Context, userID string) (string, error)
}

// DB is one seeded database, on which either side opens.
type DB interface {
	// Store opens a Store on the database, as an app does, closed when tb
	// ends.
	Store(tb testing.TB) Store
	// Raw opens the raw side on the database, with pools shaped as the
	// Store's, closed when tb ends; now is its clock (nil: time.Now).
	Raw(tb testing.TB, now func() time.Time) Raw
}

// Dialect is what a store's test package supplies.
type Dialect struct {
	// Seeded returns a new database seeded as spec says, removed when tb
	// ends. It skips tb when the store's server is not there.
	Seeded func(tb testing.TB, spec Spec) DB
	// Grown returns a database seeded as spec says for the growth
	// benchmarks; it may build it once and keep it between runs. Nil:
	// Seeded.
	Grown func(b *testing.B, spec Spec) DB
	// Host says the users are the host's accounts (Tables), whose ids
	// the Store shows as HostUserID(i), not passreset's own (UserID(i)).
	Host bool
}

func (d Dialect) userID(i int) string {
	if d.Host {
		return HostUserID(i)
	}
	return UserID(i)
}

func (d Dialect) grown(b *testing.B, spec Spec) DB {
	if d.Grown == nil {
		return d.Seeded(b, spec)
	}
	return d.Grown(b, spec)
}

// Spec describes a benchmark database. User i has email Email(i) and
// password hash PasswordHash; reset i belongs to user ResetUser(i), has
// token Token(ResetToken, i), expires an hour after Now and is unused when
// it is its user's newest (ended a second before Now otherwise: Ended);
// session i belongs to user SessionUser(i), has token Token(SessionToken,
// i), expires 30 days after Now and was last seen at Now. Users were
// created 48 hours before Now, resets and sessions a minute before.
type Spec struct {
	Users, Resets, Sessions int
	Now                     time.Time
}

// ResetUser is the user of reset i.
func (s Spec) ResetUser(i int) int { return i % s.Users }

// SessionUser is the user of session i.
func (s Spec) SessionUser(i int) int { return i % s.Users }

// Ended reports whether reset i is ended: a newer reset of its user follows.
func (s Spec) Ended(i int) bool { return i < s.Resets-s.Users }

// The seeded rows' fixed values.
const (
	// PasswordHash is every seeded user's hash, and what the passreset
	// side's no-work Hasher and the raw side write: a bcrypt hash's length
	// and shape.
	PasswordHash = "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
	Password     = "correct horse battery staple"
	UserAgent    = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	IP           = "203.0.113.7"
	FirstName    = "Marcelina"
	LastName     = "Davis"
)

// Epoch is the time of the ids of seeded rows.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// rowULID is the ULID of row i of a kind of row: its time is Epoch plus i
// milliseconds, so ids sort in row order, and its entropy holds kind and
// i, so ids of different kinds never meet.
func rowULID(kind byte, i int) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(Epoch.Add(time.Duration(i) * time.Millisecond)))
	var e [10]byte
	e[0] = kind
	binary.BigEndian.PutUint64(e[2:], uint64(i))
	_ = u.SetEntropy(e[:])
	return u.String()
}

// UserID is the id of seeded user i in passreset's own users table.
func UserID(i int) string { return "user_" + rowULID('u', i) }

// ResetID is the id of seeded reset i.
func ResetID(i int) string { return "password_reset_" + rowULID('r', i) }

// SessionID is the id of seeded session i.
func SessionID(i int) string { return "session_" + rowULID('s', i) }

// Email is the address of seeded user i.
func Email(i int) string { return fmt.Sprintf("user%07d@example.com", i) }

// Token kinds: the seeded resets' and sessions' tokens, and tokens that
// were never issued.
const (
	ResetToken   = 'r'
	SessionToken = 's'
	UnknownToken = 'x'
)

// Token is a token as the module makes them, 32 bytes in unpadded
// base64url, derived from kind and i.
func Token(kind byte, i int) string {
	var b [9]byte
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], uint64(i))
	h := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// TokenHash is the SHA-256 of a token's text, as stored.
func TokenHash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

func tokens(kind byte, n int) []string {
	ts := make([]string, n)
	for i := range ts {
		ts[i] = Token(kind, i)
	}
	return ts
}

// RateKey is the raw side's rate-limit key of an address: a keyed hash, as
// the module's, computed before the timer starts.
func RateKey(email string) string {
	m := hmac.New(sha256.New, []byte("raw side rate-limit key, 32 bytes"))
	m.Write([]byte(email))
	return hex.EncodeToString(m.Sum(nil))
}

// The raw side's settings: those of the Service and Manager defaults the
// passreset side runs with.
const (
	Window     = 15 * time.Minute // reset.RateLimit.Window's default
	RateLimit  = 1 << 20          // the passreset side's reset.RateLimit.Limit
	TTL        = 15 * time.Minute // reset.Config.TokenTTL's default
	Lease      = 2 * time.Minute  // reset.DispatchConfig.Lease's default
	Idle       = 24 * time.Hour   // session.DefaultIdleTimeout
	TouchEvery = time.Minute      // session.DefaultTouchInterval
	CodeTries  = 5                // the tries a reset's code starts with
)

// The raw side's answers.
var (
	ErrRateLimited = errors.New("raw: rate limited")
	ErrInvalid     = errors.New("raw: invalid token")
	ErrExpired     = errors.New("raw: expired")
	ErrNotFound    = errors.New("raw: not found")
)

// Spendable judges a reset as the flow does: ErrInvalid when it is used,
// ended or its code has no try left (coded), ErrExpired at or after its
// expiry, nil when it can be spent.
func Spendable(used, ended, coded bool, triesLeft int, expires, now time.Time) error {
	switch {
	case used || ended, coded && triesLeft <= 0:
		return ErrInvalid
	case !now.Before(expires):
		return ErrExpired
	}
	return nil
}

// Judge judges a session as session.Manager does: ErrInvalid when revoked,
// ErrExpired past its expiry or idle timeout, and otherwise whether its
// last-seen time is due a write.
func Judge(revoked bool, seen, expires, now time.Time) (touch bool, err error) {
	switch {
	case revoked:
		return false, ErrInvalid
	case !now.Before(expires), !now.Before(seen.Add(Idle)):
		return false, ErrExpired
	}
	return now.Sub(seen) >= TouchEvery, nil
}
