"""Events to deliver and their deliveries: SQL and the repository (tables ``webhook_events``,
``webhook_deliveries``, ``webhook_attempts``; endpoint health in ``webhook_endpoints``).

A delivery is held by one deliverer at a time through its claim: the claim statement takes
due deliveries (``FOR UPDATE SKIP LOCKED``), pushes their ``next_attempt_at`` to the end of
a lease, counts the attempt and stamps ``last_attempt_at`` with the claim's time; it commits
at once. Another replica sees them as not due until the lease ends, so a dead replica's
claims come back then. An outcome is recorded only where ``attempts``, ``last_attempt_at``
and ``next_attempt_at`` still are what its claim wrote: a finisher whose claim lapsed and
was taken again, or whose outcome is already recorded, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from coupon_core.db import Connection

from webhook_service.domain.bodies import WebhookEvent

# Delivered, or given up after its retry window: nothing more is attempted unless redelivered.
FINISHED = ("delivered", "failed")


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: int
    endpoint_id: int
    event_id: str
    event_type: str
    body: bytes
    occurred_at: datetime
    url: str
    secrets: tuple[str, ...]  # the current secret, then the previous one in its grace period
    attempts: int  # this attempt's number
    claimed_at: datetime  # the database's time of the claim
    lease_ends_at: datetime  # with attempts and claimed_at, what tells this claim's own
    previous_attempt_at: datetime | None  # last_attempt_at before the claim (a release restores it)
    first_attempt_at: datetime | None  # None: this is the first attempt


@dataclass(frozen=True, slots=True)
class Finished:
    """The outcome of a claimed attempt, and what becomes of the delivery."""

    claim: Claim
    attempted_at: datetime
    outcome: str  # delivered | http_error | timeout | refused | network_error
    http_status: int | None
    latency_ms: float
    response_head: str
    error: str | None
    status: str  # delivered | pending (tried again at next_attempt_at) | failed (given up)
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class Disabled:
    endpoint_id: int
    url: str
    failing_since: datetime | None
    disabled_at: datetime


def _count(status: str) -> int:
    """The row count of an ``INSERT 0 n`` or ``UPDATE n`` command status."""
    return int(status.rsplit(" ", 1)[-1])


# The events that some enabled endpoint subscribes to are stored, with one delivery per such
# endpoint; an event stored before (a replay) gets nothing new.
_INSERT_EVENTS = """
WITH incoming AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::timestamptz[])
        AS i(id, type, body, occurred_at)
), targets AS (
    SELECT i.id AS event_id, e.id AS endpoint_id
    FROM incoming i
    JOIN webhook_endpoints e ON e.enabled AND (i.type = ANY (e.events) OR '*' = ANY (e.events))
), stored AS (
    INSERT INTO webhook_events (id, type, body, occurred_at)
    SELECT i.id, i.type, i.body, i.occurred_at FROM incoming i
    WHERE EXISTS (SELECT 1 FROM targets t WHERE t.event_id = i.id)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
INSERT INTO webhook_deliveries (endpoint_id, event_id)
SELECT t.endpoint_id, t.event_id FROM targets t JOIN stored s ON s.id = t.event_id
ON CONFLICT DO NOTHING
"""


async def insert_events(conn: Connection, events: Sequence[WebhookEvent]) -> int:
    """Store ``events`` with a delivery to every enabled endpoint subscribed to each, in one
    statement; how many deliveries were queued."""
    if not events:
        return 0
    status = await conn.execute(
        _INSERT_EVENTS,
        [event.id for event in events],
        [event.type for event in events],
        [event.body for event in events],
        [event.occurred_at for event in events],
    )
    return _count(status)


_INSERT_FOR_ENDPOINT = """
WITH stored AS (
    INSERT INTO webhook_events (id, type, body, occurred_at)
    SELECT $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1)
    RETURNING id
)
INSERT INTO webhook_deliveries (endpoint_id, event_id) SELECT $1, id FROM stored
"""


async def insert_event_for(conn: Connection, event: WebhookEvent, endpoint_id: int) -> bool:
    """Store ``event`` with a delivery to that endpoint only; False when there is no such
    endpoint (nothing stored)."""
    status = await conn.execute(
        _INSERT_FOR_ENDPOINT, endpoint_id, event.id, event.type, event.body, event.occurred_at
    )
    return _count(status) == 1


# Endpoints in turn, starting after the one the previous claim ended with; of each, its
# deliveries due first (index webhook_deliveries_due), at most $3 of them.
_CLAIM = """
WITH candidates AS MATERIALIZED (
    SELECT id FROM webhook_endpoints
    WHERE enabled AND id <> ALL ($4::bigint[])
    ORDER BY id <= $5, id
), due AS (
    SELECT d.id, d.last_attempt_at
    FROM candidates c
    CROSS JOIN LATERAL (
        SELECT d.id, d.last_attempt_at FROM webhook_deliveries d
        WHERE d.endpoint_id = c.id AND d.status = 'pending' AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    ) d
    LIMIT $1
), claimed AS (
    UPDATE webhook_deliveries d
    SET attempts = d.attempts + 1, next_attempt_at = now() + $2::interval, last_attempt_at = now()
    FROM due
    WHERE d.id = due.id
    RETURNING d.id, d.endpoint_id, d.event_id, d.attempts, d.first_attempt_at,
        d.last_attempt_at AS claimed_at, d.next_attempt_at AS lease_ends_at,
        due.last_attempt_at AS previous_attempt_at
)
SELECT c.id, c.endpoint_id, c.event_id, c.attempts, c.first_attempt_at, c.claimed_at,
    c.lease_ends_at, c.previous_attempt_at, ev.type, ev.body, ev.occurred_at, e.url, e.secret,
    CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret
