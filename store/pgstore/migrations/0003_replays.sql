-- 0002: the answers kept for idempotent retries, one row per key, so that
-- every instance replays them. key and fingerprint are keyed hashes (of the
-- client's key and scope, of the request), never the client's text; answer
-- is sealed, never plaintext.

CREATE TABLE passreset_replays (
    key           text        PRIMARY KEY,
    fingerprint   bytea       NOT NULL,
    owner         text        NOT NULL,  -- the random name of the claim
    answer        bytea,                 -- sealed; NULL while the claim runs
    created_at    timestamptz NOT NULL,
    claimed_until timestamptz,           -- the claim's lease; NULL once answered
    expires_at    timestamptz NOT NULL
);
CREATE INDEX passreset_replays_expires_at_idx ON passreset_replays (expires_at);
