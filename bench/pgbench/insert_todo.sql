-- One single-row insert into this app's todos table, the same statement POST /v1/todos runs
-- (every column, a one-tag array, the owner's foreign key checked). Compare its TPS with the
-- baseline's ../shared/bench/pgbench/insert.sql to see what the richer schema itself costs.
-- Rows carry the title prefix 'bench-post' so they can be deleted afterwards.
\set n random(1, 100000)
INSERT INTO todos (id, owner_id, title, description, tags, due_date, completed_at, version, created_at, updated_at)
SELECT gen_random_uuid(), owner_id, 'bench-post pgbench', NULL, ARRAY['bench'], NULL, NULL, 1, now(), now()
FROM todos WHERE id = md5('todo' || :n)::uuid;
