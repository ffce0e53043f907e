package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
)

var (
	_ store.Store          = (*Store)(nil)
	_ store.UserCreator    = (*Store)(nil)
	_ store.SignInRecorder = (*Store)(nil)
	_ session.Store        = (*Store)(nil)
)

// Store keeps users, password resets, sessions, rate-limit records and the
// job outbox in Postgres. It implements store.Store, store.UserCreator,
// store.SignInRecorder and session.Store. It is safe for concurrent use, by
// goroutines and by any number of processes sharing the database.
type Store struct {
	pool   *pgxpool.Pool
	owned  bool // Close closes pool
	schema string
	q      [numQueries]string
}

// Option configures a Store.
type Option func(*options)

type options struct {
	schema string
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
	return &Store{pool: pool, schema: o.schema, q: resolveQueries(o.schema)}, nil
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

// Pool returns the pool the Store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int64
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. A file is
// named NNNN_description.sql.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name does not start with a version number", base)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return int(a.version - b.version) })
	return ms, nil
}

// Migrate brings the schema up to date. It applies each embedded migration
// not yet recorded in the schema_migrations table, each in its own
// transaction that also records it. Every transaction first takes a
// transaction-level advisory lock, so that instances starting at once apply
// each migration exactly once; the others wait, then find it applied.
// Migrate is cheap when there is nothing to do, and never undoes a migration
// it does not know (one a newer version of the package applied).
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	for _, m := range ms {
		if err := s.migrate(ctx, m); err != nil {
			return fmt.Errorf("pgstore: migrate %s: %w", m.name, err)
		}
	}
	return nil
}

func (s *Store) migrate(ctx context.Context, m migration) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.q[qMigrateLock]); err != nil {
			return err
		}
		if s.schema != "" {
			schema := pgx.Identifier{s.schema}.Sanitize()
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
				return err
			}
			// The migration files name their tables unqualified.
			if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+schema); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, s.q[qMigrateTable]); err != nil {
			return err
		}
		var applied bool
		if err := tx.QueryRow(ctx, s.q[qMigrateApplied], m.version).Scan(&applied); err != nil {
			return err
		}
		if applied {
			return nil
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.q[qMigrateRecord], m.version, m.name)
		return err
	})
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
