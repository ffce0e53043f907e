-- 0004: the hashes of the session tokens a refresh rotated away, so that a
-- rotated token presented again is known for what it is (a copy in other
-- hands) and ends its session. SHA-256 of the token, never the token;
-- deleted with their session.

CREATE TABLE passreset_retired_session_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY,         -- SHA-256 of a rotated-away token
    session_id TEXT    NOT NULL,
    retired_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX passreset_retired_session_tokens_session_id ON passreset_retired_session_tokens (session_id);
