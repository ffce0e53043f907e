package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/hostusers"
	"github.com/passreset/passreset/store/internal/metadata"
)

// SQLSTATEs the Store translates.
const pgUniqueViolation = "23505"

// emailIndex is the unique index on passreset_users.email_key, the email
// folded by emailaddr.Fold (NFC, the domain in ASCII, lower case) as the
// Service folds the addresses it looks up: in Go, so that matching never
// depends on the database's locale.
const emailIndex = "passreset_users_email_key"

// UserByEmail returns the user whose email equals email without regard to
// case, in full Unicode, or store.ErrUserNotFound. In passreset_users it is
// one lookup of the email's lower case in a unique index. Over a host's
// table it is one equality on the email column (indexed where the host
// indexed it), which finds an address stored as given or in lower case;
// only when that finds nothing does a second query read the rows whose
// address matches without regard to ASCII case (ILIKE under the "C"
// collation, non-ASCII letters as wildcards: a scan of the table) and
// compare them in Go, whatever the database's collation or ctype.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	key := hostusers.Fold(email)
	if s.host == nil {
		u, err := scanUser(s.pool.QueryRow(ctx, s.q[qUserByEmail], key))
		return u, userErr("user by email", err)
	}
	hs, err := s.hostSQL(ctx)
	if err != nil {
		return store.User{}, wrap("user by email", err)
	}
	u, err := hs.scan(s.pool.QueryRow(ctx, hs.byEmail, key))
	// The column's collation has no say: a row the equality finds counts
	// only if its address folds to the key (a case-insensitive collation
	// may equate a Kelvin sign with k).
	if err == nil && hostusers.FoldsTo(u.Email, key) || err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return u, userErr("user by email", err)
	}
	u, err = s.userByEmailLike(ctx, hs, key)
	return u, userErr("user by email", err)
}

// userByEmailLike reads the candidates of the ILIKE fallback and picks the
// one whose address folds to key, preferring one stored exactly as key.
func (s *Store) userByEmailLike(ctx context.Context, hs *hostSQL, key string) (store.User, error) {
	rows, err := s.pool.Query(ctx, hs.byEmailLike, hostusers.LikePattern(key, '\\'))
	if err != nil {
		return store.User{}, err
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.User, error) { return hs.scan(row) })
	if err != nil {
		return store.User{}, err
	}
	if u, ok := hostusers.PickUser(key, found); ok {
		return u, nil
	}
	return store.User{}, pgx.ErrNoRows
}

// UserByID returns the user with this id, or store.ErrUserNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	if s.host == nil {
		u, err := scanUser(s.pool.QueryRow(ctx, s.q[qUserByID], id))
		return u, userErr("user by id", err)
	}
	hs, err := s.hostSQL(ctx)
	if err != nil {
		return store.User{}, wrap("user by id", err)
	}
	key, ok := hs.key(id)
	if !ok {
		return store.User{}, store.ErrUserNotFound
	}
	u, err := hs.scan(s.pool.QueryRow(ctx, hs.byID, key))
	return u, userErr("user by id", err)
}

// PasswordHash returns the user's password hash, "" when the user has
// none (a NULL in a host's table), or store.ErrUserNotFound.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	text, key := s.q[qPasswordHash], any(userID)
	if s.host != nil {
		hs, err := s.hostSQL(ctx)
		if err != nil {
			return "", wrap("password hash", err)
		}
		var ok bool
		if key, ok = hs.key(userID); !ok {
			return "", store.ErrUserNotFound
		}
		text = hs.hash
	}
	var h string
	if err := s.pool.QueryRow(ctx, text, key).Scan(&h); err != nil {
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
		return fmt.Errorf("pgstore: create user: the users table is the host's: %w", store.ErrNoUserCreator)
	}
	md, err := metadata.Marshal(u.Metadata)
	if err != nil {
		return wrap("create user", err)
	}
	_, err = s.pool.Exec(ctx, s.q[qCreateUser],
		u.ID, u.Email, hostusers.Fold(u.Email), u.EmailVerified, u.FirstName, u.LastName, u.ProfilePictureURL,
		u.ExternalID, u.Locale, md, passwordHash, nullTime(u.LastSignInAt), ms(u.CreatedAt), ms(u.UpdatedAt))
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == pgUniqueViolation && pe.ConstraintName == emailIndex {
		return store.ErrEmailTaken
	}
	if err != nil {
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
	tag, err := s.pool.Exec(ctx, s.q[qRecordSignIn], userID, ms(at))
	if err != nil {
		return wrap("record sign-in", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrUserNotFound
	}
	return nil
}

// userErr translates pgx.ErrNoRows into store.ErrUserNotFound and wraps
// any other error with the operation.
func userErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrUserNotFound
	}
	return wrap(op, err)
}

// scanUser scans the columns of userColumns, followed by extra.
func scanUser(row pgx.Row, extra ...any) (store.User, error) {
	var (
		u      store.User
		md     []byte
		signIn pgtype.Timestamptz
	)
	dest := append([]any{&u.ID, &u.Email, &u.EmailVerified, &u.FirstName, &u.LastName, &u.ProfilePictureURL,
		&u.ExternalID, &u.Locale, &md, &signIn, &u.CreatedAt, &u.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.User{}, err
	}
	u.LastSignInAt = fromNull(signIn)
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
	var err error
	if u.Metadata, err = metadata.Unmarshal(md); err != nil {
		return store.User{}, err
	}
	return u, nil
}
