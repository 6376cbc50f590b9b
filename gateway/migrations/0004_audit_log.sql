-- The audit log: every successful change made by a staff member (through the console) or an
-- API token (the admin API), with what it changed. Written by the gateway (gateway.audit),
-- read by admins at /api/v1/audit-log, removed after AUDIT_RETENTION_DAYS.
CREATE TABLE audit_log (
    id           bigserial   PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_kind   text        NOT NULL CHECK (actor_kind IN ('staff', 'api_token')),
    actor_id     text        NOT NULL,
    -- The staff member's email or the token's name, as they were at the time.
    actor_name   text        NOT NULL,
    via          text        NOT NULL CHECK (via IN ('console', 'api')),
    method       text        NOT NULL,
    -- The route table's template; with the method it is the action.
    template     text        NOT NULL,
    path         text        NOT NULL,
    -- The values of the template's parameters, in its order (a promotion code, an id...).
    target       text[]      NOT NULL DEFAULT '{}',
    status       smallint    NOT NULL,
    -- Request body, the resource before the change and the answer, secrets redacted.
    request_body jsonb,
    before       jsonb,
    after        jsonb,
    request_id   text        NOT NULL
);

-- Newest first under each filter of the listing; the unfiltered listing walks the primary
-- key backwards.
CREATE INDEX audit_log_actor ON audit_log (actor_name, id);
CREATE INDEX audit_log_action ON audit_log (template, method, id);
CREATE INDEX audit_log_target ON audit_log USING gin (target);
-- since/until, and retention's batches in time order (coupon_core.retention).
CREATE INDEX audit_log_at ON audit_log (at);
