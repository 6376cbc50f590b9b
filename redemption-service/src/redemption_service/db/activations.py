"""SQL of activations and the subscriptions they grant. Callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from coupon_core.db import Connection
from coupon_core.errors import Refusal


class AlreadyActivated(Refusal):
    """A refusal: an Idempotency-Key replays it."""

    status = 400
    code = "coupon_already_used"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    user_id: str
    subscription_type_id: int
    subscription_type_name: str
    start_time: datetime
    end_time: datetime
    activation_id: int
    user_email: str | None  # the user's at activation (None: activated before it was kept)


async def insert_activation(conn: Connection, *, code: str, group_ref: str, user_id: str) -> int:
    try:
        activation_id: int = await conn.fetchval(
            "INSERT INTO activations (code, group_ref, user_id) VALUES ($1, $2, $3) RETURNING id",
            code,
            group_ref,
            user_id,
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyActivated("This coupon was already used.") from None
    return activation_id


async def lock_user_type(conn: Connection, user_id: str, type_id: int) -> None:
    """Serialises activations of one user and subscription type (their start times chain)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 1))", f"sub:{user_id}:{type_id}"
    )


async def latest_end(conn: Connection, user_id: str, type_id: int) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT max(end_time) FROM subscriptions WHERE user_id = $1 AND subscription_type_id = $2",
        user_id,
        type_id,
    )
    return value


_COLUMNS = (
    "id, user_id, subscription_type_id, subscription_type_name, start_time, end_time, "
    "activation_id, user_email"
)


async def insert_subscription(
    conn: Connection,
    *,
    user_id: str,
    user_email: str | None,
    type_id: int,
    type_name: str,
    start: datetime,
    end: datetime,
    activation_id: int,
) -> Subscription:
    row = await conn.fetchrow(
        "INSERT INTO subscriptions (user_id, subscription_type_id, subscription_type_name, "
        "start_time, end_time, activation_id, user_email) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        f"RETURNING {_COLUMNS}",
        user_id,
        type_id,
        type_name,
        start,
        end,
        activation_id,
        user_email,
    )
    assert row is not None
    return Subscription(**dict(row))


async def of_user(conn: Connection, user_id: str) -> list[Subscription]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM subscriptions WHERE user_id = $1 ORDER BY start_time, id", user_id
    )
    return [Subscription(**dict(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class Granted:
    """A subscription with the activation that granted it."""

    subscription: Subscription
    code: str
    group_ref: str
    activated_at: datetime


_GRANTED_COLUMNS = ", ".join("s." + c.strip() for c in _COLUMNS.split(","))


def _granted_where(user_id: str | None, email: str | None) -> tuple[str, list[str]]:
    """The condition on a user's id, email at activation, or both (composed from constant
    parts, so that each form is planned for its index: subscriptions_by_user or
    subscriptions_by_email) and its arguments."""
    where, args = [], []
    if user_id is not None:
        args.append(user_id)
        where.append(f"s.user_id = ${len(args)}")
    if email is not None:
        args.append(email)
        where.append(f"lower(s.user_email) = lower(${len(args)})")
    return " AND ".join(where) or "true", args


async def granted(
    conn: Connection, *, user_id: str | None, email: str | None, offset: int, limit: int
) -> tuple[int, list[Granted]]:
    """How many subscriptions a user has (by id, email or both) and up to ``limit`` of
    them after ``offset``, the latest first."""
    where, args = _granted_where(user_id, email)
    total: int = await conn.fetchval(
        f"SELECT count(*) FROM subscriptions AS s WHERE {where}", *args
    )
    n = len(args)
    rows = await conn.fetch(
        f"SELECT {_GRANTED_COLUMNS}, a.code, a.group_ref, a.activated_at "
        "FROM subscriptions AS s JOIN activations AS a ON a.id = s.activation_id "
        f"WHERE {where} ORDER BY s.id DESC LIMIT ${n + 1} OFFSET ${n + 2}",
        *args,
        limit,
        offset,
    )
    found = []
    for row in rows:
        values = dict(row)
        extra = {k: values.pop(k) for k in ("code", "group_ref", "activated_at")}
        found.append(Granted(subscription=Subscription(**values), **extra))
    return total, found
