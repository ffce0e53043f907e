// Package mysqlstore keeps passreset's password resets, sessions,
// rate-limit records, job outbox and idempotent replays in MySQL (8.0 or
// later) or MariaDB (10.6 or later), for apps whose users live there,
// beside the users: the app's own users table, described to it, or one
// passreset keeps. A *Store implements store.Store, store.UserCreator,
// store.SignInRecorder and session.Store, so one Store serves both
// reset.NewService and session.New, and a password reset then writes the
// new hash and revokes the user's sessions in the transaction that spends
// the token. It uses database/sql and github.com/go-sql-driver/mysql: no
// cgo. Its tests and CI run on MariaDB 10.11; it uses nothing MariaDB has
// alone, but has not been run against MySQL itself.
//
// # Usage
//
//	st, err := mysqlstore.Open(ctx, "app:secret@tcp(db.internal:3306)/app")
//	// or "mysql://app:secret@db.internal:3306/app"
//	if err != nil {
//		return err
//	}
//	defer st.Close()
//	if err := st.Migrate(ctx); err != nil {
//		return err
//	}
//	sessions, err := session.New(session.Config{Store: st})
//	...
//	svc, err := reset.NewService(reset.Config{Store: st, Mailer: m, ResetURL: "https://app.example/reset-password"})
//
// Open takes the driver's data source name or a mysql:// URL, and sets on
// the parsed configuration what the Store needs, whatever the DSN says:
// utf8mb4 text, placeholders interpolated by the driver (one round trip
// per statement), and READ COMMITTED for every connection's transactions.
// The DSN needs no parseTime: the Store keeps its times as integers. An app
// that already has a *sql.DB passes it to New instead, and keeps closing it
// itself; OpenDB(ParseDSN(dsn)) makes a pool set as Open's is.
//
// Call Migrate at start-up on every instance: the migrations are embedded,
// versioned SQL files, recorded by file name in the passreset_migrations
// table (name, applied_at) and applied under a named lock of the server
// (GET_LOCK), so that instances starting at once apply each one exactly
// once. MySQL commits each DDL statement as it runs, so a migration is not
// one transaction; every statement in the files is idempotent, and a
// migration cut short is finished by the next Migrate.
//
// # Tables
//
// Every table is named passreset_*, so that none meets one of the app's;
// each is InnoDB, utf8mb4, with the binary collation utf8mb4_bin: ids,
// keys and hashes compare byte for byte. Times are BIGINT unix
// milliseconds, UTC whatever the server's or the session's time zone. The
// database holds the SHA-256 of each token, never a token; mail payloads
// and replayed answers are sealed by the Service before they reach it.
// The connection's user needs CREATE, ALTER and INDEX for Migrate, and
// SELECT, INSERT, UPDATE and DELETE on the passreset_* tables.
//
// # Your users table, or passreset's
//
// An app that already has a users table describes it with WithUsers, and
// passreset reads its users from there and keeps only its own state beside
// it:
//
//	st, err := mysqlstore.New(ctx, db, mysqlstore.WithUsers(store.UsersTable{
//		Table:        "accounts",     // or "appdb.accounts"
//		ID:           "account_id",   // BIGINT AUTO_INCREMENT: ids show as "user_42"
//		Email:        "email_address",
//		PasswordHash: "pw_digest",
//		Verified:     "is_verified",  // optional: BOOLEAN (or an integer) set to 1 by a reset
//		UpdatedAt:    "modified_at",  // optional: DATETIME (UTC), TIMESTAMP or unix seconds
//	}))
//
// The table is the app's: passreset never creates or alters it, and writes
// only PasswordHash (and Verified and UpdatedAt, where named) of the row
// whose password is reset, in the transaction that spends the token. It
// must be InnoDB. Migrate checks the description against the table, naming
// any column that is missing or of a type it cannot use, and learns the
// key's type: an integer key shows as IDPrefix ("user_" by default) and
// the number; a text key shows as it is. CreateUser then refuses with
// store.ErrNoUserCreator, and RecordSignIn does nothing.
//
// Addresses are matched without regard to case, in full Unicode, whatever
// the column's collation. The collation is never trusted to decide: a
// _ci collation takes "ß" for "ss" and, for utf8mb4_unicode_ci, "é" for
// "e", and a _bin one folds nothing. One equality on the email column,
// indexed where the app indexed it, finds the candidates the collation
// sees as equal, and Go compares each with the address folded by
// hostusers.Fold; only when none matches does a second query read the rows
// whose lower-cased address matches without regard to ASCII case under
// utf8mb4_bin, with its non-ASCII letters as wildcards (a scan of the
// table), and compare them in Go. Store addresses in lower case, as
// passreset's pages send them, or under a _ci collation, and the second
// query never runs for a known address. passreset_users keeps the folded
// address in a column of its own (email_key, unique, utf8mb4_bin), so its
// lookups are one exact index probe.
//
// # Isolation and locking
//
// The Store's transactions run at READ COMMITTED: its connections are set
// so when they connect (Open, OpenDB), or each transaction begins with SET
// TRANSACTION ISOLATION LEVEL READ COMMITTED (a pool given to New). Migrate
// checks it, and that every passreset_* table is InnoDB, and fails
// otherwise. At READ COMMITTED InnoDB takes no gap locks, so concurrent
// resets of different users never wait on each other; every guarantee
// below comes from row locks, which InnoDB takes at any level, and holds
// across processes, with no lock in the process:
//   - RedeemReset locks the user's row (SELECT ... FOR UPDATE), then spends
//     the reset by a conditional UPDATE (unused, not ended, not expired, of
//     this user). InnoDB's UPDATE reads the latest committed row and locks
//     it, so of concurrent redemptions the others wait for the winner's
//     commit, find the reset spent and change nothing: exactly one wins.
//     The reset's address is compared with the one in the locked row, so
//     an email change committed first refuses it and one that comes later
//     waits. The new hash, the revoked sessions and the jobs are in the
//     same transaction.
//   - CreateReset locks the user's row the same way before it ends the
//     user's other unused resets and inserts the new one: creations for one
//     user queue on it, and each one's UPDATE sees the reset the previous
//     one committed, so only the newest link works. Both take the user's
//     row first, so the two never deadlock on each other; a transaction
//     InnoDB still picks as a deadlock's victim runs again.
//   - AllowRequest takes a named lock of the server (GET_LOCK) for the key,
//     then counts and records: callers of one key, on any instance, go one
//     at a time, and the count includes records made at a later instant
//     by a caller whose clock ran ahead (by up to store.MaxClockSkew).
//   - ClaimJobs reads due jobs with SELECT ... FOR UPDATE: a second
//     dispatcher waits for the first one's commit, then reads the rows as
//     it left them, so dispatchers never take the same job and never leave
//     one unclaimed.
//   - ClaimResetCode and RotateSessionToken are compare-and-swap UPDATEs
//     (a rotation keeps the replaced hash in passreset_retired_session_tokens
//     in the same transaction, deleted with its session);
//     ClaimReplay locks the key's record (or races on its primary key when
//     there is none yet).
//
// Writes are durable as InnoDB makes them: with the default
// innodb_flush_log_at_trx_commit=1 each commit is on disk when it returns.
//
// # Clocks
//
// The clock the Store trusts is the caller's (the Service's Config.Now):
// every time it writes or compares is one it was given, never the
// server's NOW(). Instances should agree on the time; rate-limit records
// more than store.MaxClockSkew (a minute) ahead of a caller's now are
// ignored, so that a clock stepped back does not keep recently active
// addresses limited until it catches up, and a retry time is never more
// than one window away.
//
// # Tests
//
// The package's tests run against a real server named by
// PASSRESET_MYSQL_URL (a DSN or a mysql:// URL whose user may create and
// drop databases: each test runs in a database of its own, dropped after
// it), and are skipped when it is unset:
//
//	PASSRESET_MYSQL_URL='root@tcp(127.0.0.1:3306)/test' go test ./store/mysqlstore
package mysqlstore
