"""What /metrics shows beyond HTTP: outbox lag at scrape time, Lua script latency, and the
business metric families services register."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coupon_core.keys import METRICS, PG_POOL, REDIS
from coupon_core.metrics import LIMIT_REJECTIONS, Metrics
from coupon_core.scripts import TimedScript, load_scripts
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app
from coupon_dev.testing.prometheus import samples


async def _client(aiohttp_client: Any, service_env: dict[str, Any]) -> Any:
    app = build_app(ServiceSettings(**service_env), service="test", migrations_dir=None)
    return await aiohttp_client(app)


async def test_outbox_lag_is_the_age_of_the_oldest_unpublished_row(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    client = await _client(aiohttp_client, service_env)
    pool = client.app[PG_POOL]
    await pool.execute(
        "CREATE TABLE outbox (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL,"
        " published_at timestamptz)"
    )
    await pool.execute(
        "INSERT INTO outbox (created_at) VALUES (now() - interval '2 hours'),"
        " (now() - interval '1 hour')"
    )
    lag = samples(await (await client.get("/metrics")).text())
    assert lag["outbox_oldest_unpublished_age_seconds", ()] >= 7200
    await pool.execute("UPDATE outbox SET published_at = now() WHERE id = 1")
    lag = samples(await (await client.get("/metrics")).text())
    assert 3600 <= lag["outbox_oldest_unpublished_age_seconds", ()] < 7200
    await pool.execute("UPDATE outbox SET published_at = now()")
    lag = samples(await (await client.get("/metrics")).text())
    assert lag["outbox_oldest_unpublished_age_seconds", ()] == 0


async def test_without_an_outbox_the_gauge_stays_zero(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    client = await _client(aiohttp_client, service_env)
    lag = samples(await (await client.get("/metrics")).text())
    assert lag["outbox_oldest_unpublished_age_seconds", ()] == 0
    assert client.app[METRICS].has_outbox is False


async def test_script_calls_are_timed_by_name(
    aiohttp_client: Any, service_env: dict[str, Any], tmp_path: Path
) -> None:
    client = await _client(aiohttp_client, service_env)
    (tmp_path / "double.lua").write_text("return tonumber(ARGV[1]) * 2")
    metrics = client.app[METRICS]
    scripts = load_scripts(client.app[REDIS], tmp_path, timing=metrics.script_duration)
    assert isinstance(scripts["double"], TimedScript)
    assert await scripts["double"](keys=["{t}:k"], args=[21]) == 42
    assert await scripts["double"](keys=["{t}:k"], args=[1]) == 2
    found = samples(await (await client.get("/metrics")).text())
    assert found["redis_script_duration_seconds_count", (("script", "double"),)] == 2


def test_a_family_is_registered_once_per_registry() -> None:
    metrics = Metrics("test")
    metrics.counter(LIMIT_REJECTIONS).labels(limit="coupon_usage").inc()
    metrics.counter(LIMIT_REJECTIONS).labels(limit="coupon_usage").inc()
    found = samples(metrics.render().decode())
    assert found["coupon_limit_rejections_total", (("limit", "coupon_usage"),)] == 2
    assert "coupon_limit_rejections_total" not in Metrics("other").render().decode()
