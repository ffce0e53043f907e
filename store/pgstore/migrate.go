package pgstore

import (
	"context"
	"embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/passreset/passreset/store/internal/migrate"
)

// The schema, one versioned file per change: passreset's own state in
// migrations/, and the users table it keeps when the host has none in
// migrations/users/.
//
//go:embed migrations/*.sql migrations/users/*.sql
var migrationFiles embed.FS

// The migrations a database made before the passreset_ prefix is recorded
// as having: what its tables hold once renamed.
const (
	stateMigration = "migrations/0001_state.sql"
	usersMigration = "migrations/users/0001_users.sql"
)

// Migrate brings passreset's tables up to date. It applies, in version
// order, each embedded migration not yet recorded in passreset_migrations,
// each in its own transaction that also records it by file name. Every
// transaction first takes a transaction-level advisory lock, so that
// instances starting at once apply each migration exactly once; the others
// wait, then find it applied. Migrate is cheap when there is nothing to
// do, and never undoes a migration it does not know (one a newer version
// of the package applied). With WithUsers, it creates no users table, and
// checks the description against the host's table (see WithUsers); it
// never changes that table.
//
// A database made by a pgstore older than the passreset_ prefix (tables
// users, password_resets, sessions, rate_limits and jobs, and
// 0001_init.sql recorded in schema_migrations) is adopted: in one
// transaction its tables, their indexes and constraints are renamed to
// today's, sessions gain their stamp column, the migrations they amount to
// are recorded, and the old record is removed (the schema_migrations table
// too, once empty). Stop every instance of the older version first: it
// knows only the old names. A schema_migrations table of another tool is
// left alone.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if s.host != nil {
		if err := s.host.inspect(ctx, s.pool, schemaPrefix(s.schema)); err != nil {
			return fmt.Errorf("pgstore: WithUsers: %w", err)
		}
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	files, err := migrate.Store(migrationFiles, s.host == nil)
	if err != nil {
		return err
	}
	err = s.locked(ctx, false, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.q[qMigrateTable]); err != nil {
			return err
		}
		if err := s.adoptLegacy(ctx, tx); err != nil {
			return fmt.Errorf("adopt the tables of an older version: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := s.locked(ctx, true, func(tx pgx.Tx) error { return s.apply(ctx, tx, f) }); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	return nil
}

// locked runs fn in a transaction that holds the migration lock and, with
// WithSchema, has created the schema and, when searchPath is set, finds
// unqualified tables in it (the migration files name their tables
// unqualified).
func (s *Store) locked(ctx context.Context, searchPath bool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.q[qMigrateLock]); err != nil {
			return err
		}
		if s.schema != "" {
			schema := pgx.Identifier{s.schema}.Sanitize()
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
				return err
			}
			if searchPath {
				if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+schema); err != nil {
					return err
				}
			}
		}
		return fn(tx)
	})
}

// apply applies f unless it is recorded, and records it.
func (s *Store) apply(ctx context.Context, tx pgx.Tx, f migrate.File) error {
	var applied bool
	if err := tx.QueryRow(ctx, s.q[qMigrateApplied], f.Name).Scan(&applied); err != nil {
		return err
	}
	if applied {
		return nil
	}
	if _, err := tx.Exec(ctx, f.SQL); err != nil {
		return err
	}
	if f.Name == migrate.EmailFold {
		if err := rekeyEmails(ctx, tx); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, s.q[qMigrateRecord], f.Name)
	return err
}

// rekeyEmails sets each user's email_key to the fold of its email, oldest
// account first; an account whose new key another holds keeps its old one.
// The table is found on the search path the migration runs with.
func rekeyEmails(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, migrate.SelectEmailKeys)
	if err != nil {
		return err
	}
	changes, err := migrate.EmailKeyChanges(rows)
	rows.Close()
	if err != nil {
		return err
	}
	for _, c := range changes {
		_, err := tx.Exec(ctx, `UPDATE passreset_users SET email_key = $1
			WHERE id = $2 AND NOT EXISTS (SELECT 1 FROM passreset_users WHERE email_key = $1)`, c.Key, c.ID)
		if err != nil {
			return err
		}
	}
	return nil
}

// legacyTables are the tables of a pgstore older than the passreset_
// prefix, and their names today. Their indexes and constraints, named by
// Postgres or by 0001_init.sql after the table, are renamed with them.
var legacyTables = [...]struct{ old, new string }{
	{"password_resets", "passreset_resets"},
	{"sessions", "passreset_sessions"},
	{"rate_limits", "passreset_rate_limits"},
	{"jobs", "passreset_jobs"},
	{"users", "passreset_users"}, // last: it may be the host's table now
}

// legacyColumns are columns that only the tables of 0001_init.sql have
// together: a database is adopted only when every one is there.
const legacyColumns = `('users', 'email_key'), ('users', 'password_hash'), ('users', 'profile_picture_url'),
	('password_resets', 'token_hash'), ('password_resets', 'used_at'), ('password_resets', 'ended_at'),
	('sessions', 'token_hash'), ('sessions', 'last_seen_at'), ('sessions', 'revoked_at'),
	('rate_limits', 'key'), ('rate_limits', 'at'),
	('jobs', 'claimed_until'), ('jobs', 'payload'), ('jobs', 'last_error')`

