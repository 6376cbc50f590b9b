-- The user's email (the gateway principal's name) at activation, so that support can list
-- the subscriptions of a customer known by email (GET /api/v1/subscriptions). Rows written
-- before this migration, or by a replica of the previous release, have none.
ALTER TABLE subscriptions ADD COLUMN user_email text;
CREATE INDEX subscriptions_by_email ON subscriptions (lower(user_email));
