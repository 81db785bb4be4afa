-- Funnels read each user's events of a range in time order: with the event name in the
-- per-user index that read is an index-only scan (query_api/funnels.py). The new index has
-- the same key columns as events_project_user_ts_idx (0002), so it serves whatever that
-- one served, and replaces it rather than adding a fourth index to every insert.
-- Indexes on the parent cascade to every partition (and to TimescaleDB's chunks).
CREATE INDEX events_project_user_ts_event_idx ON events (project_id, distinct_id, ts)
    INCLUDE (event);
DROP INDEX events_project_user_ts_idx;
