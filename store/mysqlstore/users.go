package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/hostusers"
	"github.com/passreset/passreset/store/internal/metadata"
	"github.com/passreset/passreset/store/internal/sqlcore"
	"github.com/passreset/passreset/store/internal/sqlrows"
)

// row is what a user's columns are scanned from: *sql.Row or *sql.Rows.
type row = sqlrows.Scanner

// userSQL is how the Store reads and writes a users table, passreset_users
// or a host's: the statements and how ids map to keys. The statements that
// take a key take it as their last parameter, except changePassword and
// rehash, which take the hash they expect after it.
type userSQL struct {
	byID, byEmail, hash string
	// byEmailLike is the fallback of byEmail over a host's table (see
	// Store.UserByEmail); "" for passreset_users.
	byEmailLike string
	// lock reads the user's columns and locks the row until the commit.
	lock string
	// setPassword writes a redemption: the hash, then the updated time
	// when updated is set, then the key.
	setPassword string
	// changePassword writes a new password (hash, updated time when
	// updated is set, key, expected hash); rehash the hash alone (hash,
	// key, expected hash).
	changePassword, rehash string
	// verifies: a redemption sets a verified flag.
	verifies bool
	// updated returns the value of the updated time for a write at t, or
	// nil when the table keeps none.
	updated func(t time.Time) any
	// key returns the key of the row an id names, and false when it can
	// name none.
	key func(id string) (any, bool)
	// scan reads the columns the statements that read a user return.
	scan func(r row) (store.User, error)
}

const userColumns = `id, email, email_verified, first_name, last_name, profile_picture_url,
	external_id, locale, metadata, last_sign_in_at, created_at, updated_at`

// ownUsers is passreset_users. Its email_key holds the address folded by
// hostusers.Fold, compared byte for byte (utf8mb4_bin).
var ownUsers = &userSQL{
	byID:           `SELECT ` + userColumns + ` FROM passreset_users WHERE id = ?`,
	byEmail:        `SELECT ` + userColumns + ` FROM passreset_users WHERE email_key = ?`,
	hash:           `SELECT password_hash FROM passreset_users WHERE id = ?`,
	lock:           `SELECT ` + userColumns + ` FROM passreset_users WHERE id = ? FOR UPDATE`,
	setPassword:    `UPDATE passreset_users SET password_hash = ?, email_verified = TRUE, updated_at = ? WHERE id = ?`,
	changePassword: `UPDATE passreset_users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?`,
	rehash:         `UPDATE passreset_users SET password_hash = ? WHERE id = ? AND password_hash = ?`,
	verifies:       true,
	updated:        func(t time.Time) any { return t.UnixMilli() },
	key:            func(id string) (any, bool) { return id, id != "" },
	scan:           scanUser,
}

