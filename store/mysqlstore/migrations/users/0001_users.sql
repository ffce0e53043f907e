-- users/0001: the users table passreset keeps when the host has none of its
-- own (no WithUsers): WorkOS's user object, and the password hash.
-- email_key is the address folded in Go (hostusers.Fold), compared byte for
-- byte (utf8mb4_bin): case-insensitive matching that is right for
-- non-ASCII addresses, whatever the server's collations say.

CREATE TABLE IF NOT EXISTS passreset_users (
    id                  VARCHAR(255) NOT NULL,
    email               VARCHAR(320) NOT NULL,  -- as given
    email_key           VARCHAR(320) NOT NULL,  -- the folded address: lookups, uniqueness
    email_verified      BOOLEAN      NOT NULL DEFAULT FALSE,
    first_name          TEXT         NOT NULL,
    last_name           TEXT         NOT NULL,
    profile_picture_url TEXT         NOT NULL,
    external_id         TEXT         NOT NULL,
    locale              VARCHAR(64)  NOT NULL,
    metadata            TEXT         NOT NULL,  -- a JSON object
    password_hash       TEXT         NOT NULL,  -- the Hasher's; '' when none
    last_sign_in_at     BIGINT       NULL,
    created_at          BIGINT       NOT NULL,
    updated_at          BIGINT       NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY passreset_users_email_key (email_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
