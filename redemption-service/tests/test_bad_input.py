"""Bad text and loose types on redeem, the dry runs, reversal and activation (SPEC section
7): a NUL in the body or the query, a boolean for a number or a string, a body that is not
JSON are each a 4xx in the family's envelope that redeems nothing. The seeds' habits stay:
amounts as strings (seed 003) and identifiers not given as empty strings (seed 002)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp import web
from coupon_dev.gateway_fixtures import register_and_login
from redis.asyncio import Redis

from .conftest import coupon_in, ledger_rows, publish_customer, publish_group, redeem_body

CODE = "UZHYF"


@pytest.fixture
async def client(through_gateway: Any, app: web.Application, redis: Redis) -> Any:
    await publish_customer(redis, "c-1", mobile="9999988886", external_id="0000011110")
    await publish_group(redis, "S:1", [CODE], any_user=True, series_code="1")
    return await through_gateway(app)


def _v11_code(body: dict[str, Any]) -> int:
    status = body["response"]["status"]
    assert status["success"] == "false"
    code: int = status["code"]
    return code


NUL_COUPONS = {
    "transaction number": coupon_in(CODE, "9999988886", transaction=[{"number": "T\u00001"}]),
    "transaction number, one object": coupon_in(
        CODE, "9999988886", transaction={"number": "T\u00001", "amount": "5000"}
    ),
    "custom field value": coupon_in(
        CODE, "9999988886", custom_fields={"field": [{"name": "Sport", "value": "A\u0000B"}]}
    ),
    "custom field name": coupon_in(
        CODE, "9999988886", custom_fields={"field": [{"name": "S\u0000", "value": "x"}]}
    ),
    "validation code": coupon_in(CODE, "9999988886", validation_code="V\u0000"),
    "customer": {**coupon_in(CODE, "9999988886"), "customer": {"mobile": "99999\u000088886"}},
    "code": coupon_in("UZ\u0000HYF", "9999988886"),
}


@pytest.mark.parametrize("case", list(NUL_COUPONS))
async def test_nul_in_a_redeem_is_400_and_redeems_nothing(
    client: Any, settings: Any, case: str
) -> None:
    resp = await client.post("/v1.1/coupon/redeem", json=redeem_body(NUL_COUPONS[case]))
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert _v11_code(body) == 400
    assert "NUL" in body["response"]["status"]["message"]
    assert await ledger_rows(settings.database_url) == []


@pytest.mark.parametrize(
    "query",
    [
        f"code={CODE}%00&mobile=9999988886&amount=5000",
        f"code={CODE}&mobile=9999988886%00&amount=5000",
        f"code={CODE}&email=%00&amount=5000",
        f"code={CODE}&mobile=9999988886&amount=5000%00",
        f"code={CODE}&mobile=9999988886&amount=5000&transaction_number=T%00",
    ],
)
async def test_nul_in_a_dry_run_query_is_400(client: Any, query: str) -> None:
    v11 = await client.get(f"/v1.1/coupon/isredeemable?{query}")
    assert v11.status == 400, await v11.text()
    assert _v11_code(await v11.json()) == 400
    v2 = await client.get(f"/v2/coupon/is_redeemable?{query.replace('&email', '&externalId')}")
    assert v2.status == 400, await v2.text()
    assert (await v2.json())["errors"][0]["code"] == 400


@pytest.mark.parametrize(
    "coupon",
    [
        coupon_in(CODE, "9999988886", amount=True),
        coupon_in(CODE, "9999988886", amount=False),
        coupon_in(CODE, "9999988886", transaction=[{"number": True, "amount": "5000"}]),
        {**coupon_in(CODE, "9999988886"), "customer": {"mobile": True}},
        {**coupon_in(CODE, "9999988886"), "customer": {"id": 1.5}},
        {**coupon_in(CODE, "9999988886"), "code": 12345},
    ],
)
async def test_a_value_of_another_type_is_400(client: Any, settings: Any, coupon: Any) -> None:
    resp = await client.post("/v1.1/coupon/redeem", json=redeem_body(coupon))
    assert resp.status == 400, await resp.text()
    assert _v11_code(await resp.json()) == 400
    assert await ledger_rows(settings.database_url) == []


@pytest.mark.parametrize("amount", ["5000", "5000.00", 5000, 5000.0])
async def test_the_seed_amount_is_a_number_or_numeric_text(client: Any, amount: Any) -> None:
    resp = await client.post(
        "/v1.1/coupon/redeem", json=redeem_body(coupon_in(CODE, "9999988886", amount=amount))
    )
    assert resp.status == 200, await resp.text()
    coupon = (await resp.json())["response"]["coupons"]["coupon"]
    assert coupon["item_status"]["code"] == 700
    assert coupon["transaction"]["amount"] == "5000.00"


async def test_activation_flag_is_a_boolean(client: Any) -> None:
    token = await register_and_login(client, "flag@example.com")
    user = {"Authorization": f"Bearer {token}"}
    for flag in (1, "true", 0):
        resp = await client.post(
            "/api/v1/coupon/activate", json={"code": CODE, "notifyUser": flag}, headers=user
        )
        assert resp.status == 400, await resp.text()
        body = await resp.json()
        assert (body["status"], body["code"]) == ("error", "invalid_input")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_json_is_415(
    client: Any, settings: Any, content_type: str
) -> None:
    raw = redeem_body(coupon_in(CODE, "9999988886"))
    headers = {"Content-Type": content_type}
    redeem = await client.post("/v1.1/coupon/redeem", data=orjson.dumps(raw), headers=headers)
    assert redeem.status == 415, await redeem.text()
    assert _v11_code(await redeem.json()) == 415
    reverse = await client.post(
        "/v2/coupon/redemptions/1/reverse", data=b'{"reason": "x"}', headers=headers
    )
    assert reverse.status == 415, await reverse.text()
    assert (await reverse.json())["errors"][0]["code"] == 415
    token = await register_and_login(client, "text@example.com")
    activate = await client.post(
        "/api/v1/coupon/activate",
        data=b'{"code": "UZHYF"}',
        headers={**headers, "Authorization": f"Bearer {token}"},
    )
    assert activate.status == 415, await activate.text()
    body = await activate.json()
    assert (body["status"], body["code"]) == ("error", "unsupported_media_type")
    assert await ledger_rows(settings.database_url) == []


async def test_seed_shaped_empty_identifiers_are_absent(client: Any) -> None:
    v2 = await client.get(
        f"/v2/coupon/is_redeemable?code={CODE}&id=&mobile=9999988886&externalId=&email=&amount=5000"
    )
    assert v2.status == 200, await v2.text()
    assert (await v2.json())["redemption"][0]["errorCode"] == 700
    v11 = await client.get(
        f"/v1.1/coupon/isredeemable?code={CODE}&mobile=&email=&external_id=0000011110&amount=5000"
    )
    assert v11.status == 200, await v11.text()
    assert (await v11.json())["response"]["coupons"]["redeemable"]["is_redeemable"] == "true"

    customer = {"mobile": "9999988886", "email": "", "external_id": "", "id": ""}
    coupon = {**coupon_in(CODE, "9999988886"), "customer": customer}
    resp = await client.post("/v1.1/coupon/redeem", json=redeem_body(coupon))
    assert resp.status == 200, await resp.text()
    item = (await resp.json())["response"]["coupons"]["coupon"]
    assert item["item_status"]["code"] == 700
    assert item["customer"] == {"mobile": "9999988886", "email": "", "external_id": ""}