FROM claimed c
JOIN webhook_events ev ON ev.id = c.event_id
JOIN webhook_endpoints e ON e.id = c.endpoint_id
ORDER BY c.id
"""


async def claim(
    conn: Connection,
    *,
    limit: int,
    per_endpoint: int,
    lease: timedelta,
    busy: Sequence[int] = (),
    after_endpoint: int = 0,
) -> list[Claim]:
    """Take up to ``limit`` due deliveries of enabled endpoints, at most ``per_endpoint``
    of each and none of the ``busy`` ones, for ``lease``; the claim commits with the
    statement (call it outside a transaction). Endpoints take turns: those after
    ``after_endpoint`` (the last one served) come first."""
    rows = await conn.fetch(_CLAIM, limit, lease, per_endpoint, list(busy), after_endpoint)
    return [
        Claim(
            delivery_id=row["id"],
            endpoint_id=row["endpoint_id"],
            event_id=row["event_id"],
            event_type=row["type"],
            body=bytes(row["body"]),
            occurred_at=row["occurred_at"],
            url=row["url"],
            secrets=tuple(s for s in (row["secret"], row["previous_secret"]) if s),
            attempts=row["attempts"],
            claimed_at=row["claimed_at"],
            lease_ends_at=row["lease_ends_at"],
            previous_attempt_at=row["previous_attempt_at"],
            first_attempt_at=row["first_attempt_at"],
        )
        for row in rows
    ]


# One statement for a batch of outcomes: the deliveries still held by the claim recorded,
# their attempts logged, the health of their endpoints updated (a success clears
# failing_since, a failure after the batch's last success sets it unless already set), and
# the endpoints failing for longer than $12 named (they are to be disabled).
_RECORD = """
WITH o AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::timestamptz[],
        $5::text[], $6::int[], $7::float8[], $8::text[], $9::text[], $10::text[],
        $11::timestamptz[], $13::timestamptz[])
        AS o(delivery_id, attempts, claimed_at, attempted_at, outcome, http_status,
            latency_ms, response_head, error, status, next_attempt_at, lease_ends_at)
), finished AS (
    UPDATE webhook_deliveries d
    SET status = o.status,
        next_attempt_at = coalesce(o.next_attempt_at, d.next_attempt_at),
        first_attempt_at = coalesce(d.first_attempt_at, o.claimed_at)
    FROM o
    WHERE d.id = o.delivery_id AND d.attempts = o.attempts AND d.status = 'pending'
        AND d.last_attempt_at = o.claimed_at AND d.next_attempt_at = o.lease_ends_at
    RETURNING d.id, d.endpoint_id, d.event_id
), logged AS (
    INSERT INTO webhook_attempts (delivery_id, endpoint_id, event_id, attempted_at, outcome,
        http_status, latency_ms, response_head, error)
    SELECT f.id, f.endpoint_id, f.event_id, o.attempted_at, o.outcome, o.http_status,
        o.latency_ms, o.response_head, o.error
    FROM finished f JOIN o ON o.delivery_id = f.id
), results AS (
    SELECT f.endpoint_id, o.outcome = 'delivered' AS ok, o.attempted_at
    FROM finished f JOIN o ON o.delivery_id = f.id
), last_success AS (
    SELECT endpoint_id, max(attempted_at) FILTER (WHERE ok) AS at
    FROM results GROUP BY endpoint_id
), health AS (
    SELECT s.endpoint_id, s.at AS last_ok,
        min(r.attempted_at) FILTER (WHERE NOT r.ok AND (s.at IS NULL OR r.attempted_at > s.at))
            AS failing_from
    FROM last_success s JOIN results r USING (endpoint_id)
    GROUP BY s.endpoint_id, s.at
), changed AS (
    SELECT e.id, e.enabled, h.failing_from IS NOT NULL AS failed,
        CASE WHEN h.last_ok IS NOT NULL THEN h.failing_from
            ELSE coalesce(e.failing_since, h.failing_from) END AS failing_since
    FROM health h JOIN webhook_endpoints e ON e.id = h.endpoint_id
), updated AS (
    UPDATE webhook_endpoints e SET failing_since = c.failing_since
    FROM changed c
    WHERE e.id = c.id AND e.failing_since IS DISTINCT FROM c.failing_since
)
SELECT (SELECT count(*) FROM finished) AS recorded,
    array(SELECT id FROM changed
        WHERE failed AND enabled AND failing_since <= now() - $12::interval ORDER BY id)
        AS failing_too_long
