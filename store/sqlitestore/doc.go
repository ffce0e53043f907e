// Package sqlitestore is passreset's embedded default storage: password
// resets, sessions, rate-limit records, the job outbox and the answers kept
// for idempotent retries in one SQLite file, beside the users, through
// github.com/mattn/go-sqlite3 (cgo). Its Store implements store.Store,
// store.UserCreator, store.SignInRecorder and session.Store, and passes
// store/storetest.
//
// Several processes on one machine may share the file; for an app on more
// than one machine, use store/pgstore.
//
// # Usage
//
// Open the file, then create or update passreset's tables with Migrate.
// Open applies connection settings only; it never changes the schema by
// itself.
//
//	st, err := sqlitestore.Open(ctx, "app.db")
//	if err != nil {
//		return err
//	}
//	defer st.Close()
//	if err := st.Migrate(ctx); err != nil {
//		return err
//	}
//	svc, err := reset.NewService(reset.Config{Store: st, ...})
//
// # Your users table, or passreset's
//
// An app that already has a users table describes it with WithUsers, and
// passreset reads its users from there and keeps only its own state beside
// it, in tables named passreset_*:
//
//	st, err := sqlitestore.Open(ctx, "app.db", sqlitestore.WithUsers(store.UsersTable{
//		Table:        "accounts",
//		ID:           "account_id",    // INTEGER PRIMARY KEY: ids show as "user_42"
//		Email:        "email_address",
//		PasswordHash: "pw_digest",
//		Verified:     "is_verified",   // optional: set to 1 by a reset
//		UpdatedAt:    "modified_at",   // optional: set to the reset's time
//	}))
//
// The table is the app's: passreset never creates or alters it, and writes
// only PasswordHash (and Verified and UpdatedAt, where named) of the row
// whose password is reset, in the transaction that spends the token.
// Migrate checks the description against the table. Addresses are matched
// as emailaddr.Fold compares them (without regard to case, in full
// Unicode, NFC or NFD, the domain in Unicode or punycode): one indexed
// equality finds an address stored in its folded form; one stored
// otherwise is found by a second query that reads the rows matching it
// without regard to ASCII case (LIKE, so it scans the table) and compares
// them in Go. Store addresses as emailaddr.Fold returns them, as
// passreset's pages send them, and the second query never runs for a known
// address.
//
// An app whose users no description can reach (spread over tables:
// several addresses per account, each verified on its own; every password
// hash an account has had, the newest current) implements HostUsers, four
// methods over its own tables in the same file, and passes it to
// WithHostUsers. The Store still keeps all of passreset's own state, and
// calls the host's SetPasswordHash inside the transaction that spends the
// token, so that both commit or neither. examples/customstore is such an
// app.
//
// With neither, passreset keeps its own users table, passreset_users, with
// WorkOS's profile fields, and creates users (store.UserCreator).
//
// New wraps a *sql.DB the caller opened and keeps; open it with the DSN
// this package builds, so that every connection gets the settings below:
//
//	db, err := sql.Open("sqlite3", sqlitestore.DSN("app.db"))
//	...
//	st, err := sqlitestore.New(db, sqlitestore.WithUsers(...))
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
//     Bookkeeping writes commit without a disk flush of their own (the
//     connection runs them at NORMAL, then returns to its level):
//     AllowRequest's record of a request, FinishJob, the try a
//     ClaimResetCode takes, and ClaimReplay and ReleaseReplay. They survive
//     a crash of the process, and reach the disk with the next synced
//     commit (CreateReset's, right after a known address's request) or
//     checkpoint; a power loss before that may forget them, which at worst
//     allows one more reset email, sends one email again, as an outbox may,
//     gives a code back the tries of its last guesses, or lets a retry run
//     a request whose answer was never saved. It spares the hot paths one
//     flush each. SaveReplay, which keeps an answer a retry will be given,
//     is synced;
//   - secure_delete=ON: deleted content is overwritten with zeros (see
//     Files);
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
// spends the token, so that of concurrent redemptions exactly one wins, and
// writes the user's row in the same transaction), Purge and Migrate are
// transactions, as is ChangePassword (which begins with the conditional
// update of the hash), as is RotateSessionToken (the conditional update,
// then the old hash kept as retired); AllowRequest (check and record),
// ClaimJobs and the other updates are single statements, and so
// is ClaimResetCode's write (a compare-and-swap of the tries it read). The hot
// lookups (ResetByTokenHash, SessionByTokenHash, UserByID, UserByEmail) are
// one prepared statement each; statements are prepared on first use,
// after Migrate, and released by Close.
//
// # Clocks
//
// The clock the Store trusts is the caller's (the Service's Config.Now):
// every time it writes or compares is one it was given, never SQLite's
// own. Instances sharing the file should agree on the time; rate-limit
// records more than store.MaxClockSkew (a minute) ahead of a caller's now
// are ignored, so that a clock stepped back does not keep recently active
// addresses limited until it catches up, and a retry time is never more
// than one window away.
//
// # Files
//
// Open creates the database file readable and writable by its owner only
// (0600), whatever the umask, and SQLite gives the -wal and -shm files it
// creates beside it the same mode: they hold password hashes, token hashes
// and sealed mail. (An existing file keeps its mode; with New, the file is
// whatever the caller created.) Every connection runs with
// secure_delete=ON, so that a row deleted or moved (a password hash
// replaced by a longer one, a purged reset) is overwritten with zeros
// rather than left in a free part of its page; and RedeemReset and
// ChangePassword, which replace a password hash, end with a truncating
// checkpoint (PRAGMA wal_checkpoint(TRUNCATE)), so that the write-ahead log
// does not keep the old page images that hold the old hash. The checkpoint
// is best effort: a reader holding an older snapshot at that instant makes
// it stop short, and a later checkpoint finishes the work.
//
// # Schema
//
// Times are INTEGER unix milliseconds, UTC; NULL means "not yet". Tokens
// are stored as their SHA-256 only, passwords as their hash only. Migrate
// records each applied file in passreset_migrations (name, applied_at). A
// database made by a passreset older than the passreset_ prefix is adopted:
// its tables are renamed, once, and kept.
//
// passreset's own state (migrations/0001_state.sql):
//
//	CREATE TABLE passreset_resets (
//	    id         TEXT    NOT NULL PRIMARY KEY,
//	    user_id    TEXT    NOT NULL,
//	    email      TEXT    NOT NULL,
//	    token_hash BLOB    NOT NULL UNIQUE,              -- SHA-256 of the token, never the token
//	    created_at INTEGER NOT NULL,
//	    expires_at INTEGER NOT NULL,
//	    used_at    INTEGER,
//	    ended_at   INTEGER
//	) STRICT;
//	CREATE INDEX passreset_resets_user_id ON passreset_resets (user_id);
//
//	CREATE TABLE passreset_sessions (
//	    id           TEXT    NOT NULL PRIMARY KEY,
//	    user_id      TEXT    NOT NULL,
//	    token_hash   BLOB    NOT NULL UNIQUE,            -- SHA-256 of the current token
//	    created_at   INTEGER NOT NULL,
//	    last_seen_at INTEGER NOT NULL,
//	    expires_at   INTEGER NOT NULL,
//	    revoked_at   INTEGER,
//	    user_agent   TEXT    NOT NULL DEFAULT '',
//	    ip_address   TEXT    NOT NULL DEFAULT '',
//	    stamp        TEXT    NOT NULL DEFAULT ''         -- the credential stamp the session was made with
//	) STRICT;
//	CREATE INDEX passreset_sessions_user_id ON passreset_sessions (user_id, id);
//
//	-- One row per counted request; key is a keyed hash, never an address.
//	CREATE TABLE passreset_rate_limits (
//	    key TEXT    NOT NULL,
//	    at  INTEGER NOT NULL
//	) STRICT;
//	CREATE INDEX passreset_rate_limits_key_at ON passreset_rate_limits (key, at);
//
//	CREATE TABLE passreset_jobs (
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
//	CREATE INDEX passreset_jobs_due ON passreset_jobs (run_at, id) WHERE finished_at IS NULL AND failed_at IS NULL;
//
// A short code beside each reset's link (migrations/0002_codes.sql):
//
//	ALTER TABLE passreset_resets ADD COLUMN code_key        TEXT;    -- keyed hash of the address the code is entered with
//	ALTER TABLE passreset_resets ADD COLUMN code_hash       BLOB;    -- keyed hash of the code and the reset id, never the code
//	ALTER TABLE passreset_resets ADD COLUMN code_expires_at INTEGER;
//	ALTER TABLE passreset_resets ADD COLUMN code_tries_left INTEGER NOT NULL DEFAULT 0;
//	CREATE INDEX passreset_resets_code_key ON passreset_resets (code_key) WHERE code_key IS NOT NULL;
//
// The answers kept for idempotent retries (migrations/0003_replays.sql):
//
//	CREATE TABLE passreset_replays (
//	    key           TEXT    NOT NULL PRIMARY KEY,
//	    fingerprint   BLOB    NOT NULL,
//	    owner         TEXT    NOT NULL,              -- the random name of the claim
//	    answer        BLOB,                          -- sealed; NULL while the claim runs
//	    created_at    INTEGER NOT NULL,
//	    claimed_until INTEGER,                       -- the claim's lease; NULL once answered
//	    expires_at    INTEGER NOT NULL
//	) STRICT;
//	CREATE INDEX passreset_replays_expires_at ON passreset_replays (expires_at);
//
// key and fingerprint are keyed hashes, never the client's text, and answer
// is sealed by the Service (AES-256-GCM), never plaintext.
//
// The hashes of session tokens a refresh rotated away, so that a rotated
// token presented again ends its session
// (migrations/0004_retired_session_tokens.sql):
//
//	CREATE TABLE passreset_retired_session_tokens (
//	    token_hash BLOB    NOT NULL PRIMARY KEY,         -- SHA-256 of a rotated-away token
//	    session_id TEXT    NOT NULL,
//	    retired_at INTEGER NOT NULL
//	) STRICT, WITHOUT ROWID;
//	CREATE INDEX passreset_retired_session_tokens_session_id ON passreset_retired_session_tokens (session_id);
//
// The users table passreset keeps when there is no WithUsers
// (migrations/users/0001_users.sql):
//
//	CREATE TABLE passreset_users (
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
//	    password_hash       TEXT    NOT NULL DEFAULT '', -- the Hasher's; '' when the user has no password
//	    last_sign_in_at     INTEGER,
//	    created_at          INTEGER NOT NULL,
//	    updated_at          INTEGER NOT NULL
//	) STRICT;
//	CREATE UNIQUE INDEX passreset_users_email_key ON passreset_users (email_key);
//
// Emails in passreset_users are compared by email_key, emailaddr.Fold of
// the address (NFC, the domain in ASCII, Unicode lower case), because
// SQLite's NOCASE and lower() fold ASCII letters only and know nothing of
// Unicode forms; a host that writes users into that table itself must
// fill email_key the same way. Migration users/0002_email_fold.sql
// computed the keys of older rows again (in Go, in its transaction); of
// two accounts it finds for one mailbox, the one already holding the key
// keeps it, the other its old key, which no lookup produces.
package sqlitestore
