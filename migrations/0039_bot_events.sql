-- Crawler events per project and month (issue 18, decision 0017): counted by the stream
-- workers in the batch transaction that applies them (with the offsets: exactly once).
-- Usage (usage_months) counts them too; rollups never include them. The ops view shows
-- each project's current month.
CREATE TABLE bot_events (
    project_id uuid NOT NULL,
    month date NOT NULL,
    events bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, month)
);
