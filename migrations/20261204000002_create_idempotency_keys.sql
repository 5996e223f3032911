-- The outcome of each write a client sent with an idempotency key, under that key: a
-- retry with the same key gets it back instead of writing again (see
-- `domain::idempotency`). A row is written in the same transaction as the write it
-- guards, so it exists exactly when the write was committed.
CREATE TABLE idempotency_keys (
    -- Keys are the user's own: two users' keys never meet. A user's keys go with them.
    user_id     uuid        NOT NULL
        CONSTRAINT idempotency_keys_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    key         text        NOT NULL
        CONSTRAINT idempotency_keys_key_check CHECK (char_length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the operation and its input: a retry must ask for the same thing.
    fingerprint bytea       NOT NULL
        CONSTRAINT idempotency_keys_fingerprint_check CHECK (octet_length(fingerprint) = 32),
    -- What came of it, as `driven_records::OutcomeRecord`.
    outcome     jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL,

    -- One row per key and user. A second insert under a key that a transaction in flight
    -- is inserting waits for that transaction, then fails or succeeds: that is what makes
    -- concurrent retries write once.
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key)
);

-- Housekeeping deletes the rows older than IDEMPOTENCY_KEY_TTL_HOURS.
CREATE INDEX idempotency_keys_recorded_at_idx ON idempotency_keys (recorded_at);
