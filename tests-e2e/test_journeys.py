"""Journeys through the gateway only, over HTTP, as the platform's clients make them: a CRM
issues series coupons to customers; a checkout dry-runs, redeems, retries with the same
idempotency key and reverses; the counters agree across services afterwards."""

from __future__ import annotations

from typing import Any

import aiohttp
from coupon_dev.stack import Stack
from coupon_dev.testing.poll import until
from support.api import (
    PROPAGATION_DEADLINE_S,
    call,
    create_coupon,
    create_customer,
    create_discount_promotion,
    create_grant_promotion,
    item,
    mobile,
    redeem_body,
    register_and_login,
    unique,
)


async def _token(session: aiohttp.ClientSession, gw: str, whitelist: list[str]) -> dict[str, str]:
    _, body, _ = await call(
        session,
        "POST",
        f"{gw}/api/v1/api-tokens",
        json={"name": unique("journey-"), "whitelist": whitelist},
        expect=201,
    )
    return {"Authorization": f"Bearer {body['token']}"}


async def test_crm_issues_and_checkout_redeems_retries_and_reverses(
    stack: Stack, auth: dict[str, str]
) -> None:
    gw = stack.gateway_url
    async with aiohttp.ClientSession(headers=auth) as admin:
        crm = await _token(
            admin,
            gw,
            [
                "POST /v2/coupon/series",
                "GET /v2/coupon/series/{id}",
                "POST /v2/customers",
                "GET /v2/customers/{id}/coupons",
                "POST /v2/coupon/issue",
                "POST /v2/coupon/issue/multiple",
            ],
        )
        checkout = await _token(
            admin,
            gw,
            [
                "GET /v1.1/coupon/isredeemable",
                "GET /v2/coupon/is_redeemable",
                "POST /v1.1/coupon/redeem",
                "POST /v2/coupon/redemptions/{redemptionId}/reverse",
            ],
        )
    async with aiohttp.ClientSession(headers=crm) as session:
        # The checkout's token is not whitelisted for the CRM's endpoints, and vice versa.
        status, _, _ = await call(session, "POST", f"{gw}/v1.1/coupon/redeem", json={})
        assert status == 403
        _, series, _ = await call(
            session,
            "POST",
            f"{gw}/v2/coupon/series",
            json={
                "description": "journey series",
                "discountCode": unique("J"),
                "discountType": "ABS",
                "discountValue": 500,
                "validTillDate": "2099-01-01T00:00:00Z",
                "maxRedeem": 3,
                "couponPrefix": "J",
            },
            expect=201,
        )
        series_id = series["id"]
        ann_mobile = mobile()
        ann = await create_customer(session, gw, firstName="Ann", mobile=ann_mobile)
        _, issued, _ = await call(
            session,
            "POST",
            f"{gw}/v2/coupon/issue",
            json={"seriesId": series_id, "customer": {"mobile": ann_mobile}},
            expect=200,
        )
        code = issued["code"]
        bob_email = f"{unique('bob')}@example.com"
        _, many, _ = await call(
            session,
            "POST",
            f"{gw}/v2/coupon/issue/multiple",
            json={"seriesId": series_id, "customer": {"email": bob_email}, "count": 2},
            expect=200,
        )
        assert len(many["codes"]) == 2

    async with aiohttp.ClientSession(headers=checkout) as session:
        ann_ref = {"mobile": ann_mobile}
        _, dry, _ = await call(
            session,
            "GET",
            f"{gw}/v2/coupon/is_redeemable",
            params={"code": code, "mobile": ann_mobile, "amount": "5000"},
            expect=200,
        )
        assert dry["redemption"][0]["isRedeemable"] is True
        assert dry["redemption"][0]["errorCode"] == 700
        # Bob may not redeem a coupon issued to Ann.
        _, other, _ = await call(
            session,
            "GET",
            f"{gw}/v1.1/coupon/isredeemable",
            params={"code": code, "email": bob_email, "amount": "5000"},
            expect=200,
        )
        refused = other["response"]["coupons"]["redeemable"]
        assert refused["is_redeemable"] == "false"
        assert refused["item_status"]["code"] == 710

        body = redeem_body(code, ann_ref, amount="5000", number="T-journey-1")
        key = {"Idempotency-Key": unique("order-")}
        _, first, _ = await call(
            session, "POST", f"{gw}/v1.1/coupon/redeem", json=body, headers=key, expect=200
        )
        redeemed = item(first)
        assert redeemed["item_status"]["code"] == 700, first
        assert redeemed["coupon_value"] == "500"
        redemption_id = redeemed["redemption_id"]
        _, replay, headers = await call(
            session, "POST", f"{gw}/v1.1/coupon/redeem", json=body, headers=key, expect=200
        )
        assert replay == first
        assert headers.get("Idempotent-Replayed") == "true"
        other_body = redeem_body(code, ann_ref, amount="6000")
        status, _, _ = await call(
            session, "POST", f"{gw}/v1.1/coupon/redeem", json=other_body, headers=key
        )
        assert status == 422
        _, again, _ = await call(
            session, "POST", f"{gw}/v1.1/coupon/redeem", json=other_body, expect=200
        )
        assert item(again)["item_status"]["code"] == 711

    async def counts() -> tuple[int, int, int]:
        async with aiohttp.ClientSession(headers=auth) as session:
            _, s, _ = await call(session, "GET", f"{gw}/v2/coupon/series/{series_id}", expect=200)
            _, c, _ = await call(
                session, "GET", f"{gw}/v2/customers/{ann['id']}/coupons", expect=200
            )
        mine: Any = next(x for x in c["coupons"] if x["code"] == code)
        return s["numIssued"], s["numRedeemed"], mine["redemptionCount"]

    await until(
        counts, "numIssued, numRedeemed, redemptionCount", PROPAGATION_DEADLINE_S, equals=(3, 1, 1)
    )

    async with aiohttp.ClientSession(headers=checkout) as session:
        url = f"{gw}/v2/coupon/redemptions/{redemption_id}/reverse"
        _, reversal, _ = await call(session, "POST", url, json={"reason": "cancelled"}, expect=200)
        assert reversal["reversal"]["reversed"] is True
        _, twice, _ = await call(session, "POST", url, json={"reason": "cancelled"}, expect=200)
        assert twice["reversal"]["redemptionId"] == reversal["reversal"]["redemptionId"]
        assert twice["reversal"]["reversedAt"] == reversal["reversal"]["reversedAt"]
    await until(counts, "after the reversal", PROPAGATION_DEADLINE_S, equals=(3, 0, 0))

    async with aiohttp.ClientSession(headers=checkout) as session:
        _, after, _ = await call(
            session,
            "POST",
            f"{gw}/v1.1/coupon/redeem",
            json=redeem_body(code, {"id": ann["id"]}),
            expect=200,
        )
        assert item(after)["item_status"]["code"] == 700, after
    await until(
        counts, "redeemed again after the reversal", PROPAGATION_DEADLINE_S, equals=(3, 1, 1)
    )


