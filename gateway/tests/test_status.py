"""GET /api/v1/status: the gateway and every replica behind it, ready or not and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app
from coupon_dev.gateway_fixtures import TEST_ADMIN_TOKEN
from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET
from gateway.app import create_app
from gateway.settings import Settings

ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


def _migrations(directory: Path) -> Path:
    directory.mkdir()
    (directory / "0001_things.sql").write_text("CREATE TABLE things (id int);")
    return directory


async def _replica(
    aiohttp_server: Any, env: dict[str, Any], name: str, tmp: Path, apply: bool
) -> str:
    settings = ServiceSettings(**{**env, "apply_migrations": apply})
    app = build_app(settings, service=name, migrations_dir=_migrations(tmp / name))
    return str((await aiohttp_server(app)).make_url("")).rstrip("/")


async def test_status_reports_every_replica_and_why_one_is_not_ready(
    aiohttp_client: Any,
    aiohttp_server: Any,
    service_env: dict[str, Any],
    tmp_path: Path,
    reserved_port: int,
) -> None:
    env = {**service_env, "identity_secret": TEST_IDENTITY_SECRET}
    ready = await _replica(aiohttp_server, env, "migrated", tmp_path, apply=True)
    behind = await _replica(aiohttp_server, env, "behind", tmp_path, apply=False)
    dead = f"http://127.0.0.1:{reserved_port}"
    settings = Settings(
        **{
            **service_env,
            "promotion_upstreams": ready,
            "issuance_upstreams": behind,
            "redemption_upstreams": f"{ready},{dead}",
            "webhook_upstreams": ready,
            "bootstrap_admin_token": TEST_ADMIN_TOKEN,
        }
    )
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/v1/status", headers=ADMIN)
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "degraded"
    by_replica = {(p["process"], p["url"]): p for p in body["processes"]}
    assert by_replica[("gateway", None)]["ready"] is True
    assert by_replica[("gateway", None)]["checks"]["migrations"] == "ok"
    assert by_replica[("promotion", ready)]["checks"] == {"migrations": "ok"}
    assert by_replica[("promotion", ready)]["stores"] == {"postgres": "ok", "redis": "ok"}
    assert by_replica[("issuance", behind)]["ready"] is False
    assert by_replica[("issuance", behind)]["checks"]["migrations"] == "pending: 0001_things"
    assert by_replica[("redemption", ready)]["ready"] is True
    assert by_replica[("redemption", dead)]["ready"] is False
    assert by_replica[("redemption", dead)]["checks"]["reachable"].startswith("error")
    assert by_replica[("redemption", dead)]["stores"] == {}
    assert by_replica[("webhook", ready)]["ready"] is True
    assert len(body["processes"]) == 6


async def test_status_needs_a_whitelisted_token(
    aiohttp_client: Any, service_env: dict[str, Any], reserved_port: int
) -> None:
    url = f"http://127.0.0.1:{reserved_port}"
    settings = Settings(
        **{
            **service_env,
            "promotion_upstreams": url,
            "issuance_upstreams": url,
            "redemption_upstreams": url,
            "webhook_upstreams": url,
            "bootstrap_admin_token": TEST_ADMIN_TOKEN,
        }
    )
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/api/v1/status")).status == 401
    tokens = {}
    for name, whitelist in (("other", ["GET /v2/coupon/series"]), ("ops", ["GET /api/v1/status"])):
        body = {"name": name, "whitelist": whitelist}
        created = await client.post("/api/v1/api-tokens", json=body, headers=ADMIN)
        tokens[name] = {"Authorization": f"Bearer {(await created.json())['token']}"}
    refused = await client.get("/api/v1/status", headers=tokens["other"])
    assert refused.status == 403
    assert (await refused.json())["status"] == "error"  # the CRM envelope
    allowed = await client.get("/api/v1/status", headers=tokens["ops"])
    assert allowed.status == 200
    assert (await allowed.json())["status"] == "degraded"  # every upstream is down
