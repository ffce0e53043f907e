-- 0004: the hashes of the session tokens a refresh rotated away, so that a
-- rotated token presented again is known for what it is (a copy in other
-- hands) and ends its session. SHA-256 of the token, never the token;
-- deleted with their session.

CREATE TABLE passreset_retired_session_tokens (
    token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    session_id text        NOT NULL REFERENCES passreset_sessions (id) ON DELETE CASCADE,
    retired_at timestamptz NOT NULL
);
CREATE INDEX passreset_retired_session_tokens_session_id_idx ON passreset_retired_session_tokens (session_id);
