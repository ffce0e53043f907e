-- 0002: the hashes of the session tokens a refresh rotated away, so that a
-- rotated token presented again is known for what it is (a copy in other
-- hands) and ends its session. SHA-256 of the token, never the token;
-- deleted with their session.

CREATE TABLE IF NOT EXISTS passreset_retired_session_tokens (
    token_hash BINARY(32)   NOT NULL,  -- SHA-256 of a rotated-away token
    session_id VARCHAR(255) NOT NULL,
    retired_at BIGINT       NOT NULL,
    PRIMARY KEY (token_hash),
    KEY passreset_retired_session_tokens_session_id (session_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
