"""CRM activation (seed 000) and the caller's subscriptions."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web
from coupon_core.facts import SubscriptionGrant
from coupon_core.identity import Principal
from coupon_dev.testing.plugin import signed_as
from redis.asyncio import Redis

from .conftest import mark_facts_ready, publish_group

ACTIVATE = "/api/v1/coupon/activate"
USER = Principal("user", "42", "user@example.com")
GRANT = SubscriptionGrant(
    subscription_type_id=123, subscription_type_name="1 month promo subscription", length_days=30
)


@pytest.fixture
async def client(aiohttp_client: Any, app: web.Application, redis: Redis) -> Any:
    await publish_group(
        redis, "P:new-user-promo", ["ACT-1", "ACT-2"], grant=GRANT, coupon={"usage_limit": 5}
    )
    return await aiohttp_client(app)


async def activate(
    client: Any, body: Any, principal: Principal = USER, **headers: str
) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        ACTIVATE,
        data=body if isinstance(body, bytes) else orjson.dumps(body),
        headers=headers,
        middlewares=(signed_as(principal),),
    )
    return resp.status, await resp.json()


def _time(text: str) -> datetime:
    assert text.endswith("+00:00")
    return datetime.fromisoformat(text)


async def test_activation_matches_the_seed_and_chains_subscriptions(client: Any) -> None:
    status, body = await activate(client, {"code": "ACT-1", "notifyUser": True})
    assert status == 200
    assert list(body) == [
        "coupon_id",
        "coupon_type",
        "subscription_id",
        "subscription_type_id",
        "subscription_type_name",
        "subscription_start_time",
        "subscription_end_time",
    ]
    assert body["coupon_id"] == 1000
    assert body["coupon_type"] == "new-user-promo"
    assert isinstance(body["subscription_id"], int)
    assert body["subscription_type_id"] == 123
    assert body["subscription_type_name"] == "1 month promo subscription"
    start, end = _time(body["subscription_start_time"]), _time(body["subscription_end_time"])
    assert end - start == timedelta(days=30)
    assert abs(start.timestamp() - time.time()) < 120
    # A second coupon of the same type starts when the first subscription ends.
    status, second = await activate(client, {"code": "ACT-2"})
    assert status == 200
    assert _time(second["subscription_start_time"]) == end
    path = "/api/v1/users/subscriptions"
    resp = await client.get(path, middlewares=(signed_as(USER),))
    listed = await resp.json()
    assert [s["id"] for s in listed["subscriptions"]] == [
        body["subscription_id"],
        second["subscription_id"],
    ]


async def test_activation_errors(client: Any, redis: Redis) -> None:
    await publish_group(redis, "P:old", ["OLD-1"], grant=GRANT, ends_at=int(time.time()) - 10)
    await publish_group(redis, "P:plain", ["PLAIN-1"])
    await mark_facts_ready(redis)
    assert (await activate(client, {"code": "ACT-1"}))[0] == 200
    cases: list[tuple[Any, Principal, int, str]] = [
        ({"code": "ACT-1"}, USER, 400, "coupon_already_used"),
        ({"code": "NOPE"}, USER, 404, "coupon_doesnt_exist"),
        ({"code": "PLAIN-1"}, USER, 404, "coupon_doesnt_exist"),
        ({"code": "OLD-1"}, USER, 410, "coupon_expired"),
        ({"code": "ACT-2"}, Principal("api_token", "1", "t"), 403, "cannot_authorize_user"),
        ({"notifyUser": True}, USER, 400, "invalid_input"),
        ({"code": 5}, USER, 400, "invalid_input"),
        (b"{oops", USER, 400, "invalid_input"),
    ]
    for body, principal, status, code in cases:
        got_status, got = await activate(client, body, principal)
        assert (got_status, got["code"]) == (status, code), body
        assert got["status"] == "error"
        assert set(got) == {"status", "message", "code"}


async def test_activation_idempotency_key(client: Any) -> None:
    first = await activate(client, {"code": "ACT-1"}, USER, **{"Idempotency-Key": "a-1"})
    second = await activate(client, {"code": "ACT-1"}, USER, **{"Idempotency-Key": "a-1"})
    assert first == second
    assert first[0] == 200


async def test_a_refused_activation_is_replayed_as_the_same_refusal(client: Any) -> None:
    """The coupon was used under another key: the refusal is this key's answer, replayed."""
    assert (await activate(client, {"code": "ACT-1"}, USER, **{"Idempotency-Key": "a-2"}))[0] == 200
    answers = []
    for _ in range(2):
        resp = await client.post(
            ACTIVATE,
            json={"code": "ACT-1"},
            headers={"Idempotency-Key": "a-3"},
            middlewares=(signed_as(USER),),
        )
        answers.append((resp.status, await resp.json(), resp.headers.get("Idempotent-Replayed")))
    (status, body, replayed), (again, body_again, replayed_again) = answers
    assert (status, body["code"], replayed) == (400, "coupon_already_used", None)
    assert (again, body_again, replayed_again) == (400, body, "true")
