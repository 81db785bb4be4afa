-- Operators: who may change plans and limits and read the ops view. Granted and revoked
-- only from the server's command line (python -m control_plane operators grant EMAIL),
-- never through the API, so no account can make itself one.
CREATE TABLE operators (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    granted_at timestamptz NOT NULL DEFAULT now()
);

-- Every plan change, who made it and when (operators answer for them).
CREATE TABLE plan_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    from_plan   text,
    to_plan     text NOT NULL,
    changed_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX plan_changes_project_idx ON plan_changes (project_id, changed_at);
