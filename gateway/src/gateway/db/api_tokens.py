"""API tokens: SQL and the repository (table ``api_tokens``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg
from coupon_core.db import Connection
from coupon_core.errors import Conflict

from gateway.domain.secrets import KEYED_SCHEME, LEGACY_SCHEME

_COLUMNS = "id, name, secret_hash, hash_scheme, whitelist, rate_limit, created_at, revoked_at"


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str
    secret_hash: str
    hash_scheme: str  # KEYED_SCHEME, or LEGACY_SCHEME until its first use
    whitelist: list[str]
    rate_limit: int | None
    created_at: datetime
    revoked_at: datetime | None


def _token(row: asyncpg.Record) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        hash_scheme=row["hash_scheme"],
        whitelist=list(row["whitelist"]),
        rate_limit=row["rate_limit"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


async def create(
    conn: Connection,
    *,
    name: str,
    secret_hash: str,
    whitelist: list[str],
    rate_limit: int | None,
) -> ApiToken:
    try:
        row = await conn.fetchrow(
            "INSERT INTO api_tokens (name, secret_hash, hash_scheme, whitelist, rate_limit) "
            f"VALUES ($1, $2, $5, $3, $4) RETURNING {_COLUMNS}",
            name,
            secret_hash,
            whitelist,
            rate_limit,
            KEYED_SCHEME,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"An API token named {name!r} already exists.", code="name_taken") from None
    assert row is not None
    return _token(row)


async def ensure_bootstrap(conn: Connection, *, name: str, secret_hash: str) -> ApiToken:
    """The bootstrap token with this secret and ``*``: created, or put back as configured.
    A single statement, so gateways starting at once agree."""
    row = await conn.fetchrow(
        "INSERT INTO api_tokens (name, secret_hash, hash_scheme, whitelist) "
        "VALUES ($1, $2, $3, '{*}') "
        "ON CONFLICT (name) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, "
        "hash_scheme = EXCLUDED.hash_scheme, whitelist = EXCLUDED.whitelist, revoked_at = NULL "
        f"RETURNING {_COLUMNS}",
        name,
        secret_hash,
        KEYED_SCHEME,
    )
    assert row is not None
    return _token(row)


async def list_all(conn: Connection) -> list[ApiToken]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY id")
    return [_token(row) for row in rows]


async def get(conn: Connection, token_id: int, *, for_update: bool = False) -> ApiToken | None:
    """``for_update``: locked until the transaction ends, so a change decided on what it
    holds is made to exactly that."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM api_tokens WHERE id = $1{lock}", token_id)
    return _token(row) if row else None


async def active_by_name(conn: Connection, name: str) -> ApiToken | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE name = $1 AND revoked_at IS NULL", name
    )
    return _token(row) if row else None


async def active_by_hash(conn: Connection, keyed: str, legacy: str) -> ApiToken | None:
    """The unrevoked token stored under the keyed hash of a secret, or under its legacy
    hash if not rehashed yet: then it is rehashed under the keyed one (its first use)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE revoked_at IS NULL "
        "AND (secret_hash = $1 OR (secret_hash = $2 AND hash_scheme = $3))",
        keyed,
        legacy,
        LEGACY_SCHEME,
    )
    if row is None:
        return None
    token = _token(row)
    if token.hash_scheme != LEGACY_SCHEME:
        return token
    await rehash(conn, token.id, legacy=legacy, keyed=keyed)
    return replace(token, secret_hash=keyed, hash_scheme=KEYED_SCHEME)


async def rehash(conn: Connection, token_id: int, *, legacy: str, keyed: str) -> None:
    """Replaces a legacy hash by the keyed one (a no-op if another replica did it first)."""
    await conn.execute(
        "UPDATE api_tokens SET secret_hash = $3, hash_scheme = $4 "
        "WHERE id = $1 AND secret_hash = $2 AND hash_scheme = $5",
        token_id,
        legacy,
        keyed,
        KEYED_SCHEME,
        LEGACY_SCHEME,
    )


async def update(
    conn: Connection,
    token_id: int,
    *,
    whitelist: list[str] | None,
    rate_limit: int | None,
    clear_rate_limit: bool,
) -> ApiToken | None:
    row = await conn.fetchrow(
        "UPDATE api_tokens SET whitelist = COALESCE($2, whitelist), "
        "rate_limit = CASE WHEN $4 THEN NULL ELSE COALESCE($3, rate_limit) END "
        f"WHERE id = $1 RETURNING {_COLUMNS}",
        token_id,
        whitelist,
        rate_limit,
        clear_rate_limit,
    )
    return _token(row) if row else None


async def revoke(conn: Connection, token_id: int) -> ApiToken | None:
    row = await conn.fetchrow(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) "
        f"WHERE id = $1 RETURNING {_COLUMNS}",
        token_id,
    )
    return _token(row) if row else None
