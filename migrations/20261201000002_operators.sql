-- Operators' accounts: who may steer and break the cluster. Passwords are
-- kept only as Argon2id hashes (PHC strings); names have one spelling
-- (app::rules::normalize_operator_name).
CREATE TABLE operators (
    name          TEXT PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
