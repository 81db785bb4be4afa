-- Pre-aggregated counts per (project, event, granularity, bucket), and per property value
-- for breakdown keys. Buckets are UTC-aligned: date_bin(width, ts, '1970-01-01Z') with
-- widths minute = 60 s, 15min = 900 s, hour = 3600 s, day = 86400 s (UTC day); a day in
-- any IANA zone is a union of 15-minute/hour/day buckets (stream_workers/rollups.py).
-- Unique users/sessions are HyperLogLog sketches (postgresql-hll, log2m 17, regwidth 5:
-- exact below ~10k values, measured error <= 0.6% above), mergeable over any range with
-- hll_union_agg. The extension lives in `public` so every schema shares it.
CREATE EXTENSION IF NOT EXISTS hll SCHEMA public;

CREATE TABLE rollups (
    project_id   uuid NOT NULL,
    event        text NOT NULL,
    granularity  text NOT NULL CHECK (granularity IN ('minute', '15min', 'hour', 'day')),
    bucket       timestamptz NOT NULL,
    events       bigint NOT NULL,
    users        public.hll(17, 5) NOT NULL,
    sessions     public.hll(17, 5) NOT NULL,
    PRIMARY KEY (project_id, event, granularity, bucket)
);

-- value NULL: events of that bucket without the property (the contract's "key": null).
CREATE TABLE breakdown_rollups (
    project_id   uuid NOT NULL,
    event        text NOT NULL,
    key          text NOT NULL,
    granularity  text NOT NULL CHECK (granularity IN ('minute', '15min', 'hour', 'day')),
    bucket       timestamptz NOT NULL,
    value        text,
    events       bigint NOT NULL,
    users        public.hll(17, 5) NOT NULL,
    sessions     public.hll(17, 5) NOT NULL,
    CONSTRAINT breakdown_rollups_key UNIQUE NULLS NOT DISTINCT
        (project_id, event, key, granularity, bucket, value)
);
