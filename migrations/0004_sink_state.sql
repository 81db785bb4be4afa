-- What the exactly-once sink keeps next to the projections, written in the same
-- transaction as them: consumed offsets, insertId dedup, monthly usage.

-- Next offset to apply per (consumer, topic, partition); received_at of the last applied
-- record gives event-time freshness.
CREATE TABLE consumer_offsets (
    consumer          text NOT NULL,
    topic             text NOT NULL,
    partition         integer NOT NULL,
    next_offset       bigint NOT NULL DEFAULT 0,
    last_received_at  timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- insertIds seen per project; a repeat within 7 days (by receivedAt) is a duplicate.
-- A new id's row is inserted at its first sighting, before the batch's decisions, so a
-- concurrent worker with the same new id waits on it (stream_workers/store.claim_dedup).
CREATE TABLE event_dedup (
    project_id   uuid NOT NULL,
    insert_id    text NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (project_id, insert_id)
);
CREATE INDEX event_dedup_received_idx ON event_dedup (received_at);

-- Per project and calendar month (UTC, by receivedAt): the row workers lock to decide
-- the plan limit exactly, and its per-partition parts (the Redis usage fields).
CREATE TABLE usage_months (
    project_id  uuid NOT NULL,
    month       date NOT NULL,
    used        bigint NOT NULL DEFAULT 0,
    dropped     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, month)
);

CREATE TABLE usage_partitions (
    project_id   uuid NOT NULL,
    month        date NOT NULL,
    partition    integer NOT NULL,
    used         bigint NOT NULL DEFAULT 0,
    dropped      bigint NOT NULL DEFAULT 0,
    last_offset  bigint NOT NULL,
    PRIMARY KEY (project_id, month, partition)
);
