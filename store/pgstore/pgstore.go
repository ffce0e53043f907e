package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
)

var _ sqlcore.Store = (*Store)(nil)

// Store keeps password resets, sessions, rate-limit records and the job
// outbox in Postgres, beside the users: the host's own table (WithUsers) or
// passreset's own, passreset_users. It implements store.Store,
// store.UserCreator, store.SignInRecorder and session.Store. It is safe for
// concurrent use, by goroutines and by any number of processes sharing the
// database.
type Store struct {
	pool   *pgxpool.Pool
	owned  bool // Close closes pool
	schema string
	q      [numQueries]string // over passreset_users; those of the host's table are host's
	host   *hostTable         // the host's users table (WithUsers); nil: passreset_users
}

// Option configures a Store.
type Option func(*options)

type options struct {
	schema string
	users  *store.UsersTable
}

// WithSchema keeps the tables in the named Postgres schema: every statement
// names its tables qualified with it, whatever the connections' search_path,
// and Migrate creates the schema when it is missing. Without this option
// the tables are found through the search_path (by default "public").
// A dedicated schema such as "passreset" keeps the tables apart from a
// host's own users or sessions tables.
func WithSchema(name string) Option {
	return func(o *options) { o.schema = name }
}

// WithUsers makes the Store read users from the host's own table,
// described by t, instead of keeping passreset_users: the Store then writes
// to that table only a reset's new password hash and, where t names them,
// the verified flag and the updated time, in the statement that spends the
// token.
//
// t.Table may name a schema ("app.accounts"); an unqualified name is found
// through the connections' search_path, as the host's own queries find it,
// whatever WithSchema says (WithSchema places passreset's tables only).
// Each part of the name, and each column, is quoted: names are
// case-sensitive, as written in the table's definition.
//
// Migrate checks the description against the table and learns its types:
// a key column of smallint, integer or bigint shows as t.IDPrefix and the
// number ("user_42"); one of text, varchar, char, citext or uuid shows as
// it is. Verified may be boolean (set to true) or an integer (set to 1).
// UpdatedAt may be timestamptz (set to the instant of the reset),
// timestamp (its UTC wall clock) or an integer (unix seconds). The table
// must exist before Migrate.
func WithUsers(t store.UsersTable) Option {
	return func(o *options) { o.users = &t }
}

// New returns a Store over pool, which the caller keeps and closes. It does
// not touch the database; call Migrate before first use.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: nil pool")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if strings.ContainsRune(o.schema, 0) {
		return nil, errors.New("pgstore: invalid schema name")
	}
	s := &Store{pool: pool, schema: o.schema, q: resolveQueries(o.schema)}
	if o.users != nil {
		h, err := newHostTable(*o.users)
		if err != nil {
			return nil, fmt.Errorf("pgstore: WithUsers: %w", err)
		}
		s.host = h
	}
	return s, nil
}

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, as pgxpool.ParseConfig takes), checks that it answers,
// and returns a Store whose Close closes the pool it made.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error of ParseConfig can quote the URL, password included.
		return nil, errors.New("pgstore: open: invalid connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	s, err := New(ctx, pool, opts...)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// Close closes the pool when Open made it; a pool passed to New is the
// caller's to close.
func (s *Store) Close() {
	if s.owned {
		s.pool.Close()
	}
}

// Times are written truncated to milliseconds, the precision the contract
// promises and the wire format carries, and read back in UTC.

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

func nullTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: ms(t), Valid: true}
}

func fromNull(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// wrap wraps an infrastructure failure with the operation that met it.
func wrap(op string, err error) error {
	return fmt.Errorf("pgstore: %s: %w", op, err)
}
