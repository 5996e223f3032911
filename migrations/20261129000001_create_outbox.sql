-- The transactional outbox, which is also the worker's job queue.
--
-- A use case inserts its message here in the same transaction as the change that caused
-- it, so both are committed or neither is. The worker claims pending rows with
-- `FOR UPDATE SKIP LOCKED`, delivers them, and marks them delivered, failed (to retry
-- later) or dead. A claim is a lease: it moves `available_at` into the future, so a worker
-- that dies mid-job simply lets the lease run out and another worker claims the job again.
CREATE TABLE outbox (
    -- The message's own UUIDv7: claims take the oldest first.
    id           uuid        NOT NULL,
    -- `todo_event` (to the event publisher) or `reminder` (to the notifier).
    kind         text        NOT NULL,
    -- Set for messages that must exist once only (one reminder per todo and due date).
    dedupe_key   text,
    -- The message itself; see `MessageRecord` in infrastructure/records.
    payload      jsonb       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    -- Claims made so far; the latest is the only one that may report a failure.
    attempts     integer     NOT NULL DEFAULT 0,
    -- Not claimable before this: a retry's backoff or a claim's lease. NULL: at once.
    available_at timestamptz,
    delivered_at timestamptz,
    dead_at      timestamptz,
    last_error   text,

    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_dedupe_key_key UNIQUE (dedupe_key),
    CONSTRAINT outbox_kind_known CHECK (kind IN ('todo_event', 'reminder')),
    CONSTRAINT outbox_attempts_non_negative CHECK (attempts >= 0),
    CONSTRAINT outbox_delivered_or_dead CHECK (delivered_at IS NULL OR dead_at IS NULL)
);

-- The claim's scan: pending rows in id order. Partial, so delivered rows (the vast majority
-- until housekeeping deletes them) cost the claim nothing.
CREATE INDEX outbox_pending_idx ON outbox (id)
    WHERE delivered_at IS NULL AND dead_at IS NULL;

-- Housekeeping deletes delivered rows by age.
CREATE INDEX outbox_delivered_at_idx ON outbox (delivered_at)
    WHERE delivered_at IS NOT NULL;

-- `backend jobs dead` lists the most recently dead first.
CREATE INDEX outbox_dead_at_idx ON outbox (dead_at DESC)
    WHERE dead_at IS NOT NULL;

-- One row per run of a periodic job: the worker that inserts it runs the tick, and every
-- other worker's insert finds the row and skips. That is what makes a tick run once with
-- several workers on one database.
CREATE TABLE schedule_ticks (
    job        text        NOT NULL,
    tick       timestamptz NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT schedule_ticks_pkey PRIMARY KEY (job, tick)
);

-- The reminder job's scan: open todos due within a few days, in id order.
CREATE INDEX todos_open_due_date_idx ON todos (due_date, id)
    WHERE completed_at IS NULL AND due_date IS NOT NULL;
