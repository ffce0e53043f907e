package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/passreset/passreset/store/internal/migrate"
)

// The schema, one versioned file per change: passreset's own state in
// migrations/, and the users table it keeps when the host has none in
// migrations/users/.
//
//go:embed migrations/*.sql migrations/users/*.sql
var migrationFiles embed.FS

const qCreateMigrations = `CREATE TABLE IF NOT EXISTS passreset_migrations (
    name       TEXT    NOT NULL PRIMARY KEY, -- the file, e.g. migrations/0001_state.sql
    applied_at INTEGER NOT NULL              -- unix milliseconds, UTC
) STRICT`

// Claiming the file is the transaction's first statement, a write: it takes
// the write lock, so that of two processes migrating at once one applies the
// file and the other, once the lock is free, finds it applied.
const qClaimMigration = `INSERT INTO passreset_migrations (name, applied_at)
VALUES (?, CAST(unixepoch('subsec') * 1000 AS INTEGER))
ON CONFLICT (name) DO NOTHING`

// Migrate brings passreset's tables up to date: it applies, in version
// order, each embedded migration not yet recorded in passreset_migrations,
// each file in its own transaction together with its record. Running it
// again, or from several processes at once, applies nothing twice. It
// never touches a host's users table (WithUsers), whose description it
// checks against the table, nor a host's tables behind its HostUsers
// (WithHostUsers), which it first asks to check them when the HostUsers is
// a UsersChecker: a failed check stops it before it creates anything.
//
// A database made by an older passreset, whose tables had no passreset_
// prefix, is adopted: its tables are renamed, in one transaction, and kept.
func (s *Store) Migrate(ctx context.Context) error {
	if c, ok := s.users.(UsersChecker); ok {
		if err := c.CheckUsers(ctx, s.r); err != nil {
			return fmt.Errorf("sqlitestore: migrate: host users: %w", err)
		}
	}
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	if s.host != nil {
		if err := s.host.inspect(ctx, s.r); err != nil {
			return fmt.Errorf("sqlitestore: WithUsers: %w", err)
		}
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	ownUsers := s.host == nil && s.users == nil
	files, err := migrate.Store(migrationFiles, ownUsers)
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, qCreateMigrations); err != nil {
		return err
	}
	if ownUsers {
		if err := s.adoptLegacy(ctx); err != nil {
			return fmt.Errorf("adopt the tables of an older version: %w", err)
		}
	}
	for _, f := range files {
		if err := s.apply(ctx, f); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, f migrate.File) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	res, err := tx.ExecContext(ctx, qClaimMigration, f.Name)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return nil // applied before
	}
	if _, err := tx.ExecContext(ctx, f.SQL); err != nil {
		return err
	}
	if f.Name == migrate.EmailFold {
		if err := rekeyEmails(ctx, tx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// rekeyEmails sets each user's email_key to the fold of its email, oldest
// account first; an account whose new key another holds keeps its old one.
func rekeyEmails(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, migrate.SelectEmailKeys)
	if err != nil {
		return err
	}
	changes, err := migrate.EmailKeyChanges(rows)
	rows.Close()
	if err != nil {
		return err
	}
	for _, c := range changes {
		_, err := tx.ExecContext(ctx, `UPDATE passreset_users SET email_key = ?1
			WHERE id = ?2 AND NOT EXISTS (SELECT 1 FROM passreset_users WHERE email_key = ?1)`, c.Key, c.ID)
		if err != nil {
			return err
		}
	}
	return nil
}

// qLegacy renames the tables of passreset before its tables were prefixed
// (its one migration was 0001_init.sql, recorded in schema_migrations), adds
// what the current 0001 files have beyond them, and records those as
// applied.
const qLegacy = `
ALTER TABLE users RENAME TO passreset_users;
ALTER TABLE password_resets RENAME TO passreset_resets;
ALTER TABLE sessions RENAME TO passreset_sessions;
ALTER TABLE rate_limits RENAME TO passreset_rate_limits;
ALTER TABLE jobs RENAME TO passreset_jobs;
ALTER TABLE passreset_sessions ADD COLUMN stamp TEXT NOT NULL DEFAULT '';
INSERT INTO passreset_migrations (name, applied_at) VALUES
    ('migrations/0001_state.sql', CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    ('migrations/users/0001_users.sql', CAST(unixepoch('subsec') * 1000 AS INTEGER));
DROP TABLE schema_migrations;`

// adoptLegacy renames an older version's tables, once, in one transaction.
func (s *Store) adoptLegacy(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	// A write first, to hold the write lock while deciding.
	if _, err := tx.ExecContext(ctx, `DELETE FROM passreset_migrations WHERE 0`); err != nil {
		return err
	}
	var legacy bool
	err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')
		AND EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'password_resets')
		AND NOT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'passreset_resets')`).Scan(&legacy)
	if err != nil || !legacy {
		return err
	}
	var ours bool
	err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = '0001_init.sql')`).Scan(&ours)
	if err != nil || !ours {
		// Another tool's schema_migrations (without passreset's record, or
		// without a name column at all): not passreset's to touch.
		return nil //nolint:nilerr // the error says "not ours", not a failure
	}
	if _, err := tx.ExecContext(ctx, qLegacy); err != nil {
		return err
	}
	return tx.Commit()
}
