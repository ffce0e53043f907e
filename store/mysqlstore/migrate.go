package mysqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/passreset/passreset/store/internal/migrate"
)

// The schema, one versioned file per change: passreset's own state in
// migrations/, and the users table it keeps when the host has none in
// migrations/users/.
//
//go:embed migrations/*.sql migrations/users/*.sql
var migrationFiles embed.FS

// migrateLockWait is how long Migrate waits for another instance's
// migration to finish.
const migrateLockWait = 120 * time.Second

// Migrate brings passreset's tables up to date. It applies, in version
// order, each embedded migration not yet recorded in passreset_migrations,
// and records it by file name. It holds a named lock (GET_LOCK, one per
// database) while it does, so that instances starting at once apply each
// migration exactly once: the others wait, then find it applied. MySQL
// commits each DDL statement as it runs it, so a migration is not one
// transaction: every statement of the files is idempotent (CREATE TABLE IF
// NOT EXISTS), and a migration cut short by a crash is finished by the
// next Migrate. Migrate is cheap when there is nothing to do, and never
// undoes a migration it does not know (one a newer version applied).
//
// It then checks what the Store relies on: that every passreset_* table is
// InnoDB, and that the Store's transactions run at READ COMMITTED. With
// WithUsers, it creates no users table, and checks the description against
// the host's table (see WithUsers); it never changes that table.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("mysqlstore: migrate: %w", err)
	}
	if err := s.checkIsolation(ctx); err != nil {
		return fmt.Errorf("mysqlstore: migrate: %w", err)
	}
	if s.host != nil {
		if err := s.host.inspect(ctx, s.db); err != nil {
			return fmt.Errorf("mysqlstore: WithUsers: %w", err)
		}
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	files, err := migrate.Store(migrationFiles, s.host == nil)
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var dbName sql.NullString
	if err := conn.QueryRowContext(ctx, `SELECT DATABASE()`).Scan(&dbName); err != nil {
		return err
	}
	if !dbName.Valid {
		return errors.New("the connection has no database: name one in the DSN")
	}
	unlock, err := namedLock(ctx, conn, "passreset/migrate/"+dbName.String)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS passreset_migrations (
		name       VARCHAR(255) NOT NULL PRIMARY KEY,  -- the file, e.g. migrations/0001_state.sql
		applied_at TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`); err != nil {
		return err
	}
	for _, f := range files {
		if err := apply(ctx, conn, f); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	return checkEngines(ctx, conn)
}

// apply runs the statements of f unless it is recorded, and records it.
func apply(ctx context.Context, conn *sql.Conn, f migrate.File) error {
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM passreset_migrations WHERE name = ?`, f.Name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, stmt := range statements(f.SQL) {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	_, err := conn.ExecContext(ctx, `INSERT INTO passreset_migrations (name) VALUES (?)`, f.Name)
	return err
}

// statements splits a migration file into its statements: each ends with
// a semicolon at the end of a line. Lines of comments are dropped.
func statements(text string) []string {
	var (
		out []string
		cur strings.Builder
	)
	for line := range strings.Lines(text) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}

// checkEngines refuses passreset_* tables that are not InnoDB: a table of
// another engine (MyISAM, MEMORY) has no transactions, so a redemption
// could be half kept, nor row locks, nor, for MEMORY, durability.
func checkEngines(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_NAME, COALESCE(ENGINE, '') FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'passreset!_%' ESCAPE '!'`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			return err
		}
		if !strings.EqualFold(engine, "InnoDB") {
			bad = append(bad, fmt.Sprintf("%s is %s", name, engine))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("passreset's tables must be InnoDB: %s", strings.Join(bad, ", "))
	}
	return nil
}

// checkIsolation checks that the connections of a pool that sets no level
// per transaction (Open's, OpenDB's) run their transactions at READ
// COMMITTED, the level the Store's locking is written for (see the package
// doc). A pool given to New gets the level set on each transaction.
func (s *Store) checkIsolation(ctx context.Context) error {
	if s.txOpts != nil {
		return nil
	}
	var level string
	err := s.db.QueryRowContext(ctx, `SELECT @@transaction_isolation`).Scan(&level)
	if err != nil {
		// MariaDB before 11.1 names it tx_isolation only.
		if err2 := s.db.QueryRowContext(ctx, `SELECT @@tx_isolation`).Scan(&level); err2 != nil {
			return err
		}
	}
	if level != "READ-COMMITTED" {
		return fmt.Errorf("the connections' transactions run at %s, not READ COMMITTED", level)
	}
	return nil
}

// namedLock takes the server's named lock for name (hashed: the server
// takes names of 64 characters at most) on conn, waiting for it as long as
// migrateLockWait, and returns the function that releases it.
func namedLock(ctx context.Context, conn *sql.Conn, name string) (func(), error) {
	sum := sha256.Sum256([]byte(name))
	lock := "passreset/" + hex.EncodeToString(sum[:20])
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, ?)`, lock, int(migrateLockWait.Seconds())).Scan(&got); err != nil {
		return nil, err
	}
	if !got.Valid || got.Int64 != 1 {
		return nil, fmt.Errorf("another instance held the migration lock for %s", migrateLockWait)
	}
	return func() {
		// Released even when ctx is done; a connection that cannot release
		// it is closed, which releases it.
		ctx := context.WithoutCancel(ctx)
		if _, err := conn.ExecContext(ctx, `DO RELEASE_LOCK(?)`, lock); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}, nil
}
