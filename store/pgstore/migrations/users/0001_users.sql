-- users/0001: the users table passreset keeps when the host has none of its
-- own (no WithUsers): WorkOS's user object, and the password hash.

CREATE TABLE passreset_users (
    id                  text        PRIMARY KEY,
    email               text        NOT NULL,               -- as given
    email_key           text        NOT NULL,               -- strings.ToLower(email): lookups, uniqueness
    email_verified      boolean     NOT NULL DEFAULT false,
    first_name          text        NOT NULL DEFAULT '',
    last_name           text        NOT NULL DEFAULT '',
    profile_picture_url text        NOT NULL DEFAULT '',
    external_id         text        NOT NULL DEFAULT '',
    locale              text        NOT NULL DEFAULT '',
    metadata            jsonb       NOT NULL DEFAULT '{}',
    password_hash       text        NOT NULL DEFAULT '',    -- the Hasher's; '' when none
    last_sign_in_at     timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX passreset_users_email_key ON passreset_users (email_key);
