"""The webhook management API through the gateway: endpoints, validation, URL safety,
secret rotation and who may call it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from coupon_dev.gateway_fixtures import bearer, create_token
from webhook_service.app import create_app
from webhook_service.settings import Settings

BASE = "/api/v1/webhooks"
PUBLIC = "https://93.184.215.14/hooks"

Client = TestClient[Any, Any]


@pytest.fixture
async def db(api: Client, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The service's database (migrated by the service ``api`` started)."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


async def _create(api: Client, **fields: Any) -> dict[str, Any]:
    body = {"url": PUBLIC, "events": ["coupon.redeemed"], **fields}
    response = await api.post(BASE, json=body)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def _crm_error(response: Any, status: int, code: str) -> str:
    assert response.status == status, await response.text()
    body = await response.json()
    assert body["status"] == "error"
    assert body["code"] == code, body
    message: str = body["message"]
    return message


async def test_create_shows_the_secret_once(api: Client, db: asyncpg.Connection) -> None:
    created = await _create(api, events=["coupon.redeemed", "limit.reached"], description="CRM")
    assert created["url"] == PUBLIC
    assert created["events"] == ["coupon.redeemed", "limit.reached"]
    assert created["description"] == "CRM"
    assert created["enabled"] is True
    assert created["disabledAt"] is None
    assert created["failingSince"] is None
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    stored = await db.fetchval("SELECT secret FROM webhook_endpoints WHERE id = $1", created["id"])
    assert stored == secret

    shown = await api.get(f"{BASE}/{created['id']}")
    assert shown.status == 200
    body = await shown.json()
    assert "secret" not in body
    assert body == {key: value for key, value in created.items() if key != "secret"}

    listed = await (await api.get(BASE)).json()
    assert listed == {"webhooks": [body]}
    assert secret not in str(listed)


async def test_every_type_is_subscribed_with_a_star(api: Client) -> None:
    created = await _create(api, events=["*"], enabled=False)
    assert created["events"] == ["*"]
    assert created["enabled"] is False
    assert created["disabledAt"] is not None


async def test_repeated_types_are_kept_once(api: Client) -> None:
    created = await _create(api, events=["coupon.issued", "coupon.issued", "limit.reached"])
    assert created["events"] == ["coupon.issued", "limit.reached"]


async def test_the_list_is_paged_by_id(api: Client) -> None:
    ids = [(await _create(api, description=str(n)))["id"] for n in range(3)]
    first = await (await api.get(BASE, params={"limit": "2"})).json()
    assert [w["id"] for w in first["webhooks"]] == ids[:2]
    rest = await (await api.get(BASE, params={"after": str(ids[1])})).json()
    assert [w["id"] for w in rest["webhooks"]] == ids[2:]


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"after": "-1"}, {"page": "2"}]
)
async def test_a_bad_page_is_refused(api: Client, query: dict[str, str]) -> None:
    message = await _crm_error(await api.get(BASE, params=query), 400, "invalid_input")
    assert next(iter(query)) in message


async def test_patch_changes_what_is_given(api: Client) -> None:
    created = await _create(api, description="before")
    other = "https://93.184.215.15/other"
    response = await api.patch(
        f"{BASE}/{created['id']}", json={"url": other, "events": ["coupon.issued"]}
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["url"], body["events"], body["description"]) == (
        other,
        ["coupon.issued"],
        "before",
    )
    assert "secret" not in body
    assert body["updatedAt"] >= created["updatedAt"]


async def test_disabling_records_when_and_enabling_clears_the_failure_record(
    api: Client, db: asyncpg.Connection
) -> None:
    created = await _create(api)
    path = f"{BASE}/{created['id']}"
    disabled = await (await api.patch(path, json={"enabled": False})).json()
    assert disabled["enabled"] is False
    assert disabled["disabledAt"] is not None
    assert disabled["disabledReason"]
    await db.execute(
        "UPDATE webhook_endpoints SET failing_since = now() - interval '5 days' WHERE id = $1",
        created["id"],
    )
    enabled = await (await api.patch(path, json={"enabled": True})).json()
    assert enabled["enabled"] is True
    assert (enabled["disabledAt"], enabled["disabledReason"], enabled["failingSince"]) == (
        None,
        None,
        None,
    )


async def test_delete_removes_the_endpoint_and_its_deliveries(
    api: Client, db: asyncpg.Connection
) -> None:
    created = await _create(api, enabled=False)  # the delivery is never attempted
    await db.execute(
        "INSERT INTO webhook_events (id, type, body, occurred_at) "
        "VALUES ('evt_test_1', 'coupon.redeemed', '{}', now())"
    )
    await db.execute(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id) VALUES ($1, 'evt_test_1')",
        created["id"],
    )
    response = await api.delete(f"{BASE}/{created['id']}")
    assert response.status == 200
    assert (await response.json())["id"] == created["id"]
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 0
    await _crm_error(await api.get(f"{BASE}/{created['id']}"), 404, "webhook_not_found")


async def test_an_unknown_endpoint_is_404(api: Client) -> None:
    for missing in ("999", "abc", "99999999999999999999"):
        for method, tail, body in (
            ("GET", "", None),
            ("PATCH", "", {"enabled": False}),
            ("DELETE", "", None),
            ("POST", "/rotate-secret", {}),
            ("POST", "/test", {}),
            ("GET", "/deliveries", None),
            ("GET", "/attempts", None),
            ("POST", "/redeliver", {"eventId": "evt_x"}),
        ):
            response = await api.request(method, f"{BASE}/{missing}{tail}", json=body)
            await _crm_error(response, 404, "webhook_not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["coupon.redeemed"]}, "url"),
        ({"url": 123, "events": ["*"]}, "url"),
        ({"url": "https://example.com/" + "a" * 2030, "events": ["*"]}, "url"),
        ({"url": "not a url", "events": ["*"]}, "url"),
        ({"url": "/relative/path", "events": ["*"]}, "url"),
        ({"url": "https://example.com:99999/", "events": ["*"]}, "url"),
        ({"url": PUBLIC}, "events"),
        ({"url": PUBLIC, "events": []}, "events"),
        ({"url": PUBLIC, "events": "coupon.redeemed"}, "events"),
        ({"url": PUBLIC, "events": ["coupon.redeemed", "coupon.nope"]}, "coupon.nope"),
        ({"url": PUBLIC, "events": ["coupon.created"]}, "coupon.created"),
        ({"url": PUBLIC, "events": ["webhook.test"]}, "webhook.test"),
        ({"url": PUBLIC, "events": ["*", "coupon.issued"]}, "events"),
        ({"url": PUBLIC, "events": ["*"], "enabled": "yes"}, "enabled"),
        ({"url": PUBLIC, "events": ["*"], "description": 5}, "description"),
        ({"url": PUBLIC, "events": ["*"], "description": "x" * 501}, "description"),
        ({"url": PUBLIC, "events": ["*"], "description": "a\x07b"}, "description"),
        ({"url": PUBLIC, "events": ["*"], "secret": "whsec_mine"}, "secret"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_written(
    api: Client, db: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    message = await _crm_error(await api.post(BASE, json=body), 400, "invalid_input")
    assert field in message
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_a_body_that_is_not_json_is_refused(api: Client, db: asyncpg.Connection) -> None:
    response = await api.post(BASE, data=b"{url:", headers={"Content-Type": "application/json"})
    await _crm_error(response, 400, "invalid_input")
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"enabled": None}, {"events": ["nope.nope"]}, {"url": "ftp x"}, {"id": 5}],
)
async def test_a_bad_patch_changes_nothing(
    api: Client, db: asyncpg.Connection, body: dict[str, Any]
) -> None:
    created = await _create(api)
    await _crm_error(await api.patch(f"{BASE}/{created['id']}", json=body), 400, "invalid_input")
    shown = await (await api.get(f"{BASE}/{created['id']}")).json()
    assert shown["updatedAt"] == created["updatedAt"]


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/coupons",  # plain http to a host that is not loopback
        "https://10.0.0.1/hooks",  # private
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://user:password@93.184.215.14/hooks",  # credentials in the URL
        "ftp://93.184.215.14/hooks",
    ],
)
async def test_an_unsafe_url_is_refused(api: Client, db: asyncpg.Connection, url: str) -> None:
    response = await api.post(BASE, json={"url": url, "events": ["*"]})
    await _crm_error(response, 400, "unsafe_url")
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0

    created = await _create(api)
    changed = await api.patch(f"{BASE}/{created['id']}", json={"url": url})
    await _crm_error(changed, 400, "unsafe_url")
    assert (await (await api.get(f"{BASE}/{created['id']}")).json())["url"] == PUBLIC


async def test_loopback_is_refused_unless_allowlisted(
    service_env: dict[str, Any], through_gateway: Any, api: Client
) -> None:
    receiver = "http://[::1]:8080/hooks"
    # The tests' settings allowlist loopback (their receivers listen there) ...
    assert (await api.post(BASE, json={"url": receiver, "events": ["*"]})).status == 201
    # ... a service without the allowlist refuses it, even with http on loopback allowed.
    strict = Settings(**service_env, webhook_allow_http_loopback=True)
    client: Client = await through_gateway(create_app(strict))
    for url in (receiver, "https://[::1]/hooks", "https://127.0.0.1/hooks"):
        response = await client.post(BASE, json={"url": url, "events": ["*"]})
        await _crm_error(response, 400, "unsafe_url")


async def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_the_grace(
    api: Client, db: asyncpg.Connection, settings: Settings
) -> None:
    created = await _create(api)
    path = f"{BASE}/{created['id']}/rotate-secret"
    before = datetime.now(UTC)
    response = await api.post(path)  # no body: the configured grace period
    assert response.status == 200, await response.text()
    rotated = await response.json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    expires = datetime.fromisoformat(rotated["previousSecretExpiresAt"])
    grace = timedelta(hours=settings.webhook_secret_grace_h)
    assert before + grace <= expires <= datetime.now(UTC) + grace
    row = await db.fetchrow(
        "SELECT secret, previous_secret, previous_secret_expires_at FROM webhook_endpoints "
        "WHERE id = $1",
        created["id"],
    )
    assert row is not None
    assert (row["secret"], row["previous_secret"]) == (rotated["secret"], created["secret"])
    assert row["previous_secret_expires_at"] == expires
    shown = await (await api.get(f"{BASE}/{created['id']}")).json()
    assert "secret" not in shown
    assert shown["previousSecretExpiresAt"] == rotated["previousSecretExpiresAt"]

    again = await (await api.post(path, json={"graceHours": 0})).json()
    row = await db.fetchrow(
        "SELECT secret, previous_secret FROM webhook_endpoints WHERE id = $1", created["id"]
    )
    assert row is not None
    assert (row["secret"], row["previous_secret"]) == (again["secret"], None)
    assert again["previousSecretExpiresAt"] is None


@pytest.mark.parametrize("grace", [-1, 169, "24", True, 1.5])
async def test_a_bad_grace_period_is_refused(
    api: Client, db: asyncpg.Connection, grace: Any
) -> None:
    created = await _create(api)
    path = f"{BASE}/{created['id']}/rotate-secret"
    message = await _crm_error(
        await api.post(path, json={"graceHours": grace}), 400, "invalid_input"
    )
    assert "graceHours" in message
    stored = await db.fetchval("SELECT secret FROM webhook_endpoints WHERE id = $1", created["id"])
    assert stored == created["secret"]


async def test_a_token_not_whitelisted_for_webhooks_is_forbidden(api: Client) -> None:
    created = await _create(api)
    reader = await create_token(api, "reader", ["GET /api/v1/webhooks"])
    as_reader = bearer(reader["token"])
    assert (await api.get(BASE, headers=as_reader)).status == 200
    for method, path in (
        ("POST", BASE),
        ("GET", f"{BASE}/{created['id']}"),
        ("POST", f"{BASE}/{created['id']}/rotate-secret"),
        ("DELETE", f"{BASE}/{created['id']}"),
    ):
        response = await api.request(method, path, json={}, headers=as_reader)
        assert response.status == 403, (method, path)
        assert (await response.json())["status"] == "error"
    pos = await create_token(api, "pos", ["POST /v1.1/coupon/redeem"])
    assert (await api.get(BASE, headers=bearer(pos["token"]))).status == 403
    assert (await (await api.get(f"{BASE}/{created['id']}")).json())["url"] == PUBLIC


async def test_an_oversized_event_type_is_refused_without_echoing_it(api: Client) -> None:
    response = await api.post(BASE, json={"url": PUBLIC, "events": ["coupon." + "x" * 100_000]})
    message = await _crm_error(response, 400, "invalid_input")
    assert "events" in message
    assert len(message) < 1000
