"""Staff accounts and their sessions: SQL and the repository (tables ``staff``,
``staff_sessions``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from coupon_core.db import Connection
from coupon_core.errors import Conflict

from gateway.domain.roles import RoleName

_COLUMNS = "id, email, name, role, active, password_hash, created_at, updated_at, last_sign_in_at"
_STAFF_COLUMNS = ", ".join(f"st.{column.strip()}" for column in _COLUMNS.split(","))
# A session is live while unrevoked, used within the idle time and younger than the
# absolute time ($2 minutes, $3 hours), and its account is active.
_LIVE = (
    "s.revoked_at IS NULL AND st.active "
    "AND s.last_seen_at > now() - make_interval(mins => $2) "
    "AND s.created_at > now() - make_interval(hours => $3)"
)


@dataclass(frozen=True, slots=True)
class Staff:
    id: int
    email: str
    name: str | None
    role: RoleName  # the table checks it
    active: bool
    password_hash: str
    created_at: datetime
    updated_at: datetime
    last_sign_in_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """When a session is over: unused for ``idle_minutes`` or older than ``absolute_hours``."""

    idle_minutes: int
    absolute_hours: int


def _staff(row: asyncpg.Record) -> Staff:
    return Staff(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        active=row["active"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_sign_in_at=row["last_sign_in_at"],
    )


async def create(
    conn: Connection, *, email: str, name: str | None, role: RoleName, password_hash: str
) -> Staff:
    try:
        row = await conn.fetchrow(
            "INSERT INTO staff (email, name, role, password_hash) "
            f"VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}",
            email,
            name,
            role,
            password_hash,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"A staff account with the email {email!r} exists.", code="staff_exists"
        ) from None
    assert row is not None
    return _staff(row)


async def get(conn: Connection, staff_id: int, *, for_update: bool = False) -> Staff | None:
    """``for_update``: locked until the transaction ends, so a change decided on what it
    holds is made to exactly that."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM staff WHERE id = $1{lock}", staff_id)
    return _staff(row) if row else None


async def by_email(conn: Connection, email: str) -> Staff | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM staff WHERE lower(email) = lower($1)", email)
    return _staff(row) if row else None


async def list_page(
    conn: Connection, *, email: str | None, offset: int, limit: int
) -> tuple[list[Staff], int]:
    """One page by id, and how many accounts there are in all; ``email``: only those whose
    email contains it, whatever the case."""
    where = "WHERE $1::text IS NULL OR strpos(lower(email), lower($1)) > 0"
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM staff {where} ORDER BY id LIMIT $2 OFFSET $3",
        email,
        limit,
        offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM staff {where}", email)
    return [_staff(row) for row in rows], int(total)


async def active_admins(conn: Connection) -> list[int]:
    """The ids of the active admins, locked until the transaction ends: of two transactions
    each removing an admin, the second sees what the first left."""
    rows = await conn.fetch(
        "SELECT id FROM staff WHERE role = 'admin' AND active ORDER BY id FOR UPDATE"
    )
    return [row["id"] for row in rows]


async def update(
    conn: Connection,
    staff_id: int,
    *,
    name: str | None,
    clear_name: bool,
    role: RoleName | None,
    active: bool | None,
    password_hash: str | None,
) -> Staff | None:
    """Changes what is given (not None); ``clear_name`` sets the name to null."""
    row = await conn.fetchrow(
        "UPDATE staff SET "
        "name = CASE WHEN $3 THEN NULL ELSE COALESCE($2, name) END, "
        "role = COALESCE($4, role), active = COALESCE($5, active), "
        "password_hash = COALESCE($6, password_hash), updated_at = now() "
        f"WHERE id = $1 RETURNING {_COLUMNS}",
        staff_id,
        name,
        clear_name,
        role,
        active,
        password_hash,
    )
    return _staff(row) if row else None


async def revoke_sessions(conn: Connection, staff_id: int) -> int:
    """Ends every session of the account; how many were live."""
    status = await conn.execute(
        "UPDATE staff_sessions SET revoked_at = now() WHERE staff_id = $1 AND revoked_at IS NULL",
        staff_id,
    )
    return int(status.split()[-1])


async def start_session(
    conn: Connection,
    *,
    staff_id: int,
    token_hash: str,
    user_agent: str | None,
    address: str | None,
    policy: SessionPolicy,
) -> None:
    """A new session for a signed-in account. The account's sessions that are over are
    removed here, so its rows are bounded by its sign-ins within the absolute time."""
    await conn.execute(
        "DELETE FROM staff_sessions s USING staff st "
        f"WHERE s.staff_id = $1 AND st.id = s.staff_id AND NOT ({_LIVE})",
        staff_id,
        policy.idle_minutes,
        policy.absolute_hours,
    )
    await conn.execute(
        "INSERT INTO staff_sessions (staff_id, token_hash, user_agent, address) "
        "VALUES ($1, $2, $3, $4)",
        staff_id,
        token_hash,
        user_agent,
        address,
    )
    await conn.execute("UPDATE staff SET last_sign_in_at = now() WHERE id = $1", staff_id)


async def session_staff(conn: Connection, token_hash: str, policy: SessionPolicy) -> Staff | None:
    """The account of a live session, which counts as used now; None for a session that is
    unknown, revoked, idle too long, too old, or whose account is disabled. One statement
    decides and records the use, so no replica can extend a session that is over."""
    row = await conn.fetchrow(
        "UPDATE staff_sessions s SET last_seen_at = now() FROM staff st "
        f"WHERE s.token_hash = $1 AND st.id = s.staff_id AND {_LIVE} "
        f"RETURNING {_STAFF_COLUMNS}",
        token_hash,
        policy.idle_minutes,
        policy.absolute_hours,
    )
    return _staff(row) if row else None


async def end_session(conn: Connection, token_hash: str) -> None:
    await conn.execute(
        "UPDATE staff_sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
    )
