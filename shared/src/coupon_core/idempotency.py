"""``Idempotency-Key`` (SPEC section 5): one flow for every POST that takes the header.

A handler parses its input, then holds the key for the rest of the request (:func:`hold`):

* a new key is recorded as in flight; the use case writes the answer (:class:`Answer`)
  *in the transaction that commits its effect* (:func:`store`), so a key is answered
  either by the stored response or not at all, never by a second effect;
* a :class:`~coupon_core.errors.Refusal` the use case raised (a limit reached, a coupon
  already used) is an answer too: stored on its way out (it had no effect), and replayed;
* any other error (a lookup that finds nothing, a store down, a bug, a cancellation) lets
  the key go, shielded, so that a retry may run; the error answered is still the original;
* same key, same request (method, path with query string, body), answered -> the stored
  response is replayed, with ``Idempotent-Replayed: true``;
* same key, different request -> 422;
* same key while the first is still in flight -> 409 (an in-flight record older than
  ``IN_FLIGHT_TIMEOUT_S`` belongs to a crashed request and is taken over);
* keys are kept for the service's ``IDEMPOTENCY_RETENTION_H`` (24 hours by default, never
  less), then removed by its retention job (coupon_core.retention); a key older than that
  and not yet removed is taken over like a new one.

The table: ``shared_migrations/idempotency.sql`` in this package, which each service that
takes the header applies as its migration ``0002_idempotency`` (coupon_core.migrations).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import asyncpg
from aiohttp import web

from coupon_core.db import Connection, commit, rollback_if_open
from coupon_core.errors import BadRequest, Conflict, Refusal, Unprocessable
from coupon_core.families import error_body, family_for_path
from coupon_core.http import json_response
from coupon_core.keys import PG_POOL, PRINCIPAL

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
IN_FLIGHT_TIMEOUT_S = 30


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: Any


@dataclass(frozen=True, slots=True)
class Answer:
    """The response a key answers with, written by :func:`store` with the request's effect."""

    scope: str
    key: str
    status: int
    body: Any


@dataclass(frozen=True, slots=True)
class Held:
    """What :func:`hold` gives the handler: the response to send again when the request was
    answered before (``replay``), else the key it holds (``key`` None without the header)."""

    scope: str = ""
    key: str | None = None
    replay: web.Response | None = None

    def answer(self, status: int, body: Any) -> Answer | None:
        """The answer the use case stores with its effect; None when there is no key."""
        return Answer(self.scope, self.key, status, body) if self.key is not None else None


def request_hash(method: str, path_qs: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join((method.encode(), path_qs.encode(), body))).hexdigest()


def validate_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters")
    return key


@contextlib.asynccontextmanager
async def hold(
    request: web.Request, *, operation: str, retention: timedelta
) -> AsyncIterator[Held]:
    """Hold the request's key (if it sent one) while the block runs; see the module's doc.
    ``operation`` and the caller make the key's scope; ``retention`` is the service's
    ``IDEMPOTENCY_RETENTION_H`` (an older key is expired). Call after the input is parsed:
    a request refused for its input never reserves its key."""
    header = request.headers.get(HEADER)
    if header is None:
        yield Held()
        return
    principal = request[PRINCIPAL]
    held = Held(f"{operation}:{principal.kind}:{principal.id}", validate_key(header))
    assert held.key is not None
    pool = request.app[PG_POOL]
    fingerprint = request_hash(request.method, request.path_qs, await request.read())
    replay = await begin(
        pool, scope=held.scope, key=held.key, fingerprint=fingerprint, retention=retention
    )
    if replay is not None:
        headers = {REPLAYED_HEADER: "true"}
        yield Held(replay=json_response(replay.body, status=replay.status, headers=headers))
        return
    try:
        yield held
    except Refusal as refusal:
        body = error_body(family_for_path(request.path), refusal)
        answer = Answer(held.scope, held.key, refusal.status, body)
        await _settle(store_without_effect(pool, answer))
        raise
    except BaseException:
        await _settle(abandon(pool, scope=held.scope, key=held.key))
        raise


class Committable(Protocol):
    """A use case's effect, made but not committed: the typed result a handler renders its
    answer from before it calls :meth:`commit` with the answer."""

    what: str  # names the effect in errors
    committing: bool  # set once the commit is under way: its outcome may then be unknown

    async def commit(self, answer: Answer | None) -> None: ...

    async def roll_back(self) -> None: ...


C = TypeVar("C", bound=Committable)


class Uncommitted:
    """An effect written in a transaction still open on ``conn``: :meth:`commit` stores the
    answer in it and COMMITs; :meth:`roll_back` rolls it back (a subclass undoes first what
    the effect did outside PostgreSQL)."""

    what = "request"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.committing = False

    async def commit(self, answer: Answer | None) -> None:
        """Store ``answer`` (an Idempotency-Key's) with the effect, then COMMIT both."""
        if answer is not None:
            await store(self.conn, answer)
        self.committing = True
        await commit(self.conn, self.what)

    async def roll_back(self) -> None:
        await rollback_if_open(self.conn)


@contextlib.asynccontextmanager
async def until_committed(effect: C) -> AsyncIterator[C]:
    """Give ``effect`` to the block, which renders the answer and calls its ``commit``; an
    effect the block leaves uncommitted, by an error or not, is rolled back (an error then)."""
    try:
        yield effect
    except BaseException:
        if not effect.committing:
            await effect.roll_back()
        raise
    if not effect.committing:
        await effect.roll_back()
        raise RuntimeError(f"the {effect.what}'s block ended without committing it")


async def _settle(step: Coroutine[Any, Any, None]) -> None:
    """Run ``step`` to its end even if this task is cancelled meanwhile, and never raise: it
    runs while the error that ended the request is on its way out, and that error is the one
    to answer with (a cancellation arriving now gives way to it)."""
    task = asyncio.ensure_future(step)
    while True:
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
                continue
        except Exception as exc:  # the request's own error is the one to report
            log.warning("Idempotency-Key not settled: %r", exc)
        return


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


async def store(conn: Connection, answer: Answer) -> None:
    """Store the answer; call in the transaction that commits the request's effect."""
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, body = $4, completed_at = now() "
        "WHERE scope = $1 AND key = $2",
        answer.scope,
        answer.key,
        answer.status,
        answer.body,
    )


async def store_without_effect(pool: asyncpg.Pool, answer: Answer) -> None:
    """Store the answer of a request that had no effect (one autocommitted statement)."""
    async with pool.acquire() as conn:
        await store(conn, answer)


async def abandon(pool: asyncpg.Pool, *, scope: str, key: str) -> None:
    """Forget an in-flight key whose request failed without effect, so a retry may run."""
    async with pool.acquire() as conn:
        await conn.execute(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND completed_at IS NULL",
            scope,
            key,
        )
