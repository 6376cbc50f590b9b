"""SQL of the redemption ledger. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from coupon_core import events, keyspace
from coupon_core.db import Connection

from redemption_service.domain.models import Redemption

SERVICE = "redemption"  # the event stream this service produces
STREAM = keyspace.event_stream(SERVICE)


@dataclass(frozen=True, slots=True)
class NewRedemption:
    code: str
    group_ref: str
    customer_id: str
    amount: Decimal
    coupon_value: Decimal
    transaction_number: str
    custom_fields: list[dict[str, str]]


_ROWS = """
    INSERT INTO redemptions
        (code, group_ref, customer_id, amount, coupon_value, transaction_number, custom_fields)
    SELECT c, g, cu, a, v, t, f::jsonb
    FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::text[],
                $7::text[]) AS u(c, g, cu, a, v, t, f)
    RETURNING id, code, group_ref, customer_id, amount, coupon_value, redeemed_at
"""
_EVENTS = f"""
    INSERT INTO outbox (stream, event_type, payload)
    SELECT '{STREAM}', 'coupon.redeemed', jsonb_build_object(
        'redemptionId', id::text, 'code', code, 'group', group_ref, 'customerId', customer_id,
        'amount', amount, 'couponValue', coupon_value, 'redeemedAt', redeemed_at)
    FROM ins
"""

_INSERT = f"""
WITH ins AS ({_ROWS}), events AS ({_EVENTS})
SELECT id, code FROM ins
"""

# One autocommitted statement that takes over the groups' session-level shared locks
# ($8, group keys): "held" takes them at transaction level (kept until this statement's
# commit) before any row is written, "released" drops the session-level ones only once
# every row is (it reads all of "ins", which reads "held"). The ids are drawn in "src", so
# each comes back with its row's position: one statement may carry many requests' rows,
# the same code among them.
_INSERT_HANDING_OVER = f"""
WITH held AS (
    SELECT count(pg_advisory_xact_lock_shared(k)) AS n FROM unnest($8::bigint[]) AS k
), src AS (
    SELECT nextval('redemptions_id_seq') AS id, u.*
    FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::text[],
                $7::text[]) WITH ORDINALITY AS u(c, g, cu, a, v, t, f, n), held
), ins AS (
    INSERT INTO redemptions (id, code, group_ref, customer_id, amount, coupon_value,
                             transaction_number, custom_fields)
    SELECT id, c, g, cu, a, v, t, f::jsonb FROM src
    RETURNING id, code, group_ref, customer_id, amount, coupon_value, redeemed_at
), events AS ({_EVENTS}), released AS (
    SELECT count(*) FILTER (WHERE pg_advisory_unlock_shared(k)) AS n
    FROM unnest($8::bigint[]) AS k, (SELECT count(*) FROM ins) AS written
)
SELECT src.id, released.n AS released FROM src, released ORDER BY src.n
"""


def _columns(rows: Sequence[NewRedemption]) -> list[list[Any]]:
    return [
        [r.code for r in rows],
        [r.group_ref for r in rows],
        [r.customer_id for r in rows],
        [r.amount for r in rows],
        [r.coupon_value for r in rows],
        [r.transaction_number for r in rows],
        [orjson.dumps(r.custom_fields).decode() for r in rows],
    ]


async def insert(conn: Connection, rows: Sequence[NewRedemption]) -> dict[str, int]:
    """Record redemptions and their ``coupon.redeemed`` events in the caller's transaction;
    ``{code: redemption id}`` (codes are unique within one request)."""
    records = await conn.fetch(_INSERT, *_columns(rows))
    return {rec["code"]: rec["id"] for rec in records}


async def insert_handing_over(
    conn: Connection, rows: Sequence[NewRedemption], lock_keys: Sequence[int]
) -> tuple[list[int], bool]:
    """:func:`insert` as one autocommitted statement, outside any transaction, that hands
    the session-level shared locks of ``lock_keys`` over to its own transaction (see
    ``db/locks.py``). Returns the ids in the order of ``rows``, and whether every
    session-level lock was released."""
    records = await conn.fetch(_INSERT_HANDING_OVER, *_columns(rows), list(lock_keys))
    released = bool(records) and records[0]["released"] == len(lock_keys)
    return [rec["id"] for rec in records], released


async def live_uses(conn: Connection, group: str) -> list[tuple[str, str, int]]:
    """``(code, customer_id, count)`` of the group's live (not reversed) redemptions."""
    rows = await conn.fetch(
        "SELECT code, customer_id, count(*) AS n FROM redemptions "
        "WHERE group_ref = $1 AND reversed_at IS NULL GROUP BY code, customer_id",
        group,
    )
    return [(r["code"], r["customer_id"], int(r["n"])) for r in rows]


async def groups(conn: Connection) -> list[str]:
    rows = await conn.fetch("SELECT DISTINCT group_ref FROM redemptions")
    return [r["group_ref"] for r in rows]


_COLUMNS = (
    "id, code, group_ref, customer_id, amount, coupon_value, redeemed_at, reversed_at, "
    "reversal_reason"
)


async def get(
    conn: Connection, redemption_id: int, *, for_update: bool = False
) -> Redemption | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM redemptions WHERE id = $1{lock}", redemption_id
    )
    return Redemption(**dict(row)) if row is not None else None


async def reverse(conn: Connection, redemption: Redemption, reason: str | None) -> Redemption:
    """Mark a live redemption reversed and record its ``coupon.redemption_reversed`` event."""
    row = await conn.fetchrow(
        f"UPDATE redemptions SET reversed_at = now(), reversal_reason = $2 WHERE id = $1 "
        f"RETURNING {_COLUMNS}",
        redemption.id,
        reason,
    )
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