"""


async def record(
    conn: Connection, batch: Sequence[Finished], *, disable_after: timedelta
) -> tuple[int, list[int]]:
    """Record ``batch`` (outcomes whose claim lapsed are left out); how many were
    recorded, and the endpoints that failed for ``disable_after`` and are still enabled."""
    row = await conn.fetchrow(
        _RECORD,
        [f.claim.delivery_id for f in batch],
        [f.claim.attempts for f in batch],
        [f.claim.claimed_at for f in batch],
        [f.attempted_at for f in batch],
        [f.outcome for f in batch],
        [f.http_status for f in batch],
        [f.latency_ms for f in batch],
        [f.response_head for f in batch],
        [f.error for f in batch],
        [f.status for f in batch],
        [f.next_attempt_at for f in batch],
        disable_after,
        [f.claim.lease_ends_at for f in batch],
    )
    assert row is not None
    return int(row["recorded"]), list(row["failing_too_long"])


_RELEASE = """
UPDATE webhook_deliveries d
SET attempts = d.attempts - 1, next_attempt_at = now(), last_attempt_at = r.previous
FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::timestamptz[],
    $5::timestamptz[]) AS r(id, attempts, claimed_at, previous, lease_ends_at)
WHERE d.id = r.id AND d.attempts = r.attempts AND d.status = 'pending'
    AND d.last_attempt_at = r.claimed_at AND d.next_attempt_at = r.lease_ends_at
