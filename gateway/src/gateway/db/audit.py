"""The audit log: SQL and the repository (table ``audit_log``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from coupon_core import retention
from coupon_core.db import Connection

_FIELDS = (
    "actor_kind, actor_id, actor_name, via, method, template, path, target, status, "
    "request_body, before, after, request_id"
)
_COLUMNS = f"id, at, {_FIELDS}"
_INSERT = f"INSERT INTO audit_log ({_FIELDS}) VALUES ({', '.join(f'${n}' for n in range(1, 14))})"

# Retention (coupon_core.retention): $1 the batch size, $2 the retention.
DELETE_PAST = retention.delete_sql("audit_log", "at < now() - $2::interval", "at")
PAST_LAG = retention.lag_sql("audit_log", "at")


@dataclass(frozen=True, slots=True)
class Entry:
    """One change, as it is recorded."""

    actor_kind: str  # "staff" or "api_token"
    actor_id: str
    actor_name: str  # the staff member's email, the token's name
    via: str  # "console" or "api"
    method: str
    template: str
    path: str
    target: list[str]  # the template's parameter values, in its order
    status: int
    request_body: Any  # parsed JSON, secrets redacted; None without a JSON body
    before: Any
    after: Any
    request_id: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    entry: Entry


@dataclass(frozen=True, slots=True)
class Filters:
    """What a listing keeps; None: no condition."""

    actor: str | None = None
    actor_kind: str | None = None
    method: str | None = None
    template: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _record(row: asyncpg.Record) -> AuditRecord:
    return AuditRecord(
        id=row["id"],
        at=row["at"],
        entry=Entry(
            actor_kind=row["actor_kind"],
            actor_id=row["actor_id"],
            actor_name=row["actor_name"],
            via=row["via"],
            method=row["method"],
            template=row["template"],
            path=row["path"],
            target=list(row["target"]),
            status=row["status"],
            request_body=row["request_body"],
            before=row["before"],
            after=row["after"],
            request_id=row["request_id"],
        ),
    )


async def insert(conn: Connection | asyncpg.Pool, entry: Entry) -> None:
    await conn.execute(
        _INSERT,
        entry.actor_kind,
        entry.actor_id,
        entry.actor_name,
        entry.via,
        entry.method,
        entry.template,
        entry.path,
        entry.target,
        entry.status,
        entry.request_body,
        entry.before,
        entry.after,
        entry.request_id,
    )


async def get(conn: Connection, record_id: int) -> AuditRecord | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM audit_log WHERE id = $1", record_id)
    return _record(row) if row else None


def _where(filters: Filters) -> tuple[str, list[Any]]:
    """The conditions of ``filters``, each a constant piece of SQL with its value as a
    parameter: each listing gets the plan (and the index) of the filters it has."""
    conditions = (
        ("actor_name = ${}", filters.actor),
        ("actor_kind = ${}", filters.actor_kind),
        ("method = ${}", filters.method),
        ("template = ${}", filters.template),
        ("target @> ARRAY[${}::text]", filters.target),
        ("at >= ${}", filters.since),
        ("at < ${}", filters.until),
    )
    parts: list[str] = []
    values: list[Any] = []
    for condition, value in conditions:
        if value is not None:
            values.append(value)
            parts.append(condition.format(len(values)))
    return (" WHERE " + " AND ".join(parts)) if parts else "", values


async def page(
    conn: Connection, filters: Filters, *, offset: int, limit: int
) -> tuple[list[AuditRecord], int]:
    """One page of the records ``filters`` keeps, newest first, and how many it keeps."""
    where, values = _where(filters)
    n = len(values)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM audit_log{where} ORDER BY id DESC LIMIT ${n + 1} OFFSET ${n + 2}",
        *values,
        limit,
        offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM audit_log{where}", *values)
    return [_record(row) for row in rows], int(total)
