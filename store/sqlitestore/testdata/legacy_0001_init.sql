-- 0001: the whole schema of passreset's SQLite store.
-- Times are INTEGER unix milliseconds, UTC; NULL means "not yet" (unused,
-- not ended, not revoked, ...). Optional text is '' rather than NULL.

CREATE TABLE users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    email               TEXT    NOT NULL,            -- as given
    email_key           TEXT    NOT NULL,            -- Unicode lower case of email: lookups and uniqueness
    email_verified      INTEGER NOT NULL DEFAULT 0,
    first_name          TEXT    NOT NULL DEFAULT '',
    last_name           TEXT    NOT NULL DEFAULT '',
    profile_picture_url TEXT    NOT NULL DEFAULT '',
    external_id         TEXT    NOT NULL DEFAULT '',
    locale              TEXT    NOT NULL DEFAULT '',
    metadata            TEXT,                        -- JSON object of strings; NULL when none
    password_hash       TEXT    NOT NULL DEFAULT '', -- bcrypt; '' when the user has no password
    last_sign_in_at     INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_email_key ON users (email_key);

CREATE TABLE password_resets (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL,
    token_hash BLOB    NOT NULL UNIQUE,              -- SHA-256 of the token, never the token
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    ended_at   INTEGER
) STRICT;
CREATE INDEX password_resets_user_id ON password_resets (user_id);

-- No foreign key to users: a host may keep sessions for users stored elsewhere.
CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE,            -- SHA-256 of the current token
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    user_agent   TEXT    NOT NULL DEFAULT '',
    ip_address   TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id, id);

-- One row per counted request; key is a keyed hash, never an address.
CREATE TABLE rate_limits (
    key TEXT    NOT NULL,
    at  INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limits_key_at ON rate_limits (key, at);

CREATE TABLE jobs (
    id            TEXT    NOT NULL PRIMARY KEY,
    kind          TEXT    NOT NULL,
    user_id       TEXT    NOT NULL DEFAULT '',
    payload       BLOB,                              -- sealed; NULL once finished or failed
    attempts      INTEGER NOT NULL DEFAULT 0,
    run_at        INTEGER NOT NULL,
    claimed_until INTEGER,
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    failed_at     INTEGER,
    last_error    TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE finished_at IS NULL AND failed_at IS NULL;
