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
// checks against the table.
//
// A database made by an older passreset, whose tables had no passreset_
// prefix, is adopted: its tables are renamed, in one transaction, and kept.
func (s *Store) Migrate(ctx context.Context) error {
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
	files, err := migrate.Store(migrationFiles, s.host == nil)
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, qCreateMigrations); err != nil {
		return err
	}
	if s.host == nil {
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
	if f.Name == emailFoldMigration {
		if err := rekeyEmails(ctx, tx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// emailFoldMigration is the migration whose work is done in Go: email_key
// recomputed with emailaddr.Fold.
const emailFoldMigration = "migrations/users/0002_email_fold.sql"

// rekeyEmails sets each user's email_key to the fold of its email, oldest
// account first; an account whose new key another holds keeps its old one.
// Only the rows whose key changes are held in memory: those with a
// non-ASCII address, or one emailaddr refuses.
func rekeyEmails(ctx context.Context, tx *sql.Tx) error {
	type change struct{ id, key string }
	var changes []change
	rows, err := tx.QueryContext(ctx, `SELECT id, email, email_key FROM passreset_users ORDER BY created_at, id`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, email, key string
		if err := rows.Scan(&id, &email, &key); err != nil {
			rows.Close()
			return err
		}
		if k := emailKey(email); k != key {
			changes = append(changes, change{id, k})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range changes {
		_, err := tx.ExecContext(ctx, `UPDATE passreset_users SET email_key = ?1
			WHERE id = ?2 AND NOT EXISTS (SELECT 1 FROM passreset_users WHERE email_key = ?1)`, c.key, c.id)
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
