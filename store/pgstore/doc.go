// Package pgstore keeps passreset's users, password resets, sessions,
// rate-limit records and job outbox in PostgreSQL, for apps that run on
// more than one machine. A *Store implements store.Store,
// store.UserCreator, store.SignInRecorder and session.Store, so one Store
// serves both reset.NewService and session.New, and a password reset then
// revokes the user's sessions in the transaction that spends the token.
// It uses github.com/jackc/pgx/v5 and never compiles SQLite.
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
// keeps closing it itself. WithSchema keeps the tables in a schema of their
// own (created by Migrate), apart from a host's own users or sessions
// tables; without it the tables are found through the connections'
// search_path.
//
// Call Migrate at start-up on every instance: the migrations are embedded,
// versioned SQL files, each applied in one transaction and recorded in the
// schema_migrations table, under a transaction-level advisory lock, so that
// instances starting at once apply each one exactly once.
//
// # Many instances
//
// Every guarantee of the contracts holds across processes, enforced by the
// database, with no lock in the process:
//   - RedeemReset is one statement whose first step is a conditional
//     UPDATE (unused, not ended, not expired): of concurrent redemptions of
//     one token, on any instances, exactly one wins; the password, the
//     revoked sessions and the queued jobs are written only with it.
//   - AllowRequest counts and records under pg_advisory_xact_lock on the
//     key, in one implicit transaction sent as one batch.
//   - ClaimJobs claims with FOR UPDATE SKIP LOCKED, so dispatchers on
//     several instances never claim one job twice.
//
// Two bookkeeping writes commit with synchronous_commit off for their own
// transaction: AllowRequest's record of a request and FinishJob. A crash
// of the server may forget the last of them (never corrupting anything),
// which at worst allows one more reset email or sends one email again, as
// an outbox may; it spares the hot paths a WAL flush each.
//
// The hot paths (ResetByTokenHash, SessionByTokenHash, UserByEmail) are
// one indexed lookup each. Every method but Migrate is one statement, or
// one batch, so one round trip once pgx has prepared it on the connection;
// RedeemReset adds a second read only when it refuses, to tell why.
//
// # Data
//
// Tokens are never stored, only their SHA-256 (bytea); passwords never,
// only the Hasher's hash. Times are timestamptz, written truncated to
// milliseconds and read back in UTC; a zero time is NULL. Empty optional
// text is the empty string, not NULL. Emails are kept as given; email_key holds
// the email lower-cased in Go, as the Service lower-cases the addresses it
// looks up, so that lookups and uniqueness never depend on the database's
// locale. The schema, as Migrate creates it:
//
//	CREATE TABLE users (
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
//	CREATE UNIQUE INDEX users_email_key ON users (email_key);
//
//	CREATE TABLE password_resets (
//	    id         text        PRIMARY KEY,
//	    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
//	    email      text        NOT NULL,
//	    token_hash bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
//	    created_at timestamptz NOT NULL,
//	    expires_at timestamptz NOT NULL,
//	    used_at    timestamptz,  -- set once, by the redemption that wins
//	    ended_at   timestamptz   -- set when a newer reset of the user ended this one
//	);
//	CREATE INDEX password_resets_user_id_idx ON password_resets (user_id);
//
//	-- No foreign key to users: a host may keep its users elsewhere.
//	CREATE TABLE sessions (
//	    id           text        PRIMARY KEY,
//	    user_id      text        NOT NULL,
//	    token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
//	    created_at   timestamptz NOT NULL,
//	    last_seen_at timestamptz NOT NULL,
//	    expires_at   timestamptz NOT NULL,
//	    revoked_at   timestamptz,
//	    user_agent   text        NOT NULL DEFAULT '',
//	    ip_address   text        NOT NULL DEFAULT ''
//	);
//	CREATE INDEX sessions_user_id_idx ON sessions (user_id, id);
//
//	CREATE TABLE rate_limits (
//	    key text        NOT NULL,  -- a keyed hash, never an address
//	    at  timestamptz NOT NULL
//	);
//	CREATE INDEX rate_limits_key_at_idx ON rate_limits (key, at);
//
//	CREATE TABLE jobs (
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
//	CREATE INDEX jobs_due_idx ON jobs (run_at, id) WHERE finished_at IS NULL AND failed_at IS NULL;
//
// Sessions have no foreign key to users, so a host may keep its users
// elsewhere and still use the Store for sessions.
//
// # Moving from sqlitestore
//
// The tables and columns are the same; only the types differ: SQLite keeps
// times as INTEGER Unix milliseconds, booleans as 0 or 1, metadata as JSON
// text or NULL. To move, stop the app (or accept that resets issued
// meanwhile are lost: users ask again), drain the outbox, run Migrate on
// the Postgres side, then copy users, and sessions if users should stay
// signed in; resets, rate-limit records and finished jobs need not move.
// For example, with the sqlite3 and psql shells:
//
//	sqlite3 -csv app.db "SELECT id, email, email_key, email_verified, first_name, last_name,
//	    profile_picture_url, external_id, locale, coalesce(metadata, '{}'), password_hash,
//	    last_sign_in_at, created_at, updated_at FROM users" > users.csv
//
//	CREATE TEMP TABLE u (id text, email text, email_key text, email_verified int,
//	    first_name text, last_name text, profile_picture_url text, external_id text,
//	    locale text, metadata text, password_hash text, last_sign_in_at bigint,
//	    created_at bigint, updated_at bigint);
//	\copy u FROM 'users.csv' WITH (FORMAT csv)
//	INSERT INTO passreset.users
//	SELECT id, email, email_key, email_verified <> 0, first_name, last_name,
//	    profile_picture_url, external_id, locale, metadata::jsonb, password_hash,
//	    to_timestamp(last_sign_in_at / 1000.0), to_timestamp(created_at / 1000.0),
//	    to_timestamp(updated_at / 1000.0)
//	FROM u;
//
// Sessions move the same way; their token_hash is a BLOB in SQLite
// (export it with hex(token_hash), import it with decode(..., 'hex')).
package pgstore
