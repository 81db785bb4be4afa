-- Plans, projects and their API keys (hashed at rest; the public key is found by its hash).
CREATE TABLE plans (
    name                  text PRIMARY KEY,
    monthly_event_limit   bigint NOT NULL CHECK (monthly_event_limit >= 0),
    rate_limit_per_window integer NOT NULL CHECK (rate_limit_per_window > 0)
);

INSERT INTO plans (name, monthly_event_limit, rate_limit_per_window) VALUES
    ('free', 10000, 1000),
    ('pro', 1000000, 1000),
    ('enterprise', 100000000, 5000);

CREATE TABLE projects (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug                text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$'),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    plan                text NOT NULL REFERENCES plans (name),
    monthly_event_limit bigint NOT NULL CHECK (monthly_event_limit >= 0),
    timezone            text NOT NULL DEFAULT 'UTC',
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('public', 'secret')),
    key_hash    bytea NOT NULL UNIQUE,
    key_hint    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE INDEX api_keys_project_idx ON api_keys (project_id);
