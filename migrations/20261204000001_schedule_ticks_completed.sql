-- A run of a periodic job records when it finished its work, not only that it started.
-- A run that fails halfway leaves `completed_at` NULL, and the next run catches up from
-- the last tick that has it (see `EnqueueReminders::run`), so a failed or missed tick
-- loses nothing. `ScheduleLedger::last_completed` reads it through the primary key
-- (job, tick), scanned backwards from the newest tick: no index of its own.
ALTER TABLE schedule_ticks ADD COLUMN completed_at timestamptz;

-- Runs recorded before this column existed were taken as finished once claimed.
UPDATE schedule_ticks SET completed_at = claimed_at;
