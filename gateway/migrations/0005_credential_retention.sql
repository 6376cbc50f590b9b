-- Retention of credentials that are over (SPEC section 9; gateway/workers/retention.py):
-- user tokens a day past their expiry, staff sessions once older than the absolute limit.
-- Each job reads its table in the order of one of these indexes.
CREATE INDEX user_tokens_expiry ON user_tokens (expires_at);
CREATE INDEX staff_sessions_created ON staff_sessions (created_at);
