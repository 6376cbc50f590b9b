-- API tokens (server to server) with endpoint whitelists, users and their tokens.
CREATE TABLE api_tokens (
    id           bigserial   PRIMARY KEY,
    name         text        NOT NULL UNIQUE,
    secret_hash  text        NOT NULL UNIQUE,
    whitelist    text[]      NOT NULL DEFAULT '{}',
    rate_limit   integer     CHECK (rate_limit IS NULL OR rate_limit > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE TABLE users (
    id            bigserial   PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    first_name    text,
    last_name     text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_tokens (
    id          bigserial   PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX user_tokens_user ON user_tokens (user_id);
