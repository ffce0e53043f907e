package sqlitestore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// The schema, one versioned file per change: NNNN_name.sql. A file, once
// released, is never edited; a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

const qCreateSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL -- unix milliseconds, UTC
) STRICT`

// Claiming the version is the transaction's first statement, a write: it
// takes the write lock, so that of two processes migrating at once one
// applies the file and the other, once the lock is free, finds it applied.
const qClaimVersion = `INSERT INTO schema_migrations (version, name, applied_at)
VALUES (?, ?, CAST(unixepoch('subsec') * 1000 AS INTEGER))
ON CONFLICT (version) DO NOTHING`

type migration struct {
	version int
	name    string // the file name
}

// migrationList returns the embedded migrations in version order.
func migrationList() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(names))
	for _, path := range names {
		name := strings.TrimPrefix(path, "migrations/")
		digits, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(digits)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %q: name is not NNNN_name.sql", name)
		}
		ms = append(ms, migration{version: v, name: name})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migration files %q and %q: same version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// Migrate brings the schema up to date: it applies, in version order, each
// embedded migration not yet recorded in the schema_migrations table, each
// file in its own transaction together with its record. Running it again,
// or from several processes at once, applies nothing twice.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrationList()
	if err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, qCreateSchemaMigrations); err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("sqlitestore: migrate %s: %w", m.name, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migration) error {
	text, err := migrationFiles.ReadFile("migrations/" + m.name)
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	res, err := tx.ExecContext(ctx, qClaimVersion, m.version, m.name)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return nil // applied before
	}
	if _, err := tx.ExecContext(ctx, string(text)); err != nil {
		return err
	}
	return tx.Commit()
}
