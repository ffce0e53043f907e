// Package pgstore keeps passreset's password resets, sessions, rate-limit
// records, job outbox and idempotent replays in PostgreSQL, for apps that
// run on more than one machine, beside the users: the app's own users table, described to it,
// or one passreset keeps. A *Store implements store.Store,
// store.UserCreator, store.SignInRecorder and session.Store, so one Store
// serves both reset.NewService and session.New, and a password reset then
// writes the new hash and revokes the user's sessions in the statement that
// spends the token. It uses github.com/jackc/pgx/v5 and never compiles
// SQLite.
//
// # Usage
//
//	st, err := pgstore.Open(ctx, os.Getenv("DATABASE_URL"), pgstore.WithSchema("passreset"))
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
// An app that already has a *pgxpool.Pool passes it to New instead, and
// keeps closing it itself. WithSchema keeps passreset's tables in a schema
// of their own (created by Migrate); without it they are found through the
// connections' search_path. Either way they are named passreset_*, so
// that none meets one of the app's.
//
// Call Migrate at start-up on every instance: the migrations are embedded,
// versioned SQL files, each applied in one transaction and recorded by
// file name in the passreset_migrations table (name, applied_at), under a
// transaction-level advisory lock, so that instances starting at once
// apply each one exactly once.
//
// # Your users table, or passreset's
//
// An app that already has a users table describes it with WithUsers, and
// passreset reads its users from there and keeps only its own state beside
// it:
//
//	st, err := pgstore.New(ctx, pool, pgstore.WithSchema("passreset"), pgstore.WithUsers(store.UsersTable{
//		Table:        "public.accounts", // or "accounts", found through the search_path
//		ID:           "account_id",      // bigserial: ids show as "user_42"
//		Email:        "email_address",
//		PasswordHash: "pw_digest",
//		Verified:     "is_verified",     // optional: boolean set true (or integer set 1) by a reset
//		UpdatedAt:    "modified_at",     // optional: timestamptz, timestamp or unix seconds
//	}))
//
// The table is the app's: passreset never creates or alters it, and writes
// only PasswordHash (and Verified and UpdatedAt, where named) of the row
// whose password is reset, in the statement that spends the token. The
// connections need SELECT on it and UPDATE on those columns. Migrate checks
// the description against the table, naming any column that is missing or
// of a type it cannot use, and learns the key's type: an integer key shows
// as IDPrefix ("user_" by default) and the number, and maps back without an
// extra column; a text (or uuid) key shows as it is. CreateUser then refuses with
// store.ErrNoUserCreator, and RecordSignIn does nothing.
//
// Addresses are matched as emailaddr.Fold compares them (without regard to
// case, in full Unicode, NFC or NFD, the domain in Unicode or punycode),
// whatever the database's collation or ctype (lower() and ILIKE fold ASCII
// letters alone under the C locale, and a nondeterministic collation
// refuses ILIKE): one equality on the email column, indexed where the app
// indexed it, finds an address stored in its folded form (and counts only
// if it folds alike in Go); only when it
// finds nothing does a second query read the rows whose address matches
// without regard to ASCII case, with its non-ASCII letters and punycode
// labels as wildcards (ILIKE under the "C" collation, which scans the table), and compare
// them in Go. Store addresses as emailaddr.Fold returns them, as
// passreset's pages send them, and the second query never runs for a known
// address.
//
// Without WithUsers, passreset keeps its own users table, passreset_users,
// with WorkOS's profile fields, and creates users (store.UserCreator).
//
// # Many instances
//
// Every guarantee of the contracts holds across processes, enforced by the
// database, with no lock in the process:
//   - RedeemReset is one statement whose first step is a conditional
//     UPDATE (unused, not ended, not expired, the user's row there and
//     locked, and its address still the reset's: an email change that
//     commits first is seen, one that comes later waits for the lock):
//     of concurrent redemptions of one token, on any instances,
//     exactly one wins; the password, the revoked sessions and the queued
//     jobs are written only with it.
//   - CreateReset is one statement that checks the user's row (and keeps
//     it from being deleted until the commit) before it writes anything.
//   - AllowRequest counts and records under pg_advisory_xact_lock on the
//     key, in one implicit transaction sent as one batch.
//   - ClaimJobs claims with FOR UPDATE SKIP LOCKED, so dispatchers on
//     several instances never claim one job twice.
//   - ClaimResetCode reads the reset, then takes its try with an UPDATE
//     that swaps the count of tries it read for one less: of concurrent
//     claims on one count exactly one swaps; the others read again.
//   - ChangePassword is one statement whose first step is the conditional
//     UPDATE of the hash (only while it is still the one the caller
//     checked); the revoked sessions and queued jobs are written only with
//     it.
//   - ClaimReplay claims an idempotency key with INSERT ... ON CONFLICT,
//     so that of concurrent claims on any instances exactly one wins, and
//     the others read the winner's record in the same round trip.
//
// Bookkeeping writes commit with synchronous_commit off for their own
// transaction: AllowRequest's record of a request, FinishJob, the try a
// ClaimResetCode takes, and ClaimReplay and ReleaseReplay. A crash of the
// server may forget the last of them (never corrupting anything), which at
// worst allows one more reset email, sends one email again, as an outbox
// may, gives a code back the tries of its last guesses, or lets a retry run
// a request whose answer was never saved; it spares the hot paths a WAL
// flush each. SaveReplay, which keeps an answer a retry will be given,
// commits synchronously.
//
// The hot paths (ResetByTokenHash, SessionByTokenHash, UserByEmail) are
// one indexed lookup each. Every method but Migrate is one statement, or
// one batch, so one round trip once pgx has prepared it on the connection
// (ClaimResetCode two: its read, then its write when there is a live code);
// RedeemReset and ChangePassword add a second read only when they refuse,
// to tell why, and
// UserByEmail over a host's table only for an address it did not find as
// given.
//
// # Clocks
//
// The clock the Store trusts is the caller's (the Service's Config.Now):
// every time it writes or compares is one it was given, never the
// database server's now(). Instances should agree on the time;
// rate-limit records more than store.MaxClockSkew (a minute) ahead of a
// caller's now are ignored, so that a clock stepped back does not keep
// recently active addresses limited until it catches up, and a retry time
// is never more than one window away.
//
// # Data
//
// Tokens are never stored, only their SHA-256 (bytea); passwords never,
// only the Hasher's hash. Times are timestamptz, written truncated to
// milliseconds and read back in UTC; a zero time is NULL. Empty optional
// text is the empty string, not NULL. A session keeps the credential stamp
// it was created with (session.Session.Stamp). user_id columns hold the
// id the Store shows for a user.
//
// passreset's own state (migrations/0001_state.sql), as Migrate creates it:
//
//	CREATE TABLE passreset_resets (
//	    id         text        PRIMARY KEY,
//	    user_id    text        NOT NULL,
//	    email      text        NOT NULL,
//	    token_hash bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
//	    created_at timestamptz NOT NULL,
//	    expires_at timestamptz NOT NULL,
//	    used_at    timestamptz,  -- set once, by the redemption that wins
//	    ended_at   timestamptz   -- set when a newer reset of the user ended this one
//	);
//	CREATE INDEX passreset_resets_user_id_idx ON passreset_resets (user_id);
//
//	CREATE TABLE passreset_sessions (
//	    id           text        PRIMARY KEY,
//	    user_id      text        NOT NULL,
//	    token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
//	    created_at   timestamptz NOT NULL,
//	    last_seen_at timestamptz NOT NULL,
//	    expires_at   timestamptz NOT NULL,
//	    revoked_at   timestamptz,
//	    user_agent   text        NOT NULL DEFAULT '',
//	    ip_address   text        NOT NULL DEFAULT '',
//	    stamp        text        NOT NULL DEFAULT ''  -- the credential stamp the session was made with
//	);
//	CREATE INDEX passreset_sessions_user_id_idx ON passreset_sessions (user_id, id);
//
//	CREATE TABLE passreset_rate_limits (
//	    key text        NOT NULL,  -- a keyed hash, never an address
//	    at  timestamptz NOT NULL
//	);
//	CREATE INDEX passreset_rate_limits_key_at_idx ON passreset_rate_limits (key, at);
//
//	CREATE TABLE passreset_jobs (
//	    id            text        PRIMARY KEY,
//	    kind          text        NOT NULL,
//	    user_id       text        NOT NULL DEFAULT '',
//	    payload       bytea,                  -- sealed; dropped when the job finishes or fails
//	    attempts      integer     NOT NULL DEFAULT 0,
//	    run_at        timestamptz NOT NULL,
//	    claimed_until timestamptz,
//	    created_at    timestamptz NOT NULL,
//	    finished_at   timestamptz,
//	    failed_at     timestamptz,
//	    last_error    text        NOT NULL DEFAULT ''
//	);
//	CREATE INDEX passreset_jobs_due_idx ON passreset_jobs (run_at, id) WHERE finished_at IS NULL AND failed_at IS NULL;
//
// A short code beside each reset's link (migrations/0002_codes.sql):
//
//	ALTER TABLE passreset_resets
//	    ADD COLUMN code_key        text,         -- keyed hash of the address the code is entered with
//	    ADD COLUMN code_hash       bytea CHECK (octet_length(code_hash) = 32),  -- keyed hash of the code, never the code
//	    ADD COLUMN code_expires_at timestamptz,
//	    ADD COLUMN code_tries_left integer NOT NULL DEFAULT 0;
//	CREATE INDEX passreset_resets_code_key_idx ON passreset_resets (code_key) WHERE code_key IS NOT NULL;
//
// The answers kept for idempotent retries (migrations/0003_replays.sql):
// key and fingerprint are keyed hashes, never the client's text, and answer
// is sealed by the Service (AES-256-GCM), never plaintext.
//
//	CREATE TABLE passreset_replays (
//	    key           text        PRIMARY KEY,
//	    fingerprint   bytea       NOT NULL,
//	    owner         text        NOT NULL,  -- the random name of the claim
//	    answer        bytea,                 -- sealed; NULL while the claim runs
//	    created_at    timestamptz NOT NULL,
//	    claimed_until timestamptz,           -- the claim's lease; NULL once answered
//	    expires_at    timestamptz NOT NULL
//	);
//	CREATE INDEX passreset_replays_expires_at_idx ON passreset_replays (expires_at);
//
// The hashes of session tokens a refresh rotated away, so that a rotated
// token presented again ends its session
// (migrations/0004_retired_session_tokens.sql):
//
//	CREATE TABLE passreset_retired_session_tokens (
//	    token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
//	    session_id text        NOT NULL REFERENCES passreset_sessions (id) ON DELETE CASCADE,
//	    retired_at timestamptz NOT NULL
//	);
//	CREATE INDEX passreset_retired_session_tokens_session_id_idx ON passreset_retired_session_tokens (session_id);
//
// Sessions have no foreign key to users, so a host may keep its users
// elsewhere and still use the Store for sessions; nor have resets, so that
// they can belong to a host's users.
//
// The users table passreset keeps when there is no WithUsers
// (migrations/users/0001_users.sql):
//
//	CREATE TABLE passreset_users (
//	    id                  text        PRIMARY KEY,
//	    email               text        NOT NULL,               -- as given
//	    email_key           text        NOT NULL,               -- strings.ToLower(email): lookups, uniqueness
//	    email_verified      boolean     NOT NULL DEFAULT false,
//	    first_name          text        NOT NULL DEFAULT '',
//	    last_name           text        NOT NULL DEFAULT '',
//	    profile_picture_url text        NOT NULL DEFAULT '',
//	    external_id         text        NOT NULL DEFAULT '',
//	    locale              text        NOT NULL DEFAULT '',
//	    metadata            jsonb       NOT NULL DEFAULT '{}',
//	    password_hash       text        NOT NULL DEFAULT '',    -- the Hasher's; '' when none
//	    last_sign_in_at     timestamptz,
//	    created_at          timestamptz NOT NULL,
//	    updated_at          timestamptz NOT NULL
//	);
//	CREATE UNIQUE INDEX passreset_users_email_key ON passreset_users (email_key);
//
// Emails in passreset_users are kept as given; email_key holds
// emailaddr.Fold of the email (NFC, the domain in ASCII, lower case),
// computed in Go as the Service folds the addresses it looks up, so that
// lookups and uniqueness never depend on the database's locale, and one
// mailbox in two Unicode spellings is one account. A host that writes
// users into that table itself must fill email_key the same way.
// Migration users/0002_email_fold.sql computed the keys of older rows
// again (in Go, in its transaction); of two accounts it finds for one
// mailbox, the one already holding the key keeps it, the other its old
// key, which no lookup produces.
//
// # Upgrading from an older pgstore
//
// A pgstore older than the passreset_ prefix kept its tables as users,
// password_resets, sessions, rate_limits and jobs, and recorded
// 0001_init.sql in a schema_migrations table. Migrate adopts such a
// database, in WithSchema's schema or the search_path's: in one
// transaction it renames the tables, their indexes and their constraints
// to today's names, drops the foreign key from resets to users, adds the
// sessions' stamp column, records the migrations they now amount to, and
// removes the old record (and schema_migrations with it once nothing else
// is in it). Nothing else is lost: users, unspent resets, sessions and
// queued jobs carry on. With WithUsers the old users table is renamed to
// passreset_users too, unless it is the table WithUsers names. A
// schema_migrations table of another tool, golang-migrate's (version,
// dirty) for one, is left alone. Stop the older version's instances
// first: they know only the old names.
//
// # Moving from sqlitestore
//
// The tables and columns are the same; only the types differ: SQLite keeps
// times as INTEGER Unix milliseconds, booleans as 0 or 1, metadata as JSON
// text or NULL. To move, stop the app (or accept that resets issued
// meanwhile are lost: users ask again), drain the outbox, run Migrate on
// the Postgres side, then copy passreset_users (unless the users are the
// app's own, WithUsers), and passreset_sessions if users should stay
// signed in; resets, rate-limit records and finished jobs need not move.
// For example, with the sqlite3 and psql shells:
//
//	sqlite3 -csv app.db "SELECT id, email, email_key, email_verified, first_name, last_name,
//	    profile_picture_url, external_id, locale, coalesce(metadata, '{}'), password_hash,
//	    last_sign_in_at, created_at, updated_at FROM passreset_users" > users.csv
//
//	CREATE TEMP TABLE u (id text, email text, email_key text, email_verified int,
//	    first_name text, last_name text, profile_picture_url text, external_id text,
//	    locale text, metadata text, password_hash text, last_sign_in_at bigint,
//	    created_at bigint, updated_at bigint);
//	\copy u FROM 'users.csv' WITH (FORMAT csv)
//	INSERT INTO passreset.passreset_users
//	SELECT id, email, email_key, email_verified <> 0, first_name, last_name,
//	    profile_picture_url, external_id, locale, metadata::jsonb, password_hash,
//	    to_timestamp(last_sign_in_at / 1000.0), to_timestamp(created_at / 1000.0),
//	    to_timestamp(updated_at / 1000.0)
//	FROM u;
//
// Sessions move the same way; their token_hash is a BLOB in SQLite
// (export it with hex(token_hash), import it with decode(..., 'hex')).
package pgstore
