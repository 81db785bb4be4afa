-- Sign-up answers the same whether or not the email has an account, so an account is
-- usable only once its owner proves the address (a one-time code by mail); a password
-- reset proves it too. Accounts made before this change, or by other means, are confirmed.
ALTER TABLE users ADD COLUMN email_confirmed_at timestamptz DEFAULT now();

-- One-time codes sent by mail (SHA-256 at rest): confirm an address, reset a password.
CREATE TABLE account_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('confirm', 'reset')),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);
