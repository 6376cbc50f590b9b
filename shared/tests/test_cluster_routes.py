"""Commands of known keys go straight to the node of their slot (coupon_core.cluster_routes);
the cluster's own machinery handles what needs it: keys of several slots, a moved slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from coupon_core import redis_keys
from coupon_core.autopipeline import AutoPipeline
from coupon_core.lifecycle import redis_from_url
from coupon_core.scripts import load_scripts
from coupon_dev.embedded_cluster import EmbeddedRedisCluster, port_of
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

INCR_BOTH = "redis.call('INCR', KEYS[1]); return redis.call('INCR', KEYS[2])"


@pytest.fixture
async def cluster(redis_cluster_url: str) -> AsyncIterator[RedisCluster]:
    client = redis_from_url(redis_cluster_url)
    assert isinstance(client, RedisCluster)
    await client.initialize()
    yield client
    await client.aclose()


@pytest.fixture
def generic_routing(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The commands redis-py's per-command cluster routing worked out a slot for."""
    routed: list[tuple[Any, ...]] = []
    determine = RedisCluster._determine_slot

    async def counted(self: RedisCluster, *args: Any) -> int:
        routed.append(args)
        return await determine(self, *args)

    monkeypatch.setattr(RedisCluster, "_determine_slot", counted)
    return routed


async def test_a_redeems_commands_go_straight_to_their_nodes(
    cluster: RedisCluster, generic_routing: list[tuple[Any, ...]], tmp_path: Path
) -> None:
    (tmp_path / "incr_both.lua").write_text(INCR_BOTH)
    script = load_scripts(cluster, tmp_path)["incr_both"]  # type: ignore[arg-type]
    pipe = AutoPipeline(cluster)  # type: ignore[arg-type]
    groups = [redis_keys.group_ref(redis_keys.SERIES, n) for n in range(12)]
    await pipe.script(script, [redis_keys.redeemed_total(groups[0])] * 2, [])  # loads it

    async def redeem(group: str) -> Any:
        await pipe.execute("SET", redis_keys.identity_nonce(group), "1", "NX", "PX", 60000)
        await pipe.get_many([redis_keys.code_owner(group), redis_keys.facts_ready("promotion")])
        keys = [redis_keys.redeemed_total(group), redis_keys.redeemed_by_customer(group, "c")]
        return await pipe.script(script, keys, [])

    assert await asyncio.gather(*(redeem(g) for g in groups)) == [1] * len(groups)
    async with cluster.pipeline(transaction=False) as batch:
        for group in groups:
            batch.get(redis_keys.redeemed_by_customer(group, "c"))
        assert await batch.execute() == [b"1"] * len(groups)
    assert await cluster.get(redis_keys.redeemed_total(groups[1])) == b"1"
    assert generic_routing == []


async def test_a_consumers_stream_commands_go_straight_to_their_node(
    cluster: RedisCluster, generic_routing: list[tuple[Any, ...]]
) -> None:
    """What a relay and a consumer send per batch (XADD, XACK, XPENDING, XAUTOCLAIM, XTRIM)
    names one stream: its node is known without redis-py's per-command routing."""
    stream = "events:{cluster-routes-test}"
    await cluster.xgroup_create(stream, "g", id="0", mkstream=True)
    generic_routing.clear()  # XGROUP names its stream after a subcommand: redis-py's path
    first = await cluster.xadd(stream, {"n": "1"})
    await cluster.xadd(stream, {"n": "2"})
    # RESP2: [[stream, [(id, fields)]]] (redis-py types every protocol's shape at once)
    read = cast("list[Any]", await cluster.xreadgroup("g", "c", {stream: ">"}, count=1))
    generic_routing.clear()  # XREADGROUP names its streams after STREAMS: redis-py's path
    assert await cluster.xack(stream, "g", first) == 1
    assert (await cluster.xpending(stream, "g"))["pending"] == 0
    claimed = await cluster.xautoclaim(stream, "g", "c", min_idle_time=0)
    assert claimed[1] == []
    assert await cluster.xtrim(stream, minid=first) >= 0
    assert read[0][1][0][0] == first
    assert generic_routing == []


async def test_keys_of_several_slots_take_the_clusters_own_path(
    cluster: RedisCluster, generic_routing: list[tuple[Any, ...]], tmp_path: Path
) -> None:
    (tmp_path / "incr_both.lua").write_text(INCR_BOTH)
    script = load_scripts(cluster, tmp_path)["incr_both"]  # type: ignore[arg-type]
    keys = [redis_keys.redeemed_total("S:1"), redis_keys.redeemed_total("S:2")]
    assert cluster.keyslot(keys[0]) != cluster.keyslot(keys[1])
    with pytest.raises(RedisClusterException, match="same key slot"):
        await script(keys=keys, args=[])
    assert [args[0] for args in generic_routing] == ["EVALSHA"]


def _node_ids(redis_cluster: EmbeddedRedisCluster) -> dict[int, str]:
    ids = {}
    for port in redis_cluster.ports:
        with redis.Redis(host="127.0.0.1", port=port) as node:
            ids[port] = node.execute_command("CLUSTER", "MYID").decode()
    return ids


def _assign(redis_cluster: EmbeddedRedisCluster, slot: int, node_id: str) -> None:
    for port in redis_cluster.ports:
        with redis.Redis(host="127.0.0.1", port=port) as node:
            node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", node_id)


async def test_commands_follow_a_slot_that_moved(
    cluster: RedisCluster, redis_cluster: EmbeddedRedisCluster
) -> None:
    key = "{ROUTES-MOVED}:count"
    slot = cluster.keyslot(key)
    source = port_of(cluster, key)
    target = next(port for port in redis_cluster.ports if port != source)
    ids = _node_ids(redis_cluster)
    _assign(redis_cluster, slot, ids[target])  # the client still maps it to the source
    try:
        pipe = AutoPipeline(cluster)  # type: ignore[arg-type]
        answers = await asyncio.gather(pipe.execute("INCR", key), pipe.execute("INCR", key))
        assert sorted(answers) == [1, 2]
        assert port_of(cluster, key) == target
        async with cluster.pipeline(transaction=False) as batch:
            batch.incr(key)
            batch.get(key)
            assert await batch.execute() == [3, b"3"]
        assert await cluster.get(key) == b"3"
    finally:
        await cluster.delete(key)
        _assign(redis_cluster, slot, ids[source])
        redis_cluster.wait_ok()


async def test_a_dead_node_fails_only_its_own_commands(
    cluster: RedisCluster, redis_cluster: EmbeddedRedisCluster
) -> None:
    """Auto-pipelined commands of a live node keep their answers when another node of the
    same batch is down; the dead node's commands fail as a redis ConnectionError."""
    keys = [redis_keys.code_owner(f"ROUTES-DEAD-{n}") for n in range(40)]
    by_port = {port_of(cluster, key): key for key in keys}
    alive, dead = (by_port[port] for port in redis_cluster.ports[:2])
    await cluster.set(alive, "S:1")
    index = redis_cluster.ports.index(port_of(cluster, dead))
    redis_cluster.kill_node(index)
    try:
        pipe = AutoPipeline(cluster)  # type: ignore[arg-type]
        outcomes = await asyncio.gather(
            pipe.execute("GET", alive), pipe.execute("GET", dead), return_exceptions=True
        )
        kept, lost = outcomes
        assert kept == b"S:1"
        assert isinstance(lost, RedisConnectionError), lost
    finally:
        redis_cluster.start_node(index)
