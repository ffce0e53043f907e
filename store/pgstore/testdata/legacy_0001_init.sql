-- 0001: the passreset schema. Times are timestamptz, written truncated to
-- milliseconds; token hashes are the SHA-256 of a token, never the token.

CREATE TABLE users (
    id                  text        PRIMARY KEY,
    email               text        NOT NULL,               -- as given
    email_key           text        NOT NULL,               -- strings.ToLower(email): lookups, uniqueness
    email_verified      boolean     NOT NULL DEFAULT false,
    first_name          text        NOT NULL DEFAULT '',
    last_name           text        NOT NULL DEFAULT '',
    profile_picture_url text        NOT NULL DEFAULT '',
    external_id         text        NOT NULL DEFAULT '',
    locale              text        NOT NULL DEFAULT '',
    metadata            jsonb       NOT NULL DEFAULT '{}',
    password_hash       text        NOT NULL DEFAULT '',    -- the Hasher's; '' when none
    last_sign_in_at     timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

CREATE TABLE password_resets (
    id         text        PRIMARY KEY,
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      text        NOT NULL,
    token_hash bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,  -- set once, by the redemption that wins
    ended_at   timestamptz   -- set when a newer reset of the user ended this one
);
CREATE INDEX password_resets_user_id_idx ON password_resets (user_id);

-- No foreign key to users: a host may keep its users elsewhere.
CREATE TABLE sessions (
    id           text        PRIMARY KEY,
    user_id      text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    user_agent   text        NOT NULL DEFAULT '',
    ip_address   text        NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id, id);

CREATE TABLE rate_limits (
    key text        NOT NULL,  -- a keyed hash, never an address
    at  timestamptz NOT NULL
);
CREATE INDEX rate_limits_key_at_idx ON rate_limits (key, at);

CREATE TABLE jobs (
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
CREATE INDEX jobs_due_idx ON jobs (run_at, id) WHERE finished_at IS NULL AND failed_at IS NULL;
