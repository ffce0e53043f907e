-- 0001: passreset's own state, beside whatever users table the host has.
-- Every table is named passreset_* so that none meets one of the host's.
-- Times are timestamptz, written truncated to milliseconds; token hashes
-- are the SHA-256 of a token, never the token. user_id is the id the Store
-- shows for a user: the host's text key, or the prefix and its integer key.

CREATE TABLE passreset_resets (
    id         text        PRIMARY KEY,
    user_id    text        NOT NULL,
    email      text        NOT NULL,
    token_hash bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,  -- set once, by the redemption that wins
    ended_at   timestamptz   -- set when a newer reset of the user ended this one
);
CREATE INDEX passreset_resets_user_id_idx ON passreset_resets (user_id);

CREATE TABLE passreset_sessions (
    id           text        PRIMARY KEY,
    user_id      text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    user_agent   text        NOT NULL DEFAULT '',
    ip_address   text        NOT NULL DEFAULT '',
    stamp        text        NOT NULL DEFAULT ''  -- the credential stamp the session was made with
);
CREATE INDEX passreset_sessions_user_id_idx ON passreset_sessions (user_id, id);

CREATE TABLE passreset_rate_limits (
    key text        NOT NULL,  -- a keyed hash, never an address
    at  timestamptz NOT NULL
);
CREATE INDEX passreset_rate_limits_key_at_idx ON passreset_rate_limits (key, at);

CREATE TABLE passreset_jobs (
    id            text        PRIMARY KEY,
    kind          text        NOT NULL,
    user_id       text        NOT NULL DEFAULT '',
    payload       bytea,                  -- sealed; dropped when the job finishes or fails
    attempts      integer     NOT NULL DEFAULT 0,
    run_at        timestamptz NOT NULL,
    claimed_until timestamptz,
    created_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    failed_at     timestamptz,
    last_error    text        NOT NULL DEFAULT ''
);
CREATE INDEX passreset_jobs_due_idx ON passreset_jobs (run_at, id) WHERE finished_at IS NULL AND failed_at IS NULL;
