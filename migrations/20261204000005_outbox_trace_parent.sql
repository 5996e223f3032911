-- The W3C `traceparent` of the span that recorded the message (the use case, inside the
-- request), when traces are exported: the worker's delivery span links to it, so a trace
-- viewer follows a change from the request that made it to every delivery of its event.
-- NULL when no trace was being recorded. Opaque to the database and to the domain.
ALTER TABLE outbox ADD COLUMN trace_parent text;
