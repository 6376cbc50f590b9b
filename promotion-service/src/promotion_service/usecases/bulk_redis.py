"""Code registry reservations and facts for a batch of tens of thousands of codes, fast.

Same keys and values as :mod:`coupon_core.code_registry` and :mod:`coupon_core.facts`; what
differs is the cost per command. A redis-py pipeline spends tens of microseconds of Python
on each command it packs and each reply it parses, which for a million codes costs more
than storing them in PostgreSQL. Here a batch's commands are packed with one ``%``
format each, written in one go, and their replies read back on the same connection.
Every command still names a single key (or keys of one hash tag). The batch goes down one
connection of a standalone client; on a Redis Cluster client the same commands go through
its pipelines instead, which split them per node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from coupon_core import code_registry, redis_keys
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

_SET_NX = b"*4\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$2\r\nNX\r\n"
MSET_CHUNK = 5_000


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


async def _roundtrip(redis: Redis, payload: bytes, replies: int) -> list[object]:
    pool = redis.connection_pool
    conn = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        await conn.send_packed_command(payload, check_health=False)
        # math.inf: no timeout context per reply (the connection's socket timeout still
        # bounds each read from the socket).
        return [await conn.read_response(timeout=math.inf) for _ in range(replies)]
    except BaseException:
        # Replies may be left unread on this connection: never hand it to anyone else.
        await conn.disconnect()
        raise
    finally:
        await pool.release(conn)


async def reserve_codes(redis: Redis, codes: Sequence[str], group: str) -> list[bool]:
    """Like :func:`coupon_core.code_registry.reserve_many`: element i tells whether ``codes[i]``
    is now ours (SET NX, so a code another owner holds stays theirs)."""
    if not codes:
        return []
    if isinstance(redis, RedisCluster):
        return await code_registry.reserve_many(redis, codes, group)
    owner = group.encode()
    payload = b"".join(
        _SET_NX % (len(key), key, len(owner), owner)
        for key in (redis_keys.code_owner(code).encode() for code in codes)
    )
    replies = await _roundtrip(redis, payload, len(codes))
    return [reply is not None and reply is not False for reply in replies]


async def set_same_slot(redis: Redis, values: Sequence[tuple[str, str]]) -> None:
    """MSET of keys sharing one hash tag (one slot), in chunks."""
    if isinstance(redis, RedisCluster):
        for start in range(0, len(values), MSET_CHUNK):
            await redis.mset(dict(values[start : start + MSET_CHUNK]))
        return
    parts: list[bytes] = []
    chunks = 0
    for start in range(0, len(values), MSET_CHUNK):
        chunk = values[start : start + MSET_CHUNK]
        parts.append(b"*%d\r\n$4\r\nMSET\r\n" % (1 + 2 * len(chunk)))
        for key, value in chunk:
            parts.append(_bulk(key.encode()))
            parts.append(_bulk(value.encode()))
        chunks += 1
    if chunks:
        for reply in await _roundtrip(redis, b"".join(parts), chunks):
            if isinstance(reply, Exception):
                raise reply
