"""``GET /api/v1/subscriptions``: the subscriptions activations granted, by user id or by the
email the user had when activating (CRM envelope, paginated)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
from aiohttp import web
from coupon_core.facts import SubscriptionGrant
from coupon_core.identity import Principal
from coupon_dev.testing.plugin import signed_as
from redis.asyncio import Redis

from .conftest import API_CLIENT, publish_group

LIST = "/api/v1/subscriptions"
ADA = Principal("user", "42", "Ada@Example.com")
BOB = Principal("user", "43", "bob@example.com")
GRANT = SubscriptionGrant(
    subscription_type_id=123, subscription_type_name="1 month promo subscription", length_days=30
)


@pytest.fixture
async def client(aiohttp_client: Any, app: web.Application, redis: Redis) -> Any:
    await publish_group(redis, "P:new-user-promo", ["ACT-1", "ACT-2", "ACT-3"], grant=GRANT)
    return await aiohttp_client(app)


async def activate(client: Any, code: str, user: Principal) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/coupon/activate", json={"code": code}, middlewares=(signed_as(user),)
    )
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def listing(
    client: Any, principal: Principal = API_CLIENT, /, **query: str
) -> tuple[int, dict[str, Any]]:
    resp = await client.get(f"{LIST}?{urlencode(query)}", middlewares=(signed_as(principal),))
    return resp.status, await resp.json()


async def test_a_users_subscriptions_by_id_or_email(client: Any) -> None:
    first = await activate(client, "ACT-1", ADA)
    second = await activate(client, "ACT-2", ADA)
    await activate(client, "ACT-3", BOB)
    status, body = await listing(client, userId="42")
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 2, "pages": 1}
    newest, oldest = body["subscriptions"]
    assert (newest["id"], oldest["id"]) == (second["subscription_id"], first["subscription_id"])
    assert oldest == {
        "id": first["subscription_id"],
        "user_id": "42",
        "email": "Ada@Example.com",
        "coupon_code": "ACT-1",
        "coupon_type": "new-user-promo",
        "subscription_type_id": 123,
        "subscription_type_name": "1 month promo subscription",
        "start_time": first["subscription_start_time"],
        "end_time": first["subscription_end_time"],
        "activated_at": oldest["activated_at"],
    }
    activated = datetime.fromisoformat(oldest["activated_at"])
    assert abs(activated - datetime.fromisoformat(first["subscription_start_time"])) < timedelta(
        seconds=5
    )
    # The email as the user had it at activation, whatever its case.
    assert (await listing(client, email="ada@example.COM"))[1]["subscriptions"] == [newest, oldest]
    assert (await listing(client, email="ada@example.com", userId="42"))[1]["pagination"][
        "total"
    ] == 2
    assert [
        s["coupon_code"]
        for s in (await listing(client, email="bob@example.com"))[1]["subscriptions"]
    ] == ["ACT-3"]
    assert (await listing(client, email="nobody@example.com"))[1]["subscriptions"] == []
    assert (await listing(client, email="bob@example.com", userId="42"))[1]["subscriptions"] == []


async def test_pages(client: Any) -> None:
    for code in ("ACT-1", "ACT-2", "ACT-3"):
        await activate(client, code, ADA)
    codes = []
    for page in (1, 2):
        status, body = await listing(client, userId="42", limit="2", page=str(page))
        assert status == 200
        assert body["pagination"] == {"page": page, "limit": 2, "total": 3, "pages": 2}
        codes += [s["coupon_code"] for s in body["subscriptions"]]
    assert codes == ["ACT-3", "ACT-2", "ACT-1"]


async def test_a_subscription_from_before_emails_were_kept_lists_by_user_id(
    client: Any, database_url: str
) -> None:
    await activate(client, "ACT-1", ADA)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE subscriptions SET user_email = NULL")
    finally:
        await conn.close()
    (found,) = (await listing(client, userId="42"))[1]["subscriptions"]
    assert found["email"] is None
    assert (await listing(client, email="ada@example.com"))[1]["subscriptions"] == []


@pytest.mark.parametrize(
    ("field", "query"),
    [
        ("userId", {}),
        ("userId", {"userId": "", "email": ""}),
        ("userId", {"userId": "u" * 256}),
        ("email", {"email": "e" * 256}),
        ("limit", {"userId": "42", "limit": "0"}),
        ("limit", {"userId": "42", "limit": "101"}),
        ("page", {"userId": "42", "page": "0"}),
        ("page", {"userId": "42", "page": "two"}),
        ("page", {"userId": "42", "page": str(10**28)}),
        ("userId", {"userId": "a\x00b"}),
        ("unknown", {"userId": "42", "unknown": "1"}),
    ],
)
async def test_bad_input_is_400_naming_the_field(
    client: Any, field: str, query: dict[str, str]
) -> None:
    status, body = await listing(client, **query)
    assert status == 400, body
    assert (body["status"], body["code"]) == ("error", "invalid_input")
    assert body["message"].startswith(f"{field}: "), body


async def test_a_user_token_may_not_list_anyones_subscriptions(client: Any) -> None:
    status, body = await listing(client, ADA, userId="42")
    assert status == 403
    assert (body["status"], body["code"]) == ("error", "forbidden")
