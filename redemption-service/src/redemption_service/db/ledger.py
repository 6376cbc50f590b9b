"""SQL of the redemption ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg
import orjson
from coupon_core import events, redis_keys
from coupon_core.db import Connection, mark_session_state
from coupon_core.idempotency import Answer

from redemption_service.db import locks
from redemption_service.domain.models import Redemption

SERVICE = "redemption"  # the event stream this service produces
STREAM = redis_keys.event_stream(SERVICE)


@dataclass(frozen=True, slots=True)
class NewRedemption:
    id: int  # drawn beforehand with :func:`lock_and_reserve`
    code: str
    group_ref: str
    customer_id: str
    amount: Decimal
    coupon_value: Decimal
    transaction_number: str
    custom_fields: list[dict[str, str]]
    # The limit.reached payloads of this use (events.limit_reached), written with the row.
    limits_reached: Sequence[dict[str, object]] = ()


# The session-level shared locks of the groups ($1, keys in sorted order: the scan of the
# array takes them in that order), then $2 redemption ids drawn from the ledger's sequence,
# so that a redeem knows its ids (and so its response) before its rows are written.
_LOCK_AND_RESERVE = """
SELECT ids.id FROM (
    SELECT count(pg_advisory_lock_shared(k)) AS n FROM unnest($1::bigint[]) AS k
) AS locked LEFT JOIN LATERAL (
    SELECT nextval('redemptions_id_seq') AS id FROM generate_series(1, $2::int)
) AS ids ON true
"""

# One statement that writes redemptions, their coupon.redeemed outbox events, the
# limit.reached events their uses make ($14, payloads stamped with the statement's time,
# after the coupon.redeemed ones) and the Idempotency-Key answers that go with them
# ("done": coupon_core.idempotency.store for a batch), committed together. Given the groups'
# session-level shared locks ($13, keys), it takes them over: "held" takes them at
# transaction level (kept until this statement's commit) before any row is written, and
# "released" drops the session-level ones only once every row is (it reads all of "ins",
# which reads "held"). With no keys it only writes.
_WRITE = f"""
WITH held AS (
    SELECT count(pg_advisory_xact_lock_shared(k)) AS n FROM unnest($13::bigint[]) AS k
), src AS (
    SELECT u.* FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::numeric[],
                           $6::numeric[], $7::text[], $8::text[])
        AS u(id, c, g, cu, a, v, t, f), held
), ins AS (
    INSERT INTO redemptions (id, code, group_ref, customer_id, amount, coupon_value,
                             transaction_number, custom_fields)
    SELECT id, c, g, cu, a, v, t, f::jsonb FROM src
    RETURNING id, code, group_ref, customer_id, amount, coupon_value, transaction_number,
              redeemed_at
), events AS (
    INSERT INTO outbox (stream, event_type, payload)
    SELECT '{STREAM}', e.event_type, e.payload FROM (
        SELECT 0 AS part, id AS n, 'coupon.redeemed' AS event_type, jsonb_build_object(
            'redemptionId', id::text, 'code', code, 'group', group_ref,
            'customerId', customer_id, 'amount', amount, 'couponValue', coupon_value,
            'transactionNumber', nullif(transaction_number, ''), 'redeemedAt', redeemed_at
        ) AS payload FROM ins
        UNION ALL
        SELECT 1, r.n, '{events.LIMIT_REACHED}',
               r.p::jsonb || jsonb_build_object('reachedAt', now())
        FROM unnest($14::text[]) WITH ORDINALITY AS r(p, n)
    ) AS e ORDER BY e.part, e.n
), done AS (
    UPDATE idempotency_keys k
    SET status = d.status, body = d.body::jsonb, completed_at = now()
    FROM unnest($9::text[], $10::text[], $11::int[], $12::text[]) AS d(scope, key, status, body)
    WHERE k.scope = d.scope AND k.key = d.key
    RETURNING 1
), released AS (
    SELECT count(*) FILTER (WHERE pg_advisory_unlock_shared(k)) AS n
    FROM unnest($13::bigint[]) AS k, (SELECT count(*) FROM ins) AS written,
         (SELECT count(*) FROM done) AS completed
)
SELECT n FROM released
"""


async def lock_and_reserve(
    conn: Connection, groups: Iterable[str], count: int
) -> tuple[list[int], list[int]]:
    """Session-level shared locks of ``groups`` (see ``db/locks.py``) and ``count`` new
    redemption ids, in one statement; the lock keys (for :func:`write`, which releases
    them) and the ids. The connection is marked first, so the pool resets it if the locks
    are never released."""
    keys = [locks.group_key(g) for g in sorted(groups)]
    mark_session_state(conn)
    records = await conn.fetch(_LOCK_AND_RESERVE, keys, count)
    return keys, [rec["id"] for rec in records if rec["id"] is not None]


async def write(
    conn: Connection,
    rows: Sequence[NewRedemption],
    answers: Sequence[Answer] = (),
    lock_keys: Sequence[int] = (),
) -> bool:
    """Write ``rows`` and ``answers`` in one autocommitted statement, outside any
    transaction, handing the session-level shared locks of ``lock_keys`` over to its own
    transaction; whether every one of them was released."""
    released = await conn.fetchval(
        _WRITE,
        [r.id for r in rows],
        [r.code for r in rows],
        [r.group_ref for r in rows],
        [r.customer_id for r in rows],
        [r.amount for r in rows],
        [r.coupon_value for r in rows],
        [r.transaction_number for r in rows],
        [orjson.dumps(r.custom_fields).decode() for r in rows],
        [a.scope for a in answers],
        [a.key for a in answers],
        [a.status for a in answers],
        [orjson.dumps(a.body).decode() for a in answers],
        list(lock_keys),
        [orjson.dumps(p).decode() for r in rows for p in r.limits_reached],
    )
    return bool(released == len(lock_keys))


# Live uses of a group: its attached live rows (through redemptions_live_by_group on each
# partition) plus what archived months left in redemption_rollups.
LIVE_USES = """
SELECT code, customer_id, sum(n)::bigint AS n FROM (
    SELECT code, customer_id, count(*) AS n FROM redemptions
    WHERE group_ref = $1 AND reversed_at IS NULL GROUP BY code, customer_id
    UNION ALL
    SELECT code, customer_id, uses FROM redemption_rollups WHERE group_ref = $1
) AS uses GROUP BY code, customer_id
"""


async def live_uses(conn: Connection, group: str) -> list[tuple[str, str, int]]:
    """``(code, customer_id, count)`` of the group's live (not reversed) redemptions, those
    of archived months included."""
    rows = await conn.fetch(LIVE_USES, group)
    return [(r["code"], r["customer_id"], int(r["n"])) for r in rows]


# Every counter of a group, each the sum of the uses LIVE_USES reads (one per live row, and
# the archived months' rollups), aggregated once: ``kind`` is GROUPING(code, customer_id),
# one of the kinds below.
COUNTER_VALUES = """
SELECT GROUPING(code, customer_id) AS kind, code, customer_id, sum(n)::bigint AS n FROM (
    SELECT code, customer_id, 1::bigint AS n FROM redemptions
    WHERE group_ref = $1 AND reversed_at IS NULL
    UNION ALL
    SELECT code, customer_id, uses FROM redemption_rollups WHERE group_ref = $1
) AS uses GROUP BY GROUPING SETS ((code, customer_id), (code), (customer_id), ())
"""
COUPON_BY_CUSTOMER, COUPON, CUSTOMER, TOTAL = 0, 1, 2, 3


async def counter_values(
    conn: Connection, group: str, *, chunk: int
) -> AsyncIterator[list[asyncpg.Record]]:
    """The rows of :data:`COUNTER_VALUES` for ``group``, ``chunk`` at a time, through a
    server-side cursor (inside the caller's transaction): PostgreSQL aggregates, and no
    more than one chunk is ever decoded at once."""
    cursor = await conn.cursor(COUNTER_VALUES, group)
    while rows := await cursor.fetch(chunk):
        yield rows


async def groups(conn: Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT group_ref FROM redemptions UNION SELECT group_ref FROM redemption_rollups"
    )
    return [r["group_ref"] for r in rows]


COLUMNS = (
    "id, code, group_ref, customer_id, amount, coupon_value, transaction_number, "
    "custom_fields, redeemed_at, reversed_at, reversal_reason"
)


GET_BY_ID = f"SELECT {COLUMNS} FROM redemptions WHERE id = $1"
# With redeemed_at known, the partition is known: one index probe, one partition locked.
_GET_IN_MONTH = GET_BY_ID + " AND redeemed_at = $2"
REVERSE = (
    "UPDATE redemptions SET reversed_at = now(), reversal_reason = $2 "
    f"WHERE id = $1 AND redeemed_at = $3 RETURNING {COLUMNS}"
)


async def get(
    conn: Connection,
    redemption_id: int,
    *,
    redeemed_at: datetime | None = None,
    for_update: bool = False,
) -> Redemption | None:
    """The redemption of an attached month; given its ``redeemed_at`` (from an earlier
    read) only its own partition is searched (and, ``for_update``, locked)."""
    lock = " FOR UPDATE" if for_update else ""
    if redeemed_at is None:
        row = await conn.fetchrow(GET_BY_ID + lock, redemption_id)
    else:
        row = await conn.fetchrow(_GET_IN_MONTH + lock, redemption_id, redeemed_at)
    return Redemption(**dict(row)) if row is not None else None


async def archived(conn: Connection, redemption_id: int) -> bool:
    """Whether ``redemption_id`` falls in the id range of an archived (detached) month."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM redemption_archives WHERE min_id <= $1 AND max_id >= $1)",
            redemption_id,
        )
    )


async def online_since(conn: Connection, online_months: int) -> datetime | None:
    """The start of the oldest month kept attached when ``online_months`` (> 0) months
    before the current one are (by the database's clock at the start of the transaction);
    None when every month is kept (0). Older redemptions are archived, or about to be."""
    if online_months <= 0:
        return None
    found: datetime = await conn.fetchval(
        "SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') "
        "- make_interval(months => $1)) AT TIME ZONE 'UTC'",
        online_months,
    )
    return found


async def reverse(conn: Connection, redemption: Redemption, reason: str | None) -> Redemption:
    """Mark a live redemption reversed and record its ``coupon.redemption_reversed`` event."""
    row = await conn.fetchrow(REVERSE, redemption.id, reason, redemption.redeemed_at)
    assert row is not None
    reversed_ = Redemption(**dict(row))
    await events.enqueue(
        conn,
        service=SERVICE,
        event_type="coupon.redemption_reversed",
        payload={
            "redemptionId": str(reversed_.id),
            "code": reversed_.code,
            "group": reversed_.group_ref,
            "customerId": reversed_.customer_id,
            "reversedAt": reversed_.reversed_at.isoformat(),
        },
    )
    return reversed_
