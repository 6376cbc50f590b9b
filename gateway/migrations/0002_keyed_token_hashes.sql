-- Token secrets are stored as HMAC-SHA256 under TOKEN_HASH_KEY from now on. Rows stored
-- before hold the unkeyed SHA-256: they are marked here, found by it, and rewritten keyed on
-- their first use. New rows always name their scheme.
ALTER TABLE api_tokens
    ADD COLUMN hash_scheme text NOT NULL DEFAULT 'sha256'
        CHECK (hash_scheme IN ('sha256', 'hmac-sha256'));
ALTER TABLE api_tokens ALTER COLUMN hash_scheme DROP DEFAULT;

ALTER TABLE user_tokens
    ADD COLUMN hash_scheme text NOT NULL DEFAULT 'sha256'
        CHECK (hash_scheme IN ('sha256', 'hmac-sha256'));
ALTER TABLE user_tokens ALTER COLUMN hash_scheme DROP DEFAULT;
