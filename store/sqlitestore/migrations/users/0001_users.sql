-- users/0001: the users table passreset keeps when the host has none of its
-- own (no WithUsers): WorkOS's user object, and the password hash.

CREATE TABLE passreset_users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    email               TEXT    NOT NULL,            -- as given
    email_key           TEXT    NOT NULL,            -- Unicode lower case of email: lookups and uniqueness
    email_verified      INTEGER NOT NULL DEFAULT 0,
    first_name          TEXT    NOT NULL DEFAULT '',
    last_name           TEXT    NOT NULL DEFAULT '',
    profile_picture_url TEXT    NOT NULL DEFAULT '',
    external_id         TEXT    NOT NULL DEFAULT '',
    locale              TEXT    NOT NULL DEFAULT '',
    metadata            TEXT,                        -- JSON object of strings; NULL when none
    password_hash       TEXT    NOT NULL DEFAULT '', -- the Hasher's; '' when the user has no password
    last_sign_in_at     INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX passreset_users_email_key ON passreset_users (email_key);
