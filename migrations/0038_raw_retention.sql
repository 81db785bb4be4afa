-- Raw-event retention per project (issue 17, docs/decisions/0016). A project keeps its raw
-- events for raw_retention_days (365 unless its owner sets another, up to the operators'
-- maximum, RA_MAX_RAW_RETENTION_DAYS); each shard's workers drop whole (month, project)
-- partitions past it and record each run here, in the control database, for the ops view.
ALTER TABLE projects ADD COLUMN raw_retention_days integer NOT NULL DEFAULT 365
    CHECK (raw_retention_days BETWEEN 1 AND 36500);

CREATE TABLE retention_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shard         text NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT now(),
    partitions    text[] NOT NULL DEFAULT '{}',  -- the tables dropped
    stray_rows    bigint NOT NULL DEFAULT 0,     -- rows deleted from events_default
    error         text                           -- the failure's kind, when the run failed
);
CREATE INDEX retention_runs_latest ON retention_runs (shard, finished_at DESC);
