"""Users and their tokens: SQL and the repository (tables ``users``, ``user_tokens``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg
from coupon_core.db import Connection
from coupon_core.errors import Conflict

from gateway.domain.secrets import KEYED_SCHEME, LEGACY_SCHEME

_USER_COLUMNS = "id, email, password_hash, first_name, last_name, created_at"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    password_hash: str
    first_name: str | None
    last_name: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UserToken:
    id: int
    user: User
    expires_at: datetime
    hash_scheme: str  # KEYED_SCHEME, or LEGACY_SCHEME until its first use


def _user(row: asyncpg.Record) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        password_hash=row["password_hash"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        created_at=row["created_at"],
    )


async def create(
    conn: Connection,
    *,
    email: str,
    password_hash: str,
    first_name: str | None,
    last_name: str | None,
) -> User:
    try:
        row = await conn.fetchrow(
            "INSERT INTO users (email, password_hash, first_name, last_name) "
            f"VALUES ($1, $2, $3, $4) RETURNING {_USER_COLUMNS}",
            email,
            password_hash,
            first_name,
            last_name,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict("A user with this email already exists.", code="user_exists") from None
    assert row is not None
    return _user(row)


async def by_email(conn: Connection, email: str) -> User | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE email = $1", email)
    return _user(row) if row else None


async def by_id(conn: Connection, user_id: int) -> User | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)
    return _user(row) if row else None


async def add_token(
    conn: Connection, *, user_id: int, token_hash: str, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO user_tokens (user_id, token_hash, hash_scheme, expires_at) "
        "VALUES ($1, $2, $3, $4)",
        user_id,
        token_hash,
        KEYED_SCHEME,
        expires_at,
    )


# A token stored under the keyed hash of a secret, or under its legacy hash if not rehashed.
_BY_HASH = "(t.token_hash = $1 OR (t.token_hash = $2 AND t.hash_scheme = $3))"


async def active_token(conn: Connection, keyed: str, legacy: str) -> UserToken | None:
    """The user of an unrevoked token (expired ones included: the caller decides). A token
    found under its legacy hash is rehashed under the keyed one: this is its first use."""
    row = await conn.fetchrow(
        "SELECT u.id, u.email, u.password_hash, u.first_name, u.last_name, u.created_at, "
        "t.id AS token_id, t.expires_at, t.hash_scheme "
        "FROM user_tokens t JOIN users u ON u.id = t.user_id "
        f"WHERE {_BY_HASH} AND t.revoked_at IS NULL",
        keyed,
        legacy,
        LEGACY_SCHEME,
    )
    if row is None:
        return None
    token = UserToken(
        id=row["token_id"],
        user=_user(row),
        expires_at=row["expires_at"],
        hash_scheme=row["hash_scheme"],
    )
    if token.hash_scheme != LEGACY_SCHEME:
        return token
    await _rehash_token(conn, token.id, legacy=legacy, keyed=keyed)
    return replace(token, hash_scheme=KEYED_SCHEME)


async def _rehash_token(conn: Connection, token_id: int, *, legacy: str, keyed: str) -> None:
    """Replaces a legacy hash by the keyed one (a no-op if another replica did it first)."""
    await conn.execute(
        "UPDATE user_tokens SET token_hash = $3, hash_scheme = $4 "
        "WHERE id = $1 AND token_hash = $2 AND hash_scheme = $5",
        token_id,
        legacy,
        keyed,
        KEYED_SCHEME,
        LEGACY_SCHEME,
    )


async def revoke_token(conn: Connection, keyed: str, legacy: str) -> None:
    await conn.execute(
        f"UPDATE user_tokens t SET revoked_at = now() WHERE {_BY_HASH} AND revoked_at IS NULL",
        keyed,
        legacy,
        LEGACY_SCHEME,
    )
