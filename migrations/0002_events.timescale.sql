-- Raw store with TimescaleDB: the same columns as 0002_events.plain.sql, as a hypertable
-- (weekly chunks) compressed after 30 days; late inserts into compressed chunks are
-- supported by TimescaleDB >= 2.11.
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
);

SELECT create_hypertable('events', 'ts', chunk_time_interval => interval '7 days');

CREATE INDEX events_project_event_ts_idx ON events (project_id, event, ts);
CREATE INDEX events_project_user_ts_idx ON events (project_id, distinct_id, ts);

ALTER TABLE events SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'ts'
);
SELECT add_compression_policy('events', interval '30 days');
