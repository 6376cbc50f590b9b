"""``Idempotency-Key`` (SPEC section 5), kept in the service's own PostgreSQL.

The first request with a key records it as in flight; the handler does its work and
records the response with :func:`complete` *in the same transaction as its effect*, so a
key is answered either by the stored response or not at all, never by a second effect.

* same key, same body, completed -> the stored response is replayed;
* same key, different body -> 422;
* same key while the first is still in flight -> 409 (an in-flight record older than
  ``IN_FLIGHT_TIMEOUT_S`` belongs to a crashed request and is taken over);
* keys are kept for the service's ``IDEMPOTENCY_RETENTION_H`` (24 hours by default, never
  less), then removed by its retention job (coupon_core.retention); a key older than that
  and not yet removed is taken over like a new one.

Table (add to the service's migrations)::

    CREATE TABLE idempotency_keys (
        scope        text        NOT NULL,
        key          text        NOT NULL,
        request_hash text        NOT NULL,
        status       integer,
        body         jsonb,
        created_at   timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        PRIMARY KEY (scope, key)
    );
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from coupon_core.db import Connection
from coupon_core.errors import BadRequest, Conflict, Unprocessable

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
IN_FLIGHT_TIMEOUT_S = 30


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: Any


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join((method.encode(), path.encode(), body))).hexdigest()


def validate_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters")
    return key


async def begin(
    pool: asyncpg.Pool, *, scope: str, key: str, fingerprint: str, retention: timedelta
) -> Replay | None:
    """Reserve ``key``; returns the stored response when this is a completed retry.
    One autocommitted statement reserves it; only a key already there is read back.
    ``retention``: the service's ``IDEMPOTENCY_RETENTION_H``; an older key is expired."""
    async with pool.acquire() as conn:
        inserted = await conn.fetchval(
            "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3) "
            "ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, "
            "created_at = now(), status = NULL, body = NULL, completed_at = NULL "
            "WHERE idempotency_keys.created_at < now() - $4::interval "
            "   OR (idempotency_keys.completed_at IS NULL AND idempotency_keys.created_at < "
            f"       now() - interval '{IN_FLIGHT_TIMEOUT_S} seconds' "
            "       AND idempotency_keys.request_hash = EXCLUDED.request_hash) "
            "RETURNING true",
            scope,
            key,
            fingerprint,
            retention,
        )
        if inserted:
            return None
        row = await conn.fetchrow(
            "SELECT request_hash, status, body, completed_at FROM idempotency_keys "
            "WHERE scope = $1 AND key = $2",
            scope,
            key,
        )
    if row is None:  # removed between the two statements: treat as new next time
        raise Conflict("A request with this Idempotency-Key is being processed; retry.")
    if row["request_hash"] != fingerprint:
        raise Unprocessable("This Idempotency-Key was used with a different request body.")
    if row["completed_at"] is None:
        raise Conflict("A request with this Idempotency-Key is still in flight.")
    return Replay(status=row["status"], body=row["body"])


async def complete(conn: Connection, *, scope: str, key: str, status: int, body: Any) -> None:
    """Store the response; call in the transaction that commits the request's effect."""
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, body = $4, completed_at = now() "
        "WHERE scope = $1 AND key = $2",
        scope,
        key,
        status,
        body,
    )


async def abandon(pool: asyncpg.Pool, *, scope: str, key: str) -> None:
    """Forget an in-flight key whose request failed without effect, so a retry may run."""
    async with pool.acquire() as conn:
        await conn.execute(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND completed_at IS NULL",
            scope,
            key,
        )
