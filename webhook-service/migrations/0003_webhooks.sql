-- Webhook endpoints, the events to deliver, one delivery per (endpoint, event) and the log
-- of every attempt (docs/webhooks.md).
CREATE TABLE webhook_endpoints (
    id bigserial PRIMARY KEY,
    url text NOT NULL,
    events text[] NOT NULL,
    description text NOT NULL DEFAULT '',
    enabled boolean NOT NULL DEFAULT true,
    secret text NOT NULL,
    -- Valid too until previous_secret_expires_at: a rotation's grace period.
    previous_secret text,
    previous_secret_expires_at timestamptz,
    -- The first failure since the last success; the endpoint is disabled once it is older
    -- than WEBHOOK_DISABLE_AFTER_H.
    failing_since timestamptz,
    disabled_at timestamptz,
    disabled_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_events (
    id text PRIMARY KEY,
    type text NOT NULL,
    -- The exact JSON bytes every delivery of the event sends (and signs).
    body bytea NOT NULL,
    occurred_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    endpoint_id bigint NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id text NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    -- pending | delivered | failed (retried for the whole retry window, then given up)
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts int NOT NULL DEFAULT 0,
    -- When the next attempt is due; while a replica holds the delivery, when its claim lapses.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    first_attempt_at timestamptz,
    last_attempt_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
-- A claim serves the enabled endpoints in turn, each from its deliveries due first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at)
    WHERE status = 'pending';
-- The API's pages of an endpoint's deliveries (newest first, by id), and redelivery by
-- status since a time.
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_endpoint_status ON webhook_deliveries (endpoint_id, status, created_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id bigint NOT NULL,
    event_id text NOT NULL,
    attempted_at timestamptz NOT NULL,
    -- delivered | http_error | timeout | refused | network_error
    outcome text NOT NULL,
    http_status int,
    latency_ms double precision NOT NULL,
    -- The first bytes of the response body, as text.
    response_head text NOT NULL DEFAULT '',
    error text
);
-- The attempt log's pages (newest first, by id).
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);
CREATE INDEX webhook_attempts_time ON webhook_attempts (attempted_at);
