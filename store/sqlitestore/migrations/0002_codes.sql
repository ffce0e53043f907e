-- 0002: a short code beside each reset's link, kept as keyed hashes only.
-- A reset made before it has no code (code_key NULL) and keeps its link.

ALTER TABLE passreset_resets ADD COLUMN code_key        TEXT;    -- keyed hash of the address the code is entered with
ALTER TABLE passreset_resets ADD COLUMN code_hash       BLOB;    -- keyed hash of the code and the reset id, never the code
ALTER TABLE passreset_resets ADD COLUMN code_expires_at INTEGER;
ALTER TABLE passreset_resets ADD COLUMN code_tries_left INTEGER NOT NULL DEFAULT 0;
CREATE INDEX passreset_resets_code_key ON passreset_resets (code_key) WHERE code_key IS NOT NULL;