// adoptLegacy renames an older version's tables, in the transaction of tx,
// which holds the migration lock.
func (s *Store) adoptLegacy(ctx context.Context, tx pgx.Tx) error {
	prefix := schemaPrefix(s.schema)
	rel := func(name string) string { return prefix + pgx.Identifier{name}.Sanitize() }
	var legacy bool
	err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NULL AND to_regclass($2) IS NOT NULL
		AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass($3) AND attname = 'name' AND NOT attisdropped)`,
		rel("passreset_resets"), rel("password_resets"), rel("schema_migrations")).Scan(&legacy)
	if err != nil || !legacy {
		return err
	}
	var ours bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+rel("schema_migrations")+` WHERE name = '0001_init.sql')
		AND (SELECT count(*) FROM (VALUES `+legacyColumns+`) AS want (tbl, col)
			WHERE EXISTS (SELECT FROM pg_attribute
				WHERE attrelid = to_regclass($1 || quote_ident(want.tbl)) AND attname = want.col AND NOT attisdropped)
		) = `+strconv.Itoa(strings.Count(legacyColumns, "("))+``, prefix).Scan(&ours)
	if err != nil || !ours {
		// Tables of the same names, and a schema_migrations with a name
		// column, of another tool or of the app: not passreset's to touch.
		return err
	}
	// From here on every name is qualified with the schema the tables are
	// in, so that nothing else the search_path finds is renamed.
	var nsp string
	err = tx.QueryRow(ctx, `SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = to_regclass($1)`,
		rel("password_resets")).Scan(&nsp)
	if err != nil {
		return err
	}
	prefix = nsp + "."
	// The host's table may be the older version's users table, which the
	// app took for its own: it keeps its name.
	keepUsers := false
	if s.host != nil {
		err := tx.QueryRow(ctx, `SELECT to_regclass($1) = to_regclass($2)`, rel("users"), s.host.name).Scan(&keepUsers)
		if err != nil {
			return err
		}
	}
	// The foreign key to users goes: a reset's user may be in the host's
	// table, which a check in CreateReset's statement finds instead.
	if err := renameLegacy(ctx, tx, prefix, "password_resets", "", 'f'); err != nil {
		return err
	}
	records := []string{stateMigration}
	for _, t := range legacyTables {
		if t.old == "users" && keepUsers {
			continue
		}
		if t.old == "users" {
			records = append(records, usersMigration)
		}
		if err := renameLegacy(ctx, tx, prefix, t.old, t.new, 'c'); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE `+rel("passreset_sessions")+` ADD COLUMN stamp text NOT NULL DEFAULT ''`); err != nil {
		return err
	}
	for _, name := range records {
		if _, err := tx.Exec(ctx, s.q[qMigrateRecord], name); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+rel("schema_migrations")+` WHERE name = '0001_init.sql'`); err != nil {
		return err
	}
	var empty bool
	if err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT FROM `+rel("schema_migrations")+`)`).Scan(&empty); err != nil || !empty {
		return err
	}
	_, err = tx.Exec(ctx, `DROP TABLE `+rel("schema_migrations"))
	return err
}

// renameLegacy renames the table old (in the schema of prefix) to new, and
// each of its indexes (and so the constraints they back) and of its
// constraints of type contype whose name begins with old's. With new "",
// it drops the constraints of type contype instead and renames nothing.
func renameLegacy(ctx context.Context, tx pgx.Tx, prefix, old, new string, contype byte) error {
	q := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	rows, err := tx.Query(ctx, `SELECT conname, false FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = $2
		UNION ALL
		SELECT c.relname, true FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass($1)`,
		prefix+q(old), string(contype))
	if err != nil {
		return err
	}
	type object struct {
		name  string
		index bool
	}
	objects, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (object, error) {
		var o object
		err := r.Scan(&o.name, &o.index)
		return o, err
	})
	if err != nil {
		return err
	}
	if new == "" {
		for _, o := range objects {
			if o.index {
				continue
			}
			if _, err := tx.Exec(ctx, `ALTER TABLE `+prefix+q(old)+` DROP CONSTRAINT `+q(o.name)); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE `+prefix+q(old)+` RENAME TO `+q(new)); err != nil {
		return err
	}
	for _, o := range objects {
		rest, ok := strings.CutPrefix(o.name, old+"_")
		if !ok {
			continue // a name of the app's own choosing
		}
		stmt := `ALTER TABLE ` + prefix + q(new) + ` RENAME CONSTRAINT ` + q(o.name) + ` TO ` + q(new+"_"+rest)
		if o.index {
			stmt = `ALTER INDEX ` + prefix + q(o.name) + ` RENAME TO ` + q(new+"_"+rest)
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}
