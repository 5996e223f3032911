-- The todo a todo event is about, as its own column: events of one todo are delivered in
-- the order they were recorded, so a claim passes over a job while an earlier job of the
-- same todo is still pending (see `JobQueue::claim`). Generated from the payload, so no
-- insert has to set it, and the rows recorded before this migration get it too.
-- Reminders have none: they wait for nothing.
ALTER TABLE outbox ADD COLUMN ordering_key uuid
    GENERATED ALWAYS AS (
        CASE WHEN kind = 'todo_event' THEN (payload->>'todo_id')::uuid END
    ) STORED;

-- The claim's check that no earlier job of the same todo is pending: pending rows only,
-- by todo and then id.
CREATE INDEX outbox_pending_ordering_idx ON outbox (ordering_key, id)
    WHERE delivered_at IS NULL AND dead_at IS NULL AND ordering_key IS NOT NULL;
