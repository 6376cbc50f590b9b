"""Users and their tokens: SQL and the repository (tables ``users``, ``user_tokens``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from coupon_core.db import Connection
from coupon_core.errors import Conflict

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
    user: User
    expires_at: datetime


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
        "INSERT INTO user_tokens (user_id, token_hash, expires_at) VALUES ($1, $2, $3)",
        user_id,
        token_hash,
        expires_at,
    )


async def active_token(conn: Connection, token_hash: str) -> UserToken | None:
    """The user of an unrevoked token (expired ones included: the caller decides)."""
    row = await conn.fetchrow(
        "SELECT u.id, u.email, u.password_hash, u.first_name, u.last_name, u.created_at, "
        "t.expires_at FROM user_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        token_hash,
    )
    return UserToken(user=_user(row), expires_at=row["expires_at"]) if row else None


async def revoke_token(conn: Connection, token_hash: str) -> None:
    await conn.execute(
        "UPDATE user_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
    )
