-- Todos: one row per todo, owned by a user.
CREATE TABLE todos (
    -- UUIDv7 from the application: ids sort by creation time and serve as the pagination
    -- cursor ("todos older than this id").
    id           uuid        NOT NULL,
    owner_id     uuid        NOT NULL,
    title        text        NOT NULL,
    description  text,
    -- At most 20 short tags; an array keeps a todo one row, and a GIN index serves the
    -- "has tag" filter.
    tags         text[]      NOT NULL DEFAULT '{}',
    due_date     date,
    -- Set exactly when the todo is done; the status is derived from it, so the two can
    -- never disagree.
    completed_at timestamptz,
    -- Optimistic concurrency: every change is `UPDATE ... WHERE id = $1 AND version = $2`
    -- and sets version + 1.
    version      bigint      NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,

    CONSTRAINT todos_pkey PRIMARY KEY (id),
    -- Deleting a user deletes their todos; nobody else may see them anyway.
    CONSTRAINT todos_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT todos_title_length CHECK (char_length(title) BETWEEN 1 AND 200),
    CONSTRAINT todos_description_length CHECK (char_length(description) <= 10000),
    CONSTRAINT todos_tags_limit CHECK (cardinality(tags) <= 20),
    CONSTRAINT todos_version_positive CHECK (version >= 1),
    CONSTRAINT todos_updated_after_created CHECK (updated_at >= created_at)
);

-- Listing a user's todos, newest first, after a cursor: an index range scan that stops
-- after `limit` rows, however many todos the user has.
CREATE INDEX todos_owner_id_id_idx ON todos (owner_id, id DESC);

-- The same, filtered by status. The expression must match the query's
-- `(completed_at IS NOT NULL) = $n` for the planner to use it.
CREATE INDEX todos_owner_id_done_id_idx ON todos (owner_id, (completed_at IS NOT NULL), id DESC);

-- "Has this tag": `tags @> ARRAY[$n]` is answered by a GIN index.
CREATE INDEX todos_tags_idx ON todos USING gin (tags);