async def test_reader_registers_logs_in_and_reaches_only_user_endpoints(
    stack: Stack, auth: dict[str, str]
) -> None:
    """The reader's side of activation that does not need a promotion: register and log in
    through the gateway, list subscriptions (none yet), and the activation errors. (An
    unknown code is 404 only once the promotion service publishes its facts; until it is
    merged, the redemption service answers a retryable 503 for it.)"""
    gw = stack.gateway_url
    email = f"{unique('reader')}@example.com"
    async with aiohttp.ClientSession() as anonymous:
        registered, login = await register_and_login(anonymous, gw, email)
        assert login["user"]["id"] == registered["user"]["id"]
        status, _, _ = await call(anonymous, "GET", f"{gw}/api/v1/users/subscriptions")
        assert status == 401
    user = {"Authorization": f"Bearer {login['access']['token']}"}
    async with aiohttp.ClientSession(headers=user) as reader:
        _, subscriptions, _ = await call(
            reader, "GET", f"{gw}/api/v1/users/subscriptions", expect=200
        )
        assert subscriptions["subscriptions"] == []
        # A user token reaches user endpoints only.
        status, _, _ = await call(reader, "GET", f"{gw}/v2/coupon/series?limit=1")
        assert status == 403
    async with aiohttp.ClientSession(headers=auth) as admin:
        _, refused, _ = await call(
            admin, "POST", f"{gw}/api/v1/coupon/activate", json={"code": "X"}, expect=403
        )
        assert refused["code"] == "cannot_authorize_user"


