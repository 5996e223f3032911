-- Wakes the workers when jobs are recorded: every statement that inserts into the outbox
-- sends one notification on the channel `outbox_recorded`, which each worker LISTENs on.
--
-- Postgres delivers a notification only when the inserting transaction commits (never for
-- one that rolls back), and folds identical notifications of one transaction into one. So
-- a worker is woken once per committed write, after the row is visible to its claim, and
-- the trigger is in the writing statement's transaction without any writer knowing.
--
-- A statement trigger, not a row trigger: a reminder run that records a hundred jobs in
-- one statement sends one notification, not a hundred. The payload is empty; the claim
-- finds what is due, as it does on a poll.
CREATE FUNCTION outbox_notify_recorded() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('outbox_recorded', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_recorded
    AFTER INSERT ON outbox
    FOR EACH STATEMENT
    EXECUTE FUNCTION outbox_notify_recorded();

-- A job that waits for an earlier job of its todo (see the ordering-key migration) becomes
-- claimable when that job is delivered or dies, not when it was recorded. So a statement
-- that marks jobs delivered or dead also notifies, when a later job of one of their todos
-- is still pending; a claim that finds nothing to free sends nothing. Without it, such a
-- job would wait for the worker's poll.
--
-- Postgres allows no column list on an UPDATE trigger with a transition table, so this
-- fires for claims too; for them `finished` holds no delivered or dead row, and the check
-- costs a scan of the few rows just claimed.
CREATE FUNCTION outbox_notify_released() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF EXISTS (
        SELECT 1
        FROM finished f
        JOIN outbox o ON o.ordering_key = f.ordering_key AND o.id > f.id
        WHERE (f.delivered_at IS NOT NULL OR f.dead_at IS NOT NULL)
          AND o.delivered_at IS NULL AND o.dead_at IS NULL
    ) THEN
        PERFORM pg_notify('outbox_recorded', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_released
    AFTER UPDATE ON outbox
    REFERENCING NEW TABLE AS finished
    FOR EACH STATEMENT
    EXECUTE FUNCTION outbox_notify_released();
