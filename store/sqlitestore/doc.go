// Package sqlitestore is passreset's embedded default storage: users,
// password resets, sessions, rate-limit records and the job outbox in one
// SQLite file, through github.com/mattn/go-sqlite3 (cgo). Its Store
// implements store.Store, store.UserCreator, store.SignInRecorder and
// session.Store, and passes store/storetest.
//
// Several processes on one machine may share the file; for an app on more
// than one machine, use store/pgstore.
//
// # Usage
//
// Open the file, then create or update the schema with Migrate. Open
// applies connection settings only; it never changes the schema by itself.
//
//	st, err := sqlitestore.Open(ctx, "passreset.db")
//	if err != nil {
//		return err
//	}
//	defer st.Close()
//	if err := st.Migrate(ctx); err != nil {
//		return err
//	}
//	svc, err := reset.NewService(reset.Config{Store: st, ...})
//
// New wraps a *sql.DB the caller opened and keeps; open it with the DSN
// this package builds, so that every connection gets the settings below:
//
//	db, err := sql.Open("sqlite3", sqlitestore.DSN("passreset.db"))
//	...
//	st, err := sqlitestore.New(db)
//
// # Settings
//
// Every connection runs with:
//
//   - journal_mode=WAL: readers never block the writer nor it them;
//   - busy_timeout=5000 (WithBusyTimeout): a writer waits up to 5 s for
//     another, in this process or another, instead of failing with
//     SQLITE_BUSY;
//   - foreign_keys=ON;
//   - synchronous=FULL: a commit is on disk when it returns, so a spent
//     token stays spent across a power loss. WithSynchronousNormal trades
//     that for faster commits (the database never corrupts either way).
//     Two bookkeeping writes commit without a disk flush of their own
//     (the connection runs them at NORMAL, then returns to its level):
//     AllowRequest's record of a request and FinishJob. They survive a
//     crash of the process, and reach the disk with the next synced commit
//     (CreateReset's, right after a known address's request) or
//     checkpoint; a power loss before that may forget them, which at worst
//     allows one more reset email or sends one email again, as an outbox
//     may. It spares the hot paths one flush each;
//   - _txlock=immediate: every transaction begins with BEGIN IMMEDIATE and
//     so holds the write lock from its start. (Each transaction of the Store
//     also begins with a write, so it is safe under a plain BEGIN too.)
//
// Open keeps one connection for writes, so the writes of one process queue
// in Go rather than on SQLite's lock, and up to max(4, GOMAXPROCS)
// connections for reads. Read-only methods run outside transactions.
//
// Each method that must be atomic is one transaction, or one statement:
// CreateReset, RedeemReset (which begins with the conditional update that
// spends the token, so that of concurrent redemptions exactly one wins),
// Purge and Migrate are transactions; AllowRequest (check and record),
// ClaimJobs, RotateSessionToken and the other updates are single
// statements. The hot
// lookups (ResetByTokenHash, SessionByTokenHash, UserByID, UserByEmail) are
// one prepared statement each; statements are prepared on first use,
// after Migrate, and released by Close.
//
// # Schema
//
// Times are INTEGER unix milliseconds, UTC; NULL means "not yet". Tokens
// are stored as their SHA-256 only, passwords as their bcrypt hash only.
// Migrate records each applied file in schema_migrations (version, name,
// applied_at). Version 1:
//
//	CREATE TABLE users (
//	    id                  TEXT    NOT NULL PRIMARY KEY,
//	    email               TEXT    NOT NULL,            -- as given
//	    email_key           TEXT    NOT NULL,            -- Unicode lower case of email: lookups and uniqueness
//	    email_verified      INTEGER NOT NULL DEFAULT 0,
//	    first_name          TEXT    NOT NULL DEFAULT '',
//	    last_name           TEXT    NOT NULL DEFAULT '',
//	    profile_picture_url TEXT    NOT NULL DEFAULT '',
//	    external_id         TEXT    NOT NULL DEFAULT '',
//	    locale              TEXT    NOT NULL DEFAULT '',
//	    metadata            TEXT,                        -- JSON object of strings; NULL when none
//	    password_hash       TEXT    NOT NULL DEFAULT '', -- bcrypt; '' when the user has no password
//	    last_sign_in_at     INTEGER,
//	    created_at          INTEGER NOT NULL,
//	    updated_at          INTEGER NOT NULL
//	) STRICT;
//	CREATE UNIQUE INDEX users_email_key ON users (email_key);
//
//	CREATE TABLE password_resets (
//	    id         TEXT    NOT NULL PRIMARY KEY,
//	    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
//	    email      TEXT    NOT NULL,
//	    token_hash BLOB    NOT NULL UNIQUE,              -- SHA-256 of the token, never the token
//	    created_at INTEGER NOT NULL,
//	    expires_at INTEGER NOT NULL,
//	    used_at    INTEGER,
//	    ended_at   INTEGER
//	) STRICT;
//	CREATE INDEX password_resets_user_id ON password_resets (user_id);
//
//	-- No foreign key to users: a host may keep sessions for users stored elsewhere.
//	CREATE TABLE sessions (
//	    id           TEXT    NOT NULL PRIMARY KEY,
//	    user_id      TEXT    NOT NULL,
//	    token_hash   BLOB    NOT NULL UNIQUE,            -- SHA-256 of the current token
//	    created_at   INTEGER NOT NULL,
//	    last_seen_at INTEGER NOT NULL,
//	    expires_at   INTEGER NOT NULL,
//	    revoked_at   INTEGER,
//	    user_agent   TEXT    NOT NULL DEFAULT '',
//	    ip_address   TEXT    NOT NULL DEFAULT ''
//	) STRICT;
//	CREATE INDEX sessions_user_id ON sessions (user_id, id);
//
//	-- One row per counted request; key is a keyed hash, never an address.
//	CREATE TABLE rate_limits (
//	    key TEXT    NOT NULL,
//	    at  INTEGER NOT NULL
//	) STRICT;
//	CREATE INDEX rate_limits_key_at ON rate_limits (key, at);
//
//	CREATE TABLE jobs (
//	    id            TEXT    NOT NULL PRIMARY KEY,
//	    kind          TEXT    NOT NULL,
//	    user_id       TEXT    NOT NULL DEFAULT '',
//	    payload       BLOB,                              -- sealed; NULL once finished or failed
//	    attempts      INTEGER NOT NULL DEFAULT 0,
//	    run_at        INTEGER NOT NULL,
//	    claimed_until INTEGER,
//	    created_at    INTEGER NOT NULL,
//	    finished_at   INTEGER,
//	    failed_at     INTEGER,
//	    last_error    TEXT    NOT NULL DEFAULT ''
//	) STRICT;
//	CREATE INDEX jobs_due ON jobs (run_at, id) WHERE finished_at IS NULL AND failed_at IS NULL;
//
// Emails are compared by email_key, the Go lower case of the address,
// because SQLite's NOCASE and lower() fold ASCII letters only; a host that
// writes users into the table itself must fill email_key the same way.
// A nil Metadata is stored as NULL and an empty one as '{}', so each reads
// back as it was given.
package sqlitestore
