"""Commands sent straight to the Redis Cluster node that serves their slot.

redis-py's cluster client works out, for every command, its command policy, its keys (twice)
and its target nodes, then sends each node's share as a task and records metrics per node;
that costs a redeem more CPU in its client than the round trips themselves. Every key of a
command of this platform carries one hash tag (a limit group, a code), so its slot comes
from its hash tag, and the slot map redis-py keeps tells its node. Here commands whose
keys are known (:data:`KEYS_FROM`) and share one slot go to that node's connection as one
pipeline per node (every node written to first, then every node's answers read: no task
per node); everything else, and every error that needs the cluster's machinery, takes
redis-py's own path:

* a node that cannot be written to: its commands are sent again through
  redis-py's cluster pipeline, which refreshes the slot map and retries as it always did;
* ``MOVED``/``ASK``/``TRYAGAIN`` answers: each command again through the client, which
  follows the redirection and updates the slot map (as redis-py's pipeline does);
* with ``retry``, the commands that failed as redis-py would retry them (their connection
  broke while the answer was read, ``CLUSTERDOWN``): again through redis-py's cluster
  pipeline, all together (one bounded retry loop), as a single command or a pipeline with
  ``raise_on_error`` would be retried.
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Callable, Sequence
from typing import Any, cast

from redis.asyncio.cluster import ClusterNode, ClusterPipeline, PipelineCommand, RedisCluster
from redis.asyncio.connection import Connection
from redis.crc import REDIS_CLUSTER_HASH_SLOTS as CLUSTER_SLOTS
from redis.exceptions import AskError, MovedError, TryAgainError

# Where each command's keys are: "script" (EVALSHA/EVAL: a count at 2, then the keys),
# "all" (every argument), "first" (the first argument).
KEYS_FROM: dict[str, str] = {
    **dict.fromkeys(("EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO"), "script"),
    **dict.fromkeys(("MGET", "EXISTS", "DEL", "UNLINK", "TOUCH"), "all"),
    **dict.fromkeys(
        (
            "GET", "SET", "GETDEL", "INCR", "INCRBY", "DECR", "DECRBY", "EXPIRE", "PEXPIRE",
            "TTL", "PTTL", "HGET", "HSET", "HDEL", "HGETALL", "HINCRBY", "SADD", "SREM",
            "SISMEMBER", "SMEMBERS", "ZADD", "ZREM", "ZSCORE", "XADD", "XLEN", "XACK",
            "XPENDING", "XAUTOCLAIM", "XCLAIM", "XTRIM", "XDEL",
        ),
        "first",
    ),
}  # fmt: skip
_REDIRECTED = (MovedError, AskError, TryAgainError)


def keys_of(args: Sequence[Any]) -> Sequence[Any] | None:
    """The keys the command names, or None for a command not in :data:`KEYS_FROM`."""
    where = KEYS_FROM.get(args[0]) if args and isinstance(args[0], str) else None
    if where == "first":
        return args[1:2]
    if where == "all":
        return args[1:]
    if where == "script" and len(args) > 2:
        return args[3 : 3 + int(args[2])]
    return None


def _hashed(key: bytes) -> bytes:
    """The part of ``key`` its slot is computed from: its hash tag, if it has one."""
    start = key.find(b"{")
    if start > -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def slot_of(client: RedisCluster, args: Sequence[Any], kwargs: dict[str, Any]) -> int | None:
    """The one slot of every key of the command, or None when it must take redis-py's
    path (keys unknown or of several slots, a node named by the caller)."""
    if "target_nodes" in kwargs or client.read_from_replicas or client.load_balancing_strategy:
        return None
    keys = keys_of(args)
    if not keys:
        return None
    encode = cast(Callable[[Any], bytes], client.encoder.encode)
    hashed = {_hashed(encode(key)) for key in keys}
    slots = {crc_hqx(part, 0) % CLUSTER_SLOTS for part in hashed}
    return slots.pop() if len(slots) == 1 else None


async def send(client: RedisCluster, commands: Sequence[PipelineCommand], *, retry: bool) -> bool:
    """Send ``commands`` (each to the node of its slot, one pipeline per node) and set each
    one's result, its answer or its error; False, with nothing sent, when one of them must
    take redis-py's path instead (:func:`slot_of`, a slot the map does not cover)."""
    if client._initialize:
        await client.initialize()
    by_node: dict[str, tuple[ClusterNode, list[PipelineCommand]]] = {}
    for command in commands:
        slot = slot_of(client, command.args, command.kwargs)
        if slot is None:
            return False
        serving = client.nodes_manager.slots_cache.get(slot)
        if not serving:
            return False
        node = serving[0]
        by_node.setdefault(node.name, (node, []))[1].append(command)
    await _pipelines(client, list(by_node.values()))
    for command in commands:
        if isinstance(command.result, _REDIRECTED):
            try:
                command.result = await RedisCluster.execute_command(
                    client, *command.args, **command.kwargs
                )
            except Exception as exc:
                command.result = exc
    if retry:
        failed = [c for c in commands if isinstance(c.result, RedisCluster.ERRORS_ALLOW_RETRY)]
        if failed:
            await _send_again(client, failed)
    return True


async def _pipelines(
    client: RedisCluster, batches: list[tuple[ClusterNode, list[PipelineCommand]]]
) -> None:
    """One pipeline per node, as ``ClusterNode.execute_pipeline`` sends it, without a task
    per node: every node's commands are written, then every node's answers read. A node
    that could not be written to gets its commands sent again by :func:`_send_again`."""
    held: list[tuple[ClusterNode, Connection]] = []
    unsent: list[list[PipelineCommand]] = []
    try:
        written: list[tuple[ClusterNode, Connection, list[PipelineCommand]]] = []
        for node, batch in batches:
            try:
                connection = node.acquire_connection()
            except Exception:
                unsent.append(batch)
                continue
            held.append((node, connection))
            try:
                await node.disconnect_if_needed(connection)
                await connection.send_packed_command(
                    connection.pack_commands(c.args for c in batch)
                )
            except Exception:  # nothing was read back: the node is down or its connection broke
                unsent.append(batch)
                continue
            written.append((node, connection, batch))
        for node, connection, batch in written:
            for command in batch:
                try:
                    command.result = await node.parse_response(
                        connection, command.args[0], **command.kwargs
                    )
                except Exception as exc:
                    command.result = exc
    finally:
        for node, connection in held:
            try:
                await node.disconnect_if_needed(connection)
            finally:
                node.release(connection)
    for batch in unsent:
        await _send_again(client, batch)


async def _send_again(client: RedisCluster, batch: list[PipelineCommand]) -> None:
    """``batch`` through redis-py's own cluster pipeline: topology refresh, retries."""
    again = ClusterPipeline(client)  # type: ignore[abstract]
    for command in batch:
        again.execute_command(*command.args, **command.kwargs)
    try:
        answers = await again.execute(raise_on_error=False)
    except Exception as exc:
        answers = [exc] * len(batch)
    for command, answer in zip(batch, answers, strict=True):
        command.result = answer
