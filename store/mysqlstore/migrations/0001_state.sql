-- 0001: passreset's own state, beside whatever users table the host has.
-- Every table is named passreset_* so that none meets one of the host's,
-- is InnoDB (transactions, row locks) and utf8mb4 with a binary collation:
-- ids, keys and hashes compare byte for byte, never by a locale's rules.
-- Times are BIGINT unix milliseconds (UTC by definition, whatever the
-- server's or the connection's time zone); token hashes are the SHA-256 of
-- a token, never the token. user_id is the id the Store shows for a user:
-- the host's text key, or the prefix and its integer key.
-- Each statement is idempotent (IF NOT EXISTS): MySQL commits DDL as it
-- runs it, so a migration cut short is finished by running it again.

CREATE TABLE IF NOT EXISTS passreset_resets (
    id              VARCHAR(255) NOT NULL,
    user_id         VARCHAR(255) NOT NULL,
    email           VARCHAR(320) NOT NULL,
    token_hash      BINARY(32)   NOT NULL,
    created_at      BIGINT       NOT NULL,
    expires_at      BIGINT       NOT NULL,
    used_at         BIGINT       NULL,     -- set once, by the redemption that wins
    ended_at        BIGINT       NULL,     -- set when a newer reset of the user ended this one
    code_key        VARCHAR(255) NULL,     -- keyed hash of the address the code is entered with
    code_hash       BINARY(32)   NULL,     -- keyed hash of the code, never the code
    code_expires_at BIGINT       NULL,
    code_tries_left INT          NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE KEY passreset_resets_token_hash (token_hash),
    KEY passreset_resets_user_id (user_id),
    KEY passreset_resets_code_key (code_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS passreset_sessions (
    id           VARCHAR(255) NOT NULL,
    user_id      VARCHAR(255) NOT NULL,
    token_hash   BINARY(32)   NOT NULL,
    created_at   BIGINT       NOT NULL,
    last_seen_at BIGINT       NOT NULL,
    expires_at   BIGINT       NOT NULL,
    revoked_at   BIGINT       NULL,
    user_agent   TEXT         NOT NULL,
    ip_address   VARCHAR(255) NOT NULL,
    stamp        VARCHAR(255) NOT NULL,  -- the credential stamp the session was made with
    PRIMARY KEY (id),
    UNIQUE KEY passreset_sessions_token_hash (token_hash),
    KEY passreset_sessions_user_id (user_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS passreset_rate_limits (
    id       BIGINT       NOT NULL AUTO_INCREMENT,
    rate_key VARCHAR(255) NOT NULL,  -- a keyed hash, never an address
    at       BIGINT       NOT NULL,
    PRIMARY KEY (id),
    KEY passreset_rate_limits_key_at (rate_key, at),
    KEY passreset_rate_limits_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS passreset_jobs (
    id            VARCHAR(255) NOT NULL,
    kind          VARCHAR(64)  NOT NULL,
    user_id       VARCHAR(255) NOT NULL,
    payload       MEDIUMBLOB   NULL,     -- sealed; dropped when the job finishes or fails
    attempts      INT          NOT NULL,
    run_at        BIGINT       NOT NULL,
    claimed_until BIGINT       NULL,
    created_at    BIGINT       NOT NULL,
    finished_at   BIGINT       NULL,
    failed_at     BIGINT       NULL,
    last_error    TEXT         NOT NULL,
    PRIMARY KEY (id),
    -- The pending jobs (finished_at and failed_at NULL) in claim order.
    KEY passreset_jobs_due (finished_at, failed_at, run_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The answers kept for idempotent retries, one row per key, so that every
-- instance replays them. replay_key and fingerprint are keyed hashes (of
-- the client's key and scope, of the request), never the client's text;
-- answer is sealed, never plaintext.
CREATE TABLE IF NOT EXISTS passreset_replays (
    replay_key    VARCHAR(128)  NOT NULL,
    fingerprint   VARBINARY(64) NOT NULL,
    owner         VARCHAR(64)   NOT NULL,  -- the random name of the claim
    answer        MEDIUMBLOB    NULL,      -- sealed; NULL while the claim runs
    created_at    BIGINT        NOT NULL,
    claimed_until BIGINT        NULL,      -- the claim's lease; NULL once answered
    expires_at    BIGINT        NOT NULL,
    PRIMARY KEY (replay_key),
    KEY passreset_replays_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
