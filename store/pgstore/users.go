package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/passreset/passreset/reset"
)

// SQLSTATEs the Store translates.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// resetUserFK is the foreign key from password_resets to users.
const resetUserFK = "password_resets_user_id_fkey"

// emailIndex is the unique index on email_key, the email lower-cased by
// strings.ToLower as the Service lower-cases the addresses it looks up: in
// Go, so that matching never depends on the database's locale.
const emailIndex = "users_email_key"

// UserByEmail returns the user whose email equals email without regard to
// case (email is already lower-case), or reset.ErrUserNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (reset.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, s.q[qUserByEmail], email))
	if err != nil {
		return reset.User{}, userErr("user by email", err)
	}
	return u, nil
}

// UserByID returns the user with this id, or reset.ErrUserNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (reset.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, s.q[qUserByID], id))
	if err != nil {
		return reset.User{}, userErr("user by id", err)
	}
	return u, nil
}

// PasswordHash returns the user's password hash, "" when the user has
// none, or reset.ErrUserNotFound.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	var h string
	if err := s.pool.QueryRow(ctx, s.q[qPasswordHash], userID).Scan(&h); err != nil {
		return "", userErr("password hash", err)
	}
	return h, nil
}

// CreateUser inserts u with passwordHash. It returns reset.ErrEmailTaken
// when another user has the same email without regard to case.
func (s *Store) CreateUser(ctx context.Context, u reset.User, passwordHash string) error {
	md, err := marshalMetadata(u.Metadata)
	if err != nil {
		return wrap("create user", err)
	}
	_, err = s.pool.Exec(ctx, s.q[qCreateUser],
		u.ID, u.Email, strings.ToLower(u.Email), u.EmailVerified, u.FirstName, u.LastName, u.ProfilePictureURL,
		u.ExternalID, u.Locale, md, passwordHash, nullTime(u.LastSignInAt), ms(u.CreatedAt), ms(u.UpdatedAt))
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == pgUniqueViolation && pe.ConstraintName == emailIndex {
		return reset.ErrEmailTaken
	}
	if err != nil {
		return wrap("create user", err)
	}
	return nil
}

// RecordSignIn sets the user's LastSignInAt to at, or returns
// reset.ErrUserNotFound.
func (s *Store) RecordSignIn(ctx context.Context, userID string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, s.q[qRecordSignIn], userID, ms(at))
	if err != nil {
		return wrap("record sign-in", err)
	}
	if tag.RowsAffected() == 0 {
		return reset.ErrUserNotFound
	}
	return nil
}

func userErr(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return reset.ErrUserNotFound
	}
	return wrap(op, err)
}

// scanUser scans the columns of userColumns, followed by extra.
func scanUser(row pgx.Row, extra ...any) (reset.User, error) {
	var (
		u      reset.User
		md     []byte
		signIn pgtype.Timestamptz
	)
	dest := append([]any{&u.ID, &u.Email, &u.EmailVerified, &u.FirstName, &u.LastName, &u.ProfilePictureURL,
		&u.ExternalID, &u.Locale, &md, &signIn, &u.CreatedAt, &u.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return reset.User{}, err
	}
	u.LastSignInAt = fromNull(signIn)
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
	var err error
	if u.Metadata, err = unmarshalMetadata(md); err != nil {
		return reset.User{}, err
	}
	return u, nil
}

// Metadata is a JSON object; an empty one reads back as a nil map.

func marshalMetadata(md map[string]string) (string, error) {
	if len(md) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(md)
	return string(b), err
}

func unmarshalMetadata(b []byte) (map[string]string, error) {
	if len(b) <= len("{}") {
		return nil, nil
	}
	var md map[string]string
	if err := json.Unmarshal(b, &md); err != nil {
		return nil, err
	}
	return md, nil
}