const (
	qCreateUser = `INSERT INTO passreset_users (id, email, email_key, email_verified, first_name, last_name,
		profile_picture_url, external_id, locale, metadata, password_hash, last_sign_in_at, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qRecordSignIn = `UPDATE passreset_users SET last_sign_in_at = ? WHERE id = ?`
	qUserExists   = `SELECT 1 FROM passreset_users WHERE id = ?`
)

// emailIndex is the unique index on passreset_users.email_key.
const emailIndex = "passreset_users_email_key"

// users returns the statements over the users table.
func (s *Store) users(ctx context.Context) (*userSQL, error) {
	if s.host == nil {
		return ownUsers, nil
	}
	return s.hostSQL(ctx)
}

// UserByEmail returns the user whose email equals email without regard to
// case, in full Unicode, or store.ErrUserNotFound. In passreset_users it is
// one lookup of the address folded in Go (hostusers.Fold) in a unique
// index compared byte for byte. Over a host's table it is one equality on
// the email column (indexed where the host indexed it), under the column's
// own collation, whose rows are then compared in Go: the collation only
// narrows the search, and a case-insensitive or accent-insensitive one
// never makes two addresses match that fold apart. Only when that finds
// nothing does a second query read the rows whose address matches without
// regard to ASCII case (LIKE under utf8mb4_bin on the lower-cased address,
// non-ASCII letters as wildcards: a scan of the table) and compare them in
// Go.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	key := hostusers.Fold(email)
	us, err := s.users(ctx)
	if err != nil {
		return store.User{}, wrap("user by email", err)
	}
	if s.host == nil {
		u, err := us.scan(s.db.QueryRowContext(ctx, us.byEmail, key))
		return u, userErr("user by email", err)
	}
	u, err := s.pickUser(ctx, us, key, us.byEmail, key)
	if !errors.Is(err, sql.ErrNoRows) {
		return u, userErr("user by email", err)
	}
	u, err = s.pickUser(ctx, us, key, us.byEmailLike, hostusers.LikePattern(key, '!'))
	return u, userErr("user by email", err)
}

// pickUser reads the candidates of query and picks the one whose address
// folds to key, preferring one stored exactly as key.
func (s *Store) pickUser(ctx context.Context, us *userSQL, key, query string, arg any) (store.User, error) {
	rows, err := s.db.QueryContext(ctx, query, arg)
	if err != nil {
		return store.User{}, err
	}
	found, err := sqlrows.Collect(rows, us.scan)
	if err != nil {
		return store.User{}, err
	}
	if u, ok := hostusers.PickUser(key, found); ok {
		return u, nil
	}
	return store.User{}, sql.ErrNoRows
}

// UserByID returns the user with this id, or store.ErrUserNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	us, err := s.users(ctx)
	if err != nil {
		return store.User{}, wrap("user by id", err)
	}
	key, ok := us.key(id)
	if !ok {
		return store.User{}, store.ErrUserNotFound
	}
	u, err := us.scan(s.db.QueryRowContext(ctx, us.byID, key))
	return u, userErr("user by id", err)
}

// PasswordHash returns the user's password hash, "" when the user has
// none (a NULL in a host's table), or store.ErrUserNotFound.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	us, err := s.users(ctx)
	if err != nil {
		return "", wrap("password hash", err)
	}
	key, ok := us.key(userID)
	if !ok {
		return "", store.ErrUserNotFound
	}
	var h string
	if err := s.db.QueryRowContext(ctx, us.hash, key).Scan(&h); err != nil {
		return "", userErr("password hash", err)
	}
	return h, nil
}

// CreateUser inserts u with passwordHash into passreset_users. It returns
// store.ErrEmailTaken when another user has the same email without regard
// to case. Only a Store that keeps its own users creates them: over a
// host's table (WithUsers) it returns an error matching
// store.ErrNoUserCreator.
func (s *Store) CreateUser(ctx context.Context, u store.User, passwordHash string) error {
	if s.host != nil {
		return fmt.Errorf("mysqlstore: create user: the users table is the host's: %w", store.ErrNoUserCreator)
	}
	md, err := metadata.Marshal(u.Metadata)
	if err != nil {
		return wrap("create user", err)
	}
	_, err = s.db.ExecContext(ctx, qCreateUser,
		u.ID, u.Email, hostusers.Fold(u.Email), u.EmailVerified, u.FirstName, u.LastName, u.ProfilePictureURL,
		u.ExternalID, u.Locale, md, passwordHash, sqlcore.NullMS(u.LastSignInAt), u.CreatedAt.UnixMilli(), u.UpdatedAt.UnixMilli())
	if me, ok := errors.AsType[*mysqlError](err); ok && me.Number == erDupEntry && strings.Contains(me.Message, emailIndex) {
		return store.ErrEmailTaken
	}
	if err != nil {
		// A duplicate entry's message quotes the value: an id, never the
		// address (that one is ErrEmailTaken above).
		return wrap("create user", err)
	}
	return nil
}

// RecordSignIn sets the user's LastSignInAt to at, or returns
// store.ErrUserNotFound. Over a host's table, which has no such column, it
// does nothing.
func (s *Store) RecordSignIn(ctx context.Context, userID string, at time.Time) error {
	if s.host != nil {
		return nil
	}
	res, err := s.db.ExecContext(ctx, qRecordSignIn, at.UnixMilli(), userID)
	if err != nil {
		return wrap("record sign-in", err)
	}
	// MySQL counts the rows it changed: a sign-in recorded twice at one
	// instant changes none, so no row is told apart from no change.
	if n, err := res.RowsAffected(); err != nil {
		return wrap("record sign-in", err)
	} else if n == 0 {
		var one int
		if err := s.db.QueryRowContext(ctx, qUserExists, userID).Scan(&one); err != nil {
			return userErr("record sign-in", err)
		}
	}
	return nil
}

// userErr translates a missing row into store.ErrUserNotFound.
func userErr(op string, err error) error {
	return sqlcore.NoRows("mysqlstore", op, err, store.ErrUserNotFound)
}

// scanUser scans the columns of userColumns.
func scanUser(r row) (store.User, error) {
	var (
		u                store.User
		md               string
		signIn           sql.NullInt64
		created, updated int64
	)
	if err := r.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.FirstName, &u.LastName, &u.ProfilePictureURL,
		&u.ExternalID, &u.Locale, &md, &signIn, &created, &updated); err != nil {
		return store.User{}, err
	}
	u.LastSignInAt = sqlcore.FromNullMS(signIn)
	u.CreatedAt, u.UpdatedAt = sqlcore.FromMS(created), sqlcore.FromMS(updated)
	var err error
	if u.Metadata, err = metadata.Unmarshal(md); err != nil {
		return store.User{}, err
	}
	return u, nil
}
