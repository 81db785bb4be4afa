-- Derived sessions (issue 19, decision 0023): for events that arrive with the session id
-- `$derive` (drop-in events whose product sent none), the stream workers derive one session
-- per 30 idle minutes per distinct id, in the batch transaction that applies them (with
-- the offsets: exactly once). One row per distinct id with a recent session: its first
-- event time (the session id's seed), its earliest and latest event times, in ms since the
-- epoch. Rows untouched for two hours are pruned by the retention run; a person deletion
-- removes theirs.
CREATE TABLE derived_sessions (
    project_id  uuid NOT NULL,
    distinct_id text NOT NULL,
    seed        bigint NOT NULL,
    first_ms    bigint NOT NULL,
    last_ms     bigint NOT NULL,
    touched_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, distinct_id)
);
CREATE INDEX derived_sessions_touched ON derived_sessions (touched_at);
