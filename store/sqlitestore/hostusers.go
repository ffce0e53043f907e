package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/hostusers"
)

// Querier is what a HostUsers reads through: the Store's *sql.DB outside a
// transaction, or the Store's *sql.Tx inside one. Both are the handle the
// Store was given (or Open opened), so the host's tables must be in that
// database.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// HostUsers is what the Store needs of a host's users when no
// store.UsersTable can describe them: users spread over several tables
// (several addresses per account, each verified on its own; every password
// hash an account has had, the newest current), kept in the same SQLite
// database as passreset's own tables. The host implements these four
// methods over its tables and passes it to WithHostUsers; the Store keeps
// everything else (resets, rate-limit records, the outbox, sessions, the
// replays) in its own tables and transactions.
//
// Ids: the id a method returns in User.ID is the id passreset shows for
// the user (in PasswordReset.UserID, on the wire, in sessions, to a
// SessionRevoker) and passes back to UserByID, PasswordHash and
// SetPasswordHash. Make it stable and never reused: "user_42" for an
// integer key 42 (the form store.UsersTable gives), or a text key as it
// is. An id that names no user is store.ErrUserNotFound, never an error of
// its own.
//
// Every method may run inside one of the Store's transactions (q is then
// the *sql.Tx): it must use q, never a handle of its own, and never commit
// or roll back. Outside a transaction q is the Store's read pool. The
// methods are called concurrently. Not found is store.ErrUserNotFound;
// other failures are returned as they are (wrapped with %w if you like)
// and the Store wraps them again.
type HostUsers interface {
	// UserByEmail returns the user who may receive a reset at email, with
	// Email the address as the host keeps it and EmailVerified whether
	// that address is verified, or store.ErrUserNotFound. email is
	// already folded (emailaddr.Fold: NFC, the domain in ASCII, Unicode
	// lower case); compare it with the host's addresses folded the same
	// way, for example with a column that keeps emailaddr.Fold of each
	// address under a UNIQUE index. The Store passes over a user whose
	// returned Email does not fold to email. Whether an address may
	// receive a reset (any address of the account, or only its primary
	// one and those verified) is the host's to decide: a reset is spent
	// only while UserByEmail still finds its user at its address.
	UserByEmail(ctx context.Context, q Querier, email string) (store.User, error)

	// UserByID returns the user with this id, with the address the host
	// shows first (its primary one), or store.ErrUserNotFound. The
	// password-changed notice goes to that address.
	UserByID(ctx context.Context, q Querier, id string) (store.User, error)

	// PasswordHash returns the user's current password hash, "" when the
	// user has none, or store.ErrUserNotFound. Sign-ins, the credential
	// stamp (reset.Service.StampMatches, on every request of a host that
	// checks it) and ChangePassword's compare read it.
	PasswordHash(ctx context.Context, q Querier, id string) (string, error)

	// SetPasswordHash writes w.Hash as the user's password hash, inside
	// the Store's transaction tx, which spends a reset (RedeemReset) or
	// changes a password (ChangePassword), and returns
	// store.ErrUserNotFound when there is no such user. When it returns an
	// error, the Store rolls the whole transaction back: the token stays
	// unspent and nothing of the write is kept.
	//
	// Before it calls SetPasswordHash the Store has checked, in tx and
	// under SQLite's write lock, which tx holds from its first statement
	// to its end, that the user exists, and, for a reset, that
	// UserByEmail still finds the user at the reset's address, or, for a
	// change, that PasswordHash is still the hash the change was based
	// on. So it only writes: no compare of its own is needed.
	SetPasswordHash(ctx context.Context, tx *sql.Tx, w PasswordWrite) error
}

// PasswordWrite is what SetPasswordHash writes.
type PasswordWrite struct {
	// UserID is the user's id, as HostUsers returns it.
	UserID string
	// Hash is the new password hash (bcrypt by default): the user's
	// current hash from now on, as PasswordHash must then return it.
	Hash string
	// Email is the address a reset proved the user reads mail at, as
	// UserByEmail returned it: mark it verified where the host keeps such
	// a flag. "" for a password change, which proves no address.
	Email string
	// Rehash says Hash is the same password under new parameters (an
	// upgrade at sign-in): replace the current hash, and nothing else
	// (no updated time; a host that keeps every hash an account had
	// replaces the newest rather than adding one).
	Rehash bool
	// Now is the time of the reset or the change (the Service's clock, UTC,
	// milliseconds): the user's updated time, where the host keeps one,
	// and the time of the verification.
	Now time.Time
}

