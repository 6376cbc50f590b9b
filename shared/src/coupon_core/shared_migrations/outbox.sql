-- Transactional outbox: domain events are written in the same transaction as the change
-- they describe, then relayed to Redis Streams. Consumers record what they processed.
CREATE TABLE outbox (
    id           bigserial   PRIMARY KEY,
    stream       text        NOT NULL,
    event_type   text        NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
