-- Raw store on plain PostgreSQL: range-partitioned by event time. Monthly partitions are
-- created on demand by the stream workers (stream_workers/partitions.py) before they
-- insert rows of a month; the DEFAULT partition catches timestamps outside the window
-- they create partitions for (wild client clocks), so an insert never fails.
CREATE TABLE events (
    id           uuid NOT NULL,
    project_id   uuid NOT NULL,
    event        text NOT NULL,
    ts           timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    distinct_id  text NOT NULL,
    session_id   text NOT NULL,
    properties   jsonb NOT NULL,
    insert_id    text,
    context      jsonb NOT NULL DEFAULT '{}'
) PARTITION BY RANGE (ts);

CREATE TABLE events_default PARTITION OF events DEFAULT;

-- Per-project time ranges of one event (timeseries from raw, funnel steps) and per-user
-- ordered scans (funnels); indexes on the parent cascade to every partition.
CREATE INDEX events_project_event_ts_idx ON events (project_id, event, ts);
CREATE INDEX events_project_user_ts_idx ON events (project_id, distinct_id, ts);
