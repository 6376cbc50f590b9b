"""The e2e suite's own tools behave as the fault tests rely on."""

from __future__ import annotations

import time

import pytest
from coupon_dev.testing.poll import until
from coupon_dev.testing.provision import Infra
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from support.faultproxy import FaultProxy
from support.history import History, Outcome, Violation, check_acknowledged_present, check_limit


def _history(*entries: tuple[str, Outcome]) -> History:
    history = History()
    for key, outcome in entries:
        history.record(
            "redeem", key, time.monotonic(), outcome, {"id": f"{key}-{len(history.operations)}"}
        )
    return history


def test_history_accepts_a_correct_run() -> None:
    history = _history(
        ("A", Outcome.OK), ("A", Outcome.OK), ("A", Outcome.FAILED), ("A", Outcome.INDETERMINATE)
    )
    check_limit(history, "redeem", {"A": 2}, {"A": 2})
    check_limit(history, "redeem", {"A": 3}, {"A": 3})  # the unanswered one happened


@pytest.mark.parametrize(
    ("entries", "limit", "observed", "message"),
    [
        ([("A", Outcome.OK)] * 3, 2, 3, "limit 2"),
        ([("A", Outcome.OK)] * 2, 2, 1, "lost writes"),
        ([("A", Outcome.OK), ("A", Outcome.FAILED)], 5, 2, "unanswered"),
    ],
)
def test_history_finds_violations(
    entries: list[tuple[str, Outcome]], limit: int, observed: int, message: str
) -> None:
    with pytest.raises(Violation, match=message):
        check_limit(_history(*entries), "redeem", {"A": limit}, {"A": observed})


def test_acknowledged_ids_must_be_stored() -> None:
    history = _history(("A", Outcome.OK), ("A", Outcome.OK))
    check_acknowledged_present(history, "redeem", "id", ["A-0", "A-1", "other"])
    with pytest.raises(Violation, match="1 acknowledged"):
        check_acknowledged_present(history, "redeem", "id", ["A-0"])


async def _pings(client: Redis) -> bool:
    try:
        return bool(await client.ping())
    except (RedisConnectionError, RedisTimeoutError):
        return False


async def test_fault_proxy_forwards_cuts_and_restores(infra: Infra) -> None:
    port = int(infra.redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = FaultProxy(target_port=port).start()
    client: Redis = Redis(port=proxy.port, socket_timeout=2, socket_connect_timeout=2)
    try:
        assert await client.ping()
        proxy.cut()
        with pytest.raises((RedisConnectionError, RedisTimeoutError)):
            await client.ping()
        proxy.restore()
        await until(lambda: _pings(client), "PING through the restored proxy", limit_s=10)
        proxy.set_delay(0.2)
        started = time.monotonic()
        await client.ping()
        assert time.monotonic() - started >= 0.4  # the delay is the behaviour under test
    finally:
        await client.aclose()
        proxy.stop()
