"""Webhook endpoints: SQL and the repository (table ``webhook_endpoints``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from coupon_core.db import Connection

_COLUMNS = (
    "id, url, events, description, enabled, secret, previous_secret, "
    "previous_secret_expires_at, failing_since, disabled_at, disabled_reason, "
    "created_at, updated_at"
)
# Why an endpoint a user disabled (PATCH enabled=false) is disabled.
DISABLED_BY_REQUEST = "disabled by request"


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


def _endpoint(row: asyncpg.Record) -> Endpoint:
    return Endpoint(**{**dict(row), "events": list(row["events"])})


async def create(
    conn: Connection,
    *,
    url: str,
    events: list[str],
    description: str,
    enabled: bool,
    secret: str,
) -> Endpoint:
    row = await conn.fetchrow(
        "INSERT INTO webhook_endpoints (url, events, description, enabled, secret, "
        "disabled_at, disabled_reason) "
        "VALUES ($1, $2, $3, $4, $5, CASE WHEN $4 THEN NULL ELSE now() END, "
        f"CASE WHEN $4 THEN NULL ELSE $6 END) RETURNING {_COLUMNS}",
        url,
        events,
        description,
        enabled,
        secret,
        DISABLED_BY_REQUEST,
    )
    assert row is not None
    return _endpoint(row)


async def get(conn: Connection, endpoint_id: int, *, for_update: bool = False) -> Endpoint | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE id = $1{lock}", endpoint_id
    )
    return _endpoint(row) if row else None


async def exists(conn: Connection, endpoint_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1)", endpoint_id
        )
    )


async def list_page(conn: Connection, *, after: int, limit: int) -> list[Endpoint]:
    """The endpoints after id ``after``, in id order, at most ``limit``."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE id > $1 ORDER BY id LIMIT $2",
        after,
        limit,
    )
    return [_endpoint(row) for row in rows]


# A field given as NULL stays as it is. Enabling a disabled endpoint starts it afresh (no
# failure streak, no disabled_*); disabling an enabled one records when and why.
_UPDATE = f"""
UPDATE webhook_endpoints SET
    url = COALESCE($2, url),
    events = COALESCE($3, events),
    description = COALESCE($4, description),
    enabled = COALESCE($5, enabled),
    failing_since = CASE WHEN $5 AND NOT enabled THEN NULL ELSE failing_since END,
    disabled_at = CASE WHEN $5 AND NOT enabled THEN NULL
                       WHEN NOT $5 AND enabled THEN now() ELSE disabled_at END,
    disabled_reason = CASE WHEN $5 AND NOT enabled THEN NULL
                           WHEN NOT $5 AND enabled THEN $6 ELSE disabled_reason END,
    updated_at = now()
WHERE id = $1
RETURNING {_COLUMNS}
"""


async def update(
    conn: Connection,
    endpoint_id: int,
    *,
    url: str | None,
    events: list[str] | None,
    description: str | None,
    enabled: bool | None,
) -> Endpoint | None:
    row = await conn.fetchrow(
        _UPDATE, endpoint_id, url, events, description, enabled, DISABLED_BY_REQUEST
    )
    return _endpoint(row) if row else None


async def delete(conn: Connection, endpoint_id: int) -> Endpoint | None:
    """Delete the endpoint; its deliveries and their attempts go with it (ON DELETE CASCADE)."""
    row = await conn.fetchrow(
        f"DELETE FROM webhook_endpoints WHERE id = $1 RETURNING {_COLUMNS}", endpoint_id
    )
    return _endpoint(row) if row else None


async def rotate_secret(
    conn: Connection, endpoint_id: int, *, secret: str, grace: timedelta
) -> Endpoint | None:
    """Sign with ``secret`` from now on; the current secret stays valid for ``grace`` (none
    when it is zero). A previous secret still in its grace period is dropped."""
    row = await conn.fetchrow(
        "UPDATE webhook_endpoints SET "
        "previous_secret = CASE WHEN $3 > interval '0' THEN secret END, "
        "previous_secret_expires_at = CASE WHEN $3 > interval '0' THEN now() + $3 END, "
        f"secret = $2, updated_at = now() WHERE id = $1 RETURNING {_COLUMNS}",
        endpoint_id,
        secret,
        grace,
    )
    return _endpoint(row) if row else None
