-- 0002: the answers kept for idempotent retries, one row per key, so that
-- every process sharing the file replays them. key and fingerprint are
-- keyed hashes (of the client's key and scope, of the request), never the
-- client's text; answer is sealed, never plaintext. Times as in 0001.

CREATE TABLE passreset_replays (
    key           TEXT    NOT NULL PRIMARY KEY,
    fingerprint   BLOB    NOT NULL,
    owner         TEXT    NOT NULL,              -- the random name of the claim
    answer        BLOB,                          -- sealed; NULL while the claim runs
    created_at    INTEGER NOT NULL,
    claimed_until INTEGER,                       -- the claim's lease; NULL once answered
    expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX passreset_replays_expires_at ON passreset_replays (expires_at);