// UsersChecker is the optional part of a HostUsers that checks the host's
// tables. Migrate calls CheckUsers first, through the Store's read pool,
// and stops with its error, having created nothing, when the tables are
// missing or lack a column the HostUsers uses.
type UsersChecker interface {
	CheckUsers(ctx context.Context, q Querier) error
}

// WithHostUsers makes the Store read and write the host's users through h,
// for users that a store.UsersTable cannot describe. The Store keeps no
// users table of its own then (CreateUser returns an error matching
// store.ErrNoUserCreator, RecordSignIn does nothing), and calls h's
// SetPasswordHash inside the transaction that spends a reset or changes a
// password. It cannot be combined with WithUsers.
func WithHostUsers(h HostUsers) Option {
	return func(c *config) { c.hostUsers, c.hostUsersSet = h, true }
}

// qWriteLock takes SQLite's write lock at the start of a transaction, and
// changes nothing.
const qWriteLock = `DELETE FROM passreset_migrations WHERE 0`

// hostUserByEmail is h.UserByEmail of the folded key, passing over a user
// whose address does not fold to it.
func (s *Store) hostUserByEmail(ctx context.Context, q Querier, key string) (store.User, error) {
	u, err := s.users.UserByEmail(ctx, q, key)
	if err == nil && !hostusers.FoldsTo(u.Email, key) {
		return store.User{}, store.ErrUserNotFound
	}
	return u, err
}

// redeemHost is RedeemReset's part over HostUsers, in its transaction,
// after the reset was spent: it checks that the user is still found at the
// reset's address (ErrUserNotFound when the user is gone, ErrInvalidToken
// when the address is no longer theirs), writes the hash and marks the
// address verified, and returns the user as now seen through that address.
func (s *Store) redeemHost(ctx context.Context, tx *sql.Tx, userID, email, hash string, now time.Time) (store.User, error) {
	key := hostusers.Fold(email)
	u, err := s.hostUserByEmail(ctx, tx, key)
	switch {
	case err == nil && u.ID == userID:
	case err == nil || errors.Is(err, store.ErrUserNotFound):
		if _, err := s.users.UserByID(ctx, tx, userID); err != nil {
			return store.User{}, hostErr("user by id", err)
		}
		return store.User{}, store.ErrInvalidToken // the address left the user: rolled back
	default:
		return store.User{}, hostErr("user by email", err)
	}
	w := PasswordWrite{UserID: userID, Hash: hash, Email: u.Email, Now: now}
	if err := s.users.SetPasswordHash(ctx, tx, w); err != nil {
		return store.User{}, hostErr("set password hash", err)
	}
	u, err = s.hostUserByEmail(ctx, tx, key)
	return u, hostErr("user by email", err)
}

// changeHost is ChangePassword's compare and write over HostUsers, in its
// transaction.
func (s *Store) changeHost(ctx context.Context, tx *sql.Tx, c store.PasswordChange) error {
	// A write first: the transaction holds the write lock from here on, so
	// that nothing changes the hash between the compare and the write.
	if _, err := tx.ExecContext(ctx, qWriteLock); err != nil {
		return err
	}
	current, err := s.users.PasswordHash(ctx, tx, c.UserID)
	if err != nil {
		return hostErr("password hash", err)
	}
	if current != c.OldHash {
		return store.ErrPasswordChanged
	}
	w := PasswordWrite{UserID: c.UserID, Hash: c.NewHash, Rehash: c.Rehash, Now: c.Now}
	return hostErr("set password hash", s.users.SetPasswordHash(ctx, tx, w))
}

// hostErr makes store.ErrUserNotFound of a not-found (sql.ErrNoRows
// included, should the host let one through) and names the host's method
// in any other error.
func hostErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrUserNotFound), errors.Is(err, sql.ErrNoRows):
		return store.ErrUserNotFound
	}
	return fmt.Errorf("host users: %s: %w", op, err)
}

// hostReadErr is hostErr for the Store's own lookups, outside a
// transaction.
func hostReadErr(op string, err error) error {
	if err = hostErr(op, err); err == nil || err == store.ErrUserNotFound {
		return err
	}
	return fmt.Errorf("sqlitestore: %w", err)
}
