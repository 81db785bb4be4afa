-- Invitations to a project: a one-time code mailed to an address, accepted by whoever
-- holds an account with that (confirmed) address. Nobody is added to a project, nor an
-- account made, without that person's own step. Listed and revocable by owners.
CREATE TABLE project_invitations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    email       text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    role        text NOT NULL CHECK (role IN ('owner', 'member')),
    token_hash  bytea NOT NULL UNIQUE,
    invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at  timestamptz
);

-- At most one open invitation per project and address (a new one replaces it).
CREATE UNIQUE INDEX project_invitations_open_idx ON project_invitations (project_id, lower(email))
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
