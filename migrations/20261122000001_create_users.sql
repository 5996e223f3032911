-- Users: one row per account.
--
-- Every constraint is named, because the Postgres adapter turns a violation into a domain
-- error by the constraint's name (see infrastructure/src/postgres/error.rs). The checks
-- repeat the domain's rules as a last line of defence against a bug or a manual edit; the
-- domain stays the place where the rules are defined and tested.
CREATE TABLE users (
    -- UUIDv7 from the application: time-ordered, so the primary key index doubles as the
    -- "newest first" order for listing users.
    id            uuid        NOT NULL,
    -- Stored as the domain normalised it (trimmed, lowercased); unique across users.
    email         text        NOT NULL,
    display_name  text        NOT NULL,
    -- An argon2id PHC string; the password itself is never stored.
    password_hash text        NOT NULL,
    role          text        NOT NULL DEFAULT 'member',
    created_at    timestamptz NOT NULL,

    CONSTRAINT users_pkey PRIMARY KEY (id),
    -- Maps to "email already taken". A unique constraint, not a read-then-insert, decides,
    -- so two concurrent registrations with one email cannot both succeed.
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_length CHECK (char_length(email) BETWEEN 3 AND 254),
    CONSTRAINT users_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 64),
    CONSTRAINT users_role_known CHECK (role IN ('member', 'admin'))
);
