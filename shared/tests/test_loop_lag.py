"""event_loop_lag_seconds: how late a periodic wake-up of the event loop comes, sampled by
every process built with coupon_core.web.build_app and shown on /metrics."""

from __future__ import annotations

import gc
import time
from typing import Any

from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app, settle_gc
from coupon_dev.testing.poll import until
from coupon_dev.testing.prometheus import by_label

STALL_S = 0.3


async def lag_buckets(client: Any) -> dict[str, float]:
    """Cumulative counts of the histogram by bucket bound (``le``), ``+Inf`` the total."""
    return by_label(await _metrics(client), "event_loop_lag_seconds_bucket", "le")


async def gc_pauses(client: Any) -> dict[str, float]:
    """Collections counted by ``gc_pause_seconds``, by generation."""
    return by_label(await _metrics(client), "gc_pause_seconds_count", "generation")


async def _metrics(client: Any) -> str:
    text: str = await (await client.get("/metrics")).text()
    return text


async def test_a_blocking_call_in_the_loop_is_reported_as_lag(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    settings = ServiceSettings(**service_env, loop_lag_interval_s=0.01)
    client = await aiohttp_client(build_app(settings, service="test", migrations_dir=None))

    async def sampled() -> bool:
        return (await lag_buckets(client)).get("+Inf", 0) > 0

    await until(sampled, "a first lag sample")
    before = await lag_buckets(client)
    assert before["0.25"] == before["+Inf"], "no stall yet"
    time.sleep(STALL_S)  # noqa: ASYNC251 - the stall the sampler must see

    async def stall_seen() -> bool:
        found = await lag_buckets(client)
        return found["+Inf"] - found["0.25"] >= 1

    await until(stall_seen, "the stall in event_loop_lag_seconds")


async def test_the_sampler_is_off_at_interval_zero(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    settings = ServiceSettings(**service_env, loop_lag_interval_s=0)
    client = await aiohttp_client(build_app(settings, service="test", migrations_dir=None))
    await client.get("/healthz")
    time.sleep(0.05)  # noqa: ASYNC251 - a stall no sampler is there to see
    await client.get("/healthz")
    assert (await lag_buckets(client)).get("+Inf", 0) == 0


async def test_garbage_collections_are_timed_by_generation(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    settings = ServiceSettings(**service_env, loop_lag_interval_s=0.01)
    client = await aiohttp_client(build_app(settings, service="test", migrations_dir=None))
    before = (await gc_pauses(client)).get("2", 0)
    gc.collect()

    async def counted() -> bool:
        return (await gc_pauses(client)).get("2", 0) > before

    await until(counted, "the full collection in gc_pause_seconds")


def test_the_objects_alive_at_start_up_are_frozen(service_env: dict[str, Any]) -> None:
    assert gc.get_freeze_count() == 0
    try:
        settle_gc(ServiceSettings(**service_env))
        assert gc.get_freeze_count() > 0, "start-up objects left to every full collection"
    finally:
        gc.unfreeze()


def test_nothing_is_frozen_with_gc_freeze_off(service_env: dict[str, Any]) -> None:
    settle_gc(ServiceSettings(**service_env, gc_freeze=False))
    assert gc.get_freeze_count() == 0
