"""A Redis Cluster of embedded ``redis-server`` nodes, for tests and bench."""

from __future__ import annotations

import random
import time
from pathlib import Path

import redis
from coupon_dev.embedded import START_TIMEOUT_S, EmbeddedRedis, EmbeddedServerError
from coupon_dev.ports import port_is_free
from redis.asyncio.cluster import RedisCluster

CLUSTER_SLOTS = 16384
# A cluster node also listens on its port + 10000 (the cluster bus; Redis 6 has no
# --cluster-port), so its port must be at most 55535 and both ports must be free.
_CLUSTER_BUS_OFFSET = 10000
_CLUSTER_PORT_RANGE = (20000, 65535 - _CLUSTER_BUS_OFFSET)


def free_cluster_port(taken: set[int] | frozenset[int] = frozenset()) -> int:
    """A loopback port whose cluster bus port (port + 10000) is free as well."""
    for _ in range(1000):
        port = random.randint(*_CLUSTER_PORT_RANGE)
        bus = port + _CLUSTER_BUS_OFFSET
        if taken & {port, bus} or not (port_is_free(port) and port_is_free(bus)):
            continue
        return port
    raise EmbeddedServerError("no free port pair for a redis cluster node")


def port_of(client: RedisCluster, key: str) -> int:
    """The port of the node that ``client`` sends ``key``'s commands to (its slot map)."""
    node = client.get_node_from_key(key)
    if node is None:
        raise LookupError(f"no node serves the slot of {key!r}")
    return int(node.port)


class EmbeddedRedisCluster:
    """A Redis Cluster of ``masters`` primaries (no replicas) on loopback ports, all started
    from the same ``redis-server`` binary as :class:`EmbeddedRedis`.

    Slots are split evenly with ``CLUSTER ADDSLOTS`` (``ADDSLOTSRANGE`` needs Redis 7) and the
    nodes are joined with ``CLUSTER MEET``. Each node keeps its ``nodes.conf`` in its data
    directory, so a node that was stopped or killed rejoins with its slots when started
    again (its data is gone: persistence is off, as for :class:`EmbeddedRedis`).
    """

    name = "redis-cluster"
    scheme = "redis+cluster://"

    def __init__(self, data_dir: Path, masters: int = 3, *, node_timeout_ms: int = 2000) -> None:
        if masters < 1:
            raise ValueError("a cluster needs at least one master")
        self.data_dir = Path(data_dir)
        ports: list[int] = []
        for _ in range(masters):
            taken = {p + offset for p in ports for offset in (0, _CLUSTER_BUS_OFFSET)}
            ports.append(free_cluster_port(taken))
        self.nodes = [
            self._node(
                self.data_dir / f"node{index}",
                ports[index],
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    str(node_timeout_ms),
                ],
            )
            for index in range(masters)
        ]

    def _node(self, data_dir: Path, port: int, extra_args: list[str]) -> EmbeddedRedis:
        return EmbeddedRedis(data_dir, port, extra_args=extra_args)

    def _client(self, port: int, **options: object) -> redis.Redis:
        """A client of one node, to form the cluster and read its state."""
        return redis.Redis(host="127.0.0.1", port=port, **options)  # type: ignore[arg-type]

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def url(self) -> str:
        """``redis+cluster://`` with every node as a seed, the scheme the settings accept."""
        return self.scheme + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def slot_ranges(self) -> list[tuple[int, int]]:
        """The inclusive slot range each node serves, in node order."""
        count = len(self.nodes)
        bounds = [index * CLUSTER_SLOTS // count for index in range(count + 1)]
        return [(bounds[i], bounds[i + 1] - 1) for i in range(count)]

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start every node; on first start assign the slots and join the nodes."""
        for node in self.nodes:
            node.start()
        if not self._formed():
            self._form()
        self.wait_ok(timeout)

    def _formed(self) -> bool:
        return int(self._info(self.nodes[0]).get("cluster_slots_assigned", "0")) > 0

    def _form(self) -> None:
        for epoch, (node, (first, last)) in enumerate(
            zip(self.nodes, self.slot_ranges(), strict=True), start=1
        ):
            with self._client(node.port) as client:
                # Distinct config epochs up front, as redis-cli --cluster create does, so the
                # nodes need no epoch-collision rounds before they agree.
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
                client.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
        with self._client(self.nodes[0].port) as client:
            for node in self.nodes[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)

    def _info(self, node: EmbeddedRedis) -> dict[str, str]:
        try:
            with self._client(node.port, socket_timeout=1) as client:
                raw = client.execute_command("CLUSTER", "INFO")
        except (redis.RedisError, OSError):
            return {}
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
        return {key.strip(): value.strip() for key, value in pairs}

    def healthy(self) -> bool:
        """Every running node sees every node, every slot served, and state ``ok``."""
        running = [node for node in self.nodes if node.running]
        if len(running) != len(self.nodes):
            return False
        for node in running:
            info = self._info(node)
            if (
                info.get("cluster_state") != "ok"
                or info.get("cluster_known_nodes") != str(len(self.nodes))
                or info.get("cluster_slots_ok") != str(CLUSTER_SLOTS)
            ):
                return False
        return True

    def wait_ok(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            time.sleep(0.05)
        states = {node.port: self._info(node).get("cluster_state") for node in self.nodes}
        raise EmbeddedServerError(f"redis cluster not ok after {timeout}s: {states}")

    def start_node(self, index: int, timeout: float = START_TIMEOUT_S) -> None:
        """Start one node again and wait until the whole cluster is ``ok``."""
        self.nodes[index].start()
        self.wait_ok(timeout)

    def stop_node(self, index: int) -> None:
        self.nodes[index].stop()

    def kill_node(self, index: int) -> None:
        """SIGKILL one node: its slots are unserved until it is started again."""
        self.nodes[index].kill()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def kill(self) -> None:
        """SIGKILL every node: started again, the cluster keeps its layout (nodes.conf) and
        has lost every key."""
        for node in self.nodes:
            node.kill()

    @property
    def running(self) -> bool:
        return any(node.running for node in self.nodes)
