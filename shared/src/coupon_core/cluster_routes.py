"""Commands sent straight to the Redis Cluster node that serves their slot.

redis-py's cluster client works out, for every command, its command policy, its keys (twice)
and its target nodes, then sends each node's share as a task and records metrics per node;
that costs a redeem more CPU in its client than the round trips themselves. Every key of a
command of this platform carries one hash tag (a limit group, a code), so its slot comes
from its first key, and the slot map redis-py keeps tells its node. Here commands whose
keys are known (:data:`KEYS_FROM`) and share one slot go to that node's connection as one
pipeline per node; everything else, and every error that needs the cluster's machinery,
takes redis-py's own path:

* a node that cannot be reached (the pipeline raised): its commands are sent again through
  redis-py's cluster pipeline, which refreshes the slot map and retries as it always did;
* ``MOVED``/``ASK``/``TRYAGAIN`` answers: each command again through the client, which
  follows the redirection and updates the slot map (as redis-py's pipeline does);
* with ``retry``, a command that failed as redis-py would retry it (its connection broke
  while the answer was read, ``CLUSTERDOWN``): again through the client, as a single
  command or a pipeline with ``raise_on_error`` would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio.cluster import ClusterNode, ClusterPipeline, PipelineCommand, RedisCluster
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
            "SISMEMBER", "SMEMBERS", "ZADD", "ZREM", "ZSCORE", "XADD", "XLEN",
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


def slot_of(client: RedisCluster, args: Sequence[Any], kwargs: dict[str, Any]) -> int | None:
    """The one slot of every key of the command, or None when it must take redis-py's
    path (keys unknown or of several slots, a node named by the caller)."""
    if "target_nodes" in kwargs or client.read_from_replicas or client.load_balancing_strategy:
        return None
    keys = keys_of(args)
    if not keys:
        return None
    slot = client.keyslot(keys[0])
    for key in keys[1:]:
        if client.keyslot(key) != slot:
            return None
    return slot


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
    if len(by_node) == 1:
        [(node, batch)] = by_node.values()
        await _send_to(client, node, batch)
    else:
        await asyncio.gather(*(_send_to(client, node, batch) for node, batch in by_node.values()))
    for command in commands:
        result = command.result
        if isinstance(result, _REDIRECTED) or (
            retry and isinstance(result, RedisCluster.ERRORS_ALLOW_RETRY)
        ):
            try:
                command.result = await RedisCluster.execute_command(
                    client, *command.args, **command.kwargs
                )
            except Exception as exc:
                command.result = exc
    return True


async def _send_to(client: RedisCluster, node: ClusterNode, batch: list[PipelineCommand]) -> None:
    try:
        await node.execute_pipeline(batch)
    except Exception:  # nothing was read back: the node is down or its connection broke
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
