-- Staff accounts of the console (separate from end users) and their sign-in sessions. A
-- role names a built-in whitelist (gateway/domain/roles.py). A session's secret is a "gst_"
-- token stored only as its keyed hash (HMAC-SHA256 under TOKEN_HASH_KEY); it ends when
-- revoked, unused for STAFF_SESSION_IDLE_MINUTES, or older than STAFF_SESSION_ABSOLUTE_HOURS.
CREATE TABLE staff (
    id              bigserial   PRIMARY KEY,
    email           text        NOT NULL,
    name            text,
    role            text        NOT NULL CHECK (role IN ('admin', 'marketer', 'support')),
    active          boolean     NOT NULL DEFAULT true,
    password_hash   text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz
);
-- One account per email, whatever its case.
CREATE UNIQUE INDEX staff_email ON staff (lower(email));

CREATE TABLE staff_sessions (
    id           bigserial   PRIMARY KEY,
    staff_id     bigint      NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    token_hash   text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    user_agent   text,
    address      text
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
