-- Deployed configs (every version kept; a rollback is a new version) and the transactional
-- outbox the control plane's relay publishes to the `control` topic.
CREATE TABLE project_configs (
    project_id       uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    version          integer NOT NULL CHECK (version >= 1),
    config           jsonb NOT NULL,
    deployed_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    rolled_back_from integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, version)
);

CREATE TABLE control_outbox (
    id           bigserial PRIMARY KEY,
    message_key  bytea NOT NULL,
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

CREATE INDEX control_outbox_pending_idx ON control_outbox (id) WHERE published_at IS NULL;
