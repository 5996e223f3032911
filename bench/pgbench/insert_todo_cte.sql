-- A create as the app makes it now (`write_with_message` in infrastructure/postgres): the
-- todo and its event in the outbox as two data-modifying CTEs of one statement, one round
-- trip. Compare with insert_todo_tx.sql, the same rows in a transaction. Rows carry the
-- title prefix 'bench-post' so they can be deleted afterwards.
\set n random(1, 100000)
WITH written AS (
    INSERT INTO todos (id, owner_id, title, description, tags, due_date, completed_at, version, created_at, updated_at)
    SELECT gen_random_uuid(), owner_id, 'bench-post pgbench', NULL, ARRAY['bench'], NULL, NULL, 1, now(), now()
    FROM todos WHERE id = md5('todo' || :n)::uuid
    RETURNING 1
), recorded AS (
    INSERT INTO outbox (id, kind, dedupe_key, payload)
    SELECT gen_random_uuid(), 'todo_event', NULL,
           '{"todo_event":{"id":"019ad6a4-9a3e-7f3c-8e4b-2b1f0c9d8e7a","occurred_at":"2026-12-02T07:00:00.000000Z","owner":"019ad6a4-9a3e-7f3c-8e4b-2b1f0c9d8e7b","todo_id":"019ad6a4-9a3e-7f3c-8e4b-2b1f0c9d8e7c","version":1,"change":"created"}}'::jsonb
    FROM written
    ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT EXISTS (SELECT 1 FROM written);
