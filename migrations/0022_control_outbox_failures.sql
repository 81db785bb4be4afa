-- A record Kafka refuses for its content (too large, invalid) is marked failed rather than
-- retried forever, so it never holds back the entries behind it; each config version
-- points at its outbox entry, so a deploy's publishing status can be shown.
ALTER TABLE control_outbox ADD COLUMN failed_at timestamptz, ADD COLUMN failure text;

DROP INDEX control_outbox_pending_idx;
CREATE INDEX control_outbox_pending_idx ON control_outbox (id)
    WHERE published_at IS NULL AND failed_at IS NULL;

ALTER TABLE project_configs ADD COLUMN outbox_id bigint;

-- Versions deployed before this migration: their entry is the one carrying their version.
UPDATE project_configs c SET outbox_id = o.id
FROM control_outbox o
WHERE convert_from(o.payload, 'UTF8')::jsonb ->> 'projectId' = c.project_id::text
  AND (convert_from(o.payload, 'UTF8')::jsonb ->> 'version')::integer = c.version;