"""


async def release(conn: Connection, claims: Sequence[Claim]) -> int:
    """Give back claims that were never attempted: due again at once, as if not taken."""
    if not claims:
        return 0
    status = await conn.execute(
        _RELEASE,
        [c.delivery_id for c in claims],
        [c.attempts for c in claims],
        [c.claimed_at for c in claims],
        [c.previous_attempt_at for c in claims],
        [c.lease_ends_at for c in claims],
    )
    return _count(status)


async def disable(conn: Connection, endpoint_ids: Sequence[int], *, reason: str) -> list[Disabled]:
    """Disable those of the endpoints still enabled; what was disabled."""
    rows = await conn.fetch(
        "UPDATE webhook_endpoints SET enabled = false, disabled_at = now(), "
        "disabled_reason = $2, updated_at = now() "
        "WHERE id = ANY ($1::bigint[]) AND enabled "
        "RETURNING id, url, failing_since, disabled_at",
        list(endpoint_ids),
        reason,
    )
    return [
        Disabled(
            endpoint_id=row["id"],
            url=row["url"],
            failing_since=row["failing_since"],
            disabled_at=row["disabled_at"],
        )
        for row in rows
    ]


# A pending delivery due later than this is not held by a claim (a lease is shorter:
# WEBHOOK_TIMEOUT_S is at most 60 s): it may be brought forward without racing an attempt.
NOT_CLAIMED_AFTER = timedelta(minutes=5)
# Queued afresh: due now, with a new retry window. attempts restarts; the claim token
# (last_attempt_at) keeps a finisher of an earlier claim from matching a later one.
_AFRESH = "status = 'pending', attempts = 0, next_attempt_at = now(), first_attempt_at = NULL"
_REQUEUE_EVENT = f"""
INSERT INTO webhook_deliveries (endpoint_id, event_id)
SELECT $1, ev.id FROM webhook_events ev
WHERE ev.id = $2 AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1)
ON CONFLICT (endpoint_id, event_id) DO UPDATE SET {_AFRESH}
WHERE webhook_deliveries.status <> 'pending'
    OR webhook_deliveries.next_attempt_at > now() + $3::interval
"""
_PENDING = (
    "SELECT count(*) FROM webhook_deliveries "
    "WHERE endpoint_id = $1 AND event_id = $2 AND status = 'pending'"
)


async def requeue_event(conn: Connection, endpoint_id: int, event_id: str) -> int:
    """Queue the event's delivery to the endpoint afresh (made if the endpoint had none);
    1 when it is queued (or already was), 0 when there is no such event (any more)."""
    if _count(await conn.execute(_REQUEUE_EVENT, endpoint_id, event_id, NOT_CLAIMED_AFTER)):
        return 1
    return int(await conn.fetchval(_PENDING, endpoint_id, event_id))


_REQUEUE_SINCE = f"""
UPDATE webhook_deliveries SET {_AFRESH}
WHERE endpoint_id = $1 AND status = $2 AND created_at >= $3
    AND (status <> 'pending' OR next_attempt_at > now() + $4::interval)
"""


async def requeue_since(conn: Connection, endpoint_id: int, since: datetime, status: str) -> int:
    """Queue afresh the endpoint's deliveries in ``status`` created since ``since``
    (pending ones: those waiting for a later retry, brought forward); how many."""
    return _count(await conn.execute(_REQUEUE_SINCE, endpoint_id, status, since, NOT_CLAIMED_AFTER))


_GAUGES = """
SELECT
    (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS pending,
    (SELECT count(*) FROM webhook_deliveries
        WHERE status = 'pending' AND first_attempt_at IS NOT NULL) AS retrying,
    (SELECT count(*) FROM webhook_endpoints WHERE NOT enabled) AS disabled
"""


async def gauges(conn: Connection) -> tuple[int, int, int]:
    """Pending deliveries, those of them that failed at least once, disabled endpoints."""
    row = await conn.fetchrow(_GAUGES, timeout=2.0)
    assert row is not None
    return int(row["pending"]), int(row["retrying"]), int(row["disabled"])
