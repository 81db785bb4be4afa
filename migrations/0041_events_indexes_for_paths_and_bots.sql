-- Paths (issue 18, query_api/paths.py) read each id's first few events after (or before)
-- an instant in (ts, event) order, with a LIMIT: with the event a key column of the
-- per-user index (it was an INCLUDE column, 0030) that order is the index's own, so each
-- read stops after a few entries instead of reading and sorting all the id's events of the
-- range (about 1 s of a 1M-event path query). The entries hold the same columns as before
-- (the same size); funnels' index-only scans and erasure's reads by id are served as by
-- the index it replaces. Indexes on the parent cascade to every partition.
CREATE INDEX events_project_user_ts_event_key_idx ON events (project_id, distinct_id, ts, event);
DROP INDEX events_project_user_ts_event_idx;

-- Bots' rows (issue 18: `properties.$bot = true`, set by the workers; usually few), so a
-- funnel without filters can leave them out by (distinct_id, ts, event) and keep its
-- index-only scans (query_api/funnels.py). The predicate is written as the queries
-- write it. Only bots' rows have entries; every other insert only evaluates it.
CREATE INDEX events_bot_rows_idx ON events (project_id, ts) INCLUDE (distinct_id, event)
    WHERE (properties -> '$bot') = 'true'::jsonb;