async def test_marketer_generates_checkout_redeems_reader_activates(
    stack: Stack, auth: dict[str, str]
) -> None:
    """A marketer creates promotions and coupons; a checkout redeems one; a reader who
    registered and logged in through the gateway activates a subscription coupon; `used`
    follows on both coupons and promotions."""
    gw = stack.gateway_url
    sale, grant = unique("SALE-").upper(), unique("GRANT-").upper()
    async with aiohttp.ClientSession(headers=auth) as admin:
        await create_discount_promotion(admin, gw, sale, "Sale", 500)
        await create_grant_promotion(admin, gw, grant)
        sale_code, grant_code = unique("S").upper(), unique("G").upper()
        await create_coupon(admin, gw, sale, sale_code, usageLimit=2)
        await create_coupon(admin, gw, grant, grant_code)
        _, generated, _ = await call(
            admin,
            "POST",
            f"{gw}/api/v1/promotions/{sale}/coupons/generate",
            json={"amount": 20, "codeLength": 8, "prefix": "GEN-"},
            expect=201,
        )
        assert generated["amount"] == 20
        _, listed, _ = await call(
            admin, "GET", f"{gw}/api/v1/promotions/{sale}/coupons/", params={"limit": 100}
        )
        assert len(listed["_embedded"]["items"]) == 21, listed
        customer_mobile = mobile()
        await create_customer(admin, gw, mobile=customer_mobile)
        _, first, _ = await call(
            admin,
            "POST",
            f"{gw}/v1.1/coupon/redeem",
            json=redeem_body(sale_code, {"mobile": customer_mobile}, amount="5000"),
            expect=200,
        )
        assert item(first)["item_status"]["code"] == 700, first

    email = f"{unique('reader')}@example.com"
    async with aiohttp.ClientSession() as anonymous:
        _, login = await register_and_login(anonymous, gw, email)
    user = {"Authorization": f"Bearer {login['access']['token']}"}
    async with aiohttp.ClientSession(headers=user) as reader:
        _, activated, _ = await call(
            reader,
            "POST",
            f"{gw}/api/v1/coupon/activate",
            json={"code": grant_code, "notifyUser": True},
            expect=200,
        )
        assert activated["coupon_type"] == grant
        assert activated["subscription_type_id"] == 7
        _, again, _ = await call(
            reader, "POST", f"{gw}/api/v1/coupon/activate", json={"code": grant_code}, expect=400
        )
        assert again["code"] == "coupon_already_used"
        _, subscriptions, _ = await call(
            reader, "GET", f"{gw}/api/v1/users/subscriptions", expect=200
        )
        assert len(subscriptions["subscriptions"]) == 1

    async def used() -> tuple[int, int, int, int]:
        async with aiohttp.ClientSession(headers=auth) as admin:
            values = []
            for path in (
                f"/api/v1/promotions/{sale}/coupons/{sale_code}",
                f"/api/v1/promotions/{sale}",
                f"/api/v1/promotions/{grant}/coupons/{grant_code}",
                f"/api/v1/promotions/{grant}",
            ):
                _, body, _ = await call(admin, "GET", gw + path, expect=200)
                values.append(int(body.get("used", 0)))
        return values[0], values[1], values[2], values[3]

    await until(used, "used of coupons and promotions", PROPAGATION_DEADLINE_S, equals=(1, 1, 1, 1))
