-- 0001: passreset's own state, beside whatever users table the host has.
-- Every table is named passreset_* so that none meets one of the host's.
-- Times are INTEGER unix milliseconds, UTC; NULL means "not yet" (unused,
-- not ended, not revoked, ...). user_id is the id the Store shows for a
-- user: the host's text key, or the prefix and its integer key.

CREATE TABLE passreset_resets (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    token_hash BLOB    NOT NULL UNIQUE,              -- SHA-256 of the token, never the token
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    ended_at   INTEGER
) STRICT;
CREATE INDEX passreset_resets_user_id ON passreset_resets (user_id);

CREATE TABLE passreset_sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE,            -- SHA-256 of the current token
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    user_agent   TEXT    NOT NULL DEFAULT '',
    ip_address   TEXT    NOT NULL DEFAULT '',
    stamp        TEXT    NOT NULL DEFAULT ''         -- the credential stamp the session was made with
) STRICT;
CREATE INDEX passreset_sessions_user_id ON passreset_sessions (user_id, id);

-- One row per counted request; key is a keyed hash, never an address.
CREATE TABLE passreset_rate_limits (
    key TEXT    NOT NULL,
    at  INTEGER NOT NULL
) STRICT;
CREATE INDEX passreset_rate_limits_key_at ON passreset_rate_limits (key, at);

CREATE TABLE passreset_jobs (
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
CREATE INDEX passreset_jobs_due ON passreset_jobs (run_at, id) WHERE finished_at IS NULL AND failed_at IS NULL;
