-- Person deletion (issue 17, docs/privacy.md). A request lives in the control database
-- until the project's shard's workers have carried it out; its distinct ids are cleared
-- when it is done. A tombstone in the project's shard keeps each deleted person out for
-- good (events still in flight, SDK retries, replays), keyed by a SHA-256 of the distinct
-- id so that no personal id is kept.
CREATE TABLE person_deletions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    distinct_ids  text[] NOT NULL,
    requested_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done')),
    events        bigint NOT NULL DEFAULT 0,    -- raw events deleted
    lease_until   timestamptz,                  -- a worker carries it out until then
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX person_deletions_open ON person_deletions (created_at) WHERE status <> 'done';

CREATE TABLE person_tombstones (
    project_id   uuid NOT NULL,
    person       bytea NOT NULL,               -- sha256 of the distinct id (UTF-8)
    deletion_id  uuid NOT NULL,
    events       bigint NOT NULL DEFAULT 0,    -- raw events deleted of this person
    deleted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, person)
);
