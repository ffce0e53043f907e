-- 0002: a short code beside each reset's link, kept as keyed hashes only.
-- A reset made before it has no code (code_key NULL) and keeps its link.

ALTER TABLE passreset_resets
    ADD COLUMN code_key        text,         -- keyed hash of the address the code is entered with
    ADD COLUMN code_hash       bytea CHECK (octet_length(code_hash) = 32),  -- keyed hash of the code, never the code
    ADD COLUMN code_expires_at timestamptz,
    ADD COLUMN code_tries_left integer NOT NULL DEFAULT 0;
CREATE INDEX passreset_resets_code_key_idx ON passreset_resets (code_key) WHERE code_key IS NOT NULL;
